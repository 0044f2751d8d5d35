//! `signal-service calc`: the golden prices, IV reasons, Black-76, bad rows, the TA-Lib and
//! aggregation references, and aggregation on special sessions and holidays.

use super::*;

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

#[test]
fn calc_takes_any_configured_market_and_names_an_unknown_one() {
    let out = calc(&["aggregate", "--timeframe", "30m", "--market", "XNAS"], "");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--market") && err.contains("'XNAS' is not configured"),
        "{err}"
    );

    // A market defined whole in a config file: New York hours, its own calendar.
    let (dir, _) = scratch("calc-market");
    let calendar = dir.join("xnas.csv");
    std::fs::write(&calendar, "holiday,2026-12-25,,NYSE holiday list 2026,Christmas\n").unwrap();
    let config = dir.join("markets.toml");
    std::fs::write(
        &config,
        format!(
            "[markets.XNAS]\ntime_zone = \"America/New_York\"\nsessions = \"09:30-16:00\"\ncalendar = \"{}\"\n",
            calendar.display()
        ),
    )
    .unwrap();
    let bars = "ts,open,high,low,close,volume\n\
                2026-12-24T09:29:00-05:00,1,1,1,1,1\n\
                2026-12-24T09:30:00-05:00,2,2,2,2,1\n\
                2026-12-24T10:05:00-05:00,3,3,3,3,1\n\
                2026-12-25T10:00:00-05:00,4,4,4,4,1\n";
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_signal-service"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "calc",
            "aggregate",
            "--timeframe",
            "30m",
            "--market",
            "XNAS",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), bars.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let starts = column(&text(&out.stdout), "bucket_start");
    assert_eq!(
        starts,
        ["2026-12-24T09:30:00-05:00", "2026-12-24T10:00:00-05:00"],
        "anchored at 09:30 New York; the pre-open bar and the holiday form no bucket"
    );
}
