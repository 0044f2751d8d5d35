//! `POST /api/v2/analytics/greeks` and `/analytics/implied-volatility`: batch calculators with the
//! semantics and column names of `signal-service calc greeks` and `calc iv`.
//!
//! One result per row, in order. An input out of range in a Greeks batch rejects the batch with
//! 400 naming `rows[i].<column>` (as `calc greeks` stops at a bad row); in an IV batch it is that
//! row's `iv_error: invalid_input` (as `calc iv` reports it). At most [`MAX_ROWS`] rows (413).

use application::calculators::{GreeksRequest, IvRequest, OptionRow, greeks, implied_vol};
use domain::instrument::OptionRight;
use domain::pricing::PricingModel;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::error::ErrorBody;

/// Rows per request.
pub const MAX_ROWS: usize = 10_000;

/// The pricing model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ModelIn {
    /// Black–Scholes–Merton on spot, with rate and dividend yield.
    Bsm,
    /// Black-76 on the forward (`spot` is the forward; `div_yield` is ignored).
    Black76,
}

impl From<ModelIn> for PricingModel {
    fn from(m: ModelIn) -> Self {
        match m {
            ModelIn::Bsm => Self::Bsm,
            ModelIn::Black76 => Self::Black76,
        }
    }
}

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum OptionType {
    /// A call.
    Call,
    /// A put.
    Put,
}

impl From<OptionType> for OptionRight {
    fn from(t: OptionType) -> Self {
        match t {
            OptionType::Call => Self::Call,
            OptionType::Put => Self::Put,
        }
    }
}

/// An option's terms, range-checked by the schema (a value out of range is a 400 naming it).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OptionTerms {
    /// `call` or `put`.
    #[oai(rename = "type")]
    pub option_type: OptionType,
    /// Spot (BSM) or forward (Black-76), price units, > 0.
    #[oai(validator(minimum(value = "0", exclusive = true)))]
    pub spot: f64,
    /// Strike, price units, > 0.
    #[oai(validator(minimum(value = "0", exclusive = true)))]
    pub strike: f64,
    /// Time to expiry, years, ≥ 0.
    #[oai(validator(minimum(value = "0")))]
    pub t_years: f64,
    /// Continuously compounded rate, decimal per year (0.065 = 6.5 %).
    pub rate: f64,
    /// Continuous dividend yield, decimal per year (BSM only); default 0.
    #[oai(default)]
    pub div_yield: f64,
}

impl OptionTerms {
    fn row(&self) -> OptionRow {
        OptionRow {
            right: self.option_type.into(),
            spot: self.spot,
            strike: self.strike,
            t_years: self.t_years,
            rate: self.rate,
            div_yield: self.div_yield,
        }
    }
}

/// One option to value at a volatility.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GreeksRowIn {
    /// The option.
    #[oai(flatten)]
    pub terms: OptionTerms,
    /// Volatility, decimal per √year (0.15 = 15 %), ≥ 0.
    #[oai(validator(minimum(value = "0")))]
    pub vol: f64,
}

/// One premium to invert. Its terms are not range-checked by the schema: as `calc iv`, a row
/// out of range answers `iv_error: invalid_input` and the others are solved.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IvRowIn {
    /// `call` or `put`.
    #[oai(rename = "type")]
    pub option_type: OptionType,
    /// Spot (BSM) or forward (Black-76), price units.
    pub spot: f64,
    /// Strike, price units.
    pub strike: f64,
    /// Time to expiry, years.
    pub t_years: f64,
    /// Continuously compounded rate, decimal per year.
    pub rate: f64,
    /// Continuous dividend yield, decimal per year (BSM only); default 0.
    #[oai(default)]
    pub div_yield: f64,
    /// Discounted premium, price units.
    pub price: f64,
}

impl IvRowIn {
    fn row(&self) -> OptionRow {
        OptionRow {
            right: self.option_type.into(),
            spot: self.spot,
            strike: self.strike,
            t_years: self.t_years,
            rate: self.rate,
            div_yield: self.div_yield,
        }
    }
}

/// A Greeks batch.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none, example)]
pub struct GreeksBatch {
    /// Pricing model; default `bsm` (as `calc greeks`).
    pub model: Option<ModelIn>,
    /// The options, at most 10 000 (413 beyond).
    pub rows: Vec<GreeksRowIn>,
}

/// An IV batch.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none, example)]
pub struct IvBatch {
    /// Pricing model; default `bsm` (as `calc iv`).
    pub model: Option<ModelIn>,
    /// The premiums, at most 10 000 (413 beyond).
    pub rows: Vec<IvRowIn>,
}

/// Price and Greeks of one row, in raw and scaled units (the `calc greeks` columns).
/// A value that overflows `f64` (inputs near its limits) is left out.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GreeksRowOut {
    /// Premium, price units.
    pub price: Option<f64>,
    /// ∂V/∂S per unit of the underlying (∂V/∂F under Black-76).
    pub delta: Option<f64>,
    /// ∂²V/∂S² per unit².
    pub gamma: Option<f64>,
    /// ∂V/∂t per year (calendar time passing; negative when decay costs).
    pub theta_per_year: Option<f64>,
    /// Theta per calendar day (÷ 365).
    pub theta_per_day: Option<f64>,
    /// ∂V/∂σ per 1.00 of volatility.
    pub vega_per_unit: Option<f64>,
    /// Vega per volatility point (÷ 100).
    pub vega_per_vol_point: Option<f64>,
    /// ∂V/∂r per 1.00 of rate (Black-76: the forward held fixed).
    pub rho_per_unit: Option<f64>,
    /// Rho per rate point (÷ 100).
    pub rho_per_rate_point: Option<f64>,
    /// ∂²V/∂S∂σ.
    pub vanna: Option<f64>,
    /// ∂²V/∂σ².
    pub volga: Option<f64>,
    /// −∂Δ/∂T per year.
    pub charm_per_year: Option<f64>,
    /// ∂³V/∂S³.
    pub speed: Option<f64>,
}

/// The IV of one row, or why there is none.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IvRowOut {
    /// Implied volatility, decimal per √year.
    pub iv: Option<f64>,
    /// Why there is none: `below_intrinsic`, `above_upper_bound`, `no_time_value`, `invalid_input`.
    pub iv_error: Option<String>,
}

/// Results of a Greeks batch.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GreeksResults {
    /// The model used.
    pub model: String,
    /// One per input row, in order.
    pub rows: Vec<GreeksRowOut>,
}

/// Results of an IV batch.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IvResults {
    /// The model used.
    pub model: String,
    /// One per input row, in order.
    pub rows: Vec<IvRowOut>,
}

#[derive(ApiResponse)]
enum GreeksOk {
    /// One result per row.
    #[oai(status = 200)]
    Ok(Json<GreeksResults>),
}

#[derive(ApiResponse)]
enum IvOk {
    /// One result per row.
    #[oai(status = 200)]
    Ok(Json<IvResults>),
}

#[derive(ApiResponse)]
enum BatchError {
    /// An input is out of range; `field` is `rows[i].<column>`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// More than 10 000 rows.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// The `Content-Type` is not `application/json` (answered before the handler runs; listed
    /// so the document shows it).
    #[oai(status = 415)]
    #[allow(dead_code)]
    UnsupportedMediaType(Json<ErrorBody>),
}

/// `v` when finite.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn within_limit(rows: usize) -> Result<(), BatchError> {
    if rows > MAX_ROWS {
        return Err(BatchError::TooLarge(Json(ErrorBody::new(
            "payload_too_large",
            format!("{rows} rows; at most {MAX_ROWS} per request"),
            Some("rows"),
        ))));
    }
    Ok(())
}

/// The calculator endpoints.
pub struct AnalyticsApi;

#[OpenApi]
impl AnalyticsApi {
    /// Price and Greeks of a batch of options (the `calc greeks` calculator).
    #[oai(path = "/analytics/greeks", method = "post", operation_id = "computeGreeks")]
    async fn greeks(&self, body: Json<GreeksBatch>) -> Result<GreeksOk, BatchError> {
        within_limit(body.0.rows.len())?;
        let model: PricingModel = body.0.model.unwrap_or(ModelIn::Bsm).into();
        let mut rows = Vec::with_capacity(body.0.rows.len());
        for (i, r) in body.0.rows.iter().enumerate() {
            let request = GreeksRequest {
                option: r.terms.row(),
                vol: r.vol,
            };
            let g = greeks(model, &request).map_err(|e| {
                let field = format!("rows[{i}].{}", e.field);
                BatchError::BadRequest(Json(ErrorBody::new(
                    "bad_request",
                    format!("{field}: {}", e.reason),
                    Some(&field),
                )))
            })?;
            rows.push(GreeksRowOut {
                price: finite(g.price),
                delta: finite(g.delta),
                gamma: finite(g.gamma),
                theta_per_year: finite(g.theta_per_year),
                theta_per_day: finite(g.theta_per_day),
                vega_per_unit: finite(g.vega_per_unit),
                vega_per_vol_point: finite(g.vega_per_vol_point),
                rho_per_unit: finite(g.rho_per_unit),
                rho_per_rate_point: finite(g.rho_per_rate_point),
                vanna: finite(g.vanna),
                volga: finite(g.volga),
                charm_per_year: finite(g.charm_per_year),
                speed: finite(g.speed),
            });
        }
        Ok(GreeksOk::Ok(Json(GreeksResults {
            model: model.as_str().to_owned(),
            rows,
        })))
    }

    /// Implied volatility of a batch of premiums (the `calc iv` calculator).
    #[oai(
        path = "/analytics/implied-volatility",
        method = "post",
        operation_id = "computeImpliedVolatility"
    )]
    async fn implied_volatility(&self, body: Json<IvBatch>) -> Result<IvOk, BatchError> {
        within_limit(body.0.rows.len())?;
        let model: PricingModel = body.0.model.unwrap_or(ModelIn::Bsm).into();
        let rows = body
            .0
            .rows
            .iter()
            .map(|r| {
                let request = IvRequest {
                    option: r.row(),
                    price: r.price,
                };
                match implied_vol(model, &request) {
                    Ok(iv) => IvRowOut {
                        iv: Some(iv),
                        iv_error: None,
                    },
                    Err(e) => IvRowOut {
                        iv: None,
                        iv_error: Some(e.code().to_owned()),
                    },
                }
            })
            .collect();
        Ok(IvOk::Ok(Json(IvResults {
            model: model.as_str().to_owned(),
            rows,
        })))
    }
}

impl poem_openapi::types::Example for GreeksBatch {
    fn example() -> Self {
        Self {
            model: Some(ModelIn::Black76),
            rows: vec![GreeksRowIn {
                terms: OptionTerms {
                    option_type: OptionType::Call,
                    spot: 26_010.0,
                    strike: 26_000.0,
                    t_years: 0.0603,
                    rate: 0.065,
                    div_yield: 0.0,
                },
                vol: 0.115,
            }],
        }
    }
}

impl poem_openapi::types::Example for IvBatch {
    fn example() -> Self {
        Self {
            model: Some(ModelIn::Bsm),
            rows: vec![IvRowIn {
                option_type: OptionType::Put,
                spot: 25_950.0,
                strike: 25_800.0,
                t_years: 0.0603,
                rate: 0.1,
                div_yield: 0.0,
                price: 180.5,
            }],
        }
    }
}
