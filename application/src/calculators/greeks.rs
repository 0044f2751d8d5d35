//! Price and Greeks of one option per request row.

use domain::pricing::{PricingModel, price_and_greeks};

use super::{FieldError, OptionRow};

/// One option to value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GreeksRequest {
    /// The option's terms.
    pub option: OptionRow,
    /// Volatility, decimal per √year.
    pub vol: f64,
}

/// Price and Greeks in both raw and scaled units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GreeksResult {
    /// Premium, price units.
    pub price: f64,
    /// ∂V/∂S (∂V/∂F for Black-76).
    pub delta: f64,
    /// ∂²V/∂S².
    pub gamma: f64,
    /// −∂V/∂T per year.
    pub theta_per_year: f64,
    /// Theta per calendar day (÷365).
    pub theta_per_day: f64,
    /// ∂V/∂σ per 1.00 of vol.
    pub vega_per_unit: f64,
    /// Vega per vol point (÷100).
    pub vega_per_vol_point: f64,
    /// ∂V/∂r per 1.00 of rate.
    pub rho_per_unit: f64,
    /// Rho per rate point (÷100).
    pub rho_per_rate_point: f64,
    /// ∂²V/∂S∂σ.
    pub vanna: f64,
    /// ∂²V/∂σ².
    pub volga: f64,
    /// −∂²V/∂S∂T per year.
    pub charm_per_year: f64,
    /// ∂³V/∂S³.
    pub speed: f64,
}

impl GreeksResult {
    /// The values in the calculator's column order (after the input columns).
    #[must_use]
    pub fn values(&self) -> [f64; 13] {
        [
            self.price,
            self.delta,
            self.gamma,
            self.theta_per_year,
            self.theta_per_day,
            self.vega_per_unit,
            self.vega_per_vol_point,
            self.rho_per_unit,
            self.rho_per_rate_point,
            self.vanna,
            self.volga,
            self.charm_per_year,
            self.speed,
        ]
    }

    /// Column names matching [`Self::values`].
    pub const COLUMNS: [&'static str; 13] = [
        "price",
        "delta",
        "gamma",
        "theta_per_year",
        "theta_per_day",
        "vega_per_unit",
        "vega_per_vol_point",
        "rho_per_unit",
        "rho_per_rate_point",
        "vanna",
        "volga",
        "charm_per_year",
        "speed",
    ];
}

/// Values one option.
///
/// # Errors
/// [`FieldError`] naming the input column that is out of range.
pub fn greeks(model: PricingModel, r: &GreeksRequest) -> Result<GreeksResult, FieldError> {
    let v = price_and_greeks(model, &r.option.inputs(model, r.vol)).map_err(|e| FieldError::new(e.field, e.reason))?;
    let g = v.greeks;
    Ok(GreeksResult {
        price: v.price,
        delta: g.delta,
        gamma: g.gamma,
        theta_per_year: g.theta_per_year,
        theta_per_day: g.theta_per_day(),
        vega_per_unit: g.vega_per_unit,
        vega_per_vol_point: g.vega_per_vol_point(),
        rho_per_unit: g.rho_per_unit,
        rho_per_rate_point: g.rho_per_rate_point(),
        vanna: g.vanna,
        volga: g.volga,
        charm_per_year: g.charm_per_year,
        speed: g.speed,
    })
}
