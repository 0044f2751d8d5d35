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
    store.expect_candles().returning(|_, _| Ok(Vec::new()));
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
