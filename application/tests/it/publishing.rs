//! The order of a batch's effects: priced, published, then its bars written before the answer
//! (store and publisher mocked).

use std::sync::{Arc, Mutex};

use application::ingest::IngestTicks;
use application::market::RealtimeState;
use domain::ports::{MockSignalPublisher, MockSignalStore, PortError};

use super::forward::{key, options, pipeline_on, t0};

/// A pipeline whose store and publisher write what they are asked into `log`, the store's
/// bar write answering `write`.
fn pipeline(log: &Arc<Mutex<Vec<String>>>, write: fn() -> Result<(), PortError>) -> (IngestTicks, Arc<RealtimeState>) {
    let mut store = MockSignalStore::new();
    store.expect_candles_of().returning(|_, _| Ok(Vec::new()));
    let l = Arc::clone(log);
    store.expect_save_candles().returning(move |c| {
        l.lock().unwrap().push(format!("write {} bars", c.len()));
        write()
    });
    let mut publisher = MockSignalPublisher::new();
    let l = Arc::clone(log);
    publisher.expect_publish().returning(move |updates| {
        let greeks = updates.iter().filter(|u| u.topic.starts_with("greeks:")).count();
        l.lock().unwrap().push(format!("publish {greeks} greeks"));
        Ok(())
    });
    let (ingest, state) = pipeline_on(store);
    (ingest.with_publisher(Some(Arc::new(publisher))), state)
}

#[tokio::test]
async fn a_batch_is_published_before_its_bars_are_written_and_answered_after() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let report = pipeline(&log, || Ok(())).0.execute(&options(t0())).await.unwrap();
    assert_eq!(report.accepted, 3);
    assert_eq!(*log.lock().unwrap(), ["publish 2 greeks", "write 3 bars"]);
}

#[tokio::test]
async fn a_failed_write_fails_the_batch_that_subscribers_have_seen() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (ingest, state) = pipeline(&log, || Err(PortError::Unavailable("disk full".into())));
    let err = ingest.execute(&options(t0())).await.unwrap_err();
    assert!(matches!(err, PortError::Unavailable(_)), "{err:?}");
    assert_eq!(*log.lock().unwrap(), ["publish 2 greeks", "write 3 bars"]);
    // What the subscribers saw is what the realtime reads show.
    assert!(state.greeks(&key("NSE:NIFTY-20260224-26000-CE")).is_some());
}

#[tokio::test]
async fn minute_snapshots_group_by_the_services_mapping_and_say_so() {
    use application::moneyness::{MappingConfig, MappingService};
    use domain::moneyness::{MappingBasis, MoneynessLevel, MoneynessMapping};
    use domain::ports::{ManualClock, MockInstrumentSource, MockMappingSource, MockSignalCache, SignalEvent};

    // The instrument service's mapping of the February expiry: ATM 26 000, one ITM1 strike.
    let expiry = chrono::NaiveDate::from_ymd_opt(2026, 2, 24).unwrap();
    let service_mapping = MoneynessMapping {
        underlying: key("NSE:NIFTY"),
        expiry,
        atm_strike: 26_000.0,
        strike_step: 50.0,
        levels: [(MoneynessLevel::Atm, vec![26_000.0])].into_iter().collect(),
        as_of: t0(),
        basis: MappingBasis::InstrumentService,
    };
    let mut l1 = MockSignalCache::new();
    l1.expect_mapping().returning(|_, _| Ok(None));
    l1.expect_put_mapping().returning(|_, _| Ok(()));
    let mut remote = MockMappingSource::new();
    let m = service_mapping.clone();
    remote.expect_mapping().returning(move |_, _| Ok(m.clone()));
    let mappings = Arc::new(MappingService::new(
        Arc::new(l1),
        None,
        Some(Arc::new(remote)),
        Arc::new(MockInstrumentSource::new()),
        Arc::new(ManualClock::new(t0())),
        MappingConfig::default(),
    ));
    mappings.get(&key("NSE:NIFTY"), expiry, None).await.unwrap();

    let events = Arc::new(Mutex::new(Vec::new()));
    let mut store = MockSignalStore::new();
    store.expect_candles_of().returning(|_, _| Ok(Vec::new()));
    store.expect_save_candles().returning(|_| Ok(()));
    store.expect_save_moneyness().returning(|_| Ok(()));
    store.expect_save_greeks().returning(|_| Ok(()));
    store.expect_save_computation().returning(|_| Ok(()));
    let mut publisher = MockSignalPublisher::new();
    let seen = Arc::clone(&events);
    publisher.expect_publish().returning(move |updates| {
        seen.lock().unwrap().extend(updates.into_iter().map(|u| u.event));
        Ok(())
    });
    let (ingest, _) = pipeline_on(store);
    let ingest = ingest
        .with_publisher(Some(Arc::new(publisher)))
        .with_mappings(Some(mappings));
    ingest.execute(&options(t0())).await.unwrap();
    ingest.flush().await.unwrap();
    let levels: Vec<(MoneynessLevel, MappingBasis, Option<chrono::DateTime<chrono::Utc>>)> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            SignalEvent::MoneynessLevel {
                level,
                mapping_source,
                mapping_as_of,
                ..
            } => Some((*level, *mapping_source, *mapping_as_of)),
            _ => None,
        })
        .collect();
    assert_eq!(
        levels,
        [(MoneynessLevel::Atm, MappingBasis::InstrumentService, Some(t0()))],
        "only the service's levels, each saying whose"
    );
}
