//! Session VWAP: cumulative `Σ(typical·volume)/Σvolume`, reset at each session's first bar.
//!
//! A session is the exchange-local date of the bar's start; the typical price is `(h+l+c)/3`.

use chrono::{DateTime, NaiveTime, Utc};

use crate::candles::Bar;
use crate::instrument::Market;

/// Streaming session VWAP.
#[derive(Debug, Clone)]
pub struct SessionVwap {
    market: Market,
    day: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pv: f64,
    volume: f64,
}

impl SessionVwap {
    /// A fresh VWAP for `market`'s sessions.
    #[must_use]
    pub fn new(market: Market) -> Self {
        Self {
            market,
            day: None,
            pv: 0.0,
            volume: 0.0,
        }
    }

    fn same_day(&self, t: DateTime<Utc>) -> bool {
        self.day.is_some_and(|(a, b)| t >= a && t < b)
    }

    fn day_of(&self, t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let date = self.market.local_date(t);
        let midnight = NaiveTime::MIN;
        let next = date.succ_opt().unwrap_or(date);
        (self.market.to_utc(date, midnight), self.market.to_utc(next, midnight))
    }

    fn value(pv: f64, v: f64) -> Option<f64> {
        (v > 0.0).then(|| pv / v)
    }

    /// Commits a closed bar and returns the VWAP through it (`None` while the session has no volume).
    pub fn update(&mut self, b: &Bar) -> Option<f64> {
        if !self.same_day(b.start) {
            self.day = Some(self.day_of(b.start));
            self.pv = 0.0;
            self.volume = 0.0;
        }
        self.pv += b.typical_price() * b.volume;
        self.volume += b.volume;
        Self::value(self.pv, self.volume)
    }

    /// The VWAP a forming bar would give, without committing it.
    #[must_use]
    pub fn peek(&self, b: &Bar) -> Option<f64> {
        let (pv, v) = if self.same_day(b.start) {
            (self.pv, self.volume)
        } else {
            (0.0, 0.0)
        };
        Self::value(pv + b.typical_price() * b.volume, v + b.volume)
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::SessionVwap;
    use crate::candles::Bar;
    use crate::instrument::Market;

    fn bar(at: &str, c: f64, volume: f64) -> Bar {
        let t = DateTime::parse_from_rfc3339(at).unwrap().to_utc();
        Bar::ohlcv(t, c, c, c, c, volume)
    }

    #[test]
    fn a_session_is_the_local_day_reset_exactly_at_local_midnight() {
        let mut v = SessionVwap::new(Market::nse());
        assert_eq!(v.update(&bar("2024-07-01T10:00:00+05:30", 100.0, 1.0)), Some(100.0));
        assert_eq!(v.update(&bar("2024-07-01T23:59:00+05:30", 200.0, 1.0)), Some(150.0));
        // 00:00 local is the next day's first instant: a new session.
        let next = bar("2024-07-02T00:00:00+05:30", 400.0, 2.0);
        assert_eq!(v.peek(&next), Some(400.0));
        assert_eq!(v.update(&next), Some(400.0));
    }

    #[test]
    fn no_volume_yet_is_no_value_not_a_nan() {
        let mut v = SessionVwap::new(Market::nse());
        let quiet = bar("2024-07-01T09:15:00+05:30", 100.0, 0.0);
        assert_eq!(v.peek(&quiet), None);
        assert_eq!(v.update(&quiet), None);
        assert_eq!(v.update(&bar("2024-07-01T09:16:00+05:30", 102.0, 2.0)), Some(102.0));
    }
}
