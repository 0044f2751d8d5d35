//! Building 1-minute bars from ticks, one instrument at a time.
//!
//! Every rule is order-independent, so late, out-of-order and duplicate ticks give the same bars
//! as an in-order feed, and replaying a feed changes nothing: open is the earliest trade of the
//! minute, close the latest (ties keep the first seen), high and low the extremes, OI the latest
//! known. Ticks carry the session's cumulative volume, so a minute's volume is its highest
//! cumulative volume minus the highest of the previous minute with data (0 before the first).
//! Only trades (ticks with a last price) move prices; quote-only ticks are for the pricer.
//! Bars of the current session are kept; a tick from an older session is refused.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::Bar;
use crate::market_data::Tick;

#[derive(Debug, Clone, Copy)]
struct Minute {
    open: (DateTime<Utc>, f64),
    close: (DateTime<Utc>, f64),
    high: f64,
    low: f64,
    cum_volume: Option<f64>,
    oi: Option<(DateTime<Utc>, f64)>,
}

/// What a tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickEffect {
    /// It changed (or confirmed) the bar starting at this minute; the next minute's volume may
    /// have changed too when it exists.
    Applied(DateTime<Utc>),
    /// It carried no trade price; no bar changed.
    QuoteOnly,
    /// It belongs to a session before the one being built.
    TooLate,
}

/// The bars of one instrument's current session.
#[derive(Debug, Clone, Default)]
pub struct MinuteBarBuilder {
    session: Option<NaiveDate>,
    minutes: BTreeMap<DateTime<Utc>, Minute>,
}

fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let ms = t.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(60_000)).unwrap_or(t)
}

impl MinuteBarBuilder {
    /// A builder resuming `session` from its stored bars (after a restart), so that later ticks
    /// of a stored minute extend its bar instead of replacing it, and the next minute's volume
    /// is measured from the right cumulative volume.
    ///
    /// The stored bars carry no tick times: a bar's open and close are taken as stamped at its
    /// minute's start (so any later tick of the minute moves the close, none moves the open), and
    /// the session's cumulative volume at a bar's end as the sum of the stored volumes up to it.
    #[must_use]
    pub fn resume(session: NaiveDate, bars: &[Bar]) -> Self {
        let mut cum = 0.0;
        let mut minutes = BTreeMap::new();
        let mut sorted: Vec<&Bar> = bars.iter().collect();
        sorted.sort_by_key(|b| b.start);
        for b in sorted {
            cum += b.volume;
            minutes.insert(
                b.start,
                Minute {
                    open: (b.start, b.open),
                    close: (b.start, b.close),
                    high: b.high,
                    low: b.low,
                    cum_volume: Some(cum),
                    oi: b.oi.map(|oi| (b.start, oi)),
                },
            );
        }
        Self {
            session: Some(session),
            minutes,
        }
    }

    /// Whether the builder holds nothing yet (no session seen).
    #[must_use]
    pub fn is_fresh(&self) -> bool {
        self.session.is_none()
    }

    /// Applies a tick whose exchange-local session date is `session`.
    pub fn apply(&mut self, tick: &Tick, session: NaiveDate) -> TickEffect {
        match self.session {
            Some(s) if session < s => return TickEffect::TooLate,
            Some(s) if session > s => {
                self.minutes.clear();
                self.session = Some(session);
            }
            None => self.session = Some(session),
            _ => {}
        }
        let Some(px) = tick.last else {
            return TickEffect::QuoteOnly;
        };
        let m = minute_of(tick.ts);
        let t = tick.ts;
        let e = self.minutes.entry(m).or_insert(Minute {
            open: (t, px),
            close: (t, px),
            high: px,
            low: px,
            cum_volume: None,
            oi: None,
        });
        if t < e.open.0 {
            e.open = (t, px);
        }
        if t > e.close.0 {
            e.close = (t, px);
        }
        e.high = e.high.max(px);
        e.low = e.low.min(px);
        if let Some(v) = tick.volume {
            e.cum_volume = Some(e.cum_volume.map_or(v, |c| c.max(v)));
        }
        if let Some(oi) = tick.oi
            && e.oi.is_none_or(|(ot, _)| t >= ot)
        {
            e.oi = Some((t, oi));
        }
        TickEffect::Applied(m)
    }

    /// The bar starting at `minute`, if it has trades.
    #[must_use]
    pub fn bar(&self, minute: DateTime<Utc>) -> Option<Bar> {
        let m = self.minutes.get(&minute)?;
        let prev = self
            .minutes
            .range(..minute)
            .rev()
            .find_map(|(_, p)| p.cum_volume)
            .unwrap_or(0.0);
        let volume = m.cum_volume.map_or(0.0, |v| (v - prev).max(0.0));
        Some(Bar {
            start: minute,
            open: m.open.1,
            high: m.high,
            low: m.low,
            close: m.close.1,
            volume,
            vwap: None,
            oi: m.oi.map(|(_, v)| v),
            minutes: 1,
        })
    }

    /// The bars a change at `minute` can affect: that minute's and the next one with trades.
    #[must_use]
    pub fn affected(&self, minute: DateTime<Utc>) -> Vec<Bar> {
        let next = self
            .minutes
            .range(minute + Duration::minutes(1)..)
            .next()
            .map(|(k, _)| *k);
        [Some(minute), next]
            .into_iter()
            .flatten()
            .filter_map(|m| self.bar(m))
            .collect()
    }

    /// Every bar of the session, ascending.
    #[must_use]
    pub fn bars(&self) -> Vec<Bar> {
        self.minutes.keys().filter_map(|m| self.bar(*m)).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_resumed_builder_extends_stored_bars_and_keeps_volumes_right() {
        let day = NaiveDate::from_ymd_opt(2026, 2, 2).unwrap_or_default();
        let m0 = DateTime::parse_from_rfc3339("2026-02-02T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let tick = |secs: i64, last: f64, volume: f64| Tick {
            key: crate::instrument::InstrumentKey::parse("NSE:NIFTY").unwrap(),
            ts: m0 + Duration::seconds(secs),
            last: Some(last),
            bid: None,
            ask: None,
            volume: Some(volume),
            oi: None,
        };
        let mut whole = MinuteBarBuilder::default();
        for t in [
            tick(1, 100.0, 10.0),
            tick(20, 103.0, 30.0),
            tick(61, 101.0, 35.0),
            tick(70, 99.0, 50.0),
        ] {
            whole.apply(&t, day);
        }
        // The process stopped after the first three ticks; the stored bars are what it had written.
        let mut first = MinuteBarBuilder::default();
        for t in [tick(1, 100.0, 10.0), tick(20, 103.0, 30.0), tick(61, 101.0, 35.0)] {
            first.apply(&t, day);
        }
        let mut resumed = MinuteBarBuilder::resume(day, &first.bars());
        resumed.apply(&tick(70, 99.0, 50.0), day);
        assert_eq!(resumed.bars(), whole.bars());
        assert!(!resumed.is_fresh() && MinuteBarBuilder::default().is_fresh());
    }

    use super::*;
    use crate::instrument::InstrumentKey;

    fn tick(sec: i64, px: f64, cum: f64) -> Tick {
        Tick {
            key: InstrumentKey::parse("NSE:X").unwrap(),
            ts: DateTime::parse_from_rfc3339("2026-02-02T04:00:00Z")
                .unwrap()
                .with_timezone(&Utc)
                + Duration::seconds(sec),
            last: Some(px),
            bid: None,
            ask: None,
            volume: Some(cum),
            oi: Some(sec as f64),
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 2, 2).unwrap()
    }

    #[test]
    fn ticks_in_any_order_and_repeated_give_the_same_bars() {
        let ticks = [
            tick(1, 100.0, 10.0),
            tick(20, 103.0, 15.0),
            tick(50, 99.0, 30.0),
            tick(65, 101.0, 42.0),
            tick(70, 102.0, 40.0),
        ];
        let mut a = MinuteBarBuilder::default();
        for t in &ticks {
            a.apply(t, day());
        }
        let mut b = MinuteBarBuilder::default();
        for t in ticks.iter().rev().chain(ticks.iter()) {
            b.apply(t, day());
        }
        assert_eq!(a.bars(), b.bars());
        let bars = a.bars();
        assert_eq!(
            (bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume),
            (100.0, 103.0, 99.0, 99.0, 30.0)
        );
        assert_eq!(
            (bars[1].open, bars[1].close, bars[1].volume, bars[1].oi),
            (101.0, 102.0, 12.0, Some(70.0))
        );
    }

    #[test]
    fn a_late_tick_changes_its_minute_and_the_next_ones_volume() {
        let mut b = MinuteBarBuilder::default();
        b.apply(&tick(10, 100.0, 10.0), day());
        b.apply(&tick(70, 101.0, 25.0), day());
        let late = tick(40, 98.0, 18.0);
        let TickEffect::Applied(m) = b.apply(&late, day()) else {
            panic!()
        };
        let affected = b.affected(m);
        assert_eq!(affected.len(), 2);
        assert_eq!((affected[0].low, affected[0].volume), (98.0, 18.0));
        assert_eq!(affected[1].volume, 7.0);
        let yesterday = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        assert_eq!(b.apply(&late, yesterday), TickEffect::TooLate);
    }
}
