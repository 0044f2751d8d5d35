//! The server's life: ingest, realtime answers and the flush on SIGTERM; the embedded default
//! live from its own feed; a stop right after start; nothing answered accepted lost to SIGKILL.

use super::*;

#[test]
fn the_server_ingests_ticks_answers_realtime_greeks_and_flushes_on_sigterm() {
    let (dir, db_url) = crate::scratch("serve");
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
    let rows = crate::count(&db_url, "SELECT count(*) AS n FROM signal_greeks");
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

/// The embedded default runs NSE and Cboe side by side: each underlying's chain, moneyness and
/// statistics answer with its own market's contracts, forward and conventions, never the other's.
#[test]
fn the_embedded_default_serves_nifty_and_spx_side_by_side_each_on_its_own_market() {
    let (dir, db_url) = crate::scratch("two-markets");
    let server = Server::start_with(&db_url, true);
    let chain = |u: &str| {
        let mut last = (0, serde_json::Value::Null);
        for _ in 0..80 {
            last = server.request("GET", &format!("/api/v2/realtime/chain/{u}"), None);
            if last.0 == 200 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(last.0, 200, "{u}: {}", last.1);
        last.1
    };
    // (underlying, key prefixes of its options, forward sources, rate, strike step): a NIFTY
    // weekly has no future of its own (parity then), Cboe lists none.
    for (u, roots, sources, rate, step) in [
        (
            "NSE:NIFTY",
            &["NSE:NIFTY-"][..],
            &["future", "put_call_parity"][..],
            0.065,
            50.0,
        ),
        (
            "CBOE:SPX",
            &["CBOE:SPXW-", "CBOE:SPX-"][..],
            &["put_call_parity"][..],
            0.04,
            5.0,
        ),
    ] {
        let c = chain(u);
        let meta = &c["meta"];
        assert_eq!(meta["underlying"].as_str(), Some(u));
        let source = meta["forward"]["source"].as_str().unwrap_or_default();
        assert!(sources.contains(&source), "{u}: {meta}");
        assert_eq!(meta["conventions"]["rate"].as_f64(), Some(rate), "{u}");
        assert_eq!(meta["strike_step"].as_f64(), Some(step), "{u}");
        let strikes = c["strikes"].as_array().unwrap();
        assert!(strikes.len() >= 20, "{u}: {} strikes", strikes.len());
        for s in strikes {
            for side in ["call", "put"] {
                let key = s[side]["instrument_key"].as_str().unwrap_or_default();
                assert!(roots.iter().any(|r| key.starts_with(r)), "{u}: {key}");
                assert!(
                    s[side]["iv"].as_f64().is_some_and(|iv| iv > 0.05 && iv < 1.0),
                    "{u} {key}: {}",
                    s[side]
                );
            }
        }
        let expiry = meta["expiry"].as_str().unwrap();
        for path in [
            format!("/api/v2/realtime/chain/{u}/stats?expiry={expiry}"),
            format!("/api/v2/realtime/moneyness/{u}/greeks/ATM?expiry={expiry}"),
            format!("/api/v2/realtime/surface/{u}"),
        ] {
            let (status, body) = server.request("GET", &path, None);
            assert_eq!(status, 200, "{path}: {body}");
            assert!(
                !body
                    .to_string()
                    .contains(if u.starts_with("NSE") { "CBOE:" } else { "NSE:" }),
                "{path} mixes markets: {body}"
            );
        }
    }
    assert!(server.stop().success());
    std::fs::remove_dir_all(&dir).ok();
}

/// A SIGTERM the moment the port is announced is already a clean stop (the handlers are
/// registered before the service says it listens).
#[test]
fn a_sigterm_right_after_start_is_a_clean_stop() {
    let (dir, db_url) = crate::scratch("early-term");
    for _ in 0..3 {
        assert!(Server::start(&db_url).stop().success());
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `signal-service health` (the image's HEALTHCHECK): exit 0 with the answer while the instance
/// is live and ready, exit 1 naming the URL once it is gone.
#[test]
fn the_health_command_says_whether_an_instance_answers() {
    let (dir, db_url) = crate::scratch("health-command");
    let server = Server::start(&db_url);
    let url = format!("http://127.0.0.1:{}", server.port);
    for extra in [&[][..], &["--ready"][..]] {
        let out = crate::run(&[&["health", "--url", &url][..], extra].concat());
        assert!(out.status.success(), "{}", crate::text(&out.stderr));
        assert!(
            crate::text(&out.stdout).contains(": 200 "),
            "{}",
            crate::text(&out.stdout)
        );
    }
    assert!(server.stop().success());
    let out = crate::run(&["health", "--url", &url, "--timeout-ms", "500"]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::text(&out.stderr);
    assert!(err.starts_with("unhealthy: ") && err.contains(&url), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// SIGTERM with `server.drain_delay_ms`: readiness answers 503 `draining` at once while the
/// instance keeps serving for the delay, then it stops cleanly.
#[test]
fn on_sigterm_readiness_turns_503_while_the_instance_keeps_serving_for_the_drain_delay() {
    let (dir, db_url) = crate::scratch("drain");
    let config = dir.join("drain.toml");
    std::fs::write(&config, "[server]\ndrain_delay_ms = 1500\n").unwrap();
    let mut server = Server::start_args(&db_url, false, &["--config", config.to_str().unwrap()]);
    assert_eq!(server.request("GET", "/health/ready", None).0, 200);
    let sent = std::time::Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = server.request("GET", "/health/ready", None);
    assert_eq!(status, 503, "{body}");
    assert!(body.to_string().contains("draining"), "{body}");
    // Still serving during the delay.
    let (status, body) = server.request("GET", "/api/v2/instruments/underlyings", None);
    assert_eq!(status, 200, "{body}");
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        sent.elapsed() >= Duration::from_millis(1500),
        "stopped after {:?}",
        sent.elapsed()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A rollback, or an old instance restarting mid-rollout: a newer release has already applied its
/// expand migration (here a new table, a nullable column and its row in `seaql_migrations`).
/// This release starts on that schema without migrating, says why, and serves ingest and reads.
/// (Before, its `Migrator::up` refused: "Migration file of version '…' is missing".)
#[test]
fn a_release_starts_and_serves_on_a_schema_a_newer_release_expanded() {
    let (dir, db_url) = crate::scratch("newer-schema");
    assert!(Server::start(&db_url).stop().success(), "migrated by this release");
    crate::execute(
        &db_url,
        &[
            "CREATE TABLE future_release_table (id INTEGER PRIMARY KEY, note TEXT)",
            "ALTER TABLE candles_1m ADD COLUMN trades BIGINT NULL",
            "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_000001_future_expand', 4102444800)",
        ],
    );
    let server = Server::start(&db_url);
    let ts = past_session_instant().to_rfc3339();
    let (call, _, _) = nifty_pair();
    let body = serde_json::json!([
        {"key": "NSE:NIFTY", "ts": ts, "last": 26010.0},
        {"key": call, "ts": ts, "bid": 99.5, "ask": 100.5, "last": 100.0},
    ]);
    let (status, report) = server.request("POST", "/api/v2/ingest/ticks", Some(&body.to_string()));
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(2)), "{report}");
    let (status, g) = server.request("GET", &format!("/api/v2/realtime/greeks/{call}"), None);
    assert_eq!(status, 200, "{g}");
    let day = &ts[..10];
    let (status, c) = server.request(
        "GET",
        &format!("/api/v2/historical/candles/NSE:NIFTY?from={day}&to={day}&timeframe=5m"),
        None,
    );
    assert_eq!(status, 200, "{c}");
    let log = server.log.clone();
    assert!(server.stop().success());
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("the database schema is newer than this release")
            && log.contains("m20991231_000001_future_expand"),
        "{log}"
    );
    assert_eq!(
        crate::count(
            &db_url,
            "SELECT count(*) AS n FROM candles_1m WHERE instrument_key = 'NSE:NIFTY'"
        ),
        1
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_batch_answered_as_accepted_survives_a_sigkill() {
    let (dir, db_url) = crate::scratch("kill");
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
