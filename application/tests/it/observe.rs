//! What ingest tells its observer (the metrics): options priced, why some have no IV, pricing
//! time and publish lag; and the arrival time every published update carries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use application::ingest::{IV_FAILURE_REASONS, IngestObserver, PricingReport};
use domain::ports::{MockSignalPublisher, MockSignalStore};

use super::forward::{key, options, pipeline_on, t0};

#[derive(Default)]
struct Recorder {
    priced: Mutex<Vec<PricingReport>>,
    published: Mutex<Vec<(usize, Duration)>>,
}

impl IngestObserver for Recorder {
    fn priced(&self, report: &PricingReport) {
        self.priced.lock().unwrap().push(report.clone());
    }

    fn published(&self, updates: usize, lag: Duration) {
        self.published.lock().unwrap().push((updates, lag));
    }
}

fn failures(r: &PricingReport, reason: &str) -> usize {
    let i = IV_FAILURE_REASONS.iter().position(|x| *x == reason).unwrap();
    r.iv_failures[i]
}

#[tokio::test]
async fn each_batch_reports_its_pricing_and_its_publish_lag() {
    let mut store = MockSignalStore::new();
    store.expect_candles_of().returning(|_, _| Ok(Vec::new()));
    store.expect_save_candles().returning(|_| Ok(()));
    let stamped = Arc::new(Mutex::new(Vec::new()));
    let mut publisher = MockSignalPublisher::new();
    let s = Arc::clone(&stamped);
    publisher.expect_publish().returning(move |updates| {
        s.lock().unwrap().extend(updates.iter().map(|u| u.received));
        Ok(())
    });
    let recorder = Arc::new(Recorder::default());
    let (ingest, _) = pipeline_on(store);
    let ingest = ingest
        .with_publisher(Some(Arc::new(publisher)))
        .with_observer(Some(recorder.clone() as Arc<dyn IngestObserver>));

    // A call with no spot, future or put yet: nothing to price it on.
    let lone = options(t0())
        .into_iter()
        .filter(|t| t.key == key("NSE:NIFTY-20260224-26000-CE"));
    ingest.execute(&lone.collect::<Vec<_>>()).await.unwrap();
    // Then the index at 26 300 and the call at 1 (its intrinsic value is about 300: no IV, the
    // forward being the spot carried, with no put to read parity from).
    let mut batch = options(t0() + chrono::Duration::seconds(5));
    batch.truncate(2);
    (batch[0].last, batch[1].last) = (Some(26_300.0), Some(1.0));
    (batch[1].bid, batch[1].ask) = (Some(0.95), Some(1.05));
    ingest.execute(&batch).await.unwrap();
    // Then the whole chain, sane.
    ingest
        .execute(&options(t0() + chrono::Duration::seconds(10)))
        .await
        .unwrap();

    let priced = recorder.priced.lock().unwrap().clone();
    assert_eq!(priced.len(), 3, "{priced:?}");
    assert_eq!((priced[0].options, failures(&priced[0], "no_forward")), (0, 1));
    assert_eq!(priced[1].options, 1, "{:?}", priced[1]);
    assert_eq!(failures(&priced[1], "below_intrinsic"), 1, "{:?}", priced[1]);
    assert_eq!(priced[2].options, 2, "{:?}", priced[2]);
    assert_eq!(priced[2].iv_failures, [0; 6], "both have an IV");
    assert!(priced.iter().all(|r| r.took < Duration::from_secs(5)));

    let published = recorder.published.lock().unwrap().clone();
    assert!(
        !published.is_empty() && published.iter().all(|(n, _)| *n > 0),
        "{published:?}"
    );
    let stamped = stamped.lock().unwrap().clone();
    assert!(!stamped.is_empty());
    for r in stamped {
        // The pipeline's clock (manual: an hour after t0) at the batch's arrival.
        assert_eq!(
            r,
            Some(t0() + chrono::Duration::hours(1)),
            "every published update carries its batch's arrival"
        );
    }
}
