//! `replay --format eod-chain`: an SPXW end-of-day chain priced by the domain off a known smile
//! goes through the real binary into a database, and the stored IVs are that smile.

use chrono::{DateTime, NaiveDate, Utc};
use domain::expiry::{TimeBasis, time_to_expiry};
use domain::instrument::{Market, OptionRight};
use domain::pricing::{OptionInputs, PricingModel, price_and_greeks};

use super::*;

/// The smile the chain is priced from: ATM volatility rising with time, skewed and curved in
/// log-moneyness.
fn smile(strike: f64, forward: f64, t: f64) -> f64 {
    let m = (strike / forward).ln();
    0.15 + 0.3 * t - 0.5 * m + 2.0 * m * m
}

const SPOT: f64 = 5_600.0;
/// Cboe's configured rate (config/base.toml) and the index's dividend yield.
const RATE: f64 = 0.04;
const DIV_YIELD: f64 = 0.013;

/// Rows of the SQL query `sql` against `url`, each column as text.
fn rows(url: &str, sql: &str, columns: &[&str]) -> Vec<Vec<String>> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sea_orm::{ConnectionTrait, Database, Statement};
        let db = Database::connect(url).await.unwrap();
        db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| {
                        r.try_get::<String>("", c)
                            .or_else(|_| r.try_get::<f64>("", c).map(|v| format!("{v:?}")))
                            .or_else(|_| r.try_get::<i64>("", c).map(|v| v.to_string()))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect()
    })
}

#[test]
fn replay_recovers_a_known_spxw_smile_from_an_end_of_day_chain_and_stores_it() {
    let market = Market::cboe();
    // Wednesday 2025-03-12, 15:45 New York (EDT, three days after the change): a vendor's
    // end-of-day snapshot.
    let quoted: DateTime<Utc> = DateTime::parse_from_rfc3339("2025-03-12T15:45:00-04:00")
        .unwrap()
        .into();
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    // SPXW on Friday the 14th and on the third Friday (PM, 16:00 EDT), and SPX's AM monthly
    // beside it (09:30 EDT on the 21st).
    let series = [
        ("SPXW", day("2025-03-14"), "2025-03-14T16:00:00-04:00"),
        ("SPXW", day("2025-03-21"), "2025-03-21T16:00:00-04:00"),
        ("SPX", day("2025-03-21"), "2025-03-21T09:30:00-04:00"),
    ];
    let strikes: Vec<f64> = (0..=8).map(|i| 5_500.0 + 25.0 * f64::from(i)).collect();
    let mut csv_text = String::from(
        "quote_time,underlying,underlying_price,root,expiry,strike,right,bid,ask,last,volume,oi,vendor_note\n",
    );
    // What each contract was priced with: (key, σ, forward, t).
    let mut expected = Vec::new();
    for (root, date, settles) in series {
        let settles: DateTime<Utc> = DateTime::parse_from_rfc3339(settles).unwrap().into();
        let t = time_to_expiry(TimeBasis::Exact, quoted, settles, &market);
        let forward = SPOT * ((RATE - DIV_YIELD) * t).exp();
        for &k in &strikes {
            for right in [OptionRight::Call, OptionRight::Put] {
                let vol = smile(k, forward, t);
                let o = OptionInputs {
                    right,
                    underlying: forward,
                    strike: k,
                    t_years: t,
                    rate: RATE,
                    div_yield: 0.0,
                    vol,
                };
                let p = price_and_greeks(PricingModel::Black76, &o).unwrap().price;
                assert!(p > 0.5, "every quote well above a tick: {root} {k} {right:?} {p}");
                let (name, code) = if right == OptionRight::Call {
                    ("call", "CE")
                } else {
                    ("put", "PE")
                };
                csv_text += &format!(
                    "2025-03-12T15:45:00-04:00,SPX,{SPOT},{root},{date},{k},{name},{},{},{p},120,3400,x\n",
                    p - 0.05,
                    p + 0.05
                );
                expected.push((
                    format!("CBOE:{root}-{}-{k}-{code}", date.format("%Y%m%d")),
                    vol,
                    forward,
                    t,
                ));
            }
        }
    }
    let (dir, url) = scratch("eod-chain");
    let file = dir.join("spx_eod.csv");
    std::fs::write(&file, csv_text).unwrap();
    let out = run(&[
        "replay",
        file.to_str().unwrap(),
        "--format",
        "eod-chain",
        "--database-url",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.contains(" 55 ticks accepted, 0 rejected"), "{summary}");
    assert!(
        summary.contains("conventions CBOE: model black76, rate 0.04, div_yield 0, time_basis exact"),
        "{summary}"
    );

    let stored = rows(
        &url,
        "SELECT instrument_key, iv, forward, forward_source, t_years FROM signal_greeks",
        &["instrument_key", "iv", "forward", "forward_source", "t_years"],
    );
    assert_eq!(stored.len(), expected.len(), "every contract's Greeks stored");
    let (mut worst_iv, mut worst_forward) = (0.0_f64, 0.0_f64);
    for (key, vol, forward, t) in &expected {
        let row = stored
            .iter()
            .find(|r| &r[0] == key)
            .unwrap_or_else(|| panic!("{key} not stored"));
        let (iv, fwd, years): (f64, f64, f64) = (
            row[1].parse().unwrap(),
            row[2].parse().unwrap(),
            row[4].parse().unwrap(),
        );
        assert!((years - t).abs() < 1e-12, "{key}: t {years} vs {t}");
        if key.starts_with("CBOE:SPXW-") {
            // The smile, recovered on the put-call parity forward (no futures on Cboe).
            assert_eq!(row[3], "put_call_parity", "{key}");
            assert!((fwd - forward).abs() < 1e-6, "{key}: forward {fwd} vs {forward}");
            assert!((iv - vol).abs() < 1e-6, "{key}: iv {iv} vs the smile's {vol}");
            worst_iv = worst_iv.max((iv - vol).abs());
            worst_forward = worst_forward.max((fwd - forward).abs());
        } else {
            // SPX's AM series is priced on its own expiry instant with the date's PM chain's
            // forward (6.5 hours later: (r - q) x 6.5 h moves it by 2e-5 of itself).
            assert!((fwd / forward - 1.0).abs() < 3e-5, "{key}: forward {fwd} vs {forward}");
            assert!((iv - vol).abs() < 1e-3, "{key}: iv {iv} vs the smile's {vol}");
        }
    }

    eprintln!("SPXW: largest |iv - smile| {worst_iv:e}, largest |forward - S e^((r-q)t)| {worst_forward:e}");
    // The ATM level of each expiry is one SPXW contract a right, at the smile's ATM IV: the AM
    // series never joins the third Friday's chain.
    let atm = rows(
        &url,
        "SELECT expiry, option_right, count, mean_iv FROM signal_moneyness_greeks WHERE level = 'ATM' ORDER BY expiry, option_right",
        &["expiry", "option_right", "count", "mean_iv"],
    );
    assert_eq!(atm.len(), 4, "two expiries, two rights: {atm:?}");
    for row in &atm {
        let (_, _, forward, t) = expected
            .iter()
            .find(|(k, ..)| k.starts_with(&format!("CBOE:SPXW-{}", row[0].replace('-', ""))))
            .unwrap();
        let k_atm = (forward / 25.0).round() * 25.0;
        assert_eq!(row[2], "1", "{row:?}");
        let iv: f64 = row[3].parse().unwrap();
        assert!((iv - smile(k_atm, *forward, *t)).abs() < 1e-6, "{row:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
