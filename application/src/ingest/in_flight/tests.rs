//! Groups in flight against a store whose writes wait at a gate.

use std::sync::atomic::Ordering;

use super::*;
use crate::ingest::gated::{Gated, bar, commits, settle};

#[tokio::test]
async fn durable_groups_come_back_in_order_and_the_feed_waits_only_beyond_the_depth() {
    let store = Gated::new();
    let commits = commits(&store);
    let mut in_flight = InFlight::new(2);
    // Group 1's write is held at the gate: pushing it and group 2 returns at once, nothing durable.
    let done = in_flight
        .push(vec![commits.stage(vec![bar("NSE:NIFTY", 0, 101.0)])], 1)
        .await;
    assert_eq!(done, Ok(vec![]));
    settle().await;
    let done = in_flight
        .push(vec![commits.stage(vec![bar("NSE:NIFTY", 1, 102.0)])], 2)
        .await;
    assert_eq!(done, Ok(vec![]));
    assert_eq!(in_flight.len(), 2);
    // A third group is past the depth: the push waits for group 1, here until the gate opens.
    let third = commits.stage(vec![bar("NSE:NIFTY", 2, 103.0)]);
    let pushing = tokio::spawn(async move {
        let done = in_flight.push(vec![third], 3).await;
        (in_flight, done)
    });
    settle().await;
    assert!(!pushing.is_finished(), "three groups in flight with depth 2: it waits");
    store.gate.add_permits(1);
    let (mut in_flight, done) = pushing.await.unwrap();
    assert_eq!(done, Ok(vec![1]));
    // Groups 2 and 3 were staged together while group 1 was written: one write holds both.
    store.gate.add_permits(1);
    assert_eq!(in_flight.drain().await, Ok(vec![2, 3]));
    assert!(in_flight.is_empty());
    assert_eq!(store.writes().len(), 2);
}

#[tokio::test]
async fn a_failed_write_returns_no_group_from_it_on() {
    let store = Gated::new();
    let commits = commits(&store);
    let mut in_flight = InFlight::new(4);
    store.gate.add_permits(1);
    let first = in_flight
        .push(vec![commits.stage(vec![bar("NSE:NIFTY", 0, 101.0)])], "a")
        .await;
    assert_eq!(first, Ok(vec![]), "the write has not run yet");
    settle().await;
    store.failing.store(true, Ordering::SeqCst);
    store.gate.add_permits(1);
    let second = in_flight
        .push(vec![commits.stage(vec![bar("NSE:NIFTY", 1, 102.0)])], "b")
        .await;
    assert_eq!(
        second,
        Ok(vec!["a"]),
        "the first write committed before the store failed"
    );
    let err = in_flight.drain().await.unwrap_err();
    assert_eq!(err, PortError::Unavailable("database down".into()));
}
