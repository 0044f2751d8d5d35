//! Wire types of the instrument service (see `openapi/instrument-service.yaml`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One underlying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnderlyingDto {
    /// Instrument key, e.g. `NSE:NIFTY`.
    pub key: String,
    /// Exchange symbol.
    pub symbol: String,
    /// Market code.
    pub market: String,
    /// `index`, `equity` or `future`.
    pub kind: String,
    /// Strike step, price units.
    pub strike_step: f64,
}

/// `GET /v1/underlyings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnderlyingsDto {
    /// All underlyings.
    pub underlyings: Vec<UnderlyingDto>,
}

/// `GET /v1/underlyings/{key}/expiries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiriesDto {
    /// The underlying's key.
    pub underlying: String,
    /// Expiry dates, exchange-local, ascending.
    pub expiries: Vec<NaiveDate>,
}

/// One contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractDto {
    /// Contract key.
    pub key: String,
    /// Underlying key.
    pub underlying: String,
    /// Expiry instant.
    pub expiry: DateTime<Utc>,
    /// Strike, price units.
    pub strike: f64,
    /// `call` or `put` (`CE`/`PE` accepted).
    pub right: String,
    /// Units per contract.
    pub lot_size: u32,
    /// Price increment.
    pub tick_size: f64,
}

/// `GET /v1/underlyings/{key}/chain?expiry=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainDto {
    /// Underlying key.
    pub underlying: String,
    /// Expiry date.
    pub expiry: NaiveDate,
    /// The contracts.
    pub contracts: Vec<ContractDto>,
}

/// `GET /v1/underlyings/{key}/moneyness/{level}?expiry=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrikesDto {
    /// Underlying key.
    pub underlying: String,
    /// Expiry date.
    pub expiry: NaiveDate,
    /// Level name (`ATM`, `ITM2`, `OTM` …).
    pub level: String,
    /// Strikes at that level (call side), ascending.
    pub strikes: Vec<f64>,
}

/// `GET /v1/underlyings/{key}/moneyness-mapping?expiry=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingDto {
    /// Underlying key.
    pub underlying: String,
    /// Expiry date.
    pub expiry: NaiveDate,
    /// The ATM strike.
    pub atm_strike: f64,
    /// Strike step.
    pub strike_step: f64,
    /// When the service computed it.
    pub as_of: DateTime<Utc>,
    /// Level name → strikes (call side; puts mirror).
    pub levels: BTreeMap<String, Vec<f64>>,
}
