//! Indicator reads: an indicator on any timeframe of one instrument, over history (pages) or as
//! it stands now (the last closed bar and a peek at the bar still forming).
//!
//! Warm-up: every computation starts [`WARM_UP_EXTRA_BARS`] bars (plus the indicator's own
//! warm-up) before the first bar asked for, read from the stored bars on the same timeframe.
//! Recursive indicators (EMA, RSI, ATR, ADX…) depend on where they start; with that much
//! history their values agree with a computation from the first stored bar to well within
//! display precision. A bar before enough history exists has no value (`null`).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::candles::{AggregatedBar, Timeframe};
use domain::indicators::{Indicator, IndicatorSpec};
use domain::instrument::{InstrumentKey, Market};
use domain::ports::{Clock, PortError, TimeRange};

use crate::history::{HistoryError, HistoryReads, Page, PageRequest, page_range, paginate};
use crate::realtime::STALE_AFTER_SECS;

/// Bars of history read before the first bar asked for, beyond the indicator's own warm-up.
pub const WARM_UP_EXTRA_BARS: usize = 200;

/// The longest look-back, days (bounds the read for very long periods on coarse timeframes).
const MAX_LOOKBACK_DAYS: i64 = 1_100;

/// An indicator's outputs at one bar.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorPoint {
    /// Bar (bucket) start, UTC.
    pub start: DateTime<Utc>,
    /// Bar end (exclusive), UTC.
    pub end: DateTime<Utc>,
    /// One value per output of the indicator (see [`IndicatorSpec::column_names`]); `None`
    /// during warm-up.
    pub values: Vec<Option<f64>>,
}

/// An indicator now.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorNow {
    /// At the last closed bar.
    pub closed: Option<IndicatorPoint>,
    /// What the bar still forming would give if it closed now (`None` between sessions).
    pub forming: Option<IndicatorPoint>,
    /// True when the newest bar is more than [`STALE_AFTER_SECS`] behind the clock.
    pub stale: bool,
}

/// The indicator read use cases.
pub struct IndicatorReads {
    history: Arc<HistoryReads>,
    clock: Arc<dyn Clock>,
}

fn bad(field: &'static str, e: impl std::fmt::Display) -> HistoryError {
    HistoryError::BadParam {
        field,
        message: e.to_string(),
    }
}

/// Calendar days that hold `bars` bars of `timeframe` (sessions of at most a day, five trading
/// days a week, a margin for holidays).
pub(crate) fn lookback(bars: usize, timeframe: Timeframe, market: &Market) -> Duration {
    let per_day = timeframe
        .intraday_minutes()
        .map_or(1.0, |m| (session_minutes(market) / f64::from(m)).ceil().max(1.0));
    let span_days = match timeframe.calendar_days() {
        Some(d) => bars as f64 * f64::from(d),
        None => bars as f64 / per_day,
    };
    #[allow(clippy::cast_possible_truncation)]
    let days = (span_days * 7.0 / 5.0).ceil() as i64 + 10;
    Duration::days(days.min(MAX_LOOKBACK_DAYS))
}

/// Minutes of the market's regular session.
fn session_minutes(market: &Market) -> f64 {
    let h = market.regular_hours();
    #[allow(clippy::cast_precision_loss)]
    let m = (h.close - h.open).num_minutes() as f64;
    m.max(1.0)
}

fn point(bar: &AggregatedBar, outputs: usize, v: Option<domain::indicators::Values>) -> IndicatorPoint {
    IndicatorPoint {
        start: bar.start,
        end: bar.end,
        values: (0..outputs)
            .map(|i| v.map(|v| v[i]).filter(|x| x.is_finite()))
            .collect(),
    }
}

impl IndicatorReads {
    /// Reads bars through `history`; `clock` tells which bar is still forming.
    #[must_use]
    pub fn new(history: Arc<HistoryReads>, clock: Arc<dyn Clock>) -> Self {
        Self { history, clock }
    }

    /// The bars of `key` from enough history before `from` up to `to`, and a fresh indicator.
    async fn prepare(
        &self,
        key: &InstrumentKey,
        spec: &IndicatorSpec,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<(Vec<AggregatedBar>, Indicator), HistoryError> {
        let market = self.history.market(key)?;
        let indicator = Indicator::new(spec.clone(), &market).map_err(|e| bad("indicator", e))?;
        let from = range.from - lookback(indicator.warm_up_bars() + WARM_UP_EXTRA_BARS, timeframe, &market);
        let bars = self
            .history
            .bars(key, &market, timeframe, TimeRange { from, to: range.to })
            .await?;
        Ok((bars, indicator))
    }

    /// The indicator at every bar of the request's range, one page.
    ///
    /// # Errors
    /// [`HistoryError`]: a bad parameter, an unknown market, or the store's failure.
    pub async fn history(
        &self,
        key: &InstrumentKey,
        spec: &IndicatorSpec,
        req: &PageRequest,
    ) -> Result<Page<IndicatorPoint>, HistoryError> {
        let range = page_range(req)?;
        // Warm up before the request's own start (not this page's), so that every page of a
        // request gives the values one big page would.
        let whole = TimeRange {
            from: req.range.from,
            to: range.to,
        };
        let (bars, mut indicator) = self.prepare(key, spec, req.timeframe, whole).await?;
        let outputs = spec.column_names().len();
        let now = self.clock.now();
        let mut out = Vec::new();
        for bar in bars.iter().filter(|b| b.end <= now) {
            let v = indicator
                .update(&bar.to_bar())
                .map_err(|e| HistoryError::Store(PortError::Invalid(format!("stored bar of {key}: {e}"))))?;
            if bar.start >= range.from {
                out.push(point(bar, outputs, v));
            }
        }
        Ok(paginate(out, req, |p| p.start))
    }

    /// The indicator at the last closed bar of `timeframe`, and a peek at the forming one.
    ///
    /// # Errors
    /// [`HistoryError`]: an unknown market, or the store's failure.
    pub async fn now(
        &self,
        key: &InstrumentKey,
        spec: &IndicatorSpec,
        timeframe: Timeframe,
    ) -> Result<IndicatorNow, HistoryError> {
        let now = self.clock.now();
        let range = TimeRange {
            from: now,
            to: now + Duration::minutes(1),
        };
        let (bars, mut indicator) = self.prepare(key, spec, timeframe, range).await?;
        let outputs = spec.column_names().len();
        let invalid = |e| HistoryError::Store(PortError::Invalid(format!("stored bar of {key}: {e}")));
        let mut closed = None;
        let mut forming = None;
        for bar in &bars {
            if bar.end <= now {
                closed = Some(point(bar, outputs, indicator.update(&bar.to_bar()).map_err(invalid)?));
            } else {
                forming = Some(point(bar, outputs, indicator.peek(&bar.to_bar()).map_err(invalid)?));
            }
        }
        let newest = bars.last().map(|b| b.end.min(now));
        Ok(IndicatorNow {
            closed,
            forming,
            stale: newest.is_none_or(|t| now - t > Duration::seconds(STALE_AFTER_SECS)),
        })
    }
}
