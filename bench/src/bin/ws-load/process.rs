//! The server process: start it, and read its memory and CPU from /proc.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, Utc};
use domain::instrument::Market;

use crate::{Args, Failure};

pub(crate) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) a process has used so far: `/proc/{pid}/stat`'s fields 14 and 15,
/// in clock ticks of 1/100 s (Linux's `USER_HZ` on every architecture Rust targets).
pub(crate) fn cpu_secs(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The command name (field 2) may hold spaces; the fields after its `)` do not.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

pub(crate) fn start_server(args: &Args, dir: &std::path::Path) -> Result<(Child, u16), Failure> {
    let bin = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("signal-service"),
    };
    let mut command = Command::new(&bin);
    if let Some(url) = &args.redis {
        command
            .env("SIGNAL__REDIS__URL", url)
            .env("SIGNAL__REDIS__KEY_PREFIX", format!("ws-load-{}:", std::process::id()));
    }
    let mut child = command
        .args(["serve", "--port", "0"])
        // The server runs on its own default, whatever this harness runs on.
        .env_remove("TOKIO_WORKER_THREADS")
        .env("SIGNAL__FEED__ENABLED", "false")
        // Thousands of handshakes from one address: the load, not abuse.
        .env("SIGNAL__RATE_LIMIT__ENABLED", "false")
        .env(
            "SIGNAL__DATABASE__URL",
            format!("sqlite://{}/ws-load.db?mode=rwc", dir.display()),
        )
        .env(
            "SIGNAL__SUBSCRIPTIONS__MAX_CONNECTIONS",
            (args.connections + 100).to_string(),
        )
        .env(
            "SIGNAL__SUBSCRIPTIONS__MAX_CONNECTIONS_PER_TOKEN",
            (args.connections + 100).to_string(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("unexpected first line: {line}"))?;
    Ok((child, port))
}

/// The latest session's open (the current one when open now).
pub(crate) fn session_start(market: &Market, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(s) = market.session_containing(now) {
        return Some(s.open);
    }
    let today = market.local_date(now);
    (0..10).find_map(|back| {
        market
            .session_on(today - chrono::Days::new(back))
            .filter(|s| s.close <= now)
            .map(|s| s.open)
    })
}
