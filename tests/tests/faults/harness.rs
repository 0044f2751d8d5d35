//! The real parts each scenario starts for itself: a PostgreSQL cluster (`initdb` into a temp
//! dir, a free port), a `redis-server` on a free port, and the service binary in production mode
//! on them. Nothing here touches the machine's shared PostgreSQL or Redis.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("signal-faults-{name}-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// PostgreSQL's binaries (Debian keeps them off the PATH).
fn pg_bin(tool: &str) -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(base)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .last()
        .map_or_else(|| PathBuf::from(tool), |v| v.join("bin").join(tool))
}

/// Runs a PostgreSQL tool as the `postgres` user when we are root (`initdb` refuses root).
fn pg_command(tool: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(pg_bin(tool));
        c
    } else {
        Command::new(pg_bin(tool))
    }
}

/// A private PostgreSQL cluster.
pub struct Pg {
    dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Pg {
    /// `initdb` and start.
    pub fn start() -> Self {
        let dir = scratch("pg");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let data = dir.join("data");
        let out = pg_command("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let pg = Self { dir, port: free_port() };
        pg.resume();
        pg
    }

    /// Starts the stopped cluster again.
    pub fn resume(&self) {
        let out = pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.dir.display()
            ))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "start"])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops it (fast shutdown: connections are cut).
    pub fn stop(&self) {
        self.shut_down("fast");
    }

    /// `pg_ctl stop` in `mode` (`fast`, `immediate`).
    fn shut_down(&self, mode: &str) {
        let _ = pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", mode, "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The service's URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The `(text, number)` rows of a two-column query (`instrument_key, minute_ms`).
    pub fn pairs(&self, sql: &str) -> std::collections::HashSet<(String, i64)> {
        self.query(sql)
            .into_iter()
            .filter_map(|l| {
                let (k, m) = l.split_once('|')?;
                Some((k.to_owned(), m.parse().ok()?))
            })
            .collect()
    }

    /// One query's rows, `|`-separated columns.
    pub fn query(&self, sql: &str) -> Vec<String> {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-AtX", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.shut_down("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private Redis (nothing kept on disk).
pub struct Redis {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Redis {
    /// Starts one on a free port.
    pub fn start() -> Self {
        let mut r = Self {
            child: None,
            port: free_port(),
        };
        r.resume();
        r
    }

    /// Starts it again on the same port (empty: it keeps nothing).
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The service's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The service binary: `SIGNAL_SERVICE_BIN`, else the workspace's debug build (built when
/// missing).
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("SIGNAL_SERVICE_BIN") {
        return PathBuf::from(p);
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
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An HTTP/1.1 answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Answer {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection (`Connection: close`), within `timeout`.
///
/// # Errors
/// A connection failure, or no whole answer in time.
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> std::io::Result<Answer> {
    tokio::time::timeout(timeout, async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await?;
        if let Some(b) = body {
            s.write_all(b).await?;
        }
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        parse_answer(&raw)
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))?
}

/// Parses a whole HTTP/1.1 answer (a `Content-Length` or a body to the end).
///
/// # Errors
/// Not an HTTP answer.
pub fn parse_answer(raw: &[u8]) -> std::io::Result<Answer> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer");
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let body = match len {
        Some(n) if body.len() >= n => body[..n].to_owned(),
        _ => body.to_owned(),
    };
    Ok(Answer { status, headers, body })
}

/// One option of the workload.
#[derive(Debug, Clone)]
pub struct Opt {
    /// Instrument key.
    pub key: String,
    /// Strike.
    pub strike: f64,
    /// Call or put.
    pub call: bool,
}

/// A NIFTY chain and a market clock: batch `i` is one tick of the index and one of every option,
/// five seconds of market time after batch `i - 1` (so a few hundred batches span many minutes'
/// snapshots), inside a past session.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The options (10 strikes around 26 000, both rights).
    pub options: Vec<Opt>,
    /// Market time of batch 0.
    pub start: DateTime<Utc>,
}

impl Workload {
    /// The nearest NIFTY expiry's 10 strikes nearest 26 000, from the built-in catalogue, on the
    /// last full session before today.
    pub fn nifty() -> Self {
        let out = Command::new(binary())
            .args(["instruments", "--underlying", "NIFTY"])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let rows: Vec<Vec<String>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect();
        let expiry = rows.iter().map(|r| r[2].clone()).min().unwrap();
        let mut options: Vec<Opt> = rows
            .iter()
            .filter(|r| r[2] == expiry)
            .map(|r| Opt {
                key: r[0].clone(),
                strike: r[3].parse().unwrap(),
                call: r[4] == "call",
            })
            .filter(|o| (o.strike - 26_000.0).abs() <= 250.0)
            .collect();
        options.sort_by(|a, b| a.key.cmp(&b.key));
        assert!(options.len() >= 10, "{options:?}");
        let m = domain::instrument::Market::nse();
        #[allow(clippy::disallowed_methods)] // the service judges times by the wall clock
        let mut d = m.local_date(Utc::now());
        let session = loop {
            d = d.pred_opt().unwrap();
            if let Some(s) = m.session_on(d) {
                break s;
            }
        };
        Self {
            options,
            start: session.open + chrono::Duration::minutes(5),
        }
    }

    /// Market time of batch `i`.
    pub fn ts(&self, i: usize) -> DateTime<Utc> {
        self.start + chrono::Duration::seconds(5 * i as i64)
    }

    /// The minute (epoch ms) batch `i` falls in.
    pub fn minute_ms(&self, i: usize) -> i64 {
        let ms = self.ts(i).timestamp_millis();
        ms - ms.rem_euclid(60_000)
    }

    /// Batch `i` as a JSON body.
    pub fn batch(&self, i: usize) -> Vec<u8> {
        let ts = self.ts(i).to_rfc3339();
        let spot = 26_000.0 + 20.0 * ((i as f64) / 30.0).sin();
        let mut rows = vec![serde_json::json!({"key": "NSE:NIFTY", "ts": ts, "last": spot})];
        for o in &self.options {
            let intrinsic = if o.call { spot - o.strike } else { o.strike - spot }.max(0.0);
            let price = (intrinsic + 40.0 + (i % 7) as f64 * 0.05).max(0.05);
            rows.push(
                serde_json::json!({"key": o.key, "ts": ts, "last": (price * 20.0).round() / 20.0, "oi": 1000 + i}),
            );
        }
        serde_json::to_vec(&rows).unwrap()
    }
}

/// One ingest request of batch `i`: its answer or the failure, and how long it took.
pub async fn ingest(port: u16, w: &Workload, i: usize) -> (Result<Answer, std::io::Error>, Duration) {
    let body = w.batch(i);
    let started = Instant::now();
    let r = request(
        port,
        "POST",
        "/api/v2/ingest/ticks",
        &[("Content-Type", "application/json"), ("X-API-Key", KEY)],
        Some(&body),
        Duration::from_secs(30),
    )
    .await;
    (r, started.elapsed())
}

/// The `p`-th percentile (0–100) of `samples`.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut v = samples.to_vec();
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Scenarios run one at a time: each measures time and memory, which neighbours would disturb.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
