//! The HTTP instrument client against a real HTTP server serving recorded JSON.

use std::time::{Duration, Instant};

use adapters::outbound::instruments::http::{BreakerState, HttpInstrumentSource, ResilienceConfig};
use chrono::NaiveDate;
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{InstrumentSource, PortError};

use e2e_tests::fake_http::{Answer, FakeServer, recorded};

fn key(s: &str) -> InstrumentKey {
    InstrumentKey::parse(s).unwrap()
}

fn policy(retries: u32, failures: u32, cooldown_ms: u64) -> ResilienceConfig {
    ResilienceConfig {
        max_retries: retries,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        breaker_failures: failures,
        breaker_cooldown: Duration::from_millis(cooldown_ms),
    }
}

fn client(server: &FakeServer, timeout_ms: u64, p: ResilienceConfig) -> HttpInstrumentSource {
    HttpInstrumentSource::new(server.base.parse().unwrap(), Duration::from_millis(timeout_ms), p)
}

#[tokio::test]
async fn recorded_answers_become_domain_values() {
    let s = FakeServer::start().await;
    s.route("/v1/underlyings", recorded("underlyings.json"));
    s.route("/v1/underlyings/NSE:NIFTY/expiries", recorded("expiries.json"));
    s.route("/v1/underlyings/NSE:NIFTY/chain", recorded("chain.json"));
    s.route("/v1/underlyings/NSE:NIFTY/moneyness/ITM", recorded("strikes_itm.json"));
    s.route("/v1/underlyings/NSE:NIFTY/moneyness-mapping", recorded("mapping.json"));
    s.route("/v1/contracts/", recorded("contract.json"));
    let c = client(&s, 2_000, policy(0, 5, 1_000));
    let nifty = key("NSE:NIFTY");

    let u = c.underlyings().await.unwrap();
    assert_eq!(u.iter().map(|u| u.strike_step).collect::<Vec<_>>(), [50.0, 100.0]);
    let e = c.expiries(&nifty).await.unwrap();
    assert_eq!(e[0], NaiveDate::from_ymd_opt(2026, 2, 3).unwrap(), "sorted ascending");
    let chain = c.chain(&nifty, e[0]).await.unwrap();
    let order: Vec<(f64, OptionRight)> = chain.iter().map(|c| (c.strike.value(), c.right)).collect();
    assert_eq!(
        order,
        [
            (26000.0, OptionRight::Call),
            (26000.0, OptionRight::Put),
            (26050.0, OptionRight::Call),
            (26050.0, OptionRight::Put)
        ]
    );
    assert_eq!(c.contract(&chain[0].key).await.unwrap(), chain[0]);
    assert_eq!(s.hits("/v1/underlyings/NSE:NIFTY/chain?expiry=2026-02-03"), 1);

    let itm = c
        .get_strikes_by_moneyness(&nifty, MoneynessLevel::ItmGroup, None)
        .await
        .unwrap();
    assert_eq!(itm, [25850.0, 25900.0, 25950.0]);
    let m = c.get_moneyness_mapping(&nifty, Some(e[0])).await.unwrap();
    assert_eq!(m.atm_strike, 26000.0);
    assert_eq!(m.levels[&MoneynessLevel::Itm(2)], [25900.0]);
    assert_eq!(m.levels[&MoneynessLevel::OtmGroup], [26050.0, 26100.0]);
}

#[tokio::test]
async fn a_slow_answer_times_out_as_unavailable() {
    let s = FakeServer::start().await;
    s.route(
        "/v1/underlyings",
        recorded("underlyings.json").slow(Duration::from_millis(800)),
    );
    let c = client(&s, 100, policy(0, 5, 1_000));
    let t0 = Instant::now();
    let err = c.underlyings().await.unwrap_err();
    assert!(
        matches!(&err, PortError::Unavailable(m) if m == &format!("instrument service at {}: no answer within 100 ms", s.base.trim_start_matches("http://").trim_end_matches('/'))),
        "{err}"
    );
    assert!(
        t0.elapsed() < Duration::from_millis(600),
        "gave up at the timeout, not the answer"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_the_breaker_opens_and_later_recovers() {
    let s = FakeServer::start().await;
    s.route("/v1/underlyings", Answer::status(500));
    let c = client(&s, 1_000, policy(2, 3, 150));
    assert!(matches!(c.underlyings().await, Err(PortError::Unavailable(_))));
    assert_eq!(s.hits("/v1/underlyings"), 3, "one call and two retries");
    assert_eq!(c.policy().state(), BreakerState::Open);

    let err = c.underlyings().await.unwrap_err();
    assert!(
        matches!(&err, PortError::Unavailable(m) if m.contains("breaker")),
        "{err}"
    );
    assert_eq!(s.hits("/v1/underlyings"), 3, "nothing sent while open");

    s.route("/v1/underlyings", recorded("underlyings.json"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.underlyings().await.unwrap().len(), 2, "the half-open trial succeeds");
    assert_eq!(c.policy().state(), BreakerState::Closed);
}

#[tokio::test]
async fn malformed_json_and_unknown_keys_are_clear_errors_without_retries() {
    let s = FakeServer::start().await;
    s.route("/v1/underlyings", Answer::json("{\"underlyings\": [ {\"key\": 12"));
    s.route("/v1/contracts/", Answer::status(404));
    let c = client(&s, 1_000, policy(2, 3, 1_000));
    let err = c.underlyings().await.unwrap_err();
    assert!(
        matches!(&err, PortError::Invalid(m) if m.contains("malformed")),
        "{err}"
    );
    assert_eq!(s.hits("/v1/underlyings"), 1, "a malformed answer is not retried");
    assert!(matches!(
        c.contract(&key("NSE:NOPE")).await,
        Err(PortError::NotFound(_))
    ));
    assert_eq!(
        c.policy().state(),
        BreakerState::Closed,
        "client errors do not open the breaker"
    );
    let bad_kind =
        "{\"underlyings\":[{\"key\":\"X:Y\",\"symbol\":\"Y\",\"market\":\"X\",\"kind\":\"bond\",\"strike_step\":1}]}";
    s.route("/v1/underlyings", Answer::json(bad_kind));
    assert!(matches!(c.underlyings().await, Err(PortError::Invalid(m)) if m.contains("kind")));
}

/// The instrument service may list Cboe's contracts beside NSE's: each underlying keeps its
/// market, an SPXW chain its New York expiry instant, and the registry prices them on Cboe.
#[tokio::test]
async fn cboe_underlyings_and_spxw_contracts_come_through_on_their_market() {
    let s = FakeServer::start().await;
    // Routes match most recent first: the general one before the specific ones.
    s.route(
        "/v1/underlyings",
        Answer::json(
            r#"{"underlyings":[{"key":"CBOE:SPX","symbol":"SPX","market":"CBOE","kind":"index","strike_step":5.0}]}"#,
        ),
    );
    s.route(
        "/v1/underlyings/CBOE:SPX/expiries",
        Answer::json(r#"{"underlying":"CBOE:SPX","expiries":["2026-12-18","2026-12-07"]}"#),
    );
    s.route(
        "/v1/underlyings/CBOE:SPX/chain",
        Answer::json(
            r#"{"underlying":"CBOE:SPX","expiry":"2026-12-07","contracts":[
             {"key":"CBOE:SPXW-20261207-6800-CE","underlying":"CBOE:SPX","expiry":"2026-12-07T21:00:00Z","strike":6800.0,"right":"call","lot_size":100,"tick_size":0.05},
             {"key":"CBOE:SPXW-20261207-6800-PE","underlying":"CBOE:SPX","expiry":"2026-12-07T21:00:00Z","strike":6800.0,"right":"put","lot_size":100,"tick_size":0.05}]}"#,
        ),
    );
    let c = client(&s, 2_000, policy(0, 5, 1_000));
    let u = c.underlyings().await.unwrap();
    assert_eq!((u[0].market.as_str(), u[0].strike_step), ("CBOE", 5.0));
    let spx = key("CBOE:SPX");
    let e = c.expiries(&spx).await.unwrap();
    assert_eq!(e[0], NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(), "sorted ascending");
    let chain = c.chain(&spx, e[0]).await.unwrap();
    assert_eq!(chain.len(), 2);
    let registry = application::market::InstrumentRegistry::new(application::market::Markets::default());
    for contract in chain {
        registry.register_option(contract, &u[0].market).unwrap();
    }
    let r = registry.get(&key("CBOE:SPXW-20261207-6800-PE")).unwrap();
    // 21:00 UTC is 16:00 in New York in December: the expiry date is New York's.
    assert_eq!((r.market_code(), r.chain_date()), ("CBOE", Some(e[0])));
}
