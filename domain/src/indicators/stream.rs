//! Running one indicator over a bar stream.
//!
//! Until an indicator has `lookback + 1` bars it buffers them and yields nothing (TA-Lib's
//! warm-up: the same empty rows as the batch functions). On the bar that completes the warm-up it
//! opens a TA-Lib stream on the buffer (one O(lookback) pass, bit-identical to the batch value at
//! that bar) and drops the buffer; from then on every bar is one O(1) `update`.

use ta_lib::{
    AdxStream, AtrStream, BbandsStream, CciStream, Core, DemaStream, EmaStream, MAType, MacdStream, MfiStream,
    ObvStream, RetCode, RocStream, RsiStream, SarStream, SmaStream, StochStream, TemaStream, WillrStream, WmaStream,
};

use super::supertrend::SuperTrend;
use super::vwap::SessionVwap;
use super::{IndicatorKind, IndicatorSpec};
use crate::candles::Bar;
use crate::instrument::Market;

/// One bar's outputs, in [`IndicatorKind::outputs`] order; unused slots are NaN.
pub type Values = [f64; 3];

/// Why a bar could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorError {
    /// A price or volume is NaN or infinite; the indicator is unchanged.
    #[error("bar has a non-finite price or volume")]
    NonFinite,
    /// The underlying library refused (parameters out of its range, index space exhausted).
    #[error("indicator library error: {0:?}")]
    Library(RetCode),
}

impl From<RetCode> for IndicatorError {
    fn from(c: RetCode) -> Self {
        if c == RetCode::BadParam {
            Self::NonFinite
        } else {
            Self::Library(c)
        }
    }
}

#[derive(Debug, Clone)]
// Boxed once inside `State`, so the size spread between variants costs nothing per bar.
#[allow(clippy::large_enum_variant)]
enum Live {
    Sma(SmaStream),
    Ema(EmaStream),
    Wma(WmaStream),
    Dema(DemaStream),
    Tema(TemaStream),
    Rsi(RsiStream),
    Roc(RocStream),
    Macd(MacdStream),
    Bbands(BbandsStream),
    Atr(AtrStream),
    Adx(AdxStream),
    Cci(CciStream),
    Willr(WillrStream),
    Stoch(StochStream),
    Sar(SarStream),
    Obv(ObvStream),
    Mfi(MfiStream),
    Supertrend(SuperTrend),
}

fn one(v: f64) -> Values {
    [v, f64::NAN, f64::NAN]
}
fn two((a, b): (f64, f64)) -> Values {
    [a, b, f64::NAN]
}
fn three((a, b, c): (f64, f64, f64)) -> Values {
    [a, b, c]
}

/// Generates `update` and `peek` over the same per-kind argument lists.
macro_rules! step {
    ($self:ident, $b:ident, $m:ident) => {
        match $self {
            Live::Sma(s) => s.$m($b.close).map(one),
            Live::Ema(s) => s.$m($b.close).map(one),
            Live::Wma(s) => s.$m($b.close).map(one),
            Live::Dema(s) => s.$m($b.close).map(one),
            Live::Tema(s) => s.$m($b.close).map(one),
            Live::Rsi(s) => s.$m($b.close).map(one),
            Live::Roc(s) => s.$m($b.close).map(one),
            Live::Macd(s) => s.$m($b.close).map(three),
            Live::Bbands(s) => s.$m($b.close).map(three),
            Live::Atr(s) => s.$m($b.high, $b.low, $b.close).map(one),
            Live::Adx(s) => s.$m($b.high, $b.low, $b.close).map(one),
            Live::Cci(s) => s.$m($b.high, $b.low, $b.close).map(one),
            Live::Willr(s) => s.$m($b.high, $b.low, $b.close).map(one),
            Live::Stoch(s) => s.$m($b.high, $b.low, $b.close).map(two),
            Live::Sar(s) => s.$m($b.high, $b.low).map(one),
            Live::Obv(s) => s.$m($b.close, $b.volume).map(one),
            Live::Mfi(s) => s.$m($b.high, $b.low, $b.close, $b.volume).map(one),
            Live::Supertrend(s) => s.$m($b).map(|[a, d]| [a, d, f64::NAN]),
        }
    };
}

impl Live {
    fn update(&mut self, b: &Bar) -> Result<Values, RetCode> {
        step!(self, b, update)
    }

    fn peek(&self, b: &Bar) -> Result<Values, RetCode> {
        step!(self, b, peek)
    }

    #[allow(clippy::too_many_lines)]
    fn open(spec: &IndicatorSpec, h: &[Bar]) -> Result<(Self, Values), RetCode> {
        let c = Core::new();
        let col = |f: fn(&Bar) -> f64| h.iter().map(f).collect::<Vec<f64>>();
        let (close, high, low, vol) = (col(|b| b.close), col(|b| b.high), col(|b| b.low), col(|b| b.volume));
        let p = spec.params();
        let n = spec.period(0);
        Ok(match spec.kind() {
            IndicatorKind::Sma => c.sma_open(&close, n).map(|(s, v)| (Self::Sma(s), one(v)))?,
            IndicatorKind::Ema => c.ema_open(&close, n).map(|(s, v)| (Self::Ema(s), one(v)))?,
            IndicatorKind::Wma => c.wma_open(&close, n).map(|(s, v)| (Self::Wma(s), one(v)))?,
            IndicatorKind::Dema => c.dema_open(&close, n).map(|(s, v)| (Self::Dema(s), one(v)))?,
            IndicatorKind::Tema => c.tema_open(&close, n).map(|(s, v)| (Self::Tema(s), one(v)))?,
            IndicatorKind::Rsi => c.rsi_open(&close, n).map(|(s, v)| (Self::Rsi(s), one(v)))?,
            IndicatorKind::Roc => c.roc_open(&close, n).map(|(s, v)| (Self::Roc(s), one(v)))?,
            IndicatorKind::Macd => c
                .macd_open(&close, n, spec.period(1), spec.period(2))
                .map(|(s, v)| (Self::Macd(s), three(v)))?,
            IndicatorKind::Bbands => c
                .bbands_open(&close, n, p[1], p[2], MAType::SMA)
                .map(|(s, v)| (Self::Bbands(s), three(v)))?,
            IndicatorKind::Atr => c
                .atr_open(&high, &low, &close, n)
                .map(|(s, v)| (Self::Atr(s), one(v)))?,
            IndicatorKind::Adx => c
                .adx_open(&high, &low, &close, n)
                .map(|(s, v)| (Self::Adx(s), one(v)))?,
            IndicatorKind::Cci => c
                .cci_open(&high, &low, &close, n)
                .map(|(s, v)| (Self::Cci(s), one(v)))?,
            IndicatorKind::Willr => c
                .willr_open(&high, &low, &close, n)
                .map(|(s, v)| (Self::Willr(s), one(v)))?,
            IndicatorKind::Stoch => c
                .stoch_open(
                    &high,
                    &low,
                    &close,
                    n,
                    spec.period(1),
                    MAType::SMA,
                    spec.period(2),
                    MAType::SMA,
                )
                .map(|(s, v)| (Self::Stoch(s), two(v)))?,
            IndicatorKind::Sar => c
                .sar_open(&high, &low, p[0], p[1])
                .map(|(s, v)| (Self::Sar(s), one(v)))?,
            IndicatorKind::Obv => c.obv_open(&close, &vol).map(|(s, v)| (Self::Obv(s), one(v)))?,
            IndicatorKind::Mfi => c
                .mfi_open(&high, &low, &close, &vol, n)
                .map(|(s, v)| (Self::Mfi(s), one(v)))?,
            IndicatorKind::Supertrend => {
                SuperTrend::open(h, n, p[1]).map(|(s, [a, d])| (Self::Supertrend(s), [a, d, f64::NAN]))?
            }
            IndicatorKind::VwapSession => return Err(RetCode::BadParam),
        })
    }
}

/// Bars of history a kind needs before its first value (`lookback + 1`).
fn history_needed(spec: &IndicatorSpec) -> Result<usize, RetCode> {
    let c = Core::new();
    let p = spec.params();
    let n = spec.period(0);
    let lookback = match spec.kind() {
        IndicatorKind::Sma => c.sma_lookback(n)?,
        IndicatorKind::Ema => c.ema_lookback(n)?,
        IndicatorKind::Wma => c.wma_lookback(n)?,
        IndicatorKind::Dema => c.dema_lookback(n)?,
        IndicatorKind::Tema => c.tema_lookback(n)?,
        IndicatorKind::Rsi => c.rsi_lookback(n)?,
        IndicatorKind::Roc => c.roc_lookback(n)?,
        IndicatorKind::Macd => c.macd_lookback(n, spec.period(1), spec.period(2))?,
        IndicatorKind::Bbands => c.bbands_lookback(n, p[1], p[2], MAType::SMA)?,
        IndicatorKind::Atr | IndicatorKind::Supertrend => c.atr_lookback(n)?,
        IndicatorKind::Adx => c.adx_lookback(n)?,
        IndicatorKind::Cci => c.cci_lookback(n)?,
        IndicatorKind::Willr => c.willr_lookback(n)?,
        IndicatorKind::Stoch => c.stoch_lookback(n, spec.period(1), MAType::SMA, spec.period(2), MAType::SMA)?,
        IndicatorKind::Sar => c.sar_lookback(p[0], p[1])?,
        IndicatorKind::Obv => c.obv_lookback()?,
        IndicatorKind::Mfi => c.mfi_lookback(n)?,
        IndicatorKind::VwapSession => 0,
    };
    Ok(lookback + 1)
}

#[derive(Debug, Clone)]
enum State {
    Warming(Vec<Bar>),
    Live(Box<Live>),
    Vwap(SessionVwap),
}

/// One indicator running over a stream of closed bars.
#[derive(Debug, Clone)]
pub struct Indicator {
    spec: IndicatorSpec,
    need: usize,
    state: State,
}

fn finite(b: &Bar) -> bool {
    [b.open, b.high, b.low, b.close, b.volume].iter().all(|v| v.is_finite())
}

impl Indicator {
    /// A fresh indicator; `market` gives the sessions (used by session VWAP).
    ///
    /// # Errors
    /// [`IndicatorError::Library`] when TA-Lib rejects the parameters.
    pub fn new(spec: IndicatorSpec, market: &Market) -> Result<Self, IndicatorError> {
        let need = history_needed(&spec).map_err(IndicatorError::Library)?;
        let state = if spec.kind() == IndicatorKind::VwapSession {
            State::Vwap(SessionVwap::new(market.clone()))
        } else {
            State::Warming(Vec::with_capacity(need))
        };
        Ok(Self { spec, need, state })
    }

    /// The spec.
    #[must_use]
    pub fn spec(&self) -> &IndicatorSpec {
        &self.spec
    }

    /// Bars needed before the first value.
    #[must_use]
    pub fn warm_up_bars(&self) -> usize {
        self.need
    }

    /// Commits a closed bar; `None` during warm-up.
    ///
    /// # Errors
    /// [`IndicatorError::NonFinite`] for a bar with NaN/∞ (nothing changes).
    pub fn update(&mut self, b: &Bar) -> Result<Option<Values>, IndicatorError> {
        if !finite(b) {
            return Err(IndicatorError::NonFinite);
        }
        match &mut self.state {
            State::Vwap(v) => Ok(v.update(b).map(one)),
            State::Live(l) => Ok(Some(l.update(b)?)),
            State::Warming(buf) => {
                buf.push(*b);
                if buf.len() < self.need {
                    return Ok(None);
                }
                let (live, v) = Live::open(&self.spec, buf)?;
                self.state = State::Live(Box::new(live));
                Ok(Some(v))
            }
        }
    }

    /// The value a still-forming bar would give, without committing it.
    ///
    /// # Errors
    /// [`IndicatorError::NonFinite`] for a bar with NaN/∞.
    pub fn peek(&self, b: &Bar) -> Result<Option<Values>, IndicatorError> {
        if !finite(b) {
            return Err(IndicatorError::NonFinite);
        }
        match &self.state {
            State::Vwap(v) => Ok(v.peek(b).map(one)),
            State::Live(l) => Ok(Some(l.peek(b)?)),
            State::Warming(buf) if buf.len() + 1 < self.need => Ok(None),
            State::Warming(buf) => {
                let mut h = buf.clone();
                h.push(*b);
                Ok(Some(Live::open(&self.spec, &h)?.1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use ta_lib::RetCode;

    use super::{Indicator, IndicatorError};
    use crate::candles::Bar;
    use crate::instrument::Market;

    fn ind(spec: &str) -> Indicator {
        Indicator::new(spec.parse().unwrap(), &Market::nse()).unwrap()
    }

    fn bar(c: f64) -> Bar {
        Bar::ohlcv(
            DateTime::from_timestamp(1_720_000_000, 0).unwrap_or_default(),
            c,
            c + 1.0,
            c - 1.0,
            c,
            10.0,
        )
    }

    #[test]
    fn warm_up_is_the_lookback_plus_one_bar() {
        assert_eq!(ind("sma:20").warm_up_bars(), 20);
        assert_eq!(ind("ema:5").warm_up_bars(), 5);
        assert_eq!(ind("rsi:14").warm_up_bars(), 15);
        assert_eq!(ind("macd:12:26:9").warm_up_bars(), 34);
        assert_eq!(ind("atr:14").warm_up_bars(), 15);
        assert_eq!(ind("supertrend:10:3").warm_up_bars(), 11);
        let mut sma = ind("sma:3");
        let out: Vec<bool> = (0..4)
            .map(|i| sma.update(&bar(f64::from(i))).unwrap().is_some())
            .collect();
        assert_eq!(out, [false, false, true, true]);
    }

    #[test]
    fn a_non_finite_bar_is_refused_and_changes_nothing() {
        let mut sma = ind("sma:2");
        sma.update(&bar(10.0)).unwrap();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut b = bar(11.0);
            b.volume = bad;
            assert_eq!(sma.peek(&b), Err(IndicatorError::NonFinite));
            assert_eq!(sma.update(&b), Err(IndicatorError::NonFinite));
            let mut b = bar(11.0);
            b.open = bad;
            assert_eq!(sma.update(&b), Err(IndicatorError::NonFinite));
        }
        // The refused bars left the warm-up buffer as it was: 10 then 12 average to 11.
        assert_eq!(sma.update(&bar(12.0)).unwrap().map(|v| v[0]), Some(11.0));
    }

    #[test]
    fn the_library_s_bad_parameter_is_a_non_finite_input_other_codes_pass_through() {
        assert_eq!(IndicatorError::from(RetCode::BadParam), IndicatorError::NonFinite);
        assert_eq!(
            IndicatorError::from(RetCode::OutOfRangeStartIndex),
            IndicatorError::Library(RetCode::OutOfRangeStartIndex)
        );
    }
}
