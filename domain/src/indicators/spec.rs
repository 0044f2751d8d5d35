//! Indicator specs: which indicator, with which validated parameters, and its output columns.

use std::fmt;
use std::str::FromStr;

/// Largest period accepted (TA-Lib's own bound).
pub const MAX_PERIOD: u32 = 100_000;

/// The indicators the service computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndicatorKind {
    /// Simple moving average of closes: `sma:period` (default 20).
    Sma,
    /// Exponential moving average, seeded with the SMA: `ema:period` (20).
    Ema,
    /// Linearly weighted moving average: `wma:period` (20).
    Wma,
    /// Double EMA: `dema:period` (20).
    Dema,
    /// Triple EMA: `tema:period` (20).
    Tema,
    /// Wilder's relative strength index, 0–100: `rsi:period` (14).
    Rsi,
    /// MACD line, signal and histogram: `macd:fast:slow:signal` (12:26:9).
    Macd,
    /// Bollinger Bands (SMA, population σ): `bbands:period:dev_up:dev_down` (20:2:2).
    Bbands,
    /// Wilder's average true range, price units: `atr:period` (14).
    Atr,
    /// Average directional index, 0–100: `adx:period` (14).
    Adx,
    /// Slow stochastic %K and %D (SMA smoothing), 0–100: `stoch:fastk:slowk:slowd` (14:3:3).
    Stoch,
    /// Commodity channel index: `cci:period` (20).
    Cci,
    /// On-balance volume, volume units: `obv`.
    Obv,
    /// Williams %R, −100–0: `willr:period` (14).
    Willr,
    /// Money flow index, 0–100: `mfi:period` (14).
    Mfi,
    /// Rate of change, percent: `roc:period` (10).
    Roc,
    /// Parabolic SAR, price units: `sar:acceleration:maximum` (0.02:0.2).
    Sar,
    /// SuperTrend line (price units) and direction (+1 up, −1 down): `supertrend:period:multiplier` (10:3).
    Supertrend,
    /// Session VWAP of typical prices, reset at each session's first bar: `vwap_session`.
    VwapSession,
}

impl IndicatorKind {
    /// Every kind, in documentation order.
    pub const ALL: [Self; 19] = [
        Self::Sma,
        Self::Ema,
        Self::Wma,
        Self::Dema,
        Self::Tema,
        Self::Rsi,
        Self::Macd,
        Self::Bbands,
        Self::Atr,
        Self::Adx,
        Self::Stoch,
        Self::Cci,
        Self::Obv,
        Self::Willr,
        Self::Mfi,
        Self::Roc,
        Self::Sar,
        Self::Supertrend,
        Self::VwapSession,
    ];

    /// The lowercase name used in specs and column names.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sma => "sma",
            Self::Ema => "ema",
            Self::Wma => "wma",
            Self::Dema => "dema",
            Self::Tema => "tema",
            Self::Rsi => "rsi",
            Self::Macd => "macd",
            Self::Bbands => "bbands",
            Self::Atr => "atr",
            Self::Adx => "adx",
            Self::Stoch => "stoch",
            Self::Cci => "cci",
            Self::Obv => "obv",
            Self::Willr => "willr",
            Self::Mfi => "mfi",
            Self::Roc => "roc",
            Self::Sar => "sar",
            Self::Supertrend => "supertrend",
            Self::VwapSession => "vwap_session",
        }
    }

    /// Parameter names and defaults, in spec order.
    #[must_use]
    pub fn params(self) -> &'static [(&'static str, f64)] {
        match self {
            Self::Sma | Self::Ema | Self::Wma | Self::Dema | Self::Tema | Self::Cci => &[("period", 20.0)],
            Self::Rsi | Self::Atr | Self::Adx | Self::Willr | Self::Mfi => &[("period", 14.0)],
            Self::Roc => &[("period", 10.0)],
            Self::Macd => &[("fast", 12.0), ("slow", 26.0), ("signal", 9.0)],
            Self::Bbands => &[("period", 20.0), ("dev_up", 2.0), ("dev_down", 2.0)],
            Self::Stoch => &[("fastk", 14.0), ("slowk", 3.0), ("slowd", 3.0)],
            Self::Sar => &[("acceleration", 0.02), ("maximum", 0.2)],
            Self::Supertrend => &[("period", 10.0), ("multiplier", 3.0)],
            Self::Obv | Self::VwapSession => &[],
        }
    }

    /// Output suffixes; empty for single-output indicators.
    #[must_use]
    pub fn outputs(self) -> &'static [&'static str] {
        match self {
            Self::Macd => &["macd", "signal", "hist"],
            Self::Bbands => &["upper", "middle", "lower"],
            Self::Stoch => &["k", "d"],
            Self::Supertrend => &["line", "direction"],
            _ => &[""],
        }
    }
}

impl FromStr for IndicatorKind {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| SpecError::UnknownIndicator(s.to_owned()))
    }
}

/// Why an indicator spec is rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// No such indicator.
    #[error(
        "unknown indicator '{0}'; known: sma, ema, wma, dema, tema, rsi, macd, bbands, atr, adx, stoch, cci, obv, willr, mfi, roc, sar, supertrend, vwap_session"
    )]
    UnknownIndicator(String),
    /// More parameters than the indicator takes.
    #[error("{indicator} takes {expected} parameter(s), got {got}")]
    TooManyParams {
        /// Indicator name.
        indicator: &'static str,
        /// How many it takes.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// A parameter is not a number or out of range.
    #[error("{indicator} {param} = '{value}': {reason}")]
    BadParam {
        /// Indicator name.
        indicator: &'static str,
        /// Parameter name.
        param: &'static str,
        /// The value given.
        value: String,
        /// The rule it breaks.
        reason: String,
    },
}

/// An indicator with validated parameters (in [`IndicatorKind::params`] order).
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorSpec {
    kind: IndicatorKind,
    params: Vec<f64>,
}

impl IndicatorSpec {
    /// Builds and validates a spec; missing trailing parameters take their defaults.
    ///
    /// # Errors
    /// [`SpecError`] naming the parameter and the rule it breaks.
    pub fn new(kind: IndicatorKind, given: &[f64]) -> Result<Self, SpecError> {
        let defs = kind.params();
        if given.len() > defs.len() {
            return Err(SpecError::TooManyParams {
                indicator: kind.name(),
                expected: defs.len(),
                got: given.len(),
            });
        }
        let params: Vec<f64> = defs
            .iter()
            .enumerate()
            .map(|(i, (_, d))| given.get(i).copied().unwrap_or(*d))
            .collect();
        for (&(name, _), &v) in defs.iter().zip(&params) {
            if let Some(reason) = check_param(kind, name, v) {
                return Err(SpecError::BadParam {
                    indicator: kind.name(),
                    param: name,
                    value: fmt_num(v),
                    reason,
                });
            }
        }
        if kind == IndicatorKind::Macd && params[0] >= params[1] {
            return Err(SpecError::BadParam {
                indicator: kind.name(),
                param: "fast",
                value: fmt_num(params[0]),
                reason: format!("must be below slow ({})", fmt_num(params[1])),
            });
        }
        Ok(Self { kind, params })
    }

    /// The indicator.
    #[must_use]
    pub fn kind(&self) -> IndicatorKind {
        self.kind
    }

    /// Parameter values in order.
    #[must_use]
    pub fn params(&self) -> &[f64] {
        &self.params
    }

    /// Parameter `i` as a period (validated integral).
    #[must_use]
    pub fn period(&self, i: usize) -> i32 {
        // Validated to be an integer in 1..=MAX_PERIOD.
        self.params.get(i).map_or(0, |p| *p as i32)
    }

    /// Output column names: `<name>_<params joined by _>` and, for several outputs, `_<output>`.
    #[must_use]
    pub fn column_names(&self) -> Vec<String> {
        let mut base = self.kind.name().to_owned();
        for p in &self.params {
            base.push('_');
            base.push_str(&fmt_num(*p));
        }
        self.kind
            .outputs()
            .iter()
            .map(|o| {
                if o.is_empty() {
                    base.clone()
                } else {
                    format!("{base}_{o}")
                }
            })
            .collect()
    }

    /// Parses a comma-separated list such as `ema:20,rsi:14,macd:12:26:9,vwap_session`.
    ///
    /// # Errors
    /// The first spec's [`SpecError`].
    pub fn parse_list(s: &str) -> Result<Vec<Self>, SpecError> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect()
    }
}

fn fmt_num(v: f64) -> String {
    format!("{v}")
}

fn check_param(kind: IndicatorKind, name: &str, v: f64) -> Option<String> {
    if !v.is_finite() {
        return Some("must be a finite number".into());
    }
    let integral = |lo: f64| -> Option<String> {
        (v.fract() != 0.0 || v < lo || v > f64::from(MAX_PERIOD))
            .then(|| format!("must be a whole number from {lo} to {MAX_PERIOD}"))
    };
    match (kind, name) {
        (IndicatorKind::Roc | IndicatorKind::Stoch, _)
        | (IndicatorKind::Macd, "signal")
        | (IndicatorKind::Supertrend, "period") => integral(1.0),
        (IndicatorKind::Bbands, "dev_up" | "dev_down") => (v.abs() > 3e37).then(|| "must be within ±3e37".into()),
        (IndicatorKind::Sar, _) => (!(0.0..=3e37).contains(&v)).then(|| "must be ≥ 0".into()),
        (IndicatorKind::Supertrend, "multiplier") => (v <= 0.0).then(|| "must be > 0".into()),
        _ => integral(2.0),
    }
}

impl FromStr for IndicatorSpec {
    type Err = SpecError;
    /// Parses `name[:param[:param…]]`, e.g. `bbands:20:2:2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().split(':');
        let kind: IndicatorKind = parts.next().unwrap_or_default().parse()?;
        let names = kind.params();
        let mut given = vec![];
        for (i, p) in parts.enumerate() {
            let param = names.get(i).map_or("parameter", |(n, _)| *n);
            let v: f64 = p.trim().parse().map_err(|_| SpecError::BadParam {
                indicator: kind.name(),
                param,
                value: p.to_owned(),
                reason: "is not a number".into(),
            })?;
            given.push(v);
        }
        Self::new(kind, &given)
    }
}

impl fmt::Display for IndicatorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())?;
        for p in &self.params {
            write!(f, ":{}", fmt_num(*p))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_follow_the_calculator_convention() {
        let specs =
            IndicatorSpec::parse_list("ema:20,macd:12:26:9,bbands:20:2:2,stoch:14:3:3,obv,vwap_session").unwrap();
        let cols: Vec<String> = specs.iter().flat_map(IndicatorSpec::column_names).collect();
        assert_eq!(
            cols,
            [
                "ema_20",
                "macd_12_26_9_macd",
                "macd_12_26_9_signal",
                "macd_12_26_9_hist",
                "bbands_20_2_2_upper",
                "bbands_20_2_2_middle",
                "bbands_20_2_2_lower",
                "stoch_14_3_3_k",
                "stoch_14_3_3_d",
                "obv",
                "vwap_session"
            ]
        );
        assert_eq!("rsi".parse::<IndicatorSpec>().unwrap().column_names(), ["rsi_14"]);
    }

    #[test]
    fn bad_specs_name_the_parameter() {
        let e = "ema:1".parse::<IndicatorSpec>().unwrap_err();
        assert!(matches!(e, SpecError::BadParam { param: "period", .. }), "{e}");
        assert!(matches!(
            "ema:2.5".parse::<IndicatorSpec>(),
            Err(SpecError::BadParam { .. })
        ));
        assert!(matches!(
            "ema:x".parse::<IndicatorSpec>(),
            Err(SpecError::BadParam { .. })
        ));
        assert!(matches!(
            "macd:26:12:9".parse::<IndicatorSpec>(),
            Err(SpecError::BadParam { param: "fast", .. })
        ));
        assert!(matches!(
            "obv:3".parse::<IndicatorSpec>(),
            Err(SpecError::TooManyParams { .. })
        ));
        assert!(matches!(
            "foo:3".parse::<IndicatorSpec>(),
            Err(SpecError::UnknownIndicator(_))
        ));
    }

    /// Each parameter's rule at its edges: accepted on the edge, refused just past it.
    #[test]
    fn parameter_rules_hold_at_their_edges() {
        let ok = |s: &str| s.parse::<IndicatorSpec>().map(|_| ()).map_err(|e| e.to_string());
        let bad = |s: &str, param: &str| match s.parse::<IndicatorSpec>() {
            Err(SpecError::BadParam { param: p, .. }) if p == param => (),
            other => panic!("{s}: expected {param} refused, got {other:?}"),
        };
        // Periods: whole numbers from 2 (most), from 1 (ROC, Stoch, MACD's signal, SuperTrend)
        // up to MAX_PERIOD.
        assert_eq!(ok("ema:2"), Ok(()));
        assert_eq!(ok(&format!("ema:{MAX_PERIOD}")), Ok(()));
        bad(&format!("ema:{}", MAX_PERIOD + 1), "period");
        assert_eq!(ok(&format!("roc:{MAX_PERIOD}")), Ok(()));
        bad(&format!("roc:{}", MAX_PERIOD + 1), "period");
        assert_eq!(ok("roc:1"), Ok(()));
        bad("roc:0", "period");
        assert_eq!(ok("stoch:1:1:1"), Ok(()));
        assert_eq!(ok("macd:2:3:1"), Ok(()));
        bad("macd:2:3:0", "signal");
        assert_eq!(ok("supertrend:1:3"), Ok(()));
        bad("supertrend:0:3", "period");
        // Band widths: any real within ±3e37, fractions and zero included.
        assert_eq!(ok("bbands:20:0.5:2.5"), Ok(()));
        assert_eq!(ok("bbands:20:-3e37:3e37"), Ok(()));
        bad("bbands:20:3.1e37:2", "dev_up");
        bad("bbands:20:2:-3.1e37", "dev_down");
        // SAR's steps: fractions from 0.
        assert_eq!(ok("sar:0.02:0.2"), Ok(()));
        assert_eq!(ok("sar:0:0"), Ok(()));
        bad("sar:-0.01:0.2", "acceleration");
        // SuperTrend's multiplier: any positive real.
        assert_eq!(ok("supertrend:10:0.5"), Ok(()));
        bad("supertrend:10:0", "multiplier");
        bad("supertrend:10:-1", "multiplier");
        bad("ema:inf", "period");
    }

    #[test]
    fn supertrend_has_a_line_and_a_direction_column() {
        let st: IndicatorSpec = "supertrend:10:3".parse().unwrap();
        assert_eq!(st.column_names(), ["supertrend_10_3_line", "supertrend_10_3_direction"]);
        assert_eq!(st.period(0), 10);
        assert_eq!(st.params(), [10.0, 3.0]);
    }
}
