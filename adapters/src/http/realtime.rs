//! `GET /api/v2/realtime/greeks/{instrument_key}`: the latest IV and Greeks from memory.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::AppState;
use super::shapes::{ConventionsOut, GreeksSnapshotOut, ReadFailure, key_param};

/// Latest IV and Greeks of one option, with the conventions used.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RealtimeGreeks {
    /// The option.
    pub instrument_key: String,
    /// True when `as_of` is more than 120 s behind the service clock.
    pub stale: bool,
    /// The values of the latest minute priced.
    #[oai(flatten)]
    pub snapshot: GreeksSnapshotOut,
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
            stale: self.state.reads().is_stale(r.minute),
            snapshot: r.into(),
            conventions,
        })))
    }
}
