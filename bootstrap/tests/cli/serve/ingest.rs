//! Ways in against the real binary: candles row by row, ingest keys, readiness with Redis, and
//! a stream consumer killed mid-ingest whose pending entries are taken over.

use super::*;

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
    let (dir, db_url) = crate::scratch("stream-kill");
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
        crate::count(
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
    let right_close = crate::count(
        &db_url,
        &format!(
            "SELECT count(*) AS n FROM candles_1m WHERE close = 26000 + (start_ms - {}) / 60000",
            open.timestamp_millis()
        ),
    );
    assert_eq!(right_close, n, "each minute holds its own tick's price");
    // Cumulative volume 100·i: every minute after the first traded 100, across the takeover too.
    let right_volume = crate::count(
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
