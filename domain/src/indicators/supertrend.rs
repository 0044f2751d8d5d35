//! SuperTrend on TA-Lib's ATR (Wilder smoothing).
//!
//! Bands around the median price `hl2 = (h+l)/2`: `hl2 ± multiplier·ATR`. The final upper band
//! only falls (and the lower only rises) unless the previous close broke through it. The trend
//! flips up when a close rises above the final upper band and down when it falls below the final
//! lower band; the line is the lower band in an uptrend and the upper band in a downtrend.
//! At the first bar with an ATR the trend is up when the close is at or above `hl2`.

use ta_lib::{AtrStream, Core, RetCode};

use crate::candles::Bar;

/// Streaming SuperTrend state.
#[derive(Debug, Clone)]
pub struct SuperTrend {
    atr: AtrStream,
    multiplier: f64,
    state: Bands,
}

#[derive(Debug, Clone, Copy)]
struct Bands {
    upper: f64,
    lower: f64,
    close: f64,
    up: bool,
}

impl Bands {
    fn first(b: &Bar, atr: f64, m: f64) -> Self {
        let hl2 = (b.high + b.low) / 2.0;
        Self {
            upper: hl2 + m * atr,
            lower: hl2 - m * atr,
            close: b.close,
            up: b.close >= hl2,
        }
    }

    fn next(self, b: &Bar, atr: f64, m: f64) -> Self {
        let hl2 = (b.high + b.low) / 2.0;
        let (bu, bl) = (hl2 + m * atr, hl2 - m * atr);
        let upper = if bu < self.upper || self.close > self.upper {
            bu
        } else {
            self.upper
        };
        let lower = if bl > self.lower || self.close < self.lower {
            bl
        } else {
            self.lower
        };
        let up = if self.up { b.close >= lower } else { b.close > upper };
        Self {
            upper,
            lower,
            close: b.close,
            up,
        }
    }

    fn output(self) -> [f64; 2] {
        if self.up { [self.lower, 1.0] } else { [self.upper, -1.0] }
    }
}

impl SuperTrend {
    /// Bars of history needed before the first value: the ATR's lookback + 1.
    ///
    /// # Errors
    /// [`RetCode::BadParam`] for an invalid period.
    pub fn history_needed(period: i32) -> Result<usize, RetCode> {
        Ok(Core::new().atr_lookback(period)? + 1)
    }

    /// Opens on exactly [`Self::history_needed`] bars or more; returns the state and the line
    /// and direction at the last history bar.
    ///
    /// # Errors
    /// [`RetCode`] from the ATR (too little history, bad period, non-finite input).
    pub fn open(history: &[Bar], period: i32, multiplier: f64) -> Result<(Self, [f64; 2]), RetCode> {
        let need = Self::history_needed(period)?;
        let (head, tail) = history.split_at(need.min(history.len()));
        let col = |f: fn(&Bar) -> f64| head.iter().map(f).collect::<Vec<f64>>();
        let (atr, first) = Core::new().atr_open(&col(|b| b.high), &col(|b| b.low), &col(|b| b.close), period)?;
        let last = head.last().ok_or(RetCode::OutOfRangeStartIndex)?;
        let mut st = Self {
            atr,
            multiplier,
            state: Bands::first(last, first, multiplier),
        };
        let mut out = st.state.output();
        for b in tail {
            out = st.update(b)?;
        }
        Ok((st, out))
    }

    /// Commits a closed bar.
    ///
    /// # Errors
    /// [`RetCode::BadParam`] for a non-finite bar (state unchanged).
    pub fn update(&mut self, b: &Bar) -> Result<[f64; 2], RetCode> {
        let atr = self.atr.update(b.high, b.low, b.close)?;
        self.state = self.state.next(b, atr, self.multiplier);
        Ok(self.state.output())
    }

    /// The value a forming bar would give, without committing it.
    ///
    /// # Errors
    /// [`RetCode::BadParam`] for a non-finite bar.
    pub fn peek(&self, b: &Bar) -> Result<[f64; 2], RetCode> {
        let atr = self.atr.peek(b.high, b.low, b.close)?;
        Ok(self.state.next(b, atr, self.multiplier).output())
    }
}
