//! Stage 2, minute bars: each accepted tick updates its instrument's 1-minute bar builder
//! (one per instrument, resumed from the store when an instrument is first met after a
//! restart), and the bars it changed are what the batch writes before it answers. Also the
//! `candles:{key}:1m` updates: the forming bar on every change, and once more closed when a
//! later minute starts.

use crate::fast_map::FastMap;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use domain::candles::{Bar, MinuteBarBuilder, TickEffect};
use domain::instrument::{InstrumentKey, Market};
use domain::market_data::Tick;
use domain::ports::{InstrumentCandle, Outgoing, PortError, SignalEvent, SignalStore, TimeRange};
use domain::subscriptions::Topic;

use super::validate::{IngestReport, Row, rejection};
use crate::market::InstrumentRegistry;
use crate::sync::LockOrRecover;
use std::sync::Mutex;

/// The minute-bar stage.
#[derive(Default)]
pub(super) struct MinuteBars {
    builders: Mutex<FastMap<InstrumentKey, MinuteBarBuilder>>,
    /// The minute of each instrument's bar last published as forming.
    forming: Mutex<FastMap<InstrumentKey, DateTime<Utc>>>,
}

impl MinuteBars {
    /// Gives every instrument met for the first time since start a bar builder resumed from the
    /// bars already stored for the tick's session, so a restart mid-session neither overwrites a
    /// stored minute with a partial one nor miscounts the next minute's volume.
    pub(super) async fn resume(
        &self,
        ticks: &[Tick],
        registry: &InstrumentRegistry,
        store: &dyn SignalStore,
    ) -> Result<(), PortError> {
        // Instruments met for the first time, by the session their tick is in: one read each.
        let mut fresh: BTreeMap<(NaiveDate, DateTime<Utc>, DateTime<Utc>), Vec<InstrumentKey>> = BTreeMap::new();
        {
            let builders = self.builders.lock_or_recover();
            let mut seen: HashSet<&InstrumentKey> = HashSet::new();
            for t in ticks {
                if builders.contains_key(&t.key) || !seen.insert(&t.key) {
                    continue;
                }
                let Some(day) = registry.get(&t.key).and_then(|r| r.market().session_containing(t.ts)) else {
                    continue;
                };
                fresh
                    .entry((day.date, day.open, day.close))
                    .or_default()
                    .push(t.key.clone());
            }
        }
        for ((date, from, to), keys) in fresh {
            let range = TimeRange { from, to };
            let mut stored: HashMap<InstrumentKey, Vec<Bar>> = HashMap::new();
            for c in store.candles_of(&keys, range).await? {
                stored.entry(c.key).or_default().push(c.bar);
            }
            let mut builders = self.builders.lock_or_recover();
            for key in keys {
                let bars = stored.remove(&key).unwrap_or_default();
                builders
                    .entry(key)
                    .or_insert_with(|| MinuteBarBuilder::resume(date, &bars));
            }
        }
        Ok(())
    }

    /// Applies the accepted `rows` of `ticks` to their builders; a tick older than the session
    /// its builder is on is rejected (moved from `rows` to `report`). Returns the bars changed.
    pub(super) fn apply(
        &self,
        ticks: &[Tick],
        rows: &mut Vec<Row>,
        report: &mut IngestReport,
    ) -> Vec<InstrumentCandle> {
        let mut candles = Vec::new();
        let mut builders = self.builders.lock_or_recover();
        // A batch's rows usually share one time: its local date is worked out once.
        let mut last: Option<(DateTime<Utc>, *const Market, NaiveDate)> = None;
        rows.retain(|(i, reg)| {
            let t = &ticks[*i];
            let market: *const Market = reg.market();
            let session = match last {
                Some((ts, m, date)) if ts == t.ts && m == market => date,
                _ => {
                    let date = reg.market().local_date(t.ts);
                    last = Some((t.ts, market, date));
                    date
                }
            };
            let builder = builders.entry(t.key.clone()).or_default();
            match builder.apply(t, session) {
                TickEffect::TooLate => {
                    report
                        .rejected
                        .push(rejection(*i, "ts", "older than the session being built"));
                    false
                }
                TickEffect::Applied(m) => {
                    candles.extend(builder.affected(m).into_iter().map(|bar| InstrumentCandle {
                        key: t.key.clone(),
                        bar,
                    }));
                    true
                }
                TickEffect::QuoteOnly => true,
            }
        });
        candles
    }

    /// The `candles:{key}:1m` updates of a batch: the last state of each bar it changed, marked
    /// forming while its minute is not over by the batch's newest tick of that instrument; and,
    /// when an instrument's forming bar is overtaken by a later minute, that bar once more as
    /// closed (`forming: false`).
    pub(super) fn updates(&self, ticks: &[Tick], candles: &[InstrumentCandle]) -> Vec<Outgoing> {
        if candles.is_empty() {
            return Vec::new();
        }
        let mut newest: FastMap<&InstrumentKey, DateTime<Utc>> = FastMap::default();
        for t in ticks {
            newest
                .entry(&t.key)
                .and_modify(|ts| *ts = (*ts).max(t.ts))
                .or_insert(t.ts);
        }
        let mut last: BTreeMap<(&InstrumentKey, DateTime<Utc>), &InstrumentCandle> = BTreeMap::new();
        for c in candles {
            last.insert((&c.key, c.bar.start), c);
        }
        let one_minute = chrono::Duration::minutes(1);
        let update = |c: InstrumentCandle, seen: DateTime<Utc>, forming: bool| Outgoing {
            topic: Topic::candles_1m_text(&c.key),
            source_ts: seen,
            received: None,
            forming,
            event: SignalEvent::Candle(c),
        };
        let mut out = Vec::with_capacity(last.len());
        let builders = self.builders.lock_or_recover();
        let mut open = self.forming.lock_or_recover();
        for c in last.into_values() {
            let seen = newest.get(&c.key).copied().unwrap_or(c.bar.start);
            let forming = c.bar.start + one_minute > seen;
            if forming {
                let previous = open.insert(c.key.clone(), c.bar.start);
                if let Some(p) = previous.filter(|p| *p < c.bar.start)
                    && let Some(bar) = builders.get(&c.key).and_then(|b| b.bar(p))
                {
                    let closed = InstrumentCandle {
                        key: c.key.clone(),
                        bar,
                    };
                    out.push(update(closed, seen, false));
                }
            }
            out.push(update(c.clone(), seen, forming));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::market::InstrumentRegistry;

    fn tick(minute: u32, last: f64) -> Tick {
        Tick {
            key: InstrumentKey::parse("NSE:NIFTY").unwrap(),
            ts: Utc.with_ymd_and_hms(2026, 2, 2, 4, minute, 10).unwrap(),
            last: Some(last),
            bid: None,
            ask: None,
            volume: None,
            oi: None,
        }
    }

    #[test]
    fn a_later_minute_closes_the_forming_bar_and_an_older_session_is_refused() {
        let registry = InstrumentRegistry::default();
        registry
            .register_underlying(InstrumentKey::parse("NSE:NIFTY").unwrap(), "NSE")
            .unwrap();
        let reg = Arc::new(registry)
            .get(&InstrumentKey::parse("NSE:NIFTY").unwrap())
            .unwrap();
        let bars = MinuteBars::default();
        let mut report = IngestReport::default();
        let first = [tick(0, 100.0)];
        let c = bars.apply(&first, &mut vec![(0, reg.clone())], &mut report);
        let u = bars.updates(&first, &c);
        assert_eq!(u.iter().map(|u| u.forming).collect::<Vec<_>>(), [true]);
        let next = [tick(1, 101.0)];
        let c = bars.apply(&next, &mut vec![(0, reg.clone())], &mut report);
        let u = bars.updates(&next, &c);
        assert_eq!(
            u.iter().map(|u| u.forming).collect::<Vec<_>>(),
            [false, true],
            "the 09:30 bar once more, closed, then 09:31 forming"
        );
        let old = [Tick {
            ts: Utc.with_ymd_and_hms(2026, 1, 30, 4, 0, 0).unwrap(),
            ..tick(0, 99.0)
        }];
        let mut rows = vec![(0, reg)];
        assert!(bars.apply(&old, &mut rows, &mut report).is_empty());
        assert!(rows.is_empty());
        assert_eq!(report.rejected[0].field, "ts");
    }
}
