//! The read endpoints in process (poem's test client): instruments, and the realtime chain and
//! moneyness. A five-strike NIFTY chain priced at one volatility is ingested and flushed, then
//! every endpoint is read and checked against what the chain must give, and every kind of bad or
//! unknown selector is answered with the JSON error naming its field.

use std::sync::Arc;

use adapters::inbound::http::AppState;
use adapters::outbound::store::SeaStore;
use application::ingest::IngestTicks;
use application::market::{InstrumentRegistry, RealtimeState};
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::chain::Conventions;
use domain::instrument::{FutureContract, InstrumentKey, LotSize, OptionContract, OptionRight, Strike};
use domain::market_data::Tick;
use domain::ports::{Clock, ManualClock};
use domain::pricing::{OptionInputs, PricingModel, price_and_greeks};
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use serde_json::Value;

use crate::support::now;

const STRIKES: [f64; 5] = [25_800.0, 25_900.0, 26_000.0, 26_100.0, 26_200.0];
const FORWARD: f64 = 25_990.0;
const VOL: f64 = 0.15;

fn expiry() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 24, 10, 0, 0).unwrap()
}

fn key(strike: f64, right: OptionRight) -> InstrumentKey {
    let suffix = if right == OptionRight::Call { "CE" } else { "PE" };
    InstrumentKey::parse(&format!("NSE:NIFTY-20260224-{strike}-{suffix}")).unwrap()
}

/// OI grows with the strike for puts and falls for calls, so the ratios are not trivially 1.
fn oi(strike: f64, right: OptionRight) -> f64 {
    let i = (strike - 25_800.0) / 100.0;
    match right {
        OptionRight::Call => 1_000.0 * (5.0 - i),
        OptionRight::Put => 2_000.0 * (1.0 + i),
    }
}

struct Harness {
    _db: FreshDatabase,
    clock: Arc<ManualClock>,
    ingest: Arc<IngestTicks>,
    client: crate::support::App,
}

async fn harness(db: FreshDatabase) -> Harness {
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let registry = InstrumentRegistry::default();
    let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
    registry.register_underlying(nifty.clone(), "NSE").unwrap();
    for k in STRIKES {
        for right in [OptionRight::Call, OptionRight::Put] {
            registry
                .register_option(
                    OptionContract {
                        key: key(k, right),
                        underlying: nifty.clone(),
                        expiry: expiry(),
                        strike: Strike::new(k).unwrap(),
                        right,
                        lot_size: LotSize::new(65).unwrap(),
                        tick_size: 0.05,
                    },
                    "NSE",
                )
                .unwrap();
        }
    }
    // A later monthly expiry with one strike and its future, never quoted.
    let march = Utc.with_ymd_and_hms(2026, 3, 31, 10, 0, 0).unwrap();
    registry
        .register_option(
            OptionContract {
                key: InstrumentKey::parse("NSE:NIFTY-20260331-27000-CE").unwrap(),
                underlying: nifty.clone(),
                expiry: march,
                strike: Strike::new(27_000.0).unwrap(),
                right: OptionRight::Call,
                lot_size: LotSize::new(65).unwrap(),
                tick_size: 0.05,
            },
            "NSE",
        )
        .unwrap();
    registry
        .register_future(
            FutureContract {
                key: InstrumentKey::parse("NSE:NIFTY-20260331-FUT").unwrap(),
                underlying: nifty.clone(),
                expiry: march,
                lot_size: LotSize::new(65).unwrap(),
                tick_size: 0.1,
            },
            "NSE",
        )
        .unwrap();
    let manual = Arc::new(ManualClock::new(now()));
    let clock: Arc<dyn Clock> = manual.clone();
    let registry = Arc::new(registry);
    let registry_for_mappings = registry.clone();
    let realtime = Arc::new(RealtimeState::default());
    let ingest = Arc::new(IngestTicks::new(
        registry.clone(),
        realtime.clone(),
        Arc::new(store.clone()),
        clock.clone(),
    ));
    let state = AppState::new(adapters::inbound::http::UseCaseParts {
        ingest: ingest.clone(),
        state: realtime,
        registry,
        store: Arc::new(store.clone()),
        aggregate_cache: None,
        database: Arc::new(store),
        redis: None,
        mappings: crate::support::ladder_mappings(&registry_for_mappings, &clock),
        clock,
    });
    Harness {
        _db: db,
        clock: manual,
        ingest,
        client: crate::support::app(state),
    }
}

/// One minute before the clock: the index and every option quoted at [`VOL`] on [`FORWARD`].
async fn ingest_chain(h: &Harness) {
    let ts = now() - Duration::minutes(1);
    let t_years = (expiry() - ts).num_seconds() as f64 / (365.0 * 86_400.0);
    let mut ticks = vec![Tick {
        key: InstrumentKey::parse("NSE:NIFTY").unwrap(),
        ts,
        last: Some(25_950.0),
        bid: None,
        ask: None,
        volume: None,
        oi: None,
    }];
    for k in STRIKES {
        for right in [OptionRight::Call, OptionRight::Put] {
            let inputs = OptionInputs {
                right,
                underlying: FORWARD,
                strike: k,
                t_years,
                rate: Conventions::DEFAULT.rate,
                div_yield: 0.0,
                vol: VOL,
            };
            let p = price_and_greeks(PricingModel::Black76, &inputs).unwrap().price;
            ticks.push(Tick {
                key: key(k, right),
                ts,
                last: Some(p),
                bid: Some(p - 0.5),
                ask: Some(p + 0.5),
                volume: Some(10.0),
                oi: Some(oi(k, right)),
            });
        }
    }
    let report = h.ingest.execute(&ticks).await.unwrap();
    assert_eq!(report.accepted, ticks.len(), "{report:?}");
    h.ingest.flush().await.unwrap();
}

impl Harness {
    async fn get(&self, path: &str) -> (u16, Value) {
        crate::support::get(&self.client, path).await
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

async fn the_chain_answers_every_strike_with_both_rights_at_the_quoted_volatility(db: FreshDatabase) {
    let h = harness(db).await;
    ingest_chain(&h).await;
    let (status, c) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    assert_eq!(status, 200, "{c}");
    let meta = &c["meta"];
    assert_eq!(meta["expiry"], "2026-02-24", "the nearest expiry by default");
    assert_eq!(meta["stale"], false);
    assert_eq!(meta["forward"]["source"], "put_call_parity");
    assert!((f(&meta["forward"]["value"]) - FORWARD).abs() < 1e-6, "{meta}");
    assert_eq!(meta["atm_strike"], 26_000.0);
    assert_eq!(meta["strike_step"], 100.0);
    assert_eq!(meta["conventions"]["model"], "black76");
    assert!(
        meta["conventions"]["units"]
            .as_str()
            .unwrap()
            .contains("per calendar day")
    );
    let strikes = c["strikes"].as_array().unwrap();
    assert_eq!(strikes.len(), 5);
    for (s, k) in strikes.iter().zip(STRIKES) {
        assert_eq!(f(&s["strike"]), k);
        for side in ["call", "put"] {
            let o = &s[side];
            assert!((f(&o["iv"]) - VOL).abs() < 1e-9, "{k} {side}: {o}");
            assert_eq!(
                o["oi"],
                oi(
                    k,
                    if side == "call" {
                        OptionRight::Call
                    } else {
                        OptionRight::Put
                    }
                )
            );
            assert!(o["greeks"]["gamma"].as_f64().unwrap() > 0.0);
        }
    }
    assert_eq!(strikes[0]["call"]["level"], "ITM2");
    assert_eq!(strikes[0]["put"]["level"], "OTM2");
    assert_eq!(strikes[2]["call"]["level"], "ATM");
    assert_eq!(strikes[4]["call"]["instrument_key"], "NSE:NIFTY-20260224-26200-CE");
    assert!((f(&c["atm_iv"]) - VOL).abs() < 1e-9);

    let (status, named) = h.get("/api/v2/realtime/chain/NSE:NIFTY?expiry=2026-02-24").await;
    assert_eq!((status, &named["strikes"]), (200, &c["strikes"]));
}

async fn chain_stats_give_the_ratios_max_pain_and_every_level_with_the_groups(db: FreshDatabase) {
    let h = harness(db).await;
    ingest_chain(&h).await;
    let (status, s) = h.get("/api/v2/realtime/chain/NSE:NIFTY/stats").await;
    assert_eq!(status, 200, "{s}");
    let calls: f64 = STRIKES.iter().map(|k| oi(*k, OptionRight::Call)).sum();
    let puts: f64 = STRIKES.iter().map(|k| oi(*k, OptionRight::Put)).sum();
    assert!((f(&s["pcr_by_oi"]) - puts / calls).abs() < 1e-12, "{s}");
    assert_eq!(f(&s["pcr_by_volume"]), 1.0);
    // Payout at K*: Σ call OI·(K*−K)⁺ + Σ put OI·(K−K*)⁺, smallest over the listed strikes.
    let pain = |x: f64| -> f64 {
        STRIKES
            .iter()
            .map(|k| oi(*k, OptionRight::Call) * (x - k).max(0.0) + oi(*k, OptionRight::Put) * (k - x).max(0.0))
            .sum()
    };
    let want = STRIKES
        .iter()
        .copied()
        .min_by(|a, b| pain(*a).total_cmp(&pain(*b)))
        .unwrap();
    assert_eq!(f(&s["max_pain_strike"]), want);
    assert_eq!(s["options"], 10);
    assert_eq!(s["without_iv"], Value::Array(vec![]));
    let levels = s["levels"].as_array().unwrap();
    assert_eq!(
        levels.len(),
        10 + 4,
        "five single levels per right, then ITM and OTM per right"
    );
    let itm_calls = levels
        .iter()
        .find(|l| l["right"] == "call" && l["level"] == "ITM")
        .unwrap();
    assert_eq!(itm_calls["count"], 2);
    assert_eq!(
        f(&itm_calls["total_oi"]),
        oi(25_800.0, OptionRight::Call) + oi(25_900.0, OptionRight::Call)
    );
    assert!((f(&itm_calls["mean_iv"]) - VOL).abs() < 1e-9);
    let delta = f(&itm_calls["greeks_oi_weighted"]["delta"]);
    assert!(delta > 0.5 && delta < 1.0, "ITM calls' delta {delta}");
}

async fn moneyness_level_greeks_atm_iv_and_skew(db: FreshDatabase) {
    let h = harness(db).await;
    ingest_chain(&h).await;
    let (status, l) = h.get("/api/v2/realtime/moneyness/NSE:NIFTY/greeks/OTM1").await;
    assert_eq!(status, 200, "{l}");
    let rights = l["rights"].as_array().unwrap();
    assert_eq!(rights.len(), 2);
    assert_eq!(rights[0]["aggregate"]["right"], "call");
    assert_eq!(rights[0]["strikes"], serde_json::json!([26_100.0]));
    assert_eq!(
        rights[1]["strikes"],
        serde_json::json!([25_900.0]),
        "a put below ATM is OTM"
    );

    let (status, l) = h.get("/api/v2/realtime/moneyness/NSE:NIFTY/greeks/ITM?right=put").await;
    assert_eq!(status, 200, "{l}");
    let rights = l["rights"].as_array().unwrap();
    assert_eq!(rights.len(), 1);
    assert_eq!(rights[0]["strikes"], serde_json::json!([26_100.0, 26_200.0]));
    assert_eq!(rights[0]["aggregate"]["count"], 2);

    let (status, a) = h.get("/api/v2/realtime/moneyness/NSE:NIFTY/atm-iv").await;
    assert_eq!(status, 200, "{a}");
    assert!((f(&a["atm_iv"]) - VOL).abs() < 1e-9);
    assert_eq!((f(&a["lower_strike"]), f(&a["upper_strike"])), (25_900.0, 26_000.0));

    let (status, s) = h.get("/api/v2/realtime/moneyness/NSE:NIFTY/skew").await;
    assert_eq!(status, 200, "{s}");
    let by_strike = s["by_strike"].as_array().unwrap();
    assert_eq!(by_strike.len(), 5);
    assert!((f(&by_strike[0]["log_moneyness"]) - (25_800.0_f64 / FORWARD).ln()).abs() < 1e-9);
    assert!((f(&by_strike[0]["otm_iv"]) - VOL).abs() < 1e-9);
    assert_eq!(s["by_level"].as_array().unwrap().len(), 10);
    // Five strikes ±0.8 % around the forward all have |delta| between 0.3 and 0.7: no 25-delta
    // wing to interpolate, so none is made up.
    assert!(s["risk_reversal_25d"].is_null() && s["butterfly_25d"].is_null(), "{s}");
}

async fn bad_and_unknown_selectors_are_json_errors_naming_the_field(db: FreshDatabase) {
    let h = harness(db).await;
    let (status, e) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    assert_eq!(
        (status, e["field"].as_str()),
        (404, Some("underlying")),
        "nothing evaluated yet: {e}"
    );
    ingest_chain(&h).await;
    for (path, status, field) in [
        ("/api/v2/realtime/chain/not%20a%20key", 400, "underlying"),
        ("/api/v2/realtime/chain/NSE:BANKNIFTY/stats", 404, "underlying"),
        ("/api/v2/realtime/chain/NSE:NIFTY?expiry=2026-03-31", 404, "expiry"),
        ("/api/v2/realtime/chain/NSE:NIFTY?expiry=2026-13-01", 400, "expiry"),
        ("/api/v2/realtime/moneyness/NSE:NIFTY/greeks/XTM1", 400, "level"),
        ("/api/v2/realtime/moneyness/NSE:NIFTY/greeks/ITM40", 404, "level"),
        (
            "/api/v2/realtime/moneyness/NSE:NIFTY/greeks/ATM?right=both",
            400,
            "right",
        ),
        ("/api/v2/realtime/moneyness/NSE:NIFTY/skew?expiry=soon", 400, "expiry"),
        // An empty value is a value, and no date.
        ("/api/v2/realtime/chain/NSE:NIFTY/stats?expiry=", 400, "expiry"),
        ("/api/v2/realtime/moneyness/NSE:NIFTY/atm-iv?expiry=", 400, "expiry"),
        ("/api/v2/instruments/NSE:NIFTY/chain?expiry=", 400, "expiry"),
    ] {
        let (got, e) = h.get(path).await;
        assert_eq!((got, e["field"].as_str()), (status, Some(field)), "{path}: {e}");
        assert!(!e["message"].as_str().unwrap_or_default().is_empty(), "{path}: {e}");
    }
    let (_, e) = h.get("/api/v2/realtime/chain/NSE:NIFTY?expiry=2026-03-31").await;
    assert!(
        e["message"].as_str().unwrap().contains("2026-02-24"),
        "names the known expiries: {e}"
    );
}

async fn instruments_list_underlyings_expiries_and_listed_chains(db: FreshDatabase) {
    let h = harness(db).await;
    let (status, u) = h.get("/api/v2/instruments/underlyings").await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(
        u["underlyings"],
        serde_json::json!([{"key": "NSE:NIFTY", "market": "NSE", "expiries": 2, "options": 11, "futures": 1}])
    );

    let (status, e) = h.get("/api/v2/instruments/NSE:NIFTY/expiries").await;
    assert_eq!(status, 200, "{e}");
    let e = e["expiries"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(
        (&e[0]["date"], &e[0]["options"], &e[0]["strikes"]),
        (&"2026-02-24".into(), &10.into(), &5.into())
    );
    assert_eq!(e[0]["future_key"], Value::Null);
    assert_eq!(e[1]["future_key"], "NSE:NIFTY-20260331-FUT");
    assert_eq!(e[1]["expiry_time"], "2026-03-31T10:00:00+00:00");

    let (status, c) = h.get("/api/v2/instruments/NSE:NIFTY/chain").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["expiry"], "2026-02-24", "nearest expiry by default");
    let strikes = c["strikes"].as_array().unwrap();
    assert_eq!(strikes.len(), 5);
    assert_eq!(strikes[0]["put"]["key"], "NSE:NIFTY-20260224-25800-PE");
    assert_eq!(strikes[0]["call"]["lot_size"], 65);

    let (status, c) = h.get("/api/v2/instruments/NSE:NIFTY/chain?expiry=2026-03-31").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["future"]["key"], "NSE:NIFTY-20260331-FUT");
    assert_eq!(c["strikes"][0]["put"], Value::Null);

    for (path, status, field) in [
        ("/api/v2/instruments/NSE:BANKNIFTY/expiries", 404, "underlying"),
        ("/api/v2/instruments/bad%20key/chain", 400, "underlying"),
        ("/api/v2/instruments/NSE:NIFTY/chain?expiry=2026-02-25", 404, "expiry"),
        ("/api/v2/instruments/NSE:NIFTY/chain?expiry=tomorrow", 400, "expiry"),
    ] {
        let (got, e) = h.get(path).await;
        assert_eq!((got, e["field"].as_str()), (status, Some(field)), "{path}: {e}");
    }
}

/// One option's realtime IV and Greeks: the quoted volatility back, on the parity forward, with
/// the conventions and the as-of minute, fresh; an unknown key is a 404 and a malformed one a
/// 400, each naming `instrument_key`.
async fn realtime_greeks_of_one_option_with_conventions_and_freshness(db: FreshDatabase) {
    let h = harness(db).await;
    let atm = key(26_000.0, OptionRight::Call);
    let (status, e) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert_eq!(
        (status, e["field"].as_str()),
        (404, Some("instrument_key")),
        "nothing yet: {e}"
    );
    ingest_chain(&h).await;
    let (status, g) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert_eq!(status, 200, "{g}");
    assert_eq!(g["instrument_key"].as_str(), Some(atm.as_str()));
    assert!((f(&g["iv"]) - VOL).abs() < 1e-9, "{g}");
    assert!((f(&g["forward"]["value"]) - FORWARD).abs() < 1e-6, "{g}");
    assert_eq!(g["forward"]["source"], "put_call_parity");
    assert_eq!(g["stale"], false, "one minute old: {g}");
    assert_eq!(
        g["as_of"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap()),
        Some(now() - Duration::minutes(1))
    );
    assert_eq!(g["conventions"]["model"], "black76");
    assert_eq!(g["price_source"], "mid");
    let delta = f(&g["greeks"]["delta"]);
    assert!(delta > 0.4 && delta < 0.6, "near the money: {g}");
    assert!(f(&g["greeks"]["vega_per_vol_point"]) > 0.0);
    // Under 1 400 bytes an answer goes out uncompressed whatever the client accepts; the chain is
    // larger and is compressed.
    let encoding = |resp: &poem::test::TestResponse| {
        let header = |name| resp.0.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        (header("content-encoding"), header("vary"))
    };
    let small = h
        .client
        .get(format!("/api/v2/realtime/greeks/{atm}"))
        .header("Accept-Encoding", "br, gzip")
        .send()
        .await;
    assert_eq!(encoding(&small), (None, Some("accept-encoding".to_owned())));
    let chain = h
        .client
        .get("/api/v2/realtime/chain/NSE:NIFTY")
        .header("Accept-Encoding", "br, gzip")
        .send()
        .await;
    assert_eq!(
        encoding(&chain),
        (Some("br".to_owned()), Some("accept-encoding".to_owned()))
    );
    // Answers are kept between updates: a new quote and, later, staleness each show at once.
    let (_, again) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert_eq!(again, g);
    let quote = Tick {
        key: atm.clone(),
        ts: now(),
        last: Some(f(&g["option_price"]) + 20.0),
        bid: None,
        ask: None,
        volume: None,
        oi: None,
    };
    h.ingest.execute(&[quote]).await.unwrap();
    let (_, moved) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert!(f(&moved["iv"]) > VOL + 0.005, "{moved}");
    assert_eq!(
        moved["as_of"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap()),
        Some(now())
    );
    assert_eq!(moved["stale"], false);
    h.clock.advance(Duration::seconds(121));
    let (_, stale) = h.get(&format!("/api/v2/realtime/greeks/{atm}")).await;
    assert_eq!((stale["stale"].as_bool(), &stale["iv"]), (Some(true), &moved["iv"]));
    let (status, e) = h.get("/api/v2/realtime/greeks/NSE:NIFTY-20260224-26050-CE").await;
    assert_eq!((status, e["field"].as_str()), (404, Some("instrument_key")), "{e}");
    let (status, e) = h.get("/api/v2/realtime/greeks/not%20a%20key").await;
    assert_eq!((status, e["field"].as_str()), (400, Some("instrument_key")), "{e}");
}

on_both_backends!(
    realtime_greeks_of_one_option_with_conventions_and_freshness,
    the_chain_answers_every_strike_with_both_rights_at_the_quoted_volatility,
    chain_stats_give_the_ratios_max_pain_and_every_level_with_the_groups,
    moneyness_level_greeks_atm_iv_and_skew,
    bad_and_unknown_selectors_are_json_errors_naming_the_field,
    instruments_list_underlyings_expiries_and_listed_chains,
);
