//! The volatility surface of an underlying: every evaluated expiry's smile (call, put and OTM IV
//! per strike) with its forward, time and ATM IV, and the ATM term structure across expiries
//! with the 30-day constant-maturity IV interpolated from it (see [`domain::chain::term`]).

use domain::chain::{ConstantMaturityIv, TermPoint, constant_maturity_iv};
use domain::instrument::InstrumentKey;

use crate::realtime::{ChainRead, ReadError, RealtimeReads};

/// The constant maturity of the headline IV (and of IV rank): 30 calendar days, in years.
pub const CONSTANT_MATURITY_YEARS: f64 = 30.0 / 365.0;

/// An underlying's surface.
#[derive(Debug, Clone)]
pub struct Surface {
    /// Each live expiry's chain (time to expiry > 0), ascending by expiry.
    pub expiries: Vec<ChainRead>,
    /// The ATM IV at [`CONSTANT_MATURITY_YEARS`], from the expiries with an ATM IV.
    pub constant_maturity: Option<ConstantMaturityIv>,
}

impl Surface {
    /// The term structure: per expiry with an ATM IV, its time and ATM IV.
    #[must_use]
    pub fn term(&self) -> Vec<TermPoint> {
        term_points(&self.expiries)
    }
}

/// The ATM term points of `reads` (those with an ATM IV and time left).
#[must_use]
pub fn term_points(reads: &[ChainRead]) -> Vec<TermPoint> {
    reads
        .iter()
        .filter_map(|r| {
            let a = r.snapshot.analytics.atm_iv?;
            (r.snapshot.t_years > 0.0).then_some(TermPoint {
                t_years: r.snapshot.t_years,
                atm_iv: a.iv,
            })
        })
        .collect()
}

/// The surface of `underlying` now.
///
/// # Errors
/// [`ReadError::NotFound`] naming `underlying` when no live chain of it was evaluated yet.
pub fn surface(reads: &RealtimeReads, underlying: &InstrumentKey) -> Result<Surface, ReadError> {
    let expiries: Vec<ChainRead> = reads
        .chains(underlying)?
        .into_iter()
        .filter(|r| r.snapshot.t_years > 0.0)
        .collect();
    if expiries.is_empty() {
        return Err(ReadError::NotFound {
            field: "underlying",
            message: format!("every evaluated chain of {underlying} has expired"),
        });
    }
    let constant_maturity = constant_maturity_iv(&term_points(&expiries), CONSTANT_MATURITY_YEARS);
    Ok(Surface {
        expiries,
        constant_maturity,
    })
}
