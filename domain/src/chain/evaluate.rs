//! One pass over an expiry's quotes: IV and Greeks per option, then every chain statistic.

use serde::{Deserialize, Serialize};

use super::stats::{
    AtmIv, PutCallRatio, StrikeIv, Wing25, atm_iv, max_pain_on_grid, put_call_ratio, skew_on_grid, wing_25_delta,
};
use super::strikes::StrikeGrid;
use crate::expiry::Forward;
use crate::instrument::OptionRight;
use crate::moneyness::{
    LevelAggregate, LevelEntry, MoneynessLevel, OptionPoint, ReferencePrice, aggregate_by_level, atm_strike,
    strike_step,
};
use crate::pricing::{IvError, PricingContext, PricingModel};

/// Conventions and market state for one expiry at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainSpec {
    /// Pricing model.
    pub model: PricingModel,
    /// Continuously compounded rate, decimal per year.
    pub rate: f64,
    /// Dividend yield, decimal per year (BSM only).
    pub div_yield: f64,
    /// Time to expiry, years.
    pub t_years: f64,
    /// Underlying spot, when known (needed for BSM and for a spot reference).
    pub spot: Option<f64>,
    /// The expiry's forward.
    pub forward: Forward,
    /// What the ATM strike is taken from.
    pub reference: ReferencePrice,
    /// The strike step; `None` infers it from the listed strikes.
    pub strike_step: Option<f64>,
}

/// One option's quote for the chain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChainQuote {
    /// Strike.
    pub strike: f64,
    /// Call or put.
    pub right: OptionRight,
    /// Premium the IV is solved from (already chosen by [`super::PriceSource`]), if any.
    pub price: Option<f64>,
    /// Open interest, units.
    pub oi: f64,
    /// Session volume, units.
    pub volume: f64,
}

/// An option without IV, and why.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IvFailure {
    /// Strike.
    pub strike: f64,
    /// Right.
    pub right: OptionRight,
    /// Reason; `None` when the quote had no price at all.
    pub reason: Option<IvError>,
}

/// Everything computed for one expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainAnalytics {
    /// One point per quote, in input order.
    pub points: Vec<OptionPoint>,
    /// Quotes without IV and why.
    pub iv_failures: Vec<IvFailure>,
    /// The ATM strike (by the spec's reference price).
    pub atm_strike: Option<f64>,
    /// The strike step used.
    pub strike_step: Option<f64>,
    /// Aggregates per single level: calls, then puts, each ascending by strike.
    pub levels: Vec<LevelEntry>,
    /// IVs per strike.
    pub skew: Vec<StrikeIv>,
    /// ATM IV at the forward.
    pub atm_iv: Option<AtmIv>,
    /// 25-delta risk reversal and butterfly.
    pub wing_25: Option<Wing25>,
    /// Put–call ratios.
    pub pcr: PutCallRatio,
    /// Max-pain strike.
    pub max_pain: Option<f64>,
}

impl ChainAnalytics {
    /// The aggregate of one single level of one right, if the chain has options there.
    #[must_use]
    pub fn level(&self, right: OptionRight, level: MoneynessLevel) -> Option<&LevelAggregate> {
        self.levels
            .iter()
            .find(|e| e.right == right && e.level == level)
            .map(|e| &e.aggregate)
    }
}

/// Solves IV and Greeks for every quote and computes the chain statistics.
#[must_use]
pub fn evaluate_chain(spec: &ChainSpec, quotes: &[ChainQuote]) -> ChainAnalytics {
    let f = spec.forward.value;
    let underlying = match spec.model {
        PricingModel::Black76 => f,
        // BSM on spot; without a spot, the spot consistent with the forward.
        PricingModel::Bsm => spec
            .spot
            .unwrap_or_else(|| f * (-(spec.rate - spec.div_yield) * spec.t_years).exp()),
    };
    let ctx = PricingContext::new(spec.model, underlying, spec.t_years.max(0.0), spec.rate, spec.div_yield);
    let mut points = Vec::with_capacity(quotes.len());
    let mut iv_failures = vec![];
    for q in quotes {
        let solved = q.price.map(|p| ctx.implied_vol(q.right, q.strike, p));
        let (iv, greeks) = match solved {
            Some(Ok(iv)) => (Some(iv), Some(ctx.value(q.right, q.strike, iv).greeks)),
            other => {
                iv_failures.push(IvFailure {
                    strike: q.strike,
                    right: q.right,
                    reason: other.and_then(Result::err),
                });
                (None, None)
            }
        };
        points.push(OptionPoint {
            strike: q.strike,
            right: q.right,
            iv,
            greeks,
            oi: q.oi,
            volume: q.volume,
        });
    }
    let grid = StrikeGrid::new(quotes.iter().map(|q| q.strike));
    let reference = match spec.reference {
        ReferencePrice::Forward => f,
        ReferencePrice::Spot => spec.spot.unwrap_or(f),
    };
    let atm = atm_strike(grid.as_slice(), reference);
    let step = spec.strike_step.or_else(|| strike_step(grid.as_slice()));
    let levels = match (atm, step) {
        (Some(a), Some(s)) => aggregate_by_level(&points, a, s),
        _ => Vec::new(),
    };
    let skew = skew_on_grid(&points, &grid, f);
    let atm_iv = atm_iv(&skew, f);
    ChainAnalytics {
        wing_25: wing_25_delta(&points, atm_iv),
        pcr: put_call_ratio(&points),
        max_pain: max_pain_on_grid(&points, &grid),
        points,
        iv_failures,
        atm_strike: atm,
        strike_step: step,
        levels,
        skew,
        atm_iv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::ForwardSource;
    use crate::pricing::{OptionInputs, price_and_greeks};

    #[test]
    fn a_synthetic_flat_smile_chain_recovers_its_volatility_everywhere() {
        let (f, t, r, vol) = (24_480.0, 5.0 / 365.0, 0.065, 0.14);
        let mut quotes = vec![];
        for i in 0..21 {
            let k = 23_980.0 + 50.0 * f64::from(i) + 20.0;
            for right in [OptionRight::Call, OptionRight::Put] {
                let o = OptionInputs {
                    right,
                    underlying: f,
                    strike: k,
                    t_years: t,
                    rate: r,
                    div_yield: 0.0,
                    vol,
                };
                let price = price_and_greeks(PricingModel::Black76, &o).unwrap().price;
                quotes.push(ChainQuote {
                    strike: k,
                    right,
                    price: Some(price),
                    oi: 1000.0,
                    volume: 10.0,
                });
            }
        }
        quotes.push(ChainQuote {
            strike: 24_000.0,
            right: OptionRight::Call,
            price: None,
            oi: 0.0,
            volume: 0.0,
        });
        let spec = ChainSpec {
            model: PricingModel::Black76,
            rate: r,
            div_yield: 0.0,
            t_years: t,
            spot: None,
            forward: Forward {
                value: f,
                source: ForwardSource::Future,
            },
            reference: ReferencePrice::Forward,
            strike_step: None,
        };
        let a = evaluate_chain(&spec, &quotes);
        assert_eq!(a.strike_step, Some(50.0));
        assert_eq!(a.atm_strike, Some(24_500.0));
        assert!((a.atm_iv.unwrap().iv - vol).abs() < 1e-9);
        let w = a.wing_25.unwrap();
        assert!(w.risk_reversal.abs() < 1e-9 && w.butterfly.abs() < 1e-9, "{w:?}");
        assert_eq!(a.iv_failures.len(), 1);
        assert_eq!(a.iv_failures[0].reason, None);
        assert_eq!(a.level(OptionRight::Call, MoneynessLevel::Atm).unwrap().count, 1);
    }
}
