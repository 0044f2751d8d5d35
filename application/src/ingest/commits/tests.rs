//! The group commit against a store whose writes wait at a gate and can be made to fail.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{NaiveDate, TimeZone};
use domain::candles::{AggregatedBar, Bar, Timeframe};
use domain::instrument::{OptionContract, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{ComputationRecord, GreeksRecord, ManualClock, MoneynessRecord, TimeRange};
use tokio::sync::Semaphore;

use super::*;

/// Records each `save_candles` call; each waits for a permit of `gate`, fails while `failing`.
struct Gated {
    gate: Semaphore,
    failing: AtomicBool,
    writes: Mutex<Vec<Vec<InstrumentCandle>>>,
}

impl Gated {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            gate: Semaphore::new(0),
            failing: AtomicBool::new(false),
            writes: Mutex::new(Vec::new()),
        })
    }

    fn writes(&self) -> Vec<Vec<InstrumentCandle>> {
        self.writes.lock_or_recover().clone()
    }
}

#[async_trait::async_trait]
impl SignalStore for Gated {
    async fn save_candles(&self, candles: &[InstrumentCandle]) -> Result<(), PortError> {
        self.gate.acquire().await.expect("gate open").forget();
        self.writes.lock_or_recover().push(candles.to_vec());
        if self.failing.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable("database down".into()));
        }
        Ok(())
    }
    async fn candles(&self, _: &InstrumentKey, _: TimeRange) -> Result<Vec<InstrumentCandle>, PortError> {
        Ok(Vec::new())
    }
    async fn timeframe_bars(
        &self,
        _: &InstrumentKey,
        _: Timeframe,
        _: TimeRange,
    ) -> Result<Vec<AggregatedBar>, PortError> {
        Ok(Vec::new())
    }
    async fn save_timeframe_bars(&self, _: &InstrumentKey, _: Timeframe, _: &[AggregatedBar]) -> Result<(), PortError> {
        Ok(())
    }
    async fn save_greeks(&self, _: &[GreeksRecord]) -> Result<(), PortError> {
        Ok(())
    }
    async fn greeks(&self, _: &InstrumentKey, _: TimeRange, _: usize) -> Result<Vec<GreeksRecord>, PortError> {
        Ok(Vec::new())
    }
    async fn register_contracts(&self, _: &[OptionContract], _: &str) -> Result<(), PortError> {
        Ok(())
    }
    async fn save_computation(&self, _: &ComputationRecord) -> Result<(), PortError> {
        Ok(())
    }
    async fn save_moneyness(&self, _: &[MoneynessRecord]) -> Result<(), PortError> {
        Ok(())
    }
    async fn moneyness(
        &self,
        _: &InstrumentKey,
        _: NaiveDate,
        _: OptionRight,
        _: MoneynessLevel,
        _: TimeRange,
        _: usize,
    ) -> Result<Vec<MoneynessRecord>, PortError> {
        Ok(Vec::new())
    }
}

fn commits(store: &Arc<Gated>) -> BarCommits {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(minute(0)));
    BarCommits::new(store.clone(), Arc::new(InstrumentRegistry::default()), clock)
}

fn minute(m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 4, m, 0).unwrap()
}

/// The bar of `key` at `m` whose close is `close`.
fn bar(key: &str, m: u32, close: f64) -> InstrumentCandle {
    InstrumentCandle {
        key: InstrumentKey::parse(key).unwrap(),
        bar: Bar {
            start: minute(m),
            minutes: 1,
            open: 100.0,
            high: 100.0_f64.max(close),
            low: 100.0_f64.min(close),
            close,
            volume: 1.0,
            vwap: None,
            oi: None,
        },
    }
}

/// A write's (key, close) pairs, sorted (a write's rows come in no particular order).
fn closes(write: &[InstrumentCandle]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = write.iter().map(|c| (c.key.to_string(), c.bar.close)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    out
}

/// Lets the spawned writer reach the gate.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

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
