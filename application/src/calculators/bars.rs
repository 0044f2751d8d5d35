//! Row-by-row indicator and aggregation calculators over 1-minute bars.

use domain::candles::{AggregateError, AggregatedBar, Aggregator, Bar, Timeframe};
use domain::indicators::{Indicator, IndicatorError, IndicatorSpec};
use domain::instrument::Market;

/// Why a bar was not accepted by the indicator calculator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndicatorCalculatorError {
    /// The bar does not start after the previous one.
    #[error("bar does not start after the previous bar")]
    OutOfOrder,
    /// The bar has a non-finite value, or the library refused.
    #[error(transparent)]
    Indicator(#[from] IndicatorError),
}

/// Runs several indicators over one bar series, one output row per bar.
#[derive(Debug, Clone)]
pub struct IndicatorCalculator {
    indicators: Vec<Indicator>,
    last: Option<chrono::DateTime<chrono::Utc>>,
}

impl IndicatorCalculator {
    /// Sets up the indicators.
    ///
    /// # Errors
    /// [`IndicatorError`] when the library rejects a spec's parameters.
    pub fn new(specs: Vec<IndicatorSpec>, market: &Market) -> Result<Self, IndicatorError> {
        let indicators = specs
            .into_iter()
            .map(|s| Indicator::new(s, market))
            .collect::<Result<_, _>>()?;
        Ok(Self { indicators, last: None })
    }

    /// Output column names, in order.
    #[must_use]
    pub fn columns(&self) -> Vec<String> {
        self.indicators.iter().flat_map(|i| i.spec().column_names()).collect()
    }

    /// Feeds one closed bar; returns one cell per column (`None` during warm-up).
    ///
    /// # Errors
    /// [`IndicatorCalculatorError`]; no indicator has taken the bar when it is returned.
    pub fn push(&mut self, bar: &Bar) -> Result<Vec<Option<f64>>, IndicatorCalculatorError> {
        if self.last.is_some_and(|t| bar.start <= t) {
            return Err(IndicatorCalculatorError::OutOfOrder);
        }
        if ![bar.open, bar.high, bar.low, bar.close, bar.volume]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(IndicatorError::NonFinite.into());
        }
        self.last = Some(bar.start);
        let mut cells = Vec::new();
        for ind in &mut self.indicators {
            let n = ind.spec().kind().outputs().len();
            match ind.update(bar)? {
                Some(v) => cells.extend(v[..n].iter().map(|x| Some(*x))),
                None => cells.extend(std::iter::repeat_n(None, n)),
            }
        }
        Ok(cells)
    }
}

/// Aggregates a bar series into a timeframe, emitting buckets as they complete.
#[derive(Debug, Clone)]
pub struct AggregateCalculator {
    inner: Aggregator,
}

impl AggregateCalculator {
    /// A calculator for `timeframe` on `market`.
    #[must_use]
    pub fn new(timeframe: Timeframe, market: Market) -> Self {
        Self {
            inner: Aggregator::new(market, timeframe),
        }
    }

    /// Feeds one bar; returns a completed bucket when `bar` starts a new one.
    ///
    /// # Errors
    /// [`AggregateError::OutOfOrder`] when `bar` does not start after the previous bar.
    pub fn push(&mut self, bar: &Bar) -> Result<Option<AggregatedBar>, AggregateError> {
        self.inner.push(bar)
    }

    /// Ends the input and returns the last bucket.
    pub fn finish(&mut self) -> Option<AggregatedBar> {
        self.inner.finish()
    }
}
