//! The group commit against a store whose writes wait at a gate and can be made to fail.

use std::sync::atomic::Ordering;

use super::*;
use crate::ingest::gated::{Gated, bar, closes, commits, settle};

#[tokio::test]
async fn nothing_is_written_until_somebody_waits() {
    let store = Gated::new();
    store.gate.add_permits(10);
    let commits = commits(&store);
    let durable = commits.stage(vec![bar("NSE:NIFTY", 0, 101.0)]);
    settle().await;
    assert!(store.writes().is_empty());
    assert_eq!(commits.pending(), 1);
    durable.wait().await.unwrap();
    assert_eq!(store.writes().len(), 1);
    assert_eq!(commits.pending(), 0);
}

#[tokio::test]
async fn batches_staged_before_a_write_share_it_and_the_latest_bar_of_a_minute_wins() {
    let store = Gated::new();
    let commits = commits(&store);
    let first = commits.stage(vec![bar("NSE:NIFTY", 0, 101.0)]);
    let first = tokio::spawn(first.wait());
    settle().await;
    // The first write waits at the gate; three more batches arrive meanwhile (a feed reading
    // ahead), then their acknowledgements are waited for.
    let second = commits.stage(vec![bar("NSE:NIFTY", 0, 102.0), bar("NSE:BANKNIFTY", 0, 201.0)]);
    let third = commits.stage(vec![bar("NSE:NIFTY", 0, 103.0)]);
    let fourth = commits.stage(vec![bar("NSE:NIFTY", 1, 104.0)]);
    assert_eq!(commits.pending(), 3, "one staged row per instrument and minute");
    let rest = tokio::spawn(async move {
        let (a, b, c) = tokio::join!(second.wait(), third.wait(), fourth.wait());
        a.and(b).and(c)
    });
    settle().await;
    store.gate.add_permits(2);
    first.await.unwrap().unwrap();
    rest.await.unwrap().unwrap();
    let writes = store.writes();
    assert_eq!(writes.len(), 2, "four batches, two writes");
    assert_eq!(closes(&writes[0]), [("NSE:NIFTY".to_owned(), 101.0)]);
    assert_eq!(
        closes(&writes[1]),
        [
            ("NSE:BANKNIFTY".to_owned(), 201.0),
            ("NSE:NIFTY".to_owned(), 103.0),
            ("NSE:NIFTY".to_owned(), 104.0)
        ],
        "the latest bar of each instrument and minute only"
    );
    assert_eq!(commits.pending(), 0);
}

#[tokio::test]
async fn a_failed_write_fails_its_batches_and_keeps_their_bars_for_the_next_write() {
    let store = Gated::new();
    store.failing.store(true, Ordering::SeqCst);
    let commits = commits(&store);
    let lost = commits.stage(vec![bar("NSE:NIFTY", 0, 101.0), bar("NSE:BANKNIFTY", 0, 201.0)]);
    let lost = tokio::spawn(lost.wait());
    settle().await;
    // Staged and waited for while the failing write is in flight: newer than what it holds.
    let newer = tokio::spawn(commits.stage(vec![bar("NSE:NIFTY", 0, 102.0)]).wait());
    settle().await;
    store.gate.add_permits(1);
    let err = lost.await.unwrap().unwrap_err();
    assert_eq!(err, PortError::Unavailable("database down".into()));
    store.failing.store(false, Ordering::SeqCst);
    store.gate.add_permits(1);
    newer.await.unwrap().unwrap();
    let writes = store.writes();
    assert_eq!(writes.len(), 2);
    assert_eq!(
        closes(&writes[1]),
        [("NSE:BANKNIFTY".to_owned(), 201.0), ("NSE:NIFTY".to_owned(), 102.0)],
        "the failed write's bars retried, the newer bar of the same minute kept"
    );
}

#[tokio::test]
async fn after_a_failure_with_nobody_waiting_the_writer_stops_and_sync_writes_what_was_left() {
    let store = Gated::new();
    store.failing.store(true, Ordering::SeqCst);
    let commits = commits(&store);
    let lost = commits.stage(vec![bar("NSE:NIFTY", 0, 101.0)]);
    store.gate.add_permits(10);
    assert!(lost.wait().await.is_err());
    settle().await;
    assert_eq!(store.writes().len(), 1, "no retry loop against a failing store");
    assert_eq!(commits.pending(), 1, "the bar stays staged");
    store.failing.store(false, Ordering::SeqCst);
    commits.sync().await.unwrap();
    assert_eq!(store.writes().len(), 2);
    assert_eq!(commits.pending(), 0);
}

#[tokio::test]
async fn a_waiter_that_gives_up_does_not_keep_the_writer_going() {
    let store = Gated::new();
    let commits = commits(&store);
    let first = tokio::spawn(commits.stage(vec![bar("NSE:NIFTY", 0, 101.0)]).wait());
    settle().await;
    let abandoned = tokio::spawn(commits.stage(vec![bar("NSE:NIFTY", 1, 102.0)]).wait());
    settle().await;
    abandoned.abort();
    settle().await;
    store.gate.add_permits(10);
    first.await.unwrap().unwrap();
    settle().await;
    assert_eq!(store.writes().len(), 1);
    assert_eq!(commits.pending(), 1, "staged until the next wait or sync");
}

#[tokio::test]
async fn sync_waits_for_the_write_in_flight() {
    let store = Gated::new();
    let commits = commits(&store);
    let first = tokio::spawn(commits.stage(vec![bar("NSE:NIFTY", 0, 101.0)]).wait());
    settle().await;
    assert_eq!(commits.pending(), 0, "taken by the writer");
    let sync = tokio::spawn({
        let commits = commits.clone();
        async move { commits.sync().await }
    });
    settle().await;
    assert!(!sync.is_finished(), "the write is still at the gate");
    store.gate.add_permits(1);
    sync.await.unwrap().unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(store.writes().len(), 1);
}

#[tokio::test]
async fn a_batch_without_bars_is_durable_at_once() {
    let store = Gated::new();
    let commits = commits(&store);
    commits.stage(Vec::new()).wait().await.unwrap();
    commits.sync().await.unwrap();
    assert!(store.writes().is_empty());
}

#[tokio::test]
async fn calling_wait_starts_the_write_so_a_feed_can_ingest_the_next_group_meanwhile() {
    let store = Gated::new();
    let commits = commits(&store);
    // A feed closes its first group: the wait is started, not awaited.
    let first = commits.stage(vec![bar("NSE:NIFTY", 0, 101.0)]).wait();
    settle().await;
    assert_eq!(
        commits.pending(),
        0,
        "the write took the group's bars before anyone polled"
    );
    // It ingests the next group while the first write is at the gate, then starts its wait.
    let second = commits.stage(vec![bar("NSE:NIFTY", 1, 102.0)]).wait();
    assert_eq!(commits.pending(), 1, "staged for the write after the one in flight");
    store.gate.add_permits(2);
    first.await.unwrap();
    second.await.unwrap();
    let writes = store.writes();
    assert_eq!(writes.len(), 2, "one write per group");
    assert_eq!(closes(&writes[0]), vec![("NSE:NIFTY".to_owned(), 101.0)]);
    assert_eq!(closes(&writes[1]), vec![("NSE:NIFTY".to_owned(), 102.0)]);
}
