//! The tiered mapping lookup and the moneyness-aware Greeks calculator, against mocked ports.

use std::sync::Arc;
use std::time::Duration;

use application::moneyness::{MappingConfig, MappingOrigin, MappingService, MoneynessGreeks};
use chrono::{DateTime, NaiveDate, Utc};
use domain::instrument::{InstrumentKey, LotSize, OptionContract, OptionRight, Strike};
use domain::moneyness::{MoneynessLevel, MoneynessMapping, OptionPoint};
use domain::ports::{ManualClock, MockInstrumentSource, MockMappingSource, MockSignalCache, PortError};
use domain::pricing::Greeks;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-02-02T04:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn nifty() -> InstrumentKey {
    InstrumentKey::parse("NSE:NIFTY").unwrap()
}

fn expiry() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()
}

fn strikes() -> Vec<f64> {
    (0..7).map(|i| 25_850.0 + 50.0 * f64::from(i)).collect()
}

fn mapping(as_of: DateTime<Utc>, atm_ref: f64) -> MoneynessMapping {
    MoneynessMapping::compute(nifty(), expiry(), &strikes(), atm_ref, Some(50.0), as_of).unwrap()
}

fn cfg() -> MappingConfig {
    MappingConfig {
        ttl: Duration::from_secs(60),
        refresh_ahead: 0.8,
        stale_horizon: Duration::from_secs(3600),
    }
}

fn no_instruments() -> Arc<MockInstrumentSource> {
    let mut i = MockInstrumentSource::new();
    i.expect_chain().never();
    Arc::new(i)
}

fn service(
    l1: MockSignalCache,
    l2: MockSignalCache,
    remote: MockMappingSource,
    instruments: Arc<MockInstrumentSource>,
    now: DateTime<Utc>,
) -> Arc<MappingService> {
    Arc::new(MappingService::new(
        Arc::new(l1),
        Some(Arc::new(l2)),
        Some(Arc::new(remote)),
        instruments,
        Arc::new(ManualClock::new(now)),
        cfg(),
    ))
}

#[tokio::test]
async fn a_fresh_l1_entry_answers_without_touching_redis_or_the_service() {
    let mut l1 = MockSignalCache::new();
    l1.expect_mapping()
        .times(1)
        .returning(|_, _| Ok(Some(mapping(t0(), 26_010.0))));
    let mut l2 = MockSignalCache::new();
    l2.expect_mapping().never();
    let mut remote = MockMappingSource::new();
    remote.expect_mapping().never();
    let s = service(l1, l2, remote, no_instruments(), t0() + chrono::Duration::seconds(10));
    let a = s.get(&nifty(), expiry(), None).await.unwrap();
    assert_eq!((a.origin, a.stale, a.age.num_seconds()), (MappingOrigin::L1, false, 10));
    assert_eq!(s.stats().snapshot().l1_hits, 1);
}

#[tokio::test]
async fn an_l2_hit_is_copied_into_l1() {
    let mut l1 = MockSignalCache::new();
    l1.expect_mapping().returning(|_, _| Ok(None));
    l1.expect_put_mapping()
        .times(1)
        .withf(|m, ttl| m.atm_strike == 26_000.0 && *ttl == Duration::from_secs(3600))
        .returning(|_, _| Ok(()));
    let mut l2 = MockSignalCache::new();
    l2.expect_mapping()
        .times(1)
        .returning(|_, _| Ok(Some(mapping(t0(), 26_010.0))));
    let mut remote = MockMappingSource::new();
    remote.expect_mapping().never();
    let s = service(l1, l2, remote, no_instruments(), t0());
    assert_eq!(s.get(&nifty(), expiry(), None).await.unwrap().origin, MappingOrigin::L2);
    let st = s.stats().snapshot();
    assert_eq!((st.l1_misses, st.l2_hits), (1, 1));
}

#[tokio::test]
async fn a_miss_everywhere_fetches_from_the_service_and_fills_both_levels() {
    let mut l1 = MockSignalCache::new();
    l1.expect_mapping().returning(|_, _| Ok(None));
    l1.expect_put_mapping().times(1).returning(|_, _| Ok(()));
    let mut l2 = MockSignalCache::new();
    l2.expect_mapping()
        .returning(|_, _| Err(PortError::Unavailable("redis down".into())));
    l2.expect_put_mapping()
        .times(1)
        .withf(|_, ttl| *ttl <= Duration::from_secs(60))
        .returning(|_, _| Ok(()));
    let mut remote = MockMappingSource::new();
    remote
        .expect_mapping()
        .times(1)
        .returning(|_, _| Ok(mapping(t0(), 26_010.0)));
    let s = service(l1, l2, remote, no_instruments(), t0());
    assert_eq!(
        s.get(&nifty(), expiry(), None).await.unwrap().origin,
        MappingOrigin::Remote
    );
    let st = s.stats().snapshot();
    assert_eq!(
        (st.l2_errors, st.remote_ok),
        (1, 1),
        "a Redis error does not fail the lookup"
    );
}

#[tokio::test]
async fn when_the_service_fails_a_stale_mapping_is_served_with_its_age() {
    let mut l1 = MockSignalCache::new();
    l1.expect_mapping().returning(|_, _| Ok(Some(mapping(t0(), 26_010.0))));
    let mut l2 = MockSignalCache::new();
    l2.expect_mapping().returning(|_, _| Ok(None));
    let mut remote = MockMappingSource::new();
    remote
        .expect_mapping()
        .times(1)
        .returning(|_, _| Err(PortError::Unavailable("timeout".into())));
    let s = service(l1, l2, remote, no_instruments(), t0() + chrono::Duration::seconds(600));
    let a = s.get(&nifty(), expiry(), None).await.unwrap();
    assert!(a.stale);
    assert_eq!(a.age.num_seconds(), 600);
    assert_eq!(s.stats().snapshot().stale_served, 1);
}

#[tokio::test]
async fn with_nothing_cached_and_the_service_down_the_mapping_is_computed_from_the_chain() {
    let mut l1 = MockSignalCache::new();
    l1.expect_mapping().returning(|_, _| Ok(None));
    l1.expect_put_mapping().times(1).returning(|_, _| Ok(()));
    let mut l2 = MockSignalCache::new();
    l2.expect_mapping().returning(|_, _| Ok(None));
    let mut remote = MockMappingSource::new();
    remote
        .expect_mapping()
        .returning(|_, _| Err(PortError::Unavailable("down".into())));
    let mut instruments = MockInstrumentSource::new();
    instruments.expect_chain().times(1).returning(|u, _| {
        Ok(strikes()
            .into_iter()
            .map(|k| OptionContract {
                key: InstrumentKey::parse(&format!("NSE:NIFTY-{k}-CE")).unwrap(),
                underlying: u.clone(),
                expiry: t0(),
                strike: Strike::new(k).unwrap(),
                right: OptionRight::Call,
                lot_size: LotSize::new(65).unwrap(),
                tick_size: 0.05,
            })
            .collect())
    });
    instruments.expect_strike_step().returning(|_| Ok(50.0));
    let s = service(l1, l2, remote, Arc::new(instruments), t0());
    let a = s.get(&nifty(), expiry(), Some(25_960.0)).await.unwrap();
    assert_eq!(a.origin, MappingOrigin::Local);
    assert_eq!(a.mapping.atm_strike, 25_950.0);
    assert_eq!(s.stats().snapshot().local_computed, 1);
}

#[tokio::test]
async fn without_a_reference_price_the_local_fallback_says_why() {
    let mut l1 = MockSignalCache::new();
    l1.expect_mapping().returning(|_, _| Ok(None));
    let mut l2 = MockSignalCache::new();
    l2.expect_mapping().returning(|_, _| Ok(None));
    let mut remote = MockMappingSource::new();
    remote
        .expect_mapping()
        .returning(|_, _| Err(PortError::Unavailable("down".into())));
    let s = service(l1, l2, remote, no_instruments(), t0());
    let e = s.get(&nifty(), expiry(), None).await.unwrap_err();
    assert!(e.to_string().contains("no reference price"), "{e}");
}

#[tokio::test]
async fn an_entry_near_its_ttl_is_refreshed_in_the_background() {
    let mut l1 = MockSignalCache::new();
    l1.expect_mapping().returning(|_, _| Ok(Some(mapping(t0(), 26_010.0))));
    l1.expect_put_mapping().times(1).returning(|_, _| Ok(()));
    let mut l2 = MockSignalCache::new();
    l2.expect_put_mapping().times(1).returning(|_, _| Ok(()));
    let mut remote = MockMappingSource::new();
    let now = t0() + chrono::Duration::seconds(55);
    remote
        .expect_mapping()
        .times(1)
        .returning(move |_, _| Ok(mapping(now, 26_010.0)));
    let s = service(l1, l2, remote, no_instruments(), now);
    let a = s.get(&nifty(), expiry(), None).await.unwrap();
    assert_eq!(a.origin, MappingOrigin::L1, "the cached mapping is served meanwhile");
    for _ in 0..50 {
        if s.stats().snapshot().refreshes == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no background refresh");
}

#[tokio::test]
async fn greeks_are_aggregated_by_the_mapping_levels_per_right() {
    let mut l1 = MockSignalCache::new();
    l1.expect_mapping().returning(|_, _| Ok(Some(mapping(t0(), 26_010.0))));
    let mut l2 = MockSignalCache::new();
    l2.expect_mapping().never();
    let mut remote = MockMappingSource::new();
    remote.expect_mapping().never();
    let s = service(l1, l2, remote, no_instruments(), t0());
    let point = |k: f64, right, delta: f64, oi: f64| OptionPoint {
        strike: k,
        right,
        iv: Some(0.12),
        greeks: Some(Greeks {
            delta,
            ..Greeks::default()
        }),
        oi,
        volume: 1.0,
    };
    let points = [
        point(25_950.0, OptionRight::Call, 0.6, 100.0),
        point(25_900.0, OptionRight::Call, 0.7, 300.0),
        point(26_050.0, OptionRight::Put, -0.6, 10.0),
        point(26_000.0, OptionRight::Put, -0.5, 10.0),
    ];
    let r = MoneynessGreeks::new(s)
        .execute(&nifty(), expiry(), &points, None)
        .await
        .unwrap();
    let row = |right, level| r.levels.iter().find(|l| l.right == right && l.level == level).unwrap();
    let itm_calls = row(OptionRight::Call, MoneynessLevel::ItmGroup);
    assert!((itm_calls.aggregate.greeks_oi_weighted.delta - (0.6 * 100.0 + 0.7 * 300.0) / 400.0).abs() < 1e-15);
    assert_eq!(
        row(OptionRight::Put, MoneynessLevel::Itm(1)).strikes,
        [26_050.0],
        "a put's ITM1 is above ATM"
    );
    assert_eq!(row(OptionRight::Put, MoneynessLevel::Itm(1)).aggregate.count, 1);
    assert_eq!(
        row(OptionRight::Put, MoneynessLevel::Atm)
            .aggregate
            .greeks_oi_weighted
            .delta,
        -0.5
    );
    assert_eq!(r.atm_strike, 26_000.0);
    assert!(!r.mapping_stale);
}
