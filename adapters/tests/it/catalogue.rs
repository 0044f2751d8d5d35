//! The in-memory catalogue, the contract-master file and the built-in generated listing.

use std::sync::Arc;

use adapters::outbound::instruments::builtin::{BuiltinCatalogue, builtin_products, generate};
use adapters::outbound::instruments::contract_master;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::instrument::{InstrumentKey, Market, OptionRight};
use domain::ports::{InstrumentSource, ManualClock, PortError};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn key(s: &str) -> InstrumentKey {
    InstrumentKey::parse(s).unwrap()
}

#[tokio::test]
async fn builtin_listing_has_nifty_weeklies_and_banknifty_monthlies_with_real_steps() {
    let cat = generate(&builtin_products(), d("2026-02-02"));
    let u = cat.underlyings().await.unwrap();
    let steps: Vec<(String, f64)> = u.iter().map(|u| (u.symbol.clone(), u.strike_step)).collect();
    assert_eq!(
        steps,
        [
            ("SPX".to_owned(), 5.0),
            ("BANKNIFTY".to_owned(), 100.0),
            ("NIFTY".to_owned(), 50.0)
        ],
        "SPX and SPXW share the SPX underlying"
    );
    let nifty = cat.expiries(&key("NSE:NIFTY")).await.unwrap();
    assert_eq!(nifty[..3], [d("2026-02-03"), d("2026-02-10"), d("2026-02-17")]);
    assert!(
        // Tuesday 2026-03-31 is Mahavir Jayanti: the March monthly moves to Monday the 30th.
        nifty.contains(&d("2026-02-24")) && nifty.contains(&d("2026-03-30")),
        "monthlies: {nifty:?}"
    );
    let bank = cat.expiries(&key("NSE:BANKNIFTY")).await.unwrap();
    assert_eq!(bank, [d("2026-02-24"), d("2026-03-30"), d("2026-04-28")]);
    let chain = cat.chain(&key("NSE:NIFTY"), d("2026-02-03")).await.unwrap();
    assert_eq!(chain.len(), 81 * 2);
    assert!(
        chain
            .windows(2)
            .all(|w| (w[0].strike.value(), w[0].right) <= (w[1].strike.value(), w[1].right))
    );
    assert_eq!(chain[0].right, OptionRight::Call);
    assert_eq!(chain[0].lot_size.units(), 65);
    assert_eq!(cat.strike_step(&key("NSE:BANKNIFTY")).await.unwrap(), 100.0);
    let c = cat.contract(&chain[5].key).await.unwrap();
    assert_eq!(c, chain[5]);
}

#[tokio::test]
async fn unknown_underlyings_expiries_and_keys_are_not_found() {
    let cat = generate(&builtin_products(), d("2026-02-02"));
    assert!(matches!(
        cat.expiries(&key("NSE:FINNIFTY")).await,
        Err(PortError::NotFound(_))
    ));
    assert!(matches!(
        cat.chain(&key("NSE:NIFTY"), d("2026-02-04")).await,
        Err(PortError::NotFound(_))
    ));
    assert!(matches!(
        cat.contract(&key("NSE:NOPE")).await,
        Err(PortError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_builtin_catalogue_rolls_forward_with_the_clock() {
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-02-03T12:00:00+05:30")
        .unwrap()
        .with_timezone(&Utc);
    let clock = Arc::new(ManualClock::new(t));
    let cat = BuiltinCatalogue::new(clock.clone());
    assert_eq!(cat.expiries(&key("NSE:NIFTY")).await.unwrap()[0], d("2026-02-03"));
    clock.advance(Duration::days(1));
    assert_eq!(
        cat.expiries(&key("NSE:NIFTY")).await.unwrap()[0],
        d("2026-02-10"),
        "expired weekly dropped"
    );
}

#[tokio::test]
async fn a_contract_master_round_trips_and_bad_rows_are_named() {
    let market = Market::nse();
    let cat = generate(&builtin_products(), d("2026-02-02"));
    let mut buf = Vec::new();
    contract_master::write(cat.all_contracts(), cat.all_futures(), &market, &mut buf).unwrap();
    let text = String::from_utf8(buf.clone()).unwrap();
    assert!(text.starts_with("key,underlying,expiry,strike,right,lot_size,tick_size\n"));
    assert!(text.contains("NSE:NIFTY-20260203-26000-CE,NSE:NIFTY,2026-02-03T15:30:00+05:30,26000.0,call,65,0.05"));
    let back = contract_master::read(&buf[..], &market).unwrap();
    assert_eq!(back.len(), cat.len());
    assert_eq!(back.all_contracts(), cat.all_contracts());
    assert!(
        text.contains("NSE:NIFTY-20260224-FUT,NSE:NIFTY,2026-02-24T15:30:00+05:30,,FUT,65,0.05"),
        "{text}"
    );
    assert_eq!(back.all_futures(), cat.all_futures());
    assert_eq!(
        back.all_futures().len(),
        6,
        "three monthly futures each for BANKNIFTY and NIFTY"
    );
    let back_u = back.underlyings().await.unwrap();
    let found: Vec<(&str, &str, f64)> = back_u
        .iter()
        .map(|u| (u.key.as_str(), u.market.as_str(), u.strike_step))
        .collect();
    assert_eq!(
        found,
        [
            ("CBOE:SPX", "CBOE", 5.0),
            ("NSE:BANKNIFTY", "NSE", 100.0),
            ("NSE:NIFTY", "NSE", 50.0)
        ]
    );
    // Each contract's expiry in its own market's offset: SPXW at 16:00 New York (EST in February).
    assert!(
        text.contains("CBOE:SPXW-20260202-6800-CE,CBOE:SPX,2026-02-02T16:00:00-05:00,6800.0,call,100,0.05"),
        "{text}"
    );

    let bad = "key,underlying,expiry,strike,right,lot_size,tick_size\nNSE:X-1,NSE:X,2026-02-03T15:30:00+05:30,-5,call,65,0.05\n";
    let err = contract_master::read(bad.as_bytes(), &market).unwrap_err().to_string();
    assert!(err.contains("row 1") && err.contains("'strike'"), "{err}");
    let err = contract_master::read("key,underlying\n".as_bytes(), &market)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing column 'expiry'"), "{err}");
}
