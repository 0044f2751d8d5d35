//! The server as a user runs it: `signal-service serve --port 0` on its own SQLite file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::instrument::{Market, OptionRight};
use domain::pricing::{OptionInputs, PricingModel, price_and_greeks};

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
        let mut child = Command::new(env!("CARGO_BIN_EXE_signal-service"))
            .args(["serve", "--port", "0", "--database-url", db_url])
            .args(extra)
            .env("SIGNAL__SERVER__HOST", "127.0.0.1")
            .env("SIGNAL__FEED__ENABLED", feed.to_string())
            .env("SIGNAL__FEED__INTERVAL_MS", "100")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("no port in {line:?}"));
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

/// A test that panics must not leave its server running.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request; `None` when the connection fails (the server is gone).
fn request(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, serde_json::Value)> {
    request_h(port, method, path, body, None)
}

/// [`request`] with one extra header line.
fn request_h(
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

fn dechunk(s: &str) -> String {
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
fn past_session_instant() -> DateTime<Utc> {
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
fn nifty_pair() -> (String, String, DateTime<Utc>) {
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

#[test]
fn the_server_ingests_ticks_answers_realtime_greeks_and_flushes_on_sigterm() {
    let (dir, db_url) = super::scratch("serve");
    let server = Server::start(&db_url);

    assert_eq!(server.request("GET", "/health/live", None).0, 200);
    let (status, ready) = server.request("GET", "/health/ready", None);
    assert_eq!(
        (status, ready["status"].as_str(), ready["database"].as_str()),
        (200, Some("ready"), Some("ok"))
    );
    assert_eq!(ready["snapshots"]["pending"], 0, "{ready}");

    let ts = past_session_instant();
    let (call, put, expiry) = nifty_pair();
    let t = (expiry - ts).num_seconds() as f64 / (365.0 * 86_400.0);
    let (f, r, vol) = (26_050.0, 0.065, 0.12);
    let price = |right| {
        let o = OptionInputs {
            right,
            underlying: f,
            strike: 26_000.0,
            t_years: t,
            rate: r,
            div_yield: 0.0,
            vol,
        };
        price_and_greeks(PricingModel::Black76, &o).unwrap().price
    };
    let (c, p) = (price(OptionRight::Call), price(OptionRight::Put));
    let ts_s = ts.to_rfc3339();
    let body = serde_json::json!([
        {"key": "NSE:NIFTY", "ts": ts_s, "last": 26010.0},
        {"key": call, "ts": ts_s, "bid": c - 0.5, "ask": c + 0.5, "last": c, "volume": 650.0, "oi": 6500.0},
        {"key": put, "ts": ts_s, "bid": p - 0.5, "ask": p + 0.5, "last": p, "volume": 650.0, "oi": 6500.0},
        {"key": "NSE:NOPE", "ts": ts_s, "last": 1.0},
        {"key": call, "ts": ts_s, "bid": 10.0, "ask": 9.0},
        {"key": put, "ts": ts_s, "last": -1.0},
        {"key": "bad key", "ts": ts_s, "last": 1.0}
    ]);
    let (status, report) = server.request("POST", "/api/v2/ingest/ticks", Some(&body.to_string()));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 3, "{report}");
    let rejected: Vec<(u64, &str)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, [(3, "key"), (4, "bid"), (5, "last"), (6, "key")]);

    let (status, g) = server.request("GET", &format!("/api/v2/realtime/greeks/{call}"), None);
    assert_eq!(status, 200, "{g}");
    assert!(
        (g["forward"]["value"].as_f64().unwrap() - f).abs() < 1e-6,
        "parity forward: {g}"
    );
    assert_eq!(g["forward"]["source"], "put_call_parity");
    assert!((g["iv"].as_f64().unwrap() - vol).abs() < 1e-9, "{g}");
    assert_eq!(
        (
            g["conventions"]["model"].as_str(),
            g["price_source"].as_str(),
            g["stale"].as_bool()
        ),
        (Some("black76"), Some("mid"), Some(true))
    );
    assert!(g["greeks"]["vega_per_vol_point"].as_f64().unwrap() > 0.0, "{g}");

    let (status, e) = server.request("GET", "/api/v2/realtime/greeks/NSE:NOPE", None);
    assert_eq!(
        (status, e["code"].as_str(), e["field"].as_str()),
        (404, Some("not_found"), Some("instrument_key"))
    );
    let (status, e) = server.request("POST", "/api/v2/ingest/ticks", Some("{not json"));
    assert_eq!((status, e["code"].as_str()), (400, Some("bad_request")), "{e}");

    let log = server.log.clone();
    assert!(server.stop().success(), "exit 0 on SIGTERM");
    let rows = super::count(&db_url, "SELECT count(*) AS n FROM signal_greeks");
    assert_eq!(rows, 2, "both options' snapshots were flushed on shutdown");
    // The log: a startup line with the mode, one line per request with its route template (not
    // the path a client typed), and what shutdown wrote.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !log.lock().unwrap().contains("stopped;") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("signal-service started") && log.contains("mode=Embedded"),
        "{log}"
    );
    assert!(
        log.contains(r#"method=GET route="/api/v2/realtime/greeks/:param0" status=404"#),
        "{log}"
    );
    assert!(!log.contains("NSE:NOPE"), "paths are not logged: {log}");
    assert!(log.contains("stopped; pending snapshots written"), "{log}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_embedded_default_shows_live_numbers_from_its_own_feed() {
    let dir = std::env::temp_dir().join(format!("signal-feed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = Server::start_with(&format!("sqlite://{}/signal.db?mode=rwc", dir.display()), true);
    let (call, _, _) = nifty_pair();
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..50 {
        last = server.request("GET", &format!("/api/v2/realtime/greeks/{call}"), None);
        if last.0 == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(last.0, 200, "{}", last.1);
    assert_eq!(last.1["instrument_key"].as_str(), Some(call.as_str()));
    assert!(last.1["underlying_price"].as_f64().unwrap() > 20_000.0);
    assert!(server.stop().success());
    std::fs::remove_dir_all(&dir).ok();
}

/// A SIGTERM the moment the port is announced is already a clean stop (the handlers are
/// registered before the service says it listens).
#[test]
fn a_sigterm_right_after_start_is_a_clean_stop() {
    let (dir, db_url) = super::scratch("early-term");
    for _ in 0..3 {
        assert!(Server::start(&db_url).stop().success());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_batch_answered_as_accepted_survives_a_sigkill() {
    let (dir, db_url) = super::scratch("kill");
    let mut server = Server::start(&db_url);
    let port = server.port;
    let open = past_session_instant() - chrono::Duration::minutes(60);
    let sender = std::thread::spawn(move || {
        let mut answered = Vec::new();
        for i in 0..375i64 {
            let ts = (open + chrono::Duration::minutes(i)).to_rfc3339();
            let body = serde_json::json!([{"key": "NSE:NIFTY", "ts": ts, "last": 26_000.0 + i as f64}]).to_string();
            let Some(res) = request(port, "POST", "/api/v2/ingest/ticks", Some(&body)) else {
                break;
            };
            if res.0 == 200 && res.1["accepted"] == 1 {
                answered.push((open + chrono::Duration::minutes(i)).timestamp_millis());
            }
        }
        answered
    });
    std::thread::sleep(Duration::from_millis(400));
    server.kill();
    let answered = sender.join().unwrap();
    assert!(!answered.is_empty(), "some batches were answered before the kill");

    let stored: Vec<i64> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sea_orm::{ConnectionTrait, Database, Statement};
        let db = Database::connect(&db_url).await.unwrap();
        db.query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT start_ms FROM candles_1m WHERE instrument_key = 'NSE:NIFTY'",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<i64>("", "start_ms").unwrap())
        .collect()
    });
    let missing: Vec<&i64> = answered.iter().filter(|m| !stored.contains(m)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} accepted batches lost: {missing:?}",
        missing.len(),
        answered.len()
    );

    let again = Server::start(&db_url);
    assert_eq!(
        again.request("GET", "/health/ready", None).0,
        200,
        "restarts on the same database"
    );
    assert!(again.stop().success());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn candles_are_ingested_row_by_row_and_keys_guard_ingest_when_configured() {
    let dir = std::env::temp_dir().join(format!("signal-candles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("keys.toml");
    std::fs::write(&cfg, "[ingest]\napi_keys = [\"k1\"]\n").unwrap();
    let server = Server::start_args(
        &format!("sqlite://{}/signal.db?mode=rwc", dir.display()),
        false,
        &["--config", cfg.to_str().unwrap()],
    );
    let start =
        (past_session_instant() - chrono::Duration::seconds(past_session_instant().timestamp() % 60)).to_rfc3339();
    let body = serde_json::json!([
        {"key": "NSE:NIFTY", "start": start, "open": 26000.0, "high": 26010.0, "low": 25990.0, "close": 26005.0, "volume": 0.0},
        {"key": "NSE:NIFTY", "start": start, "open": 26000.0, "high": 25000.0, "low": 25990.0, "close": 26005.0, "volume": 0.0},
        {"key": "NSE:NIFTY", "start": start, "open": 26000.0, "high": 26010.0, "low": 25990.0, "close": 26005.0, "volume": -5.0}
    ])
    .to_string();
    let (status, e) = server.request("POST", "/api/v2/ingest/candles", Some(&body));
    assert_eq!((status, e["field"].as_str()), (401, Some("X-API-Key")), "{e}");
    let with_key = request_h(
        server.port,
        "POST",
        "/api/v2/ingest/candles",
        Some(&body),
        Some("X-API-Key: k1"),
    )
    .unwrap();
    assert_eq!(with_key.0, 200, "{}", with_key.1);
    assert_eq!(with_key.1["accepted"], 1);
    let fields: Vec<&str> = with_key.1["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["low", "volume"]);
    assert!(server.stop().success());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn readiness_includes_redis_when_it_is_configured() {
    let dir = std::env::temp_dir().join(format!("signal-ready-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("redis.toml");
    let db = format!("sqlite://{}/signal.db?mode=rwc", dir.display());
    // Nothing listens on port 1: Redis is down. The instance still serves (its own subscribers,
    // every REST read), so it stays in the load balancer as `degraded`, saying why.
    std::fs::write(&cfg, "[redis]\nurl = \"redis://127.0.0.1:1/0\"\n").unwrap();
    let down = Server::start_args(&db, false, &["--config", cfg.to_str().unwrap()]);
    let started = std::time::Instant::now();
    let (status, body) = down.request("GET", "/health/ready", None);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(
        (status, body["status"].as_str(), body["database"].as_str()),
        (200, Some("degraded"), Some("ok")),
        "{body}"
    );
    assert!(body["redis"].as_str().unwrap().contains("redis"), "{body}");
    assert!(body["reasons"][0].as_str().unwrap().starts_with("redis: "), "{body}");
    assert!(down.stop().success());
    std::fs::write(&cfg, "[redis]\nurl = \"redis://127.0.0.1:6379/0\"\n").unwrap();
    let up = Server::start_args(&db, false, &["--config", cfg.to_str().unwrap()]);
    let (status, body) = up.request("GET", "/health/ready", None);
    assert_eq!((status, body["redis"].as_str()), (200, Some("ok")), "{body}");
    assert!(up.stop().success());
    std::fs::remove_dir_all(&dir).ok();
}

/// `XPENDING <stream> <group>`'s count (0 before the group exists).
fn stream_pending(conn: &mut redis::Connection, stream: &str) -> i64 {
    redis::cmd("XPENDING")
        .arg(stream)
        .arg("signal-service")
        .query::<redis::Value>(conn)
        .ok()
        .and_then(|v| match v {
            redis::Value::Array(items) => items.into_iter().next(),
            _ => None,
        })
        .and_then(|n| match n {
            redis::Value::Int(n) => Some(n),
            _ => None,
        })
        .unwrap_or(0)
}

#[test]
fn a_stream_consumer_killed_mid_ingest_loses_nothing_and_its_pending_entries_are_taken_over() {
    let (dir, db_url) = super::scratch("stream-kill");
    #[allow(clippy::disallowed_methods)] // a unique name from the wall clock
    let stream = format!("test:{}:{}:ingest", std::process::id(), Utc::now().timestamp_micros());
    let config = |consumer: &str| {
        let path = dir.join(format!("{consumer}.toml"));
        std::fs::write(
            &path,
            format!(
                "[redis]\nurl = \"redis://127.0.0.1:6379/0\"\n[streams]\nenabled = true\nstream = \"{stream}\"\n\
                 consumer = \"{consumer}\"\nbatch = 5\nblock_ms = 100\nclaim_idle_ms = 300\nclaim_every_ms = 100\n"
            ),
        )
        .unwrap();
        path
    };
    let (a, b) = (config("node-a"), config("node-b"));
    let mut redis = redis::Client::open("redis://127.0.0.1:6379/0")
        .unwrap()
        .get_connection()
        .expect("the local Redis");
    let _: () = redis::cmd("DEL").arg(&stream).query(&mut redis).unwrap();
    let open = past_session_instant() - chrono::Duration::minutes(60);
    let n = 300i64;
    let add = |redis: &mut redis::Connection, i: i64| {
        let ts = (open + chrono::Duration::minutes(i)).to_rfc3339();
        let tick =
            serde_json::json!({"key": "NSE:NIFTY", "ts": ts, "last": 26_000.0 + i as f64, "volume": 100.0 * i as f64});
        let _: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("ticks")
            .arg(tick.to_string())
            .query(redis)
            .unwrap();
    };

    let stored = |db_url: &str| -> i64 {
        super::count(
            db_url,
            "SELECT count(*) AS n FROM candles_1m WHERE instrument_key = 'NSE:NIFTY'",
        )
    };
    // node-a consumes the first entries. Then the test holds SQLite's write lock, so node-a
    // reads the next entries but cannot store them; it is killed (SIGKILL) in that state.
    let mut node_a = Server::start_args(&db_url, false, &["--config", a.to_str().unwrap()]);
    let first = 20;
    for i in 0..first {
        add(&mut redis, i);
    }
    let waiting = std::time::Instant::now();
    while stored(&db_url) < first {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "node-a stored {}",
            stored(&db_url)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lock = rt.block_on(async {
        use sea_orm::{ConnectOptions, ConnectionTrait, Database};
        let mut o = ConnectOptions::new(db_url.clone());
        o.max_connections(1).min_connections(1);
        let db = Database::connect(o).await.unwrap();
        db.execute_unprepared("BEGIN EXCLUSIVE").await.unwrap();
        db
    });
    for i in first..n / 2 {
        add(&mut redis, i);
    }
    let waiting = std::time::Instant::now();
    let left_pending = loop {
        let p = stream_pending(&mut redis, &stream);
        if p > 0 {
            break p;
        }
        assert!(waiting.elapsed() < Duration::from_secs(30), "node-a read nothing more");
        std::thread::sleep(Duration::from_millis(10));
    };
    node_a.kill();
    rt.block_on(async {
        use sea_orm::ConnectionTrait;
        lock.execute_unprepared("ROLLBACK").await.unwrap();
        lock.close().await.unwrap();
    });
    eprintln!("node-a killed holding {left_pending} unacknowledged entries");
    for i in n / 2..n {
        add(&mut redis, i);
    }

    // node-b (another instance) takes over node-a's unacknowledged entries and the rest.
    let node_b = Server::start_args(&db_url, false, &["--config", b.to_str().unwrap()]);
    let started = std::time::Instant::now();
    while stored(&db_url) < n || stream_pending(&mut redis, &stream) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stored {} of {n}, {} pending",
            stored(&db_url),
            stream_pending(&mut redis, &stream)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(node_b.stop().success());
    assert_eq!(stored(&db_url), n, "every entry's minute is stored once");
    let right_close = super::count(
        &db_url,
        &format!(
            "SELECT count(*) AS n FROM candles_1m WHERE close = 26000 + (start_ms - {}) / 60000",
            open.timestamp_millis()
        ),
    );
    assert_eq!(right_close, n, "each minute holds its own tick's price");
    // Cumulative volume 100·i: every minute after the first traded 100, across the takeover too.
    let right_volume = super::count(
        &db_url,
        "SELECT count(*) AS n FROM candles_1m WHERE instrument_key = 'NSE:NIFTY' AND volume = 100",
    );
    assert_eq!(
        right_volume,
        n - 1,
        "volumes are measured from the stored cumulative volume"
    );
    let _: () = redis::cmd("DEL")
        .arg(&stream)
        .arg(format!("{stream}:rejected"))
        .query(&mut redis)
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
