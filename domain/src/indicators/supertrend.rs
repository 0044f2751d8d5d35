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

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration};

    use crate::candles::Bar;
    use crate::indicators::{Indicator, IndicatorSpec};
    use crate::instrument::Market;

    /// Bars from a price path of `(high, low, close)`, one a minute.
    fn bars(path: &[(f64, f64, f64)]) -> Vec<Bar> {
        let t0 = DateTime::from_timestamp(1_720_000_000, 0).unwrap_or_default();
        path.iter()
            .enumerate()
            .map(|(i, &(h, l, c))| Bar::ohlcv(t0 + Duration::minutes(i as i64), c, h, l, c, 1.0))
            .collect()
    }

    /// Rising, falling, rising and falling again, with noise: several trend flips.
    fn trending(seed: u64) -> Vec<Bar> {
        let mut x = seed;
        let mut noise = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 1000) as f64 / 1000.0 - 0.5
        };
        let mut c = 100.0;
        let path: Vec<(f64, f64, f64)> = (0..400)
            .map(|i| {
                let drift = [0.4, -0.5, 0.3, -0.35][(i / 100) % 4];
                c += drift + 2.0 * noise();
                let spread = 0.5 + noise().abs();
                (c + spread, c - spread - noise().abs(), c)
            })
            .collect();
        bars(&path)
    }

    /// SuperTrend written from its textbook definition over a whole series: Wilder's ATR seeded
    /// with the mean of the first `period` true ranges (TA-Lib's), basic bands `hl2 ± m·ATR`,
    /// final bands that only tighten unless the previous close broke through, and the trend.
    fn reference(bars: &[Bar], period: usize, m: f64) -> Vec<Option<(f64, f64)>> {
        let tr: Vec<f64> = (0..bars.len())
            .map(|i| {
                let b = &bars[i];
                if i == 0 {
                    b.high - b.low
                } else {
                    let pc = bars[i - 1].close;
                    (b.high - b.low).max((b.high - pc).abs()).max((b.low - pc).abs())
                }
            })
            .collect();
        let n = period as f64;
        let mut out = vec![None; bars.len()];
        let (mut atr, mut fu, mut fl, mut up) = (0.0, 0.0, 0.0, true);
        for i in period..bars.len() {
            let b = &bars[i];
            atr = if i == period {
                tr[1..=period].iter().sum::<f64>() / n
            } else {
                (atr * (n - 1.0) + tr[i]) / n
            };
            let hl2 = (b.high + b.low) / 2.0;
            let (bu, bl) = (hl2 + m * atr, hl2 - m * atr);
            if i == period {
                (fu, fl, up) = (bu, bl, b.close >= hl2);
            } else {
                let pc = bars[i - 1].close;
                fu = if bu < fu || pc > fu { bu } else { fu };
                fl = if bl > fl || pc < fl { bl } else { fl };
                up = if up { b.close >= fl } else { b.close > fu };
            }
            out[i] = Some(if up { (fl, 1.0) } else { (fu, -1.0) });
        }
        out
    }

    fn run(bars: &[Bar], spec: &str) -> Vec<Option<(f64, f64)>> {
        let mut ind = Indicator::new(spec.parse::<IndicatorSpec>().unwrap(), &Market::nse()).unwrap();
        bars.iter()
            .map(|b| {
                let peeked = ind.peek(b).unwrap();
                let got = ind.update(b).unwrap();
                assert_eq!(
                    format!("{peeked:?}"),
                    format!("{got:?}"),
                    "peek is the update uncommitted"
                );
                got.map(|v| {
                    assert!(v[2].is_nan(), "two outputs");
                    (v[0], v[1])
                })
            })
            .collect()
    }

    #[test]
    fn matches_the_textbook_definition_through_several_trend_flips() {
        for (seed, period, m) in [(7, 10, 3.0), (11, 7, 2.0), (13, 3, 1.5), (17, 1, 0.5)] {
            let bars = trending(seed);
            let want = reference(&bars, period, m);
            let got = run(&bars, &format!("supertrend:{period}:{m}"));
            assert_eq!(
                got.iter().position(Option::is_some),
                Some(period),
                "first value at bar {period}"
            );
            let mut flips = 0;
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                match (g, w) {
                    (None, None) => {}
                    (Some((gl, gd)), Some((wl, wd))) => {
                        assert_eq!(gd, wd, "seed {seed} bar {i}: direction");
                        assert!(
                            (gl - wl).abs() <= 1e-9 * wl.abs(),
                            "seed {seed} bar {i}: line {gl} vs {wl}"
                        );
                        if i > period && got[i - 1].is_some_and(|(_, d)| d != *gd) {
                            flips += 1;
                        }
                    }
                    _ => panic!("seed {seed} bar {i}: {g:?} vs {w:?}"),
                }
            }
            assert!(
                flips >= 3,
                "seed {seed}: the series must flip the trend, flipped {flips} times"
            );
        }
    }

    /// Hand-worked, period 1 and multiplier 1 (ATR = the true range), exact in binary:
    /// a downtrend whose close lands exactly on the final upper band. A close *on* the band does
    /// not break it: the band holds at 12 on the next bar rather than resetting to 13.
    #[test]
    fn a_close_on_the_upper_band_does_not_break_it() {
        let b = bars(&[(10.0, 8.0, 9.0), (11.0, 9.0, 9.5), (12.0, 10.0, 12.0), (11.0, 9.0, 9.5)]);
        // Bar 1: TR 2, hl2 10, bands 12/8, close 9.5 < hl2: down, line 12.
        // Bar 2: TR 2.5, basic upper 13.5 > 12 and the previous close 9.5 under it: upper
        //        stays 12; the close 12 is not above 12: still down.
        // Bar 3: TR 3, basic upper 13 > 12; the previous close 12 is on the band, not above it.
        assert_eq!(
            run(&b, "supertrend:1:1"),
            [None, Some((12.0, -1.0)), Some((12.0, -1.0)), Some((12.0, -1.0))]
        );
        // Above the band flips the trend up onto the lower band.
        let b = bars(&[(10.0, 8.0, 9.0), (11.0, 9.0, 9.5), (12.5, 10.0, 12.25)]);
        // Bar 2: TR 3, hl2 11.25, lower = max(8.25, 8) = 8.25; close 12.25 > 12: up.
        assert_eq!(run(&b, "supertrend:1:1")[2], Some((8.25, 1.0)));
        // The mirror image in an uptrend: a close on the final lower band (8) does not break
        // it, so the band holds at 8 instead of dropping to the basic 7.
        let b = bars(&[(10.0, 8.0, 9.0), (11.0, 9.0, 10.5), (10.0, 8.0, 8.0), (10.0, 8.0, 9.0)]);
        assert_eq!(
            run(&b, "supertrend:1:1"),
            [None, Some((8.0, 1.0)), Some((8.0, 1.0)), Some((8.0, 1.0))]
        );
        // A close exactly on hl2 at the first value starts an uptrend.
        let b = bars(&[(10.0, 8.0, 9.0), (11.0, 9.0, 10.0)]);
        assert_eq!(run(&b, "supertrend:1:1")[1], Some((8.0, 1.0)));
    }
}
