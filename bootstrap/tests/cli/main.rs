//! The `signal-service` commands run as a user runs them: the real binary, its stdin, stdout and exit code.

mod serve;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn calc(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_signal-service"))
        .arg("calc")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../domain/tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn shared(rel: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference")
        .join(rel);
    if let Ok(s) = std::fs::read_to_string(&p) {
        return Some(s);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} is missing",
        p.display()
    );
    eprintln!("SKIPPED: {} is absent", p.display());
    None
}

/// A scratch folder for one test and the URL of a SQLite database inside it.
fn scratch(tag: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("signal-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/signal.db?mode=rwc", dir.display());
    (dir, url)
}

/// Runs a `SELECT count(*) AS n …` against `url`.
fn count(url: &str, sql: &str) -> i64 {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sea_orm::{ConnectionTrait, Database, Statement};
        let db = Database::connect(url).await.unwrap();
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    })
}

fn column(csv_text: &str, name: &str) -> Vec<String> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let i = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    r.records().map(|rec| rec.unwrap()[i].to_owned()).collect()
}

#[test]
fn greeks_reproduce_the_golden_prices_with_one_row_out_per_row_in() {
    let input: String = golden("golden_greeks.csv")
        .lines()
        .map(|l| l.split(',').take(7).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    let out = calc(&["greeks"], &input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    let prices = column(&got, "price");
    let want = column(&golden("golden_greeks.csv"), "price");
    assert_eq!(prices.len(), 150);
    for (i, (g, w)) in prices.iter().zip(&want).enumerate() {
        let (g, w): (f64, f64) = (g.parse().unwrap(), w.parse().unwrap());
        assert!((g - w).abs() <= 1e-12 * 1e5 + 1e-9 * w.abs(), "row {i}: {g} vs {w}");
    }
    let header = got.lines().next().unwrap();
    assert!(header.ends_with("price,delta,gamma,theta_per_year,theta_per_day,vega_per_unit,vega_per_vol_point,rho_per_unit,rho_per_rate_point,vanna,volga,charm_per_year,speed"));
}

#[test]
fn iv_names_why_a_price_has_no_volatility() {
    let input = "type,spot,strike,t_years,rate,div_yield,price\n\
                 call,100,100,0.25,0.05,0.02,4.335885616361571\n\
                 call,100,80,0.5,0.05,0,21.97518506252635\n\
                 call,100,80,0.5,0.05,0,100.00000010000001\n\
                 put,100,0,0.5,0.05,0,1\n";
    let out = calc(&["iv"], input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    let iv: f64 = column(&got, "iv")[0].parse().unwrap();
    assert!((iv - 0.2).abs() < 2e-11);
    assert_eq!(
        column(&got, "iv_error"),
        ["", "below_intrinsic", "above_upper_bound", "invalid_input"]
    );
}

#[test]
fn black76_takes_the_forward_in_the_spot_column() {
    let out = calc(
        &["greeks", "--model", "black76"],
        "type,spot,strike,t_years,rate,div_yield,vol\ncall,24410.5,24450,0.0007134703196347032,0.065,0.5,0.12\n",
    );
    assert!(out.status.success());
    let price: f64 = column(&text(&out.stdout), "price")[0].parse().unwrap();
    // golden_black76.csv row 4 (vol 0.12): 16.40… is BSM with q; Black-76 ignores div_yield.
    let want = 15.381_265_367_495_594;
    assert!((price - want).abs() < 1e-9, "{price}");
}

#[test]
fn a_bad_row_stops_with_its_row_column_and_reason() {
    let out = calc(
        &["greeks"],
        "type,spot,strike,t_years,rate,div_yield,vol\ncall,100,100,1,0.05,0,0.2\ncall,100,100,1,0.05,0,-0.2\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("row 2") && err.contains("'vol'") && err.contains("≥ 0"),
        "{err}"
    );
    assert_eq!(
        text(&out.stdout).lines().count(),
        2,
        "the good row before it is still written"
    );

    let out = calc(&["iv"], "type,spot,strike,t_years,rate,div_yield\ncall,1,1,1,0,0\n");
    assert!(text(&out.stderr).contains("missing column 'price'"));

    let out = calc(
        &["greeks"],
        "type,spot,strike,t_years,rate,div_yield,vol\nstraddle,100,100,1,0.05,0,0.2\n",
    );
    assert!(
        text(&out.stderr).contains("row 1 (line 2), column 'type'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_timeframes_and_indicator_specs_are_refused_before_reading() {
    for tf in ["0m", "7x", "", "99999h", "-5m"] {
        let out = calc(&["aggregate", "--timeframe", tf], "");
        assert!(!out.status.success(), "{tf} accepted");
        assert!(text(&out.stderr).contains("timeframe"), "{tf}: {}", text(&out.stderr));
    }
    let out = calc(&["indicators", "--indicators", "rsi:0"], "");
    assert!(text(&out.stderr).contains("rsi period"));
}

#[test]
fn aggregate_reproduces_the_seven_minute_reference() {
    let (Some(bars), Some(reference)) = (
        shared("indicators/nse_yesbank_1m_2019-07-09_11.csv"),
        shared("aggregation/yesbank_7m.csv"),
    ) else {
        return;
    };
    let out = calc(&["aggregate", "--timeframe", "7m", "--market", "NSE"], &bars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    assert_eq!(got.lines().next(), reference.lines().next());
    for col in [
        "bucket_start",
        "bucket_end",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "n_bars",
        "expected_bars",
        "partial",
        "gaps",
    ] {
        assert_eq!(column(&got, col), column(&reference, col), "{col}");
    }
}

#[test]
fn indicators_reproduce_the_talib_reference_columns() {
    let (Some(bars), Some(reference)) = (
        shared("indicators/nse_yesbank_1m_2019-07-09_11.csv"),
        shared("indicators/nse_yesbank_1m_ref.csv"),
    ) else {
        return;
    };
    let out = calc(&["indicators", "--indicators", "ema:20,rsi:14,obv,vwap_session"], &bars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    for (ours, theirs) in [
        ("ema_20", "ema20"),
        ("rsi_14", "rsi14"),
        ("obv", "obv"),
        ("vwap_session", "vwap_session_hlc3"),
    ] {
        let (g, w) = (column(&got, ours), column(&reference, theirs));
        assert_eq!(g.len(), w.len());
        for (i, (g, w)) in g.iter().zip(&w).enumerate() {
            assert_eq!(g.is_empty(), w.is_empty(), "{ours} row {i}: warm-up differs");
            if !g.is_empty() {
                let (g, w): (f64, f64) = (g.parse().unwrap(), w.parse().unwrap());
                assert!((g - w).abs() <= 1e-9 * w.abs() + 1e-12, "{ours} row {i}: {g} vs {w}");
            }
        }
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signal-service"))
        .args(args)
        .output()
        .unwrap()
}

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
    assert!(text(&bad.stderr).contains("unknown underlying 'FOO'; known: BANKNIFTY, NIFTY"));
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
    std::fs::remove_dir_all(&dir).ok();
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
    assert_eq!(migrate(&["status"]).matches("\tpending").count(), 6);
    assert_eq!(migrate(&["up"]).matches("\tapplied").count(), 6);
    assert_eq!(migrate(&["down", "--steps", "2"]).matches("\tpending").count(), 2);
    assert_eq!(migrate(&["down", "--all"]).matches("\tpending").count(), 6);
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

/// `signal-service` with `env` set, run to the end.
fn with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_signal-service"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn config_takes_lists_from_the_environment_and_never_shows_a_secret() {
    let out = with_env(
        &["config"],
        &[
            ("SIGNAL__INGEST__API_KEYS", "key-one-secret, key-two-secret,"),
            ("SIGNAL__SUBSCRIPTIONS__TOKENS", "token-secret-1"),
            ("SIGNAL__DATABASE__URL", "postgres://app:hunter2-secret@db:5432/x"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(v["ingest"]["api_keys"], serde_json::json!(["***", "***"]));
    assert_eq!(v["subscriptions"]["tokens"], serde_json::json!(["***"]));
    assert_eq!(v["database"]["url"], "postgres://app:***@db:5432/x");
    assert!(
        !printed.contains("secret") && !text(&out.stderr).contains("secret"),
        "{printed}"
    );

    // A mistyped setting is named; the value of a secret-bearing variable is not repeated.
    let out = with_env(
        &["config"],
        &[
            ("SIGNAL__SERVER__PORT", "not-a-port"),
            ("SIGNAL__REDIS__URL", "redis://:pw-secret@h/0"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("port"), "{err}");
    assert!(!err.contains("pw-secret"), "{err}");
}

#[test]
fn production_mode_refuses_to_start_without_postgresql_and_redis() {
    let out = with_env(&["serve", "--port", "0"], &[("SIGNAL__MODE", "production")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("database.url"), "{}", text(&out.stderr));
    let out = with_env(
        &["serve", "--port", "0"],
        &[
            ("SIGNAL__MODE", "production"),
            ("SIGNAL__DATABASE__URL", "postgres://postgres@127.0.0.1:1/x"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("redis.url"), "{}", text(&out.stderr));
}

/// 1-minute bars every minute from 08:00 to 17:00 IST of each date (close = minute of the day),
/// the windows of special sessions and holidays included.
fn minute_bars(dates: &[&str]) -> String {
    let mut out = String::from("ts,open,high,low,close,volume\n");
    for date in dates {
        for m in 8 * 60..17 * 60 {
            let px = f64::from(m);
            out.push_str(&format!(
                "{date}T{:02}:{:02}:00+05:30,{px},{px},{px},{px},1\n",
                m / 60,
                m % 60
            ));
        }
    }
    out
}

#[test]
fn aggregate_follows_special_sessions_and_skips_holidays() {
    // 2024-01-20: full Saturday session; 2024-01-22: holiday; 2024-03-02 and 2024-05-18: two
    // windows, 09:15-10:00 and 11:30-12:30, on a grid anchored at 09:15.
    let bars = minute_bars(&["2024-01-20", "2024-01-22", "2024-03-02", "2024-05-18"]);
    let out = calc(&["aggregate", "--timeframe", "75m"], &bars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    let rows: Vec<String> = got
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            // start, end, n_bars, expected_bars, partial
            format!("{} {} {} {} {}", &f[0][..16], &f[1][11..16], f[8], f[9], f[10])
        })
        .collect();
    let mut want: Vec<String> = [
        "09:15 10:30",
        "10:30 11:45",
        "11:45 13:00",
        "13:00 14:15",
        "14:15 15:30",
    ]
    .iter()
    .map(|span| format!("2024-01-20T{span} 75 75 0"))
    .collect();
    for day in ["2024-03-02", "2024-05-18"] {
        want.push(format!("{day}T09:15 10:00 45 45 1"));
        want.push(format!("{day}T11:30 11:45 15 15 1"));
        want.push(format!("{day}T11:45 12:30 45 45 1"));
    }
    assert_eq!(rows, want, "{got}");
    assert!(!got.contains("2024-01-22"), "a holiday forms no bucket");
    let days = calc(&["aggregate", "--timeframe", "1d"], &bars);
    let days = text(&days.stdout);
    let day_rows: Vec<&str> = days.lines().skip(1).collect();
    assert_eq!(day_rows.len(), 3, "{days}");
    assert!(
        day_rows[1].starts_with("2024-03-02T09:15:00+05:30,2024-03-02T12:30:00+05:30,"),
        "{days}"
    );
}
