//! Aggregating 1-minute (or already aggregated) bars into a timeframe's buckets.
//!
//! Open is the first bar's open, high the max, low the min, close the last close, volume the sum,
//! VWAP `Σ(p·v)/Σv` with `p` the bar's own VWAP when it carries one, else its typical price
//! `(h+l+c)/3`; OI is the last known. `n_bars` counts 1-minute bars, `expected_bars` the session
//! minutes the bucket spans, `gaps = expected_bars − n_bars`, and `partial` marks a bucket cut
//! short by the session close. Bars outside the session are dropped; no bucket is made without data.
//!
//! [`Aggregator`] is the streaming form (one bar in, a finished bucket out when the next bucket
//! starts, and a peek at the forming one); [`aggregate`] is the batch form, built on it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Bucket, Bucketer, Timeframe};
use crate::instrument::Market;

/// One input bar, starting at `start` (bar-start labelling).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Bar start, UTC.
    pub start: DateTime<Utc>,
    /// First price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
    /// Traded quantity, units.
    pub volume: f64,
    /// The bar's own VWAP when the source provides one.
    pub vwap: Option<f64>,
    /// Open interest at the bar's end, units.
    pub oi: Option<f64>,
    /// How many 1-minute bars this bar stands for (1 for a 1-minute bar).
    pub minutes: u32,
}

impl Bar {
    /// A 1-minute bar without VWAP or OI.
    #[must_use]
    pub fn ohlcv(start: DateTime<Utc>, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Self {
        Self {
            start,
            open,
            high,
            low,
            close,
            volume,
            vwap: None,
            oi: None,
            minutes: 1,
        }
    }

    /// `(high + low + close) / 3`.
    #[must_use]
    pub fn typical_price(&self) -> f64 {
        (self.high + self.low + self.close) / 3.0
    }
}

/// One bucket's aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AggregatedBar {
    /// Bucket start, UTC.
    pub start: DateTime<Utc>,
    /// Bucket end (exclusive), UTC.
    pub end: DateTime<Utc>,
    /// First open.
    pub open: f64,
    /// Highest high.
    pub high: f64,
    /// Lowest low.
    pub low: f64,
    /// Last close.
    pub close: f64,
    /// Summed volume, units.
    pub volume: f64,
    /// Volume-weighted average price; `None` when the bucket traded no volume.
    pub vwap: Option<f64>,
    /// Last known open interest, units.
    pub oi: Option<f64>,
    /// 1-minute bars seen.
    pub n_bars: u32,
    /// 1-minute bars a complete bucket holds (session minutes spanned).
    pub expected_bars: u32,
    /// Cut short by the session close.
    pub partial: bool,
    /// Missing 1-minute bars: `expected_bars − n_bars`.
    pub gaps: u32,
}

impl AggregatedBar {
    /// This aggregate as an input bar, for aggregating further.
    #[must_use]
    pub fn to_bar(&self) -> Bar {
        Bar {
            start: self.start,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
            vwap: self.vwap,
            oi: self.oi,
            minutes: self.n_bars,
        }
    }
}

/// Why bars cannot be aggregated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AggregateError {
    /// Bars must come in strictly increasing start order.
    #[error("bar {index} starts at {start}, not after the previous bar")]
    OutOfOrder {
        /// 0-based index of the bar.
        index: usize,
        /// Its start.
        start: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Acc {
    bucket: Bucket,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    pv: f64,
    oi: Option<f64>,
    n: u32,
}

impl Acc {
    fn new(bucket: Bucket, b: &Bar) -> Self {
        let mut a = Self {
            bucket,
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: 0.0,
            pv: 0.0,
            oi: None,
            n: 0,
        };
        a.add(b);
        a
    }

    fn add(&mut self, b: &Bar) {
        self.high = self.high.max(b.high);
        self.low = self.low.min(b.low);
        self.close = b.close;
        self.volume += b.volume;
        self.pv += b.vwap.unwrap_or_else(|| b.typical_price()) * b.volume;
        self.oi = b.oi.or(self.oi);
        self.n += b.minutes;
    }

    fn finish(&self) -> AggregatedBar {
        let expected = self.bucket.expected_minutes;
        AggregatedBar {
            start: self.bucket.start,
            end: self.bucket.end,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
            vwap: (self.volume > 0.0).then(|| self.pv / self.volume),
            oi: self.oi,
            n_bars: self.n,
            expected_bars: expected,
            partial: self.bucket.partial,
            gaps: expected.saturating_sub(self.n),
        }
    }
}

/// Streaming aggregator: push bars in time order, receive each bucket when the next one starts.
#[derive(Debug, Clone)]
pub struct Aggregator {
    bucketer: Bucketer,
    acc: Option<Acc>,
    last_start: Option<DateTime<Utc>>,
    pushed: usize,
}

impl Aggregator {
    /// An aggregator for `timeframe` on `market`.
    #[must_use]
    pub fn new(market: Market, timeframe: Timeframe) -> Self {
        Self {
            bucketer: Bucketer::new(market, timeframe),
            acc: None,
            last_start: None,
            pushed: 0,
        }
    }

    /// Adds a bar. Returns the previous bucket's aggregate when `bar` opens a new bucket.
    /// Bars outside the session are counted and dropped.
    ///
    /// # Errors
    /// [`AggregateError::OutOfOrder`] when `bar` does not start after the previous bar; the
    /// aggregator is unchanged.
    pub fn push(&mut self, bar: &Bar) -> Result<Option<AggregatedBar>, AggregateError> {
        let index = self.pushed;
        if self.last_start.is_some_and(|s| bar.start <= s) {
            return Err(AggregateError::OutOfOrder {
                index,
                start: bar.start,
            });
        }
        self.pushed += 1;
        self.last_start = Some(bar.start);
        if let Some(acc) = self.acc.as_mut().filter(|a| a.bucket.contains(bar.start)) {
            acc.add(bar);
            return Ok(None);
        }
        let Some(bucket) = self.bucketer.bucket_of(bar.start) else {
            return Ok(None);
        };
        let done = self.acc.replace(Acc::new(bucket, bar)).map(|a| a.finish());
        Ok(done)
    }

    /// The forming bucket's aggregate so far, without closing it.
    #[must_use]
    pub fn peek(&self) -> Option<AggregatedBar> {
        self.acc.map(|a| a.finish())
    }

    /// Closes and returns the forming bucket.
    pub fn finish(&mut self) -> Option<AggregatedBar> {
        self.acc.take().map(|a| a.finish())
    }
}

/// Aggregates bars (in strictly increasing start order) into `timeframe` buckets on `market`.
///
/// # Errors
/// [`AggregateError::OutOfOrder`] naming the first bar out of order.
pub fn aggregate(bars: &[Bar], timeframe: Timeframe, market: &Market) -> Result<Vec<AggregatedBar>, AggregateError> {
    let mut agg = Aggregator::new(market.clone(), timeframe);
    let mut out = Vec::with_capacity(bars.len() / timeframe.intraday_minutes().unwrap_or(375).max(1) as usize + 1);
    for b in bars {
        out.extend(agg.push(b)?);
    }
    out.extend(agg.finish());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(s: &str, c: f64, v: f64) -> Bar {
        let t = DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        Bar::ohlcv(t, c, c + 1.0, c - 1.0, c, v)
    }

    #[test]
    fn buckets_count_gaps_and_drop_off_session_bars() {
        let bars = [
            bar("2019-07-09T09:15:00+05:30", 10.0, 1.0),
            bar("2019-07-09T09:17:00+05:30", 12.0, 3.0),
            bar("2019-07-09T15:40:00+05:30", 99.0, 5.0),
        ];
        let out = aggregate(&bars, "5m".parse().unwrap(), &Market::nse()).unwrap();
        assert_eq!(out.len(), 1);
        let a = out[0];
        assert_eq!((a.open, a.high, a.low, a.close, a.volume), (10.0, 13.0, 9.0, 12.0, 4.0));
        assert_eq!((a.n_bars, a.expected_bars, a.gaps, a.partial), (2, 5, 3, false));
        assert_eq!(a.vwap, Some((10.0 + 36.0) / 4.0));
    }

    #[test]
    fn out_of_order_bars_are_rejected_by_index() {
        let bars = [
            bar("2019-07-09T09:17:00+05:30", 1.0, 1.0),
            bar("2019-07-09T09:16:00+05:30", 1.0, 1.0),
        ];
        let err = aggregate(&bars, "5m".parse().unwrap(), &Market::nse()).unwrap_err();
        assert!(matches!(err, AggregateError::OutOfOrder { index: 1, .. }));
    }
}
