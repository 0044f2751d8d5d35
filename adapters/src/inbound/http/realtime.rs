//! `GET /api/v2/realtime/greeks/{instrument_key}`: the latest IV and Greeks from memory.
//!
//! The hottest read of the service: each option's answer is serialized once per update (and
//! once more when it turns stale) and kept, so a request is a map lookup, a record comparison
//! and a copy of shared bytes. The kept answers are bounded by the options that have Greeks,
//! as the realtime state itself is.

use application::sync::RwLockOrRecover;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use application::realtime::GreeksRead;
use bytes::Bytes;
use domain::instrument::InstrumentKey;
use domain::ports::GreeksRecord;
use poem_openapi::param::Path;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::AppState;
use super::serialized::SerializedJson;
use super::shapes::{ConventionsOut, GreeksSnapshotOut, ReadFailure, STALE_AFTER_SECONDS, key_param};

/// Latest IV and Greeks of one option, with the conventions used.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none, example)]
pub struct RealtimeGreeks {
    /// The option.
    pub instrument_key: String,
    /// True when `as_of` is more than `stale_after_seconds` behind the server's clock (UTC now):
    /// no newer data has arrived since. The simulated market runs on the last session's clock,
    /// so its live numbers read stale on any other day.
    pub stale: bool,
    /// How far behind the server's clock data may be before it is called stale, seconds.
    pub stale_after_seconds: u32,
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
    Ok(SerializedJson<RealtimeGreeks>),
}

/// An answer as last served: valid while the option's record and its staleness are the same.
struct Kept {
    record: GreeksRecord,
    stale: bool,
    body: Bytes,
}

/// Realtime endpoints.
pub struct RealtimeApi {
    state: AppState,
    kept: RwLock<HashMap<InstrumentKey, Arc<Kept>>>,
}

impl RealtimeApi {
    pub(super) fn new(state: AppState) -> Self {
        Self {
            state,
            kept: RwLock::default(),
        }
    }

    /// The answer for `record`: the kept one when it is still exact, else a fresh one (kept).
    fn answer(&self, key: &InstrumentKey, read: GreeksRead) -> SerializedJson<RealtimeGreeks> {
        let GreeksRead {
            record,
            stale,
            conventions,
        } = read;
        let kept = self.kept.read_or_recover().get(key).cloned();
        if let Some(k) = kept.filter(|k| k.stale == stale && k.record == record) {
            return SerializedJson::from_bytes(k.body.clone());
        }
        // The record carries the model, rate and time basis it was priced with.
        let mut conventions = ConventionsOut::from(&conventions);
        conventions.model = record.model.as_str().to_owned();
        conventions.rate = record.rate;
        conventions.time_basis = record.time_basis.as_str().to_owned();
        let answer = SerializedJson::new(&RealtimeGreeks {
            instrument_key: key.to_string(),
            stale,
            stale_after_seconds: STALE_AFTER_SECONDS,
            snapshot: record.clone().into(),
            conventions,
        });
        let body = answer.bytes();
        let kept = Arc::new(Kept { record, stale, body });
        self.kept.write_or_recover().insert(key.clone(), kept);
        answer
    }
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
        #[oai(example = "super::examples::option_key")]
        instrument_key: Path<String>,
    ) -> Result<GreeksOk, ReadFailure> {
        let key = key_param("instrument_key", &instrument_key.0)?;
        let r = self.state.realtime.greeks(&key)?;
        Ok(GreeksOk::Ok(self.answer(&key, r)))
    }
}

impl poem_openapi::types::Example for RealtimeGreeks {
    /// A NIFTY call one minute into the hour, priced with the default conventions (the numbers
    /// are what the service computes for these inputs).
    fn example() -> Self {
        use domain::chain::{Conventions, QuotePrice};
        use domain::expiry::ForwardSource;
        use domain::instrument::OptionRight;
        use domain::pricing::{OptionInputs, price_and_greeks};
        let c = Conventions::DEFAULT;
        let inputs = OptionInputs {
            right: OptionRight::Call,
            underlying: 26_010.0,
            strike: 26_000.0,
            t_years: 0.0603,
            rate: c.rate,
            div_yield: 0.0,
            vol: 0.115,
        };
        let v = price_and_greeks(c.model, &inputs).ok();
        let record = GreeksRecord {
            key: InstrumentKey::parse("NSE:NIFTY-20260224-26000-CE").expect("a valid key"),
            minute: "2026-02-02T04:30:00Z".parse().unwrap_or_default(),
            underlying_price: 25_962.4,
            forward: inputs.underlying,
            forward_source: ForwardSource::PutCallParity,
            option_price: v.map(|v| v.price),
            price_source: Some(QuotePrice::Mid),
            iv: Some(inputs.vol),
            iv_error: None,
            greeks: v.map(|v| v.greeks),
            model: c.model,
            rate: c.rate,
            time_basis: c.time_basis,
            t_years: inputs.t_years,
        };
        Self {
            instrument_key: record.key.to_string(),
            stale: false,
            stale_after_seconds: STALE_AFTER_SECONDS,
            snapshot: record.into(),
            conventions: ConventionsOut::from(&c),
        }
    }
}
