//! The server as a user runs it: `signal-service serve --port 0` on its own SQLite file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::instrument::{Market, OptionRight};
use domain::pricing::{OptionInputs, PricingModel, price_and_greeks};

mod ingest;
mod instrument_service;
mod lifecycle;

struct Server {
    child: Child,
    port: u16,
    /// What the server logged so far (stderr, drained by a thread so the pipe never fills).
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    fn start(db_url: &str) -> Self {
        Self::start_with(db_url, false)
    }

    fn start_with(db_url: &str, feed: bool) -> Self {
        Self::start_args(db_url, feed, &[])
    }

    fn start_args(db_url: &str, feed: bool, extra: &[&str]) -> Self {
        Self::start_env(db_url, feed, extra, &[])
    }

    fn start_env(db_url: &str, feed: bool, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_signal-service"))
            .args(["serve", "--port", "0", "--database-url", db_url])
            .args(extra)
            .env("SIGNAL__SERVER__HOST", "127.0.0.1")
            .env("SIGNAL__FEED__ENABLED", feed.to_string())
            .env("SIGNAL__FEED__INTERVAL_MS", "100")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().rsplit(':').next().unwrap().parse().unwrap_or_else(|_| {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("no port in {line:?}; stderr:\n{err}")
        });
        let log = e2e_tests::capture_lines(child.stderr.take().unwrap());
        Self { child, port, log }
    }

    fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        request(self.port, method, path, body).expect("the server answers")
    }

    fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }

    /// SIGKILL, as a crash.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A test that panics must not leave its server running. SIGTERM first, so the process exits
/// as in production (and a coverage run gets its profile, which SIGKILL would lose); SIGKILL
/// when it has not stopped within 10 s.
impl Drop for Server {
    fn drop(&mut self) {
        e2e_tests::terminate(&mut self.child, Duration::from_secs(10));
    }
}

/// One HTTP/1.1 request; `None` when the connection fails (the server is gone).
pub(super) fn request(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, serde_json::Value)> {
    request_h(port, method, path, body, None)
}

/// [`request`] with one extra header line.
pub(super) fn request_h(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    header: Option<&str>,
) -> Option<(u16, serde_json::Value)> {
    let extra = header.map(|h| format!("{h}\r\n")).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Some((
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    ))
}

pub(super) fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

/// A whole trading session that has already ended, for timestamps that are neither in the
/// future nor outside a session whatever time the test runs.
pub(super) fn past_session_instant() -> DateTime<Utc> {
    let m = Market::nse();
    #[allow(clippy::disallowed_methods)] // a test may read the wall clock
    let now = Utc::now();
    let mut d = m.local_date(now);
    loop {
        d = d.pred_opt().unwrap();
        if let Some(s) = m.session_on(d) {
            return s.open + chrono::Duration::minutes(60);
        }
    }
}

/// A NIFTY call and put at 26 000 from the built-in catalogue: (call key, put key, expiry).
pub(super) fn nifty_pair() -> (String, String, DateTime<Utc>) {
    let out = Command::new(env!("CARGO_BIN_EXE_signal-service"))
        .args(["instruments", "--underlying", "NIFTY"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |suffix: &str| {
        text.lines()
            .find(|l| l.contains(&format!("-26000-{suffix},")))
            .unwrap()
            .to_owned()
    };
    let (call, put) = (row("CE"), row("PE"));
    let expiry = DateTime::parse_from_rfc3339(call.split(',').nth(2).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    (
        call.split(',').next().unwrap().to_owned(),
        put.split(',').next().unwrap().to_owned(),
        expiry,
    )
}
