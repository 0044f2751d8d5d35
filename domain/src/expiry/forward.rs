//! The forward of an expiry: the same-expiry future's price when there is one, else implied by
//! put–call parity `C − P = e^{−rT}(F − K)` at the strikes around the money.
//!
//! Parity rule: the three strikes (fewer if the chain has fewer) with the smallest `|C − P|`
//! each give `F = K + e^{rT}(C − P)`; the forward is their median, which shrugs off one stale quote.

use serde::{Deserialize, Serialize};

/// Where a forward came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardSource {
    /// The same-expiry futures price.
    Future,
    /// Put–call parity over the strikes around the money.
    PutCallParity,
    /// Spot carried at the configured rate and yield (`S·e^{(r−q)T}`), when nothing better exists.
    CarrySpot,
}

impl ForwardSource {
    /// The snake_case code used in storage and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Future => "future",
            Self::PutCallParity => "put_call_parity",
            Self::CarrySpot => "carry_spot",
        }
    }
}

/// A forward price and its source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Forward {
    /// Forward price, price units.
    pub value: f64,
    /// How it was obtained.
    pub source: ForwardSource,
}

/// Call and put prices at one strike (same expiry), price units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParityQuote {
    /// Strike.
    pub strike: f64,
    /// Call premium.
    pub call: f64,
    /// Put premium.
    pub put: f64,
}

/// Why no forward could be implied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// No strike has both a call and a put price that is finite and positive.
    #[error("no strike has both a call and a put price")]
    NoPairs,
}

impl Forward {
    /// The forward from a future's price.
    #[must_use]
    pub fn from_future(price: f64) -> Self {
        Self {
            value: price,
            source: ForwardSource::Future,
        }
    }
}

/// The forward of an expiry by the house rule: the same-expiry future when it has a price, else
/// put–call parity over the chain, else spot carried at `rate − div_yield`.
///
/// # Errors
/// [`ForwardError::NoPairs`] when there is no future, no usable pair and no spot.
pub fn resolve_forward(
    future: Option<f64>,
    chain: &[ParityQuote],
    spot: Option<f64>,
    rate: f64,
    div_yield: f64,
    t_years: f64,
) -> Result<Forward, ForwardError> {
    if let Some(f) = future.filter(|f| f.is_finite() && *f > 0.0) {
        return Ok(Forward::from_future(f));
    }
    forward_from_parity(chain, rate, t_years).or_else(|e| {
        spot.filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Forward {
                value: s * ((rate - div_yield) * t_years).exp(),
                source: ForwardSource::CarrySpot,
            })
            .ok_or(e)
    })
}

/// Implies the forward from call/put pairs with discount rate `rate` and `t_years` to expiry.
///
/// # Errors
/// [`ForwardError::NoPairs`] when no strike has both prices.
pub fn forward_from_parity(quotes: &[ParityQuote], rate: f64, t_years: f64) -> Result<Forward, ForwardError> {
    let growth = (rate * t_years).exp();
    let mut pairs: Vec<(f64, f64)> = quotes
        .iter()
        .filter(|q| q.strike > 0.0 && q.call.is_finite() && q.put.is_finite() && q.call > 0.0 && q.put > 0.0)
        .map(|q| ((q.call - q.put).abs(), q.strike + growth * (q.call - q.put)))
        .collect();
    if pairs.is_empty() {
        return Err(ForwardError::NoPairs);
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut f: Vec<f64> = pairs.iter().take(3).map(|p| p.1).collect();
    f.sort_by(f64::total_cmp);
    let value = if f.len() == 2 {
        0.5 * (f[0] + f[1])
    } else {
        f[f.len() / 2]
    };
    Ok(Forward {
        value,
        source: ForwardSource::PutCallParity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_recovers_the_forward_and_ignores_a_stale_quote() {
        let (f, r, t): (f64, f64, f64) = (24_480.0, 0.065, 7.0 / 365.0);
        let d = (-r * t).exp();
        let mut q: Vec<ParityQuote> = (0..9)
            .map(|i| {
                let k = 24_300.0 + 50.0 * f64::from(i);
                let put = 100.0 + f64::from(i) * 10.0;
                ParityQuote {
                    strike: k,
                    call: put + d * (f - k),
                    put,
                }
            })
            .collect();
        q[4].call += 40.0; // 24 500: a stale call
        let got = forward_from_parity(&q, r, t).unwrap();
        assert!((got.value - f).abs() < 1e-9, "{got:?}");
        assert_eq!(got.source, ForwardSource::PutCallParity);
        assert!(forward_from_parity(&[], r, t).is_err());
    }

    #[test]
    fn the_future_wins_then_parity_then_carried_spot() {
        let q = [ParityQuote {
            strike: 100.0,
            call: 6.0,
            put: 4.0,
        }];
        assert_eq!(
            resolve_forward(Some(101.5), &q, Some(100.0), 0.05, 0.0, 0.1)
                .unwrap()
                .source,
            ForwardSource::Future
        );
        let p = resolve_forward(None, &q, Some(100.0), 0.05, 0.0, 0.1).unwrap();
        assert_eq!(p.source, ForwardSource::PutCallParity);
        assert!((p.value - (100.0 + 2.0 * (0.005f64).exp())).abs() < 1e-12);
        let c = resolve_forward(None, &[], Some(100.0), 0.05, 0.01, 0.5).unwrap();
        assert_eq!(c.source, ForwardSource::CarrySpot);
        assert!((c.value - 100.0 * (0.02f64).exp()).abs() < 1e-12);
        assert!(resolve_forward(None, &[], None, 0.05, 0.0, 0.1).is_err());
    }
}
