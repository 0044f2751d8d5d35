//! `signal-service instruments`, `migrate` and `replay` on real files.

use chrono::Datelike;

use super::*;

#[test]
fn instruments_prints_the_builtin_catalogue_and_filters_it() {
    let out = run(&["instruments", "--underlying", "NIFTY"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv_text = text(&out.stdout);
    assert_eq!(
        csv_text.lines().next(),
        Some("key,underlying,expiry,strike,right,lot_size,tick_size")
    );
    let underlyings = column(&csv_text, "underlying");
    assert!(!underlyings.is_empty() && underlyings.iter().all(|u| u == "NSE:NIFTY"));
    let expiries = column(&csv_text, "expiry");
    assert!(
        expiries.iter().all(|e| e.ends_with("T15:30:00+05:30")),
        "expiry instants at the close"
    );
    let first = expiries[0].clone();
    let date = &first[..10];
    let one = text(&run(&["instruments", "--underlying", "NSE:NIFTY", "--expiry", date]).stdout);
    let rights = column(&one, "right");
    assert_eq!(
        rights.iter().filter(|r| *r != "FUT").count(),
        81 * 2,
        "one expiry: 81 strikes, both rights"
    );
    assert!(
        rights.iter().filter(|r| *r == "FUT").count() <= 1,
        "a monthly expiry has its future"
    );
    let futures = column(&csv_text, "right").iter().filter(|r| *r == "FUT").count();
    assert_eq!(futures, 3, "three monthly futures listed");

    let bad = run(&["instruments", "--underlying", "FOO"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("unknown underlying 'FOO'; known: SPX, BANKNIFTY, NIFTY"));
}

#[test]
fn instruments_lists_spx_and_spxw_with_future_expiries_on_step_strikes_and_unique_keys() {
    let out = run(&["instruments", "--underlying", "SPX"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv_text = text(&out.stdout);
    #[allow(clippy::disallowed_methods)] // a test may read the wall clock
    let now = chrono::Utc::now();
    let ny = chrono_tz::America::New_York;
    let (mut roots, mut keys) = (std::collections::BTreeMap::new(), std::collections::BTreeSet::new());
    for row in csv_text.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        let (key, underlying, expiry, strike, right) = (f[0], f[1], f[2], f[3], f[4]);
        assert_eq!(underlying, "CBOE:SPX", "{row}");
        assert!(keys.insert(key.to_owned()), "duplicate key {key}");
        assert!(right == "call" || right == "put", "no futures on Cboe: {row}");
        assert_eq!(f[5], "100", "multiplier 100: {row}");
        let expiry = chrono::DateTime::parse_from_rfc3339(expiry).unwrap();
        assert!(expiry > now, "a future expiry: {row}");
        let local = expiry.with_timezone(&ny);
        let root = key.trim_start_matches("CBOE:").split('-').next().unwrap().to_owned();
        // The key's date is the New York expiry date; its strike the row's.
        assert!(
            key.contains(&local.format("-%Y%m%d-").to_string())
                && key.ends_with(if right == "call" { "-CE" } else { "-PE" }),
            "{row}"
        );
        let k: f64 = strike.parse().unwrap();
        assert!(key.contains(&format!("-{k}-")), "{row}");
        // 5-point strikes, and 25-point ones beyond the near ladder.
        assert!(
            k % 5.0 == 0.0 && ((k - 6800.0).abs() <= 200.0 || k % 25.0 == 0.0),
            "off-step strike: {row}"
        );
        let hhmm = local.format("%H:%M").to_string();
        match root.as_str() {
            // AM-settled at the open of the third Friday (or the Thursday before a holiday).
            "SPX" => assert!(hhmm == "09:30" && local.day() >= 14 && local.day() <= 21, "{row}"),
            // PM-settled at the index's close: 16:00, or 13:00 on an early close.
            "SPXW" => assert!(hhmm == "16:00" || hhmm == "13:00", "{row}"),
            other => panic!("unexpected root {other}: {row}"),
        }
        roots
            .entry(root)
            .or_insert_with(std::collections::BTreeSet::new)
            .insert(local.date_naive());
    }
    // Three SPX monthlies and ten SPXW dailies are listed by date; one of each may have settled
    // earlier today (after the third Friday's open, after 16:00).
    let (spx, spxw) = (roots["SPX"].len(), roots["SPXW"].len());
    assert!((2..=3).contains(&spx), "SPX monthlies: {:?}", roots["SPX"]);
    assert!((9..=10).contains(&spxw), "SPXW dailies: {:?}", roots["SPXW"]);
    // 121 strikes an expiry (81 near, 40 wide), both rights.
    assert_eq!(keys.len(), (spx + spxw) * 121 * 2);
}

#[test]
fn instruments_reads_a_contract_master_file() {
    let dir = std::env::temp_dir().join(format!("signal-cm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("master.csv");
    std::fs::write(
        &path,
        "key,underlying,expiry,strike,right,lot_size,tick_size\n\
         X:ABC-1,X:ABC,2030-01-31T15:30:00+05:30,100,CE,10,0.05\n\
         X:ABC-2,X:ABC,2030-01-31T15:30:00+05:30,100,PE,10,0.05\n",
    )
    .unwrap();
    let out = run(&["instruments", "--contract-master", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(column(&text(&out.stdout), "right"), ["call", "put"]);
    // The same file as the configured source (instruments.source = "file").
    let out = with_env(
        &["instruments"],
        &[
            ("SIGNAL__INSTRUMENTS__SOURCE", "file"),
            ("SIGNAL__INSTRUMENTS__CONTRACT_MASTER", path.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(column(&text(&out.stdout), "key"), ["X:ABC-1", "X:ABC-2"]);
    std::fs::remove_dir_all(&dir).ok();
}

/// The configured instrument service unreachable: the command says which service and fails.
#[test]
fn instruments_names_an_unreachable_configured_instrument_service() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let out = with_env(
        &["instruments"],
        &[
            ("SIGNAL__INSTRUMENTS__SOURCE", "http"),
            ("SIGNAL__INSTRUMENTS__SERVICE_URL", url.as_str()),
            ("SIGNAL__INSTRUMENTS__MAX_RETRIES", "0"),
        ],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("instrument service at 127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn replay_refuses_a_negative_speed_and_another_market_for_nse_layouts() {
    let out = run(&["replay", "x.csv", "--format", "nse-chain", "--speed=-1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--speed -1: must be a number ≥ 0"),
        "{}",
        text(&out.stderr)
    );
    for format in ["nse-chain", "nse-chain-raw"] {
        let out = run(&["replay", "x.csv", "--format", format, "--market", "CBOE"]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains("--market CBOE: the NSE option-chain layouts are NSE's"),
            "{format}: {err}"
        );
    }
}

#[test]
fn migrate_up_down_and_status_on_a_sqlite_file() {
    let dir = std::env::temp_dir().join(format!("signal-migrate-{}", std::process::id()));
    let url = format!("sqlite://{}/db/signal.db?mode=rwc", dir.display());
    let migrate = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_signal-service"))
            .arg("migrate")
            .args(args)
            .args(["--database-url", &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let all = <migration::Migrator as migration::MigratorTrait>::migrations().len();
    assert_eq!(migrate(&["status"]).matches("\tpending").count(), all);
    assert_eq!(migrate(&["up"]).matches("\tapplied").count(), all);
    assert_eq!(migrate(&["down", "--steps", "2"]).matches("\tpending").count(), 2);
    assert_eq!(migrate(&["down", "--all"]).matches("\tpending").count(), all);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn replay_stores_an_nse_chain_file_and_names_a_bad_preset() {
    let Some(chain) = shared("../data/nse_index_options_chain_2019-05_2019-06_30min.csv") else {
        return;
    };
    let (dir, url) = scratch("replay");
    let file = dir.join("chain.csv");
    // The first two snapshots of the real file: enough to go end to end.
    let head: Vec<&str> = chain.lines().take(400).collect();
    std::fs::write(&file, head.join("\n") + "\n").unwrap();
    let out = run(&[
        "replay",
        file.to_str().unwrap(),
        "--format",
        "nse-chain",
        "--conventions",
        "nse-published",
        "--database-url",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.contains("ticks accepted, 0 rejected"), "{summary}");
    assert!(summary.contains("Greeks snapshots stored"), "{summary}");
    assert!(
        summary
            .contains("conventions NSE: model bsm, rate 0.1, div_yield 0, time_basis calendar_days, price_source last"),
        "the conventions by their API names: {summary}"
    );
    assert!(!summary.contains("Conventions {"), "no Rust debug output: {summary}");
    let bad = run(&[
        "replay",
        file.to_str().unwrap(),
        "--format",
        "nse-chain",
        "--conventions",
        "nse",
        "--database-url",
        &url,
    ]);
    assert!(text(&bad.stderr).contains("preset 'nse' is not one of default, nse-published"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_missing_file_is_named() {
    for format in ["nse-chain", "candles"] {
        let out = run(&["replay", "no/such/chain.csv", "--format", format]);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains("no/such/chain.csv: No such file or directory"),
            "{format}: {err}"
        );
    }
    let out = run(&["instruments", "--contract-master", "no/such/master.csv"]);
    assert!(
        text(&out.stderr).contains("no/such/master.csv: No such file"),
        "{}",
        text(&out.stderr)
    );
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A database or service that cannot be reached is named, host and port, with the cause, at
/// once — not `pool timed out` after 30 s, not a client library's `creating a new object`.
#[test]
fn a_connection_error_names_the_host_and_the_cause() {
    let port = closed_port();
    let out = run(&[
        "migrate",
        "status",
        "--database-url",
        &format!("postgres://root:hunter2@127.0.0.1:{port}/test"),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("PostgreSQL at 127.0.0.1:{port}: connection refused")),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the password stays out: {err}");
    let out = run(&[
        "migrate",
        "status",
        "--database-url",
        "postgres://root@nosuchhost.invalid/test",
    ]);
    let err = text(&out.stderr);
    assert!(
        err.contains("PostgreSQL at nosuchhost.invalid:5432: the host name does not resolve"),
        "{err}"
    );
    let out = run(&[
        "instruments",
        "--instrument-service",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("instrument service at 127.0.0.1:{port}: connection refused")),
        "{err}"
    );
}

#[test]
fn replay_reads_the_raw_two_sided_nse_layout() {
    let Some(_) = shared("../data/raw_nse_optionchain_2019/NIFTY_11JUL2019_01-07-2019_1000.csv") else {
        return;
    };
    let (dir, url) = scratch("raw");
    let raw = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/raw_nse_optionchain_2019");
    for name in [
        "NIFTY_11JUL2019_01-07-2019_1000.csv",
        "BANKNIFTY_4JUL2019_01-07-2019_1000.csv",
    ] {
        let file = raw.join(name);
        let out = run(&[
            "replay",
            file.to_str().unwrap(),
            "--format",
            "nse-chain-raw",
            "--database-url",
            &url,
        ]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let summary = text(&out.stdout);
        assert!(
            summary.contains(" 0 rejected") && summary.contains("replayed 1 snapshots"),
            "{summary}"
        );
    }
    let copy = dir.join("chain.csv");
    std::fs::copy(raw.join("NIFTY_11JUL2019_01-07-2019_1000.csv"), &copy).unwrap();
    let bad = run(&[
        "replay",
        copy.to_str().unwrap(),
        "--format",
        "nse-chain-raw",
        "--database-url",
        &url,
    ]);
    assert!(
        text(&bad.stderr).contains("SYMBOL_DMMMYYYY_DD-MM-YYYY_HHMM"),
        "{}",
        text(&bad.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn replay_reads_vendor_candle_files_and_drops_bars_outside_the_session() {
    let Some(_) = shared("../data/nse_nifty_index_and_sbin_1min_2017-09-26_2017-10-10.csv") else {
        return;
    };
    let (dir, url) = scratch("candles-replay");
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/nse_nifty_index_and_sbin_1min_2017-09-26_2017-10-10.csv");
    let out = run(&[
        "replay",
        file.to_str().unwrap(),
        "--format",
        "candles",
        "--database-url",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    // End-labelled: the extra 09:15 opening bar of each day starts at 09:14, outside the session.
    assert!(
        summary.starts_with("replayed 7448 candles: 7435 accepted, 13 rejected"),
        "{summary}"
    );
    assert!(summary.contains("outside the NSE session"), "{summary}");
    let again = run(&[
        "replay",
        file.to_str().unwrap(),
        "--format",
        "candles",
        "--database-url",
        &url,
    ]);
    assert!(
        text(&again.stdout).starts_with("replayed 7448 candles: 7435 accepted"),
        "replaying is idempotent"
    );
    assert_eq!(
        count(&url, "SELECT count(*) AS n FROM candles_1m"),
        7435,
        "replaying twice stores each bar once"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The API documents the binary prints are the committed ones (CI diffs them too; here a
/// `cargo test` says so before a push).
#[test]
fn the_printed_api_documents_are_the_committed_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (command, file) in [
        ("openapi", "openapi/signal-service.json"),
        ("asyncapi", "openapi/signal-service.asyncapi.json"),
    ] {
        let out = run(&[command]);
        assert!(out.status.success(), "{command}: {}", text(&out.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(file)).unwrap()).unwrap();
        assert!(
            printed == committed,
            "`signal-service {command}` differs from {file}: regenerate it"
        );
    }
}

/// A `RUST_LOG` that does not parse is said once, and the default filter used.
#[test]
fn a_bad_log_filter_is_named_and_the_default_used() {
    let out = with_env(&["instruments", "--underlying", "NIFTY"], &[("RUST_LOG", "info,[[bad")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("RUST_LOG: ") && err.contains("using info,"), "{err}");
    assert_eq!(err.matches("RUST_LOG").count(), 1, "{err}");
}
