//! The forward an option is priced on: the same-expiry future while it is fresh, else put–call
//! parity over the chain (store mocked; the ingest state is read back).

use std::sync::Arc;

use application::ingest::IngestTicks;
use application::market::{InstrumentRegistry, RealtimeState};
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::expiry::ForwardSource;
use domain::instrument::{FutureContract, InstrumentKey, LotSize, OptionContract, OptionRight, Strike};
use domain::market_data::Tick;
use domain::ports::{ManualClock, MockSignalStore};

pub(crate) fn key(s: &str) -> InstrumentKey {
    InstrumentKey::parse(s).unwrap()
}

/// 2026-02-02 10:00 IST.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 4, 30, 0).unwrap()
}

/// NIFTY, its February future and the 26 000 call and put.
pub(crate) fn registry() -> InstrumentRegistry {
    let expiry = Utc.with_ymd_and_hms(2026, 2, 24, 10, 0, 0).unwrap();
    let registry = InstrumentRegistry::default();
    registry.register_underlying(key("NSE:NIFTY"), "NSE").unwrap();
    registry
        .register_future(
            FutureContract {
                key: key("NSE:NIFTY-20260224-FUT"),
                underlying: key("NSE:NIFTY"),
                expiry,
                lot_size: LotSize::new(65).unwrap(),
                tick_size: 0.1,
            },
            "NSE",
        )
        .unwrap();
    for (k, right) in [("CE", OptionRight::Call), ("PE", OptionRight::Put)] {
        registry
            .register_option(
                OptionContract {
                    key: key(&format!("NSE:NIFTY-20260224-26000-{k}")),
                    underlying: key("NSE:NIFTY"),
                    expiry,
                    strike: Strike::new(26_000.0).unwrap(),
                    right,
                    lot_size: LotSize::new(65).unwrap(),
                    tick_size: 0.05,
                },
                "NSE",
            )
            .unwrap();
    }
    registry
}

fn pipeline() -> (IngestTicks, Arc<RealtimeState>) {
    let mut store = MockSignalStore::new();
    store.expect_candles_of().returning(|_, _| Ok(Vec::new()));
    store.expect_save_candles().returning(|_| Ok(()));
    pipeline_on(store)
}

/// The pipeline over [`registry`] and `store`, an hour after [`t0`], and the realtime state it
/// keeps.
pub(crate) fn pipeline_on(store: MockSignalStore) -> (IngestTicks, Arc<RealtimeState>) {
    let state = Arc::new(RealtimeState::default());
    let ingest = IngestTicks::new(
        Arc::new(registry()),
        state.clone(),
        Arc::new(store),
        Arc::new(ManualClock::new(t0() + Duration::hours(1))),
    );
    (ingest, state)
}

fn tick(k: &str, ts: DateTime<Utc>, last: f64, bid: f64, ask: f64) -> Tick {
    Tick {
        key: key(k),
        ts,
        last: Some(last),
        bid: Some(bid),
        ask: Some(ask),
        volume: Some(100.0),
        oi: Some(1_000.0),
    }
}

/// The index and both options, quoted at `ts`.
pub(crate) fn options(ts: DateTime<Utc>) -> Vec<Tick> {
    vec![
        tick("NSE:NIFTY", ts, 25_990.0, 25_989.0, 25_991.0),
        tick("NSE:NIFTY-20260224-26000-CE", ts, 400.0, 399.0, 401.0),
        tick("NSE:NIFTY-20260224-26000-PE", ts, 300.0, 299.0, 301.0),
    ]
}

#[tokio::test]
async fn a_fresh_future_is_the_forward_and_a_stale_one_gives_way_to_parity() {
    let (ingest, state) = pipeline();
    let call = key("NSE:NIFTY-20260224-26000-CE");
    let mut batch = vec![tick("NSE:NIFTY-20260224-FUT", t0(), 26_105.0, 26_104.9, 26_105.1)];
    batch.extend(options(t0()));
    let report = ingest.execute(&batch).await.unwrap();
    assert_eq!(report.accepted, 4, "{report:?}");
    let g = state.greeks(&call).unwrap();
    assert_eq!((g.forward_source, g.forward), (ForwardSource::Future, 26_105.0));

    // Two minutes on, the future has not traded again: the chain's own parity takes over.
    ingest.execute(&options(t0() + Duration::minutes(2))).await.unwrap();
    let g = state.greeks(&call).unwrap();
    assert_eq!(g.forward_source, ForwardSource::PutCallParity);
    // C − P = e^{−rT}(F − K) with mids 400 and 300.
    let t = g.t_years;
    assert!(
        (g.forward - (26_000.0 + (0.065 * t).exp() * 100.0)).abs() < 1e-6,
        "{}",
        g.forward
    );
}
