//! The real `signal-service` binary in production mode against them.

#![allow(unused_imports)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A free TCP port on 127.0.0.1.
use super::*;

/// The service binary: `SIGNAL_SERVICE_BIN`; else the one cargo built beside this test binary
/// (`cargo test --workspace` builds it, in whatever target directory: coverage tools use their
/// own); else the workspace's debug build (built when missing).
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("SIGNAL_SERVICE_BIN") {
        return PathBuf::from(p);
    }
    // <target>/debug/deps/faults-<hash> -> <target>/debug/signal-service
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("signal-service")));
    if let Some(bin) = beside.filter(|b| b.exists()) {
        return bin;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    let bin = target.join("debug").join("signal-service");
    if !bin.exists() {
        let ok = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "bootstrap", "--bin", "signal-service"])
            .current_dir(&root)
            .status()
            .unwrap();
        assert!(ok.success(), "cargo build -p bootstrap");
    }
    bin
}

/// The API key every scenario's service accepts.
pub const KEY: &str = "fault-key-1";

/// A running service.
pub struct Service {
    child: Child,
    /// Its port.
    pub port: u16,
    log: Arc<Mutex<String>>,
    dir: PathBuf,
}

impl Service {
    /// Starts `serve` in production mode on `pg` and `redis`, with extra `SIGNAL__…` settings.
    pub fn start(pg: &Pg, redis: &Redis, env: &[(&str, &str)]) -> Self {
        let mut all: Vec<(String, String)> = vec![
            ("SIGNAL__MODE".into(), "production".into()),
            ("SIGNAL__DATABASE__URL".into(), pg.url()),
            ("SIGNAL__REDIS__URL".into(), redis.url()),
            ("SIGNAL__INGEST__API_KEYS".into(), KEY.into()),
            ("SIGNAL__SERVER__HOST".into(), "127.0.0.1".into()),
            ("SIGNAL__LOG__FORMAT".into(), "text".into()),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Self::start_env(&all)
    }

    /// Starts `serve` with exactly these settings.
    pub fn start_env(env: &[(String, String)]) -> Self {
        let dir = scratch("svc");
        let mut child = Command::new(binary())
            .args(["serve", "--port", "0"])
            .current_dir(&dir)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = e2e_tests::capture_lines(child.stderr.take().unwrap());
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("no port in {line:?}; log:\n{}", log.lock().unwrap())
            });
        Self { child, port, log, dir }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Resident memory, bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap();
        kib * 1024
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        (status, self.log())
    }

    /// SIGKILL, as a crash.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        e2e_tests::terminate(&mut self.child, Duration::from_secs(10));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
