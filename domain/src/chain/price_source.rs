//! Which traded price an IV is solved from: the mid when both sides are sane, else the last.

use serde::{Deserialize, Serialize};

/// The configured price source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// Mid of bid and ask; no price when a side is missing.
    Mid,
    /// Last traded price.
    Last,
    /// Mid when both sides are sane (positive, finite, ask ≥ bid), else last.
    #[default]
    Auto,
}

impl PriceSource {
    /// The snake_case code used in configuration and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mid => "mid",
            Self::Last => "last",
            Self::Auto => "auto",
        }
    }
}

/// The price chosen and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotePrice {
    /// The bid/ask mid.
    Mid,
    /// The last trade.
    Last,
}

impl QuotePrice {
    /// The snake_case code used in storage and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mid => "mid",
            Self::Last => "last",
        }
    }
}

fn sane(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v > 0.0)
}

/// Picks the price per `source`; `None` when the source has nothing usable.
#[must_use]
pub fn select_price(
    source: PriceSource,
    bid: Option<f64>,
    ask: Option<f64>,
    last: Option<f64>,
) -> Option<(f64, QuotePrice)> {
    let mid = match (sane(bid), sane(ask)) {
        (Some(b), Some(a)) if a >= b => Some(0.5 * (a + b)),
        _ => None,
    };
    let last = sane(last);
    match source {
        PriceSource::Mid => mid.map(|m| (m, QuotePrice::Mid)),
        PriceSource::Last => last.map(|l| (l, QuotePrice::Last)),
        PriceSource::Auto => mid
            .map(|m| (m, QuotePrice::Mid))
            .or(last.map(|l| (l, QuotePrice::Last))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_a_sane_mid_and_falls_back_to_last() {
        assert_eq!(
            select_price(PriceSource::Auto, Some(10.0), Some(12.0), Some(9.0)),
            Some((11.0, QuotePrice::Mid))
        );
        assert_eq!(
            select_price(PriceSource::Auto, Some(12.0), Some(10.0), Some(9.0)),
            Some((9.0, QuotePrice::Last)),
            "crossed"
        );
        assert_eq!(
            select_price(PriceSource::Auto, None, Some(10.0), Some(9.0)),
            Some((9.0, QuotePrice::Last))
        );
        assert_eq!(select_price(PriceSource::Mid, None, Some(10.0), Some(9.0)), None);
        assert_eq!(select_price(PriceSource::Last, Some(1.0), Some(2.0), Some(0.0)), None);
    }
}
