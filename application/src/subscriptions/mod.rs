//! The subscription hub: each topic's recent updates, and the connections following it.
//!
//! The fan-out (in-process or Redis pub/sub) delivers every numbered update of every instance
//! to [`SubscriptionHub::deliver`], from one task, in order. The hub records it in the topic's
//! bounded history (whether anyone here follows the topic or not: a client may reconnect to
//! this instance and resume) and offers it to the topic's subscribers. Offering never blocks;
//! a connection queues, coalesces or drops its client as its own policy says.
//!
//! Subscribing registers the connection and answers what it needs first, atomically with
//! respect to deliveries: the latest update as a snapshot, or on resume the updates missed
//! since the client's last `(epoch, seq)` (see [`domain::subscriptions::TopicHistory`]).

use crate::fast_map::FastMap;
use crate::sync::LockOrRecover;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use domain::ports::{SignalEvent, TopicUpdate, UpdateSink};
use domain::subscriptions::{Recorded, Resume, Topic, TopicHistory, TopicKind};

use crate::market::RealtimeState;

pub mod derived;
mod listing;

pub use derived::DerivedFeeds;
pub use listing::TopicListing;

/// Updates kept per topic for resuming clients, unless configured.
pub const DEFAULT_HISTORY_PER_TOPIC: usize = 32;

/// A connection following topics.
pub trait Subscriber: Send + Sync {
    /// Identifies the connection (unique in this process).
    fn id(&self) -> u64;
    /// Takes one update of a followed topic. Must not block.
    fn offer(&self, update: Arc<TopicUpdate>);
    /// Takes an update that follows a break in the topic's numbering (updates this instance
    /// never received, or a new epoch): the subscriber must replace what it holds with it
    /// instead of applying it. Must not block, and must not be dropped by coalescing.
    fn resync(&self, update: Arc<TopicUpdate>) {
        self.offer(update);
    }
}

/// A topic's state as a source holds it, outside the numbered updates.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSnapshot {
    /// When the data was produced at its source.
    pub source_ts: DateTime<Utc>,
    /// A bar, or an indicator on a bar, still forming.
    pub forming: bool,
    /// The data.
    pub event: SignalEvent,
}

impl StateSnapshot {
    fn settled((source_ts, event): (DateTime<Utc>, SignalEvent)) -> Self {
        Self {
            source_ts,
            forming: false,
            event,
        }
    }
}

/// A topic's current state when this instance has no numbered update of it yet (just started,
/// or nothing published since): the realtime state answers for the topics it holds, the
/// derived feeds for theirs.
pub trait SnapshotSource: Send + Sync {
    /// The topic's current state, when known.
    fn snapshot(&self, topic: &Topic) -> Option<StateSnapshot>;
}

impl SnapshotSource for RealtimeState {
    fn snapshot(&self, topic: &Topic) -> Option<StateSnapshot> {
        let state = match topic {
            Topic::Greeks { key } => self.greeks(key).map(|r| (r.minute, SignalEvent::Greeks(r))),
            Topic::Chain {
                underlying,
                expiry: Some(expiry),
            } => self
                .chain(underlying, *expiry)
                .map(|c| (c.minute, c.event(underlying, *expiry))),
            Topic::AtmIv {
                underlying,
                expiry: Some(expiry),
            } => self.chain(underlying, *expiry).map(|c| {
                let event = SignalEvent::AtmIv {
                    underlying: underlying.clone(),
                    expiry: *expiry,
                    minute: c.minute,
                    atm_iv: c.analytics.atm_iv,
                };
                (c.minute, event)
            }),
            // Moneyness levels, and the nearest expiry's `chain:{u}` / `atm_iv:{u}` (which one
            // is nearest depends on the clock), are published every minute, so the hub's
            // history answers them; candles and indicators are answered by the derived feeds.
            Topic::Moneyness { .. }
            | Topic::Chain { expiry: None, .. }
            | Topic::AtmIv { expiry: None, .. }
            | Topic::Candles { .. }
            | Topic::Indicators { .. } => None,
        };
        state.map(StateSnapshot::settled)
    }
}

/// What a new subscription starts with.
#[derive(Debug, Clone, PartialEq)]
pub enum Opening {
    /// The topic's latest update, if this instance has seen one (a snapshot of the state).
    Snapshot(Option<Arc<TopicUpdate>>),
    /// On resume: the updates missed, oldest first.
    Missed(Vec<Arc<TopicUpdate>>),
    /// On resume: nothing missed.
    UpToDate,
}

struct TopicEntry {
    history: TopicHistory<Arc<TopicUpdate>>,
    subscribers: Vec<Arc<dyn Subscriber>>,
}

/// Counters of the hub, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Topics with a history or a subscriber.
    pub topics: usize,
    /// Subscriptions (connection × topic).
    pub subscriptions: usize,
    /// Updates received after a hole in their topic's numbering (each sent to the topic's
    /// subscribers as a resync).
    pub gaps: u64,
    /// Updates received twice or out of order (ignored).
    pub stale: u64,
    /// Subscriptions by topic kind (`greeks`, `candles`, …), in [`TopicKind::ALL`] order.
    pub subscriptions_by_kind: [(&'static str, usize); 6],
}

/// The hub.
pub struct SubscriptionHub {
    topics: Mutex<FastMap<String, TopicEntry>>,
    history_per_topic: usize,
    counters: Mutex<(u64, u64)>,
}

impl std::fmt::Debug for SubscriptionHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionHub")
            .field("history_per_topic", &self.history_per_topic)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Default for SubscriptionHub {
    fn default() -> Self {
        Self::new(DEFAULT_HISTORY_PER_TOPIC)
    }
}

impl SubscriptionHub {
    /// A hub keeping `history_per_topic` updates of each topic.
    #[must_use]
    pub fn new(history_per_topic: usize) -> Self {
        Self {
            topics: Mutex::default(),
            history_per_topic: history_per_topic.max(1),
            counters: Mutex::default(),
        }
    }

    fn entry<'m>(&self, topics: &'m mut FastMap<String, TopicEntry>, topic: &str) -> &'m mut TopicEntry {
        // Looked up before the entry API, which would copy the topic for every update.
        if topics.contains_key(topic) {
            return topics.get_mut(topic).expect("present");
        }
        topics.entry(topic.to_owned()).or_insert_with(|| TopicEntry {
            history: TopicHistory::new(self.history_per_topic),
            subscribers: Vec::new(),
        })
    }

    /// Registers `who` on `topic` (canonical text). `resume` is the client's last
    /// `(epoch, seq)` of the topic, when it had one.
    pub fn subscribe(&self, topic: &str, who: Arc<dyn Subscriber>, resume: Option<(u64, u64)>) -> Opening {
        self.subscribe_then(topic, who, resume, |_| {})
    }

    /// As [`Self::subscribe`], running `open` on the opening before any later update can be
    /// offered to `who` (so a connection queues its snapshot ahead of every update). `open`
    /// runs under the hub's lock: it must be quick and must not call the hub.
    pub fn subscribe_then(
        &self,
        topic: &str,
        who: Arc<dyn Subscriber>,
        resume: Option<(u64, u64)>,
        open: impl FnOnce(&Opening),
    ) -> Opening {
        let mut topics = self.topics.lock_or_recover();
        let entry = self.entry(&mut topics, topic);
        entry.subscribers.retain(|s| s.id() != who.id());
        entry.subscribers.push(who);
        let latest = || Opening::Snapshot(entry.history.latest().cloned());
        let opening = match resume {
            None => latest(),
            Some((epoch, seq)) => match entry.history.resume(epoch, seq) {
                Resume::UpToDate => Opening::UpToDate,
                Resume::Missed(updates) => Opening::Missed(updates),
                Resume::Snapshot => latest(),
            },
        };
        open(&opening);
        opening
    }

    /// The updates of `topic` held in its history, oldest first.
    #[must_use]
    pub fn recent(&self, topic: &str) -> Vec<Arc<TopicUpdate>> {
        let topics = self.topics.lock_or_recover();
        topics
            .get(topic)
            .map(|e| e.history.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Removes `id` from `topic`; true when it was subscribed.
    pub fn unsubscribe(&self, topic: &str, id: u64) -> bool {
        let mut topics = self.topics.lock_or_recover();
        let Some(entry) = topics.get_mut(topic) else {
            return false;
        };
        let before = entry.subscribers.len();
        entry.subscribers.retain(|s| s.id() != id);
        before != entry.subscribers.len()
    }

    /// Removes `id` from every topic it follows (a closed connection).
    pub fn forget(&self, id: u64) {
        let mut topics = self.topics.lock_or_recover();
        for entry in topics.values_mut() {
            entry.subscribers.retain(|s| s.id() != id);
        }
    }

    /// The hub's counters.
    #[must_use]
    pub fn stats(&self) -> HubStats {
        let topics = self.topics.lock_or_recover();
        let (gaps, stale) = *self.counters.lock_or_recover();
        let mut by_kind = TopicKind::ALL.map(|k| (k.as_str(), 0_usize));
        for (topic, entry) in topics.iter().filter(|(_, e)| !e.subscribers.is_empty()) {
            // A topic's text starts with its kind (`greeks:…`).
            let kind = topic.split(':').next().unwrap_or_default();
            if let Some(slot) = by_kind.iter_mut().find(|(k, _)| *k == kind) {
                slot.1 += entry.subscribers.len();
            }
        }
        HubStats {
            topics: topics.len(),
            subscriptions: topics.values().map(|e| e.subscribers.len()).sum(),
            gaps,
            stale,
            subscriptions_by_kind: by_kind,
        }
    }
}

impl UpdateSink for SubscriptionHub {
    fn deliver(&self, update: TopicUpdate) {
        let update = Arc::new(update);
        let (subscribers, broken) = {
            let mut topics = self.topics.lock_or_recover();
            let entry = self.entry(&mut topics, &update.topic);
            let had_epoch = entry.history.newest().is_some();
            let broken = match entry.history.record(update.epoch, update.seq, Arc::clone(&update)) {
                Recorded::Stale => {
                    self.counters.lock_or_recover().1 += 1;
                    return;
                }
                Recorded::AfterGap { .. } => {
                    self.counters.lock_or_recover().0 += 1;
                    true
                }
                // A new epoch after an old one: the numbering restarted (Redis lost its
                // counters, or a Redis outage made this instance number its own updates).
                Recorded::NewEpoch => had_epoch,
                Recorded::Appended => false,
            };
            (entry.subscribers.clone(), broken)
        };
        for s in subscribers {
            if broken {
                s.resync(Arc::clone(&update));
            } else {
                s.offer(Arc::clone(&update));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(u64, Mutex<Vec<u64>>);

    impl Subscriber for Collect {
        fn id(&self) -> u64 {
            self.0
        }
        fn offer(&self, update: Arc<TopicUpdate>) {
            self.1.lock().unwrap().push(update.seq);
        }
    }

    fn update(topic: &str, epoch: u64, seq: u64) -> TopicUpdate {
        TopicUpdate::example(topic, epoch, seq)
    }

    fn seqs(o: &Opening) -> Vec<u64> {
        match o {
            Opening::Snapshot(u) => u.iter().map(|u| u.seq).collect(),
            Opening::Missed(v) => v.iter().map(|u| u.seq).collect(),
            Opening::UpToDate => vec![],
        }
    }

    /// Records offers as `seq` and resyncs as `-seq`.
    struct Marks(u64, Mutex<Vec<i64>>);

    impl Subscriber for Marks {
        fn id(&self) -> u64 {
            self.0
        }
        fn offer(&self, update: Arc<TopicUpdate>) {
            self.1.lock().unwrap().push(update.seq as i64);
        }
        fn resync(&self, update: Arc<TopicUpdate>) {
            self.1.lock().unwrap().push(-(update.seq as i64));
        }
    }

    #[test]
    fn a_break_in_the_numbering_reaches_subscribers_as_a_resync_never_as_a_plain_update() {
        let hub = SubscriptionHub::new(8);
        let t = "greeks:NSE:X";
        let c = Arc::new(Marks(1, Mutex::default()));
        hub.subscribe(t, c.clone(), None);
        hub.deliver(update(t, 5, 1)); // the first numbered update after a state snapshot
        hub.deliver(update(t, 5, 2));
        hub.deliver(update(t, 5, 4)); // 3 never arrived
        hub.deliver(update(t, 9, 1)); // a new epoch (a local numbering during an outage)
        hub.deliver(update(t, 9, 2));
        hub.deliver(update(t, 5, 6)); // back on the shared numbering
        assert_eq!(*c.1.lock().unwrap(), vec![1, 2, -4, -1, 2, -6]);
        assert_eq!(hub.stats().gaps, 1);
    }

    #[test]
    fn a_subscriber_starts_from_the_latest_then_gets_every_update_in_order() {
        let hub = SubscriptionHub::new(8);
        let t = "candles:NSE:NIFTY:1m";
        for s in 1..=3 {
            hub.deliver(update(t, 5, s));
        }
        let c = Arc::new(Collect(1, Mutex::default()));
        let opening = hub.subscribe(t, c.clone(), None);
        assert!(matches!(opening, Opening::Snapshot(Some(_))));
        assert_eq!(seqs(&opening), vec![3]);
        hub.deliver(update(t, 5, 4));
        hub.deliver(update(t, 5, 4)); // a second delivery path: ignored
        hub.deliver(update(t, 5, 5));
        hub.deliver(update("candles:NSE:NIFTY:5m", 5, 1)); // another topic
        assert_eq!(*c.1.lock().unwrap(), vec![4, 5]);
        assert_eq!(hub.stats().stale, 1);
        assert_eq!(
            seqs(&hub.subscribe("greeks:NSE:X", c.clone(), None)),
            Vec::<u64>::new(),
            "nothing seen yet: an empty snapshot"
        );
    }

    #[test]
    fn a_resuming_subscriber_gets_what_it_missed_or_a_snapshot() {
        let hub = SubscriptionHub::new(4);
        let t = "greeks:NSE:NIFTY-20261124-26000-CE";
        for s in 1..=6 {
            hub.deliver(update(t, 9, s));
        }
        let c = Arc::new(Collect(1, Mutex::default()));
        assert_eq!(seqs(&hub.subscribe(t, c.clone(), Some((9, 4)))), vec![5, 6]);
        assert_eq!(hub.subscribe(t, c.clone(), Some((9, 6))), Opening::UpToDate);
        // Older than the history, or another epoch: the latest, as a snapshot.
        let old = hub.subscribe(t, c.clone(), Some((9, 1)));
        assert!(matches!(old, Opening::Snapshot(Some(ref u)) if u.seq == 6));
        assert!(matches!(
            hub.subscribe(t, c.clone(), Some((8, 6))),
            Opening::Snapshot(_)
        ));
        assert_eq!(
            hub.stats().subscriptions,
            1,
            "subscribing again replaces, never duplicates"
        );
        hub.deliver(update(t, 9, 8));
        assert_eq!(hub.stats().gaps, 1);
        assert_eq!(*c.1.lock().unwrap(), vec![8]);
    }

    #[test]
    fn unsubscribed_and_forgotten_connections_get_nothing_more() {
        let hub = SubscriptionHub::default();
        let (a, b) = (
            Arc::new(Collect(1, Mutex::default())),
            Arc::new(Collect(2, Mutex::default())),
        );
        hub.subscribe("chain:NSE:NIFTY:2026-11-24", a.clone(), None);
        hub.subscribe("chain:NSE:NIFTY:2026-11-24", b.clone(), None);
        hub.subscribe("atm_iv:NSE:NIFTY:2026-11-24", b.clone(), None);
        assert!(hub.unsubscribe("chain:NSE:NIFTY:2026-11-24", 1));
        assert!(!hub.unsubscribe("chain:NSE:NIFTY:2026-11-24", 1));
        hub.deliver(update("chain:NSE:NIFTY:2026-11-24", 1, 1));
        hub.forget(2);
        hub.deliver(update("chain:NSE:NIFTY:2026-11-24", 1, 2));
        hub.deliver(update("atm_iv:NSE:NIFTY:2026-11-24", 1, 1));
        assert!(a.1.lock().unwrap().is_empty());
        assert_eq!(*b.1.lock().unwrap(), vec![1]);
        assert_eq!(hub.stats().subscriptions, 0);
    }
}
