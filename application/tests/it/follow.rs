//! Following another instance's ingest: the follower's realtime state matches the instance that
//! took the batches in — Greeks, and the chain snapshotted at the minute's close — while it
//! writes nothing and publishes nothing (its store and publisher mocks expect no call).

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use domain::ports::{MockSignalPublisher, MockSignalStore};

use super::forward::{key, options, pipeline_on, t0};

fn reading_store() -> MockSignalStore {
    let mut store = MockSignalStore::new();
    store.expect_candles_of().returning(|_, _| Ok(Vec::new()));
    store
}

#[tokio::test]
async fn a_follower_holds_the_same_state_and_writes_and_publishes_nothing() {
    let mut leader_store = reading_store();
    leader_store.expect_save_candles().returning(|_| Ok(()));
    let (leader, leader_state) = pipeline_on(leader_store);
    let mut silent = MockSignalPublisher::new();
    silent.expect_publish().never();
    // The follower's store takes only empty writes: a flush with nothing of its own.
    let mut follower_store = reading_store();
    follower_store
        .expect_save_moneyness()
        .withf(|r| r.is_empty())
        .returning(|_| Ok(()));
    follower_store
        .expect_save_greeks()
        .withf(|r| r.is_empty())
        .returning(|_| Ok(()));
    let (follower, follower_state) = pipeline_on(follower_store);
    let follower = follower.with_publisher(Some(Arc::new(silent)));

    let call = key("NSE:NIFTY-20260224-26000-CE");
    let first = options(t0());
    leader.execute(&first).await.unwrap();
    assert_eq!(follower.follow(&first).await.unwrap(), 3);
    let (l, f) = (
        leader_state.greeks(&call).unwrap(),
        follower_state.greeks(&call).unwrap(),
    );
    assert_eq!((f.iv, f.forward, f.minute), (l.iv, l.forward, l.minute));
    assert!(f.iv.is_some());

    // A tick of the next minute closes the first: both snapshot the chain as it stood.
    let next = options(t0() + Duration::minutes(1));
    leader.execute(&next).await.unwrap();
    follower.follow(&next).await.unwrap();
    let (u, e) = (key("NSE:NIFTY"), NaiveDate::from_ymd_opt(2026, 2, 24).unwrap());
    let (l, f) = (leader_state.chain(&u, e).unwrap(), follower_state.chain(&u, e).unwrap());
    assert_eq!(f.minute, l.minute);
    assert_eq!(f.minute, t0());
    assert_eq!((f.forward.value, f.spot), (l.forward.value, l.spot));
    assert_eq!(f.levels.len(), l.levels.len());
    for (a, b) in f.levels.iter().zip(&l.levels) {
        assert_eq!((a.0, a.1), (b.0, b.1));
    }

    // The flush writes nothing of the followed batches (its store takes empty writes only),
    // while the leader has its Greeks and moneyness waiting.
    assert_eq!(follower.pending(), 0);
    assert!(leader.pending() > 0);
    follower.flush().await.unwrap();
    assert_eq!(follower.pending(), 0);
}
