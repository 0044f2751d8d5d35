//! Candles of any timeframe, and indicators on them, derived on every instance from the
//! `candles:{key}:1m` updates the fan-out delivers.
//!
//! Why here and not at the publisher: timeframes are open-ended (`7m`, `13m`) and indicators
//! take parameters, so these topics cannot all be published; each instance derives the ones its
//! own clients follow. A derived update carries the epoch and sequence number of the 1-minute
//! update it came from. Every instance receives the 1-minute updates in one order, so a derived
//! topic is numbered alike on every instance that derives it, and a client resumes on any of
//! them (one that does not derive the topic yet answers with a snapshot).
//!
//! Each 1-minute update gives exactly one update of each derived topic of its instrument, so the
//! numbering has no holes:
//! - a bar of the open bucket: the bucket's bar, forming, unless the bar is the bucket's last
//!   minute and closed, which closes the bucket (`forming: false`);
//! - a bar of a later bucket: the open bucket closes (`forming: false`); the new bucket's first
//!   state goes out with the next 1-minute update;
//! - a late bar (of a bucket already closed) or one outside the session: the latest state again.
//!
//! An indicator commits a closed bar and peeks at a forming one.
//!
//! A feed starts when a connection of this instance first follows a derived topic: it warms up
//! from the store (the timeframe's bars before the open bucket, then the open bucket's 1-minute
//! bars) and from the 1-minute topic's recent history in the hub, then follows the live updates.
//! It stops when the last connection following it leaves.

use crate::fast_map::FastMap;
use crate::sync::LockOrRecover;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use domain::candles::{AggregatedBar, Bar, Bucket, Bucketer, Timeframe, aggregate};
use domain::indicators::{Indicator, IndicatorSpec};
use domain::instrument::{InstrumentKey, Market};
use domain::ports::{Clock, SignalEvent, TimeRange, TopicUpdate, UpdateSink};
use domain::subscriptions::Topic;

use super::{SnapshotSource, StateSnapshot, SubscriptionHub};
use crate::history::{HistoryError, HistoryReads};
use crate::indicators::{WARM_UP_EXTRA_BARS, lookback};

/// The state of one derived topic.
struct Feed {
    topic: String,
    key: InstrumentKey,
    timeframe: Timeframe,
    market: Market,
    bucketer: Bucketer,
    /// For an indicator topic: the indicator over the closed bars, and its output names.
    indicator: Option<(Indicator, Vec<String>)>,
    /// The open bucket and its 1-minute bars by start.
    open: Option<(Bucket, BTreeMap<DateTime<Utc>, Bar>)>,
    /// Start of the newest bucket closed: bars of it or earlier are late.
    closed_up_to: Option<DateTime<Utc>>,
    /// The newest state: source time, forming, data.
    latest: Option<(DateTime<Utc>, bool, SignalEvent)>,
    /// The newest 1-minute update applied: `(epoch, seq)`.
    applied: Option<(u64, u64)>,
    /// Connections of this instance following the topic.
    followers: usize,
}

impl Feed {
    /// A feed of `topic` with nothing applied yet, followed once.
    fn new(
        topic: String,
        key: InstrumentKey,
        timeframe: Timeframe,
        market: Market,
        indicator: Option<(Indicator, Vec<String>)>,
    ) -> Self {
        Self {
            topic,
            key,
            timeframe,
            bucketer: Bucketer::new(market.clone(), timeframe),
            market,
            indicator,
            open: None,
            closed_up_to: None,
            latest: None,
            applied: None,
            followers: 1,
        }
    }

    fn aggregate_open(&self) -> Option<AggregatedBar> {
        let (_, bars) = self.open.as_ref()?;
        let bars: Vec<Bar> = bars.values().copied().collect();
        aggregate(&bars, self.timeframe, &self.market).ok()?.pop()
    }

    /// Closes the open bucket: commits it to the indicator and makes it the latest state.
    fn close_open(&mut self, source_ts: DateTime<Utc>) {
        let Some(bar) = self.aggregate_open() else {
            self.open = None;
            return;
        };
        if let Some((bucket, _)) = self.open.take() {
            self.closed_up_to = Some(bucket.start);
        }
        let event = self.event(&bar, false);
        self.latest = Some((source_ts, false, event));
    }

    /// The data of `bar` on this topic: the bar itself, or the indicator at it (committed
    /// when closed, peeked at while forming).
    fn event(&mut self, bar: &AggregatedBar, forming: bool) -> SignalEvent {
        let Some((indicator, columns)) = self.indicator.as_mut() else {
            return SignalEvent::Bar {
                key: self.key.clone(),
                timeframe: self.timeframe,
                bar: *bar,
            };
        };
        let input = bar.to_bar();
        let values = if forming {
            indicator.peek(&input)
        } else {
            indicator.update(&input)
        };
        let values = values.ok().flatten();
        SignalEvent::Indicator {
            key: self.key.clone(),
            indicator: indicator.spec().to_string(),
            timeframe: self.timeframe,
            bar_start: bar.start,
            columns: columns.clone(),
            values: (0..columns.len())
                .map(|i| values.map(|v| v[i]).filter(|x| x.is_finite()))
                .collect(),
        }
    }

    /// Applies one 1-minute bar (closed or forming) and updates the latest state.
    fn apply(&mut self, minute: Bar, forming: bool, source_ts: DateTime<Utc>) {
        let Some(bucket) = self.bucketer.bucket_of(minute.start) else {
            return;
        };
        if self.closed_up_to.is_some_and(|c| bucket.start <= c) {
            return; // late: its bucket was closed already
        }
        match &mut self.open {
            Some((open, _)) if open.start < bucket.start => {
                self.close_open(source_ts);
                self.open = Some((bucket, BTreeMap::from([(minute.start, minute)])));
                return;
            }
            Some((open, _)) if open.start > bucket.start => return, // older than the open bucket
            Some((_, bars)) => {
                bars.insert(minute.start, minute);
            }
            None => self.open = Some((bucket, BTreeMap::from([(minute.start, minute)]))),
        }
        if !forming && minute.start + Duration::minutes(1) >= bucket.end {
            self.close_open(source_ts);
        } else if let Some(bar) = self.aggregate_open() {
            let event = self.event(&bar, true);
            self.latest = Some((source_ts, true, event));
        }
    }
}

/// The derived feeds of this instance; the fan-out delivers to it, and it to the hub.
pub struct DerivedFeeds {
    hub: Arc<SubscriptionHub>,
    history: HistoryReads,
    clock: Arc<dyn Clock>,
    /// Feeds by instrument, then topic.
    feeds: Mutex<FastMap<InstrumentKey, Vec<Feed>>>,
}

impl std::fmt::Debug for DerivedFeeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedFeeds")
            .field("topics", &self.topics())
            .finish_non_exhaustive()
    }
}

/// The 1-minute candle topic of `key`.
fn base_topic(key: &InstrumentKey) -> String {
    Topic::Candles {
        key: key.clone(),
        timeframe: Timeframe::one_minute(),
    }
    .to_string()
}

/// The instrument of a topic this module derives (candles above 1 minute, and indicators).
fn derived_key(topic: &Topic) -> Option<&InstrumentKey> {
    match topic {
        Topic::Candles { key, timeframe } if *timeframe != Timeframe::one_minute() => Some(key),
        Topic::Indicators { key, .. } => Some(key),
        _ => None,
    }
}

/// True for a topic this module derives: candles above 1 minute, and indicators.
#[must_use]
pub fn is_derived(topic: &Topic) -> bool {
    derived_key(topic).is_some()
}

impl DerivedFeeds {
    /// Feeds delivering to `hub`, warming up through `history`, timed by `clock`.
    #[must_use]
    pub fn new(hub: Arc<SubscriptionHub>, history: HistoryReads, clock: Arc<dyn Clock>) -> Self {
        Self {
            hub,
            history,
            clock,
            feeds: Mutex::default(),
        }
    }

    /// The derived topics followed now (canonical text).
    #[must_use]
    pub fn topics(&self) -> Vec<String> {
        let feeds = self.feeds.lock_or_recover();
        feeds.values().flatten().map(|f| f.topic.clone()).collect()
    }

    /// One more connection follows `topic` (a derived one, see [`is_derived`]): starts its feed
    /// if none runs yet. Call [`Self::unfollow`] when the connection leaves it.
    ///
    /// # Errors
    /// [`HistoryError`]: the instrument is unknown, the indicator's parameters are refused, or
    /// the store failed while warming up.
    pub async fn follow(&self, topic: &Topic) -> Result<(), HistoryError> {
        let canonical = topic.to_string();
        let (key, timeframe, spec) = match topic {
            Topic::Candles { key, timeframe } => (key, *timeframe, None),
            Topic::Indicators { key, spec, timeframe } => (key, *timeframe, Some(spec)),
            _ => return Ok(()),
        };
        if self.add_follower(key, &canonical) {
            return Ok(());
        }
        let mut feed = self.warm_up(canonical, key, timeframe, spec).await?;
        let mut feeds = self.feeds.lock_or_recover();
        let entry = feeds.entry(key.clone()).or_default();
        if let Some(f) = entry.iter_mut().find(|f| f.topic == feed.topic) {
            f.followers += 1; // another connection started it meanwhile
            return Ok(());
        }
        // What the fan-out delivered while the store was read. Under the feeds' lock, which
        // `deliver` holds from recording an update in the hub to deriving from it, so every
        // update is applied once: from this history, or by `deliver`.
        for u in self.hub.recent(&base_topic(key)) {
            if let SignalEvent::Candle(c) = &u.event {
                feed.apply(c.bar, u.forming, u.source_ts);
                feed.applied = Some((u.epoch, u.seq));
            }
        }
        entry.push(feed);
        Ok(())
    }

    /// Counts a follower of a running feed; false when none runs.
    fn add_follower(&self, key: &InstrumentKey, topic: &str) -> bool {
        let mut feeds = self.feeds.lock_or_recover();
        match feeds.get_mut(key).and_then(|v| v.iter_mut().find(|f| f.topic == topic)) {
            Some(f) => {
                f.followers += 1;
                true
            }
            None => false,
        }
    }

    async fn warm_up(
        &self,
        topic: String,
        key: &InstrumentKey,
        timeframe: Timeframe,
        spec: Option<&IndicatorSpec>,
    ) -> Result<Feed, HistoryError> {
        let market = self.history.market(key)?;
        let indicator = match spec {
            Some(s) => {
                let i = Indicator::new(s.clone(), &market).map_err(|e| HistoryError::BadParam {
                    field: "topics",
                    message: format!("{topic}: {e}"),
                })?;
                Some((i, s.column_names()))
            }
            None => None,
        };
        let warm_bars = indicator
            .as_ref()
            .map_or(1, |(i, _)| i.warm_up_bars() + WARM_UP_EXTRA_BARS);
        let now = self.clock.now();
        let range = TimeRange {
            from: now - lookback(warm_bars, timeframe, &market),
            to: now + Duration::minutes(1),
        };
        let bars = self.history.bars(key, &market, timeframe, range).await?;
        let mut feed = Feed::new(topic, key.clone(), timeframe, market.clone(), indicator);
        // Every bar but the last is closed; the last one is taken as still open (if it is
        // complete, the next bucket's first bar closes it).
        let Some((last, closed)) = bars.split_last() else {
            return Ok(feed);
        };
        for bar in closed {
            feed.closed_up_to = Some(bar.start);
            let event = feed.event(bar, false);
            feed.latest = Some((bar.start, false, event));
        }
        let minutes = self
            .history
            .bars(
                key,
                &market,
                Timeframe::one_minute(),
                TimeRange {
                    from: last.start,
                    to: last.end,
                },
            )
            .await?;
        for m in minutes {
            feed.apply(m.to_bar(), true, m.start);
        }
        Ok(feed)
    }

    /// One connection less follows `topic`; the feed stops with its last follower.
    pub fn unfollow(&self, topic: &Topic) {
        let Some(key) = derived_key(topic) else {
            return;
        };
        let canonical = topic.to_string();
        let mut feeds = self.feeds.lock_or_recover();
        if let Some(v) = feeds.get_mut(key) {
            for f in v.iter_mut().filter(|f| f.topic == canonical) {
                f.followers = f.followers.saturating_sub(1);
            }
            v.retain(|f| f.followers > 0);
            if v.is_empty() {
                feeds.remove(key);
            }
        }
    }
}

impl UpdateSink for DerivedFeeds {
    fn deliver(&self, update: TopicUpdate) {
        let mut feeds = self.feeds.lock_or_recover();
        let candle = match &update.event {
            SignalEvent::Candle(c) if update.topic.ends_with(":1m") => Some(c.clone()),
            _ => None,
        };
        let (epoch, seq, forming, source_ts, received) = (
            update.epoch,
            update.seq,
            update.forming,
            update.source_ts,
            update.received,
        );
        self.hub.deliver(update);
        let Some(candle) = candle else { return };
        let Some(derived) = feeds.get_mut(&candle.key) else {
            return;
        };
        for feed in derived {
            if feed.applied.is_some_and(|(e, s)| e == epoch && s >= seq) {
                continue;
            }
            feed.applied = Some((epoch, seq));
            feed.apply(candle.bar, forming, source_ts);
            if let Some((ts, forming, event)) = &feed.latest {
                self.hub.deliver(TopicUpdate {
                    topic: feed.topic.clone(),
                    epoch,
                    seq,
                    source_ts: *ts,
                    received,
                    forming: *forming,
                    event: event.clone(),
                });
            }
        }
    }
}

impl SnapshotSource for DerivedFeeds {
    fn snapshot(&self, topic: &Topic) -> Option<StateSnapshot> {
        let key = derived_key(topic)?;
        let canonical = topic.to_string();
        let feeds = self.feeds.lock_or_recover();
        let feed = feeds.get(key)?.iter().find(|f| f.topic == canonical)?;
        feed.latest.as_ref().map(|(ts, forming, e)| StateSnapshot {
            source_ts: *ts,
            forming: *forming,
            event: e.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
