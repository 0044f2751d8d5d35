//! Stage 6a, the 1-minute bars' group commit.
//!
//! Every accepted batch changes the forming bar of each instrument it touches, and the bar's
//! latest state supersedes the earlier ones of the same minute. So the bars of batches staged
//! before a write starts are merged (one row per instrument and minute, the latest wins) and
//! stored by one write, as a database's group commit does with its log. A batch is staged with
//! [`BarCommits::stage`] and gets a [`Durable`], resolved when a write holding its bars has
//! committed (or failed). Nobody answers a batch before that, so "accepted" still means
//! "durable".
//!
//! A write starts when somebody waits for staged bars ([`Durable::wait`], [`BarCommits::sync`])
//! and no write runs; the writer goes on while somebody waits for what was staged meanwhile,
//! then ends. So a client that waits for each batch (REST) has it written at once, and a feed
//! that reads ahead (the Redis Streams consumer: several batches ingested, then their
//! acknowledgements waited for together) pays one write for all of them: at 640 options a
//! second the write of the minute's 642 forming bars costs about twice the pricing of a batch
//! (docs/benchmarks.md).
//!
//! The writer is a task of its own, so on a multi-threaded runtime it runs beside the pricing
//! of the next batches. A failed write puts its bars back (unless a later batch already
//! replaced them) for the next write and resolves its batches with the error: their senders
//! are told "not accepted" and retry the same values. Bars nobody waits for stay staged (no
//! retry loop against a failing store) until the next wait or [`BarCommits::sync`] (the
//! shutdown drain).

use crate::fast_map::FastMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use domain::instrument::InstrumentKey;
use domain::ports::{AggregateCache, Clock, InstrumentCandle, PortError, SignalStore};
use tokio::sync::watch;

use crate::market::InstrumentRegistry;
use crate::sync::LockOrRecover;

/// The outcome of one write, shared by every batch it holds (`None` until it is known).
type Outcome = watch::Receiver<Option<Result<(), PortError>>>;

/// A staged batch's bars: resolves when they are durable.
#[must_use = "a batch is durable only when its Durable resolves"]
pub struct Durable(Option<(Arc<Inner>, u64, Outcome)>);

impl Durable {
    /// Nothing to wait for (a batch that changed no bar).
    pub fn ready() -> Self {
        Self(None)
    }

    /// Waits until the write holding the batch's bars has committed. The wait counts from the
    /// call, not from the first poll: calling `wait` starts the write if none runs, so a feed
    /// can start a group's write, keep ingesting, and await the returned future later.
    ///
    /// # Errors
    /// That write's [`PortError`]: the batch is not accepted (its bars stay staged for the next
    /// write, so its retry or any later batch stores them).
    pub fn wait(self) -> impl Future<Output = Result<(), PortError>> + Send + 'static {
        let started = self.0.map(|(inner, id, rx)| (Waiting::start(&inner, id), rx));
        async move {
            let Some((_waiting, mut rx)) = started else {
                return Ok(());
            };
            match rx.wait_for(Option::is_some).await {
                Ok(v) => v.clone().unwrap_or(Ok(())),
                // The writer went away without an outcome: only when the runtime is shutting down.
                Err(_) => Err(PortError::Unavailable(
                    "the bar writer stopped before the write finished".into(),
                )),
            }
        }
    }
}

/// The started wait of a group of batches ([`Durable::wait_all`]).
pub(super) type GroupWait = std::pin::Pin<Box<dyn Future<Output = Result<(), PortError>> + Send>>;

impl Durable {
    /// [`Durable::wait`] for every batch of a group, started now (batches staged together share
    /// one write); resolves with the first failure, or when all are durable.
    pub(super) fn wait_all(batches: impl IntoIterator<Item = Durable>) -> GroupWait {
        let waits: Vec<_> = batches.into_iter().map(Durable::wait).collect();
        Box::pin(async move {
            for w in waits {
                w.await?;
            }
            Ok(())
        })
    }
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Durable")
            .field(&self.0.as_ref().map(|(_, id, _)| id))
            .finish()
    }
}

/// One waiter on the still-open set `id`: counted while it waits, so the writer knows to go on.
struct Waiting {
    inner: Arc<Inner>,
    id: u64,
}

impl Waiting {
    fn start(inner: &Arc<Inner>, id: u64) -> Self {
        let mut s = inner.state.lock_or_recover();
        if s.open.id == id {
            s.open.waiting += 1;
            if !s.writing {
                s.writing = true;
                tokio::spawn(inner.clone().write_while_waited_for());
            }
        }
        Self {
            inner: inner.clone(),
            id,
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut s = self.inner.state.lock_or_recover();
        if s.open.id == self.id {
            s.open.waiting = s.open.waiting.saturating_sub(1);
        }
    }
}

/// The bars waiting for the next write and the outcome their batches wait for.
struct Open {
    id: u64,
    bars: FastMap<(InstrumentKey, DateTime<Utc>), InstrumentCandle>,
    outcome: watch::Sender<Option<Result<(), PortError>>>,
    /// Waiters on this set.
    waiting: usize,
}

impl Open {
    fn new(id: u64) -> Self {
        Self {
            id,
            bars: FastMap::default(),
            outcome: watch::Sender::new(None),
            waiting: 0,
        }
    }
}

struct State {
    open: Open,
    /// The set of the write in flight and its outcome, when one is.
    in_flight: Option<(u64, Outcome)>,
    /// A writer is running (it takes `open` when its current write ends).
    writing: bool,
}

/// The group commit of 1-minute bars (see the module's documentation).
#[derive(Clone)]
pub(super) struct BarCommits {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    store: Arc<dyn SignalStore>,
    /// The in-process cache of closed days of custom-timeframe bars, told about late bars.
    aggregates: Mutex<Option<Arc<dyn AggregateCache>>>,
    registry: Arc<InstrumentRegistry>,
    clock: Arc<dyn Clock>,
}

impl BarCommits {
    pub(super) fn new(store: Arc<dyn SignalStore>, registry: Arc<InstrumentRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    open: Open::new(0),
                    in_flight: None,
                    writing: false,
                }),
                store,
                aggregates: Mutex::new(None),
                registry,
                clock,
            }),
        }
    }

    /// Tells `cache` about every bar written into a closed session day (live or bulk).
    pub(super) fn set_aggregate_cache(&self, cache: Option<Arc<dyn AggregateCache>>) {
        *self.inner.aggregates.lock_or_recover() = cache;
    }

    /// Bars staged and not yet written (for the backlog's limit and readiness).
    pub(super) fn pending(&self) -> usize {
        self.inner.state.lock_or_recover().open.bars.len()
    }

    /// Stages `candles` for the next write (a later bar of the same instrument and minute
    /// replaces an earlier one). Nothing is written until somebody waits.
    pub(super) fn stage(&self, candles: Vec<InstrumentCandle>) -> Durable {
        if candles.is_empty() {
            return Durable::ready();
        }
        let mut s = self.inner.state.lock_or_recover();
        for c in candles {
            s.open.bars.insert((c.key.clone(), c.bar.start), c);
        }
        Durable(Some((self.inner.clone(), s.open.id, s.open.outcome.subscribe())))
    }

    /// Waits until every bar staged before the call is written (bars a failed write put back
    /// included).
    ///
    /// # Errors
    /// The failing write's [`PortError`] (its bars stay staged).
    pub(super) async fn sync(&self) -> Result<(), PortError> {
        let durable = {
            let s = self.inner.state.lock_or_recover();
            if s.open.bars.is_empty() {
                // The write in flight, if any: its set is no longer open, so nothing is counted.
                Durable(s.in_flight.clone().map(|(id, rx)| (self.inner.clone(), id, rx)))
            } else {
                Durable(Some((self.inner.clone(), s.open.id, s.open.outcome.subscribe())))
            }
        };
        durable.wait().await
    }

    /// Tells the aggregate cache about `candles`, written by the bulk path (see
    /// [`Inner::forget_rewritten_days`]).
    pub(super) fn forget_rewritten_days(&self, candles: &[InstrumentCandle]) {
        self.inner.forget_rewritten_days(candles);
    }
}

impl Inner {
    /// The writer: takes what is staged, writes it, resolves its batches; again while somebody
    /// waits for what was staged meanwhile.
    async fn write_while_waited_for(self: Arc<Self>) {
        loop {
            let taken = {
                let mut s = self.state.lock_or_recover();
                if s.open.bars.is_empty() || s.open.waiting == 0 {
                    s.writing = false;
                    s.in_flight = None;
                    return;
                }
                let next = Open::new(s.open.id + 1);
                let taken = std::mem::replace(&mut s.open, next);
                s.in_flight = Some((taken.id, taken.outcome.subscribe()));
                taken
            };
            // One row per instrument and minute: the store may write them in any order.
            let candles: Vec<InstrumentCandle> = taken.bars.into_values().collect();
            let result = self.store.save_candles(&candles).await;
            if result.is_err() {
                let mut s = self.state.lock_or_recover();
                for c in candles {
                    // A later batch's bar of the same minute is newer: keep that one.
                    if let Entry::Vacant(v) = s.open.bars.entry((c.key.clone(), c.bar.start)) {
                        v.insert(c);
                    }
                }
            } else {
                self.forget_rewritten_days(&candles);
            }
            taken.outcome.send_replace(Some(result));
        }
    }

    fn forget_rewritten_days(&self, candles: &[InstrumentCandle]) {
        let cache = self.aggregates.lock_or_recover().clone();
        if let Some(cache) = cache {
            crate::candles::forget_rewritten_days(
                cache.as_ref(),
                candles,
                |k| self.registry.market_for(k),
                self.clock.now(),
            );
        }
    }
}

#[cfg(test)]
mod tests;
