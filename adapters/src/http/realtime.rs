//! `GET /api/v2/realtime/greeks/{instrument_key}`: the latest IV and Greeks from memory.

use chrono::{DateTime, Duration, Utc};
use domain::instrument::InstrumentKey;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::AppState;
use super::error::ErrorBody;

/// Data older than this (by the service clock) is marked stale.
pub const STALE_AFTER_SECS: i64 = 120;

/// Latest IV and Greeks of one option, with the conventions used.
#[derive(Debug, Clone, Object)]
pub struct RealtimeGreeks {
    /// The option.
    pub instrument_key: String,
    /// Start of the minute of the latest tick priced (UTC).
    pub as_of: DateTime<Utc>,
    /// True when `as_of` is more than 120 s behind the service clock.
    pub stale: bool,
    /// Underlying spot, price units.
    pub underlying_price: f64,
    /// Forward used, price units.
    pub forward: f64,
    /// `future`, `put_call_parity` or `carry_spot`.
    pub forward_source: String,
    /// Premium the IV was solved from, price units.
    pub option_price: Option<f64>,
    /// `mid` or `last`.
    pub price_source: Option<String>,
    /// Implied volatility, decimal per √year (0.15 = 15 %).
    pub iv: Option<f64>,
    /// Why there is no IV: `below_intrinsic`, `above_upper_bound`, `no_time_value`, `invalid_input`.
    pub iv_error: Option<String>,
    /// ∂V/∂S per 1 unit of the underlying (the forward under Black-76).
    pub delta: Option<f64>,
    /// ∂²V/∂S² per unit².
    pub gamma: Option<f64>,
    /// −∂V/∂T per calendar day.
    pub theta_per_day: Option<f64>,
    /// ∂V/∂σ per volatility point (0.01).
    pub vega_per_vol_point: Option<f64>,
    /// ∂V/∂r per rate point (0.01).
    pub rho_per_rate_point: Option<f64>,
    /// `black76` or `bsm`.
    pub model: String,
    /// Rate used, decimal per year.
    pub rate: f64,
    /// `exact` or `calendar_days`.
    pub time_basis: String,
    /// Time to expiry used, years.
    pub t_years: f64,
}

#[derive(ApiResponse)]
enum GreeksOk {
    /// The latest values.
    #[oai(status = 200)]
    Ok(Json<RealtimeGreeks>),
}

#[derive(ApiResponse)]
enum GreeksError {
    /// The key is malformed.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No data for this instrument yet.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

/// Realtime endpoints.
pub struct RealtimeApi {
    pub(super) state: AppState,
}

#[OpenApi]
impl RealtimeApi {
    /// Latest IV and Greeks of an option, from memory.
    #[oai(
        path = "/realtime/greeks/:instrument_key",
        method = "get",
        operation_id = "getRealtimeGreeks"
    )]
    async fn realtime_greeks(
        &self,
        /// Instrument key, e.g. `NSE:NIFTY-20260203-26000-CE`.
        instrument_key: Path<String>,
    ) -> Result<GreeksOk, GreeksError> {
        let key = InstrumentKey::parse(&instrument_key.0).map_err(|e| {
            GreeksError::BadRequest(Json(ErrorBody::new(
                "bad_request",
                e.to_string(),
                Some("instrument_key"),
            )))
        })?;
        let r = self.state.ingest.state().greeks(&key).ok_or_else(|| {
            GreeksError::NotFound(Json(ErrorBody::new(
                "not_found",
                format!("no Greeks for {key} yet"),
                Some("instrument_key"),
            )))
        })?;
        let g = r.greeks;
        Ok(GreeksOk::Ok(Json(RealtimeGreeks {
            instrument_key: key.to_string(),
            as_of: r.minute,
            stale: self.state.clock.now() - r.minute > Duration::seconds(STALE_AFTER_SECS),
            underlying_price: r.underlying_price,
            forward: r.forward,
            forward_source: r.forward_source.as_str().to_owned(),
            option_price: r.option_price,
            price_source: r.price_source.map(|p| p.as_str().to_owned()),
            iv: r.iv,
            iv_error: r.iv_error.map(|e| e.code().to_owned()),
            delta: g.map(|g| g.delta),
            gamma: g.map(|g| g.gamma),
            theta_per_day: g.map(|g| g.theta_per_day()),
            vega_per_vol_point: g.map(|g| g.vega_per_vol_point()),
            rho_per_rate_point: g.map(|g| g.rho_per_rate_point()),
            model: r.model.as_str().to_owned(),
            rate: r.rate,
            time_basis: r.time_basis.as_str().to_owned(),
            t_years: r.t_years,
        })))
    }
}
