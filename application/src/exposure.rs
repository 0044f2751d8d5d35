//! Gamma exposure of one expiry now (see [`domain::chain::gex`] for the formula and the dealer
//! assumption): per strike at the current spot, and the flip level found by re-pricing every
//! option with its own IV, time and rate at each spot of a grid around the current one.

use domain::chain::{GammaExposure, gamma_exposure, option_gex, zero_gamma};
use domain::instrument::InstrumentKey;
use domain::moneyness::OptionPoint;
use domain::pricing::{PricingContext, PricingModel};

use crate::realtime::{ChainRead, ReadError, RealtimeReads};

/// The flip grid reaches this far either side of the spot, as a fraction of it.
pub const FLIP_RANGE: f64 = 0.15;
/// Grid spots from the lowest to the highest (0.25 % apart).
pub const FLIP_STEPS: usize = 121;

/// One expiry's exposure.
#[derive(Debug, Clone)]
pub struct Exposure {
    /// The chain it was computed from.
    pub read: ChainRead,
    /// The spot it was computed at, price units: the underlying's, else the forward.
    pub spot: f64,
    /// True when there was no spot and the forward stood in.
    pub spot_is_forward: bool,
    /// Underlying units per unit of open interest.
    pub units_per_oi: f64,
    /// Per strike, totals and walls.
    pub exposure: GammaExposure,
    /// The spot at which the net exposure changes sign within the grid.
    pub zero_gamma: Option<f64>,
    /// The grid searched, lowest and highest spot.
    pub grid: (f64, f64),
}

/// The gamma exposure of `underlying`'s `expiry` (default: the nearest).
///
/// # Errors
/// [`ReadError::NotFound`] as [`RealtimeReads::chain`].
pub fn exposure(
    reads: &RealtimeReads,
    underlying: &InstrumentKey,
    expiry: Option<chrono::NaiveDate>,
) -> Result<Exposure, ReadError> {
    let read = reads.chain(underlying, expiry)?;
    let units_per_oi = reads.market_of(underlying).map_or(1.0, |m| m.units_per_oi());
    Ok(of_chain(read, units_per_oi))
}

/// The exposure of one chain read.
#[must_use]
pub fn of_chain(read: ChainRead, units_per_oi: f64) -> Exposure {
    let s = &read.snapshot;
    let (spot, spot_is_forward) = match s.spot {
        Some(x) if x > 0.0 => (x, false),
        _ => (s.forward.value, true),
    };
    let points = &s.analytics.points;
    let exposure = gamma_exposure(points, spot, units_per_oi);
    let c = read.conventions;
    let t = s.t_years.max(0.0);
    // The net exposure with the underlying at `x`: Black-76 moves the forward with the spot
    // (same carry), BSM takes the spot itself.
    let net_at = |x: f64| -> f64 {
        let underlying = match c.model {
            PricingModel::Black76 => s.forward.value * x / spot,
            PricingModel::Bsm => x,
        };
        let ctx = PricingContext::new(c.model, underlying, t, c.rate, c.div_yield);
        points
            .iter()
            .filter_map(|p| {
                let repriced = OptionPoint {
                    greeks: Some(ctx.value(p.right, p.strike, p.iv?).greeks),
                    ..*p
                };
                option_gex(&repriced, x, units_per_oi)
            })
            .sum()
    };
    let (lo, hi) = (spot * (1.0 - FLIP_RANGE), spot * (1.0 + FLIP_RANGE));
    #[allow(clippy::cast_precision_loss)] // a grid of 121 spots
    let grid: Vec<f64> = (0..FLIP_STEPS)
        .map(|i| lo + (hi - lo) * i as f64 / (FLIP_STEPS - 1) as f64)
        .collect();
    let zero_gamma = zero_gamma(&grid, net_at, spot);
    Exposure {
        read,
        spot,
        spot_is_forward,
        units_per_oi,
        exposure,
        zero_gamma,
        grid: (lo, hi),
    }
}
