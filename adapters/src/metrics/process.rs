//! The process's resident memory, CPU time, open descriptors and start time, read from Linux's
//! `/proc/self` at scrape time under the names Prometheus's own clients use
//! (`process_resident_memory_bytes`, `process_cpu_seconds_total`, …), so stock dashboards and
//! alerts work. Elsewhere the reading is absent and the series are left out.

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Unit;

use super::state::{counter as const_counter, gauge as const_gauge};

/// `/proc` reports CPU times in USER_HZ, 100 a second on every Linux ABI.
const USER_HZ: f64 = 100.0;

/// One reading of `/proc/self`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessReading {
    /// Resident set size, bytes.
    pub resident_bytes: f64,
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Open file descriptors.
    pub open_fds: f64,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<f64>,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
}

impl ProcessReading {
    /// Reads `/proc/self`; `None` when it cannot be read (not Linux).
    #[must_use]
    pub fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let rss_kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces, inside parentheses).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        // utime and stime are fields 14 and 15 of stat(5), starttime 22; `fields` starts at 3.
        let cpu_seconds = (ticks(11)? + ticks(12)?) / USER_HZ;
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        let start_time_seconds = boot.zip(ticks(19)).map(|(b, t)| b + t / USER_HZ);
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
        let max_fds = std::fs::read_to_string("/proc/self/limits").ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok())
        });
        #[allow(clippy::cast_precision_loss)] // descriptor counts are small
        Some(Self {
            resident_bytes: rss_kib * 1024.0,
            cpu_seconds,
            open_fds: open_fds as f64,
            max_fds,
            start_time_seconds,
        })
    }

    pub(super) fn encode(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        const_gauge(
            e,
            "process_resident_memory",
            "Resident memory size",
            Some(&Unit::Bytes),
            self.resident_bytes,
        )?;
        const_counter(
            e,
            "process_cpu",
            "User and system CPU time spent",
            Some(&Unit::Seconds),
            self.cpu_seconds,
        )?;
        const_gauge(e, "process_open_fds", "Open file descriptors", None, self.open_fds)?;
        if let Some(max) = self.max_fds {
            const_gauge(e, "process_max_fds", "The limit on open file descriptors", None, max)?;
        }
        if let Some(t) = self.start_time_seconds {
            const_gauge(
                e,
                "process_start_time",
                "Start time of the process since the Unix epoch",
                Some(&Unit::Seconds),
                t,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_reads_itself() {
        let p = ProcessReading::read();
        if !cfg!(target_os = "linux") {
            assert!(p.is_none());
            return;
        }
        let p = p.expect("/proc/self is readable on Linux");
        assert!(p.resident_bytes > 1_000_000.0, "{p:?}");
        assert!(p.open_fds >= 3.0, "{p:?}");
        assert!(p.cpu_seconds >= 0.0 && p.start_time_seconds.unwrap() > 1.6e9, "{p:?}");
    }
}
