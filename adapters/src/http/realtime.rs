//! `GET /api/v2/realtime/greeks/{instrument_key}`: the latest IV and Greeks from memory.

use chrono::{DateTime, Utc};
use domain::expiry::Forward;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::AppState;
use super::shapes::{ConventionsOut, ForwardOut, GreeksOut, ReadFailure, key_param};

/// Latest IV and Greeks of one option, with the conventions used.
#[derive(Debug, Clone, Object)]
pub struct RealtimeGreeks {
    /// The option.
    pub instrument_key: String,
    /// Start of the minute (UTC) of the latest tick priced.
    pub as_of: DateTime<Utc>,
    /// True when `as_of` is more than 120 s behind the service clock.
    pub stale: bool,
    /// Underlying spot, price units.
    pub underlying_price: f64,
    /// The forward used and its source.
    pub forward: ForwardOut,
    /// Time to expiry used, years.
    pub t_years: f64,
    /// Premium the IV was solved from, price units.
    pub option_price: Option<f64>,
    /// Which quote that premium is: `mid` or `last`.
    pub price_source: Option<String>,
    /// Implied volatility, decimal per √year (0.15 = 15 %).
    pub iv: Option<f64>,
    /// Why there is no IV: `below_intrinsic`, `above_upper_bound`, `no_time_value`, `invalid_input`.
    pub iv_error: Option<String>,
    /// Greeks at that IV.
    pub greeks: Option<GreeksOut>,
    /// The conventions and units used.
    pub conventions: ConventionsOut,
}

#[derive(ApiResponse)]
enum GreeksOk {
    /// The latest values.
    #[oai(status = 200)]
    Ok(Json<RealtimeGreeks>),
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
    ) -> Result<GreeksOk, ReadFailure> {
        let key = key_param("instrument_key", &instrument_key.0)?;
        let r = self
            .state
            .ingest
            .state()
            .greeks(&key)
            .ok_or_else(|| ReadFailure::not_found("instrument_key", format!("no Greeks for {key} yet")))?;
        // The record carries the model, rate and time basis it was priced with.
        let mut conventions = ConventionsOut::from(self.state.ingest.conventions());
        conventions.model = r.model.as_str().to_owned();
        conventions.rate = r.rate;
        conventions.time_basis = r.time_basis.as_str().to_owned();
        Ok(GreeksOk::Ok(Json(RealtimeGreeks {
            instrument_key: key.to_string(),
            as_of: r.minute,
            stale: self.state.reads().is_stale(r.minute),
            underlying_price: r.underlying_price,
            forward: Forward {
                value: r.forward,
                source: r.forward_source,
            }
            .into(),
            t_years: r.t_years,
            option_price: r.option_price,
            price_source: r.price_source.map(|p| p.as_str().to_owned()),
            iv: r.iv,
            iv_error: r.iv_error.map(|e| e.code().to_owned()),
            greeks: r.greeks.map(Into::into),
            conventions,
        })))
    }
}
