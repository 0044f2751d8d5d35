//! `GET /api/v2/instruments/…`: the underlyings, their expiries and listed option chains.

use chrono::{DateTime, NaiveDate, Utc};
use domain::instrument::{OptionContract, OptionRight};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::AppState;
use super::shapes::{ReadFailure, key_param};

/// An underlying and how much is listed on it.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct UnderlyingOut {
    /// Instrument key of the underlying (its spot series), e.g. `NSE:NIFTY`.
    pub key: String,
    /// Market code, e.g. `NSE`.
    pub market: String,
    /// Distinct option expiries listed.
    pub expiries: u32,
    /// Option contracts listed (both rights).
    pub options: u32,
    /// Futures contracts listed.
    pub futures: u32,
}

/// The underlyings.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Underlyings {
    /// Ascending by key.
    pub underlyings: Vec<UnderlyingOut>,
}

/// One expiry.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ExpiryOut {
    /// Expiry date, market-local.
    pub date: NaiveDate,
    /// The instant the options stop trading and settle (UTC).
    pub expiry_time: DateTime<Utc>,
    /// Option contracts listed (both rights).
    pub options: u32,
    /// Distinct strikes listed.
    pub strikes: u32,
    /// Key of the future expiring that day, when listed.
    pub future_key: Option<String>,
}

/// An underlying's expiries.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Expiries {
    /// The underlying.
    pub underlying: String,
    /// Ascending by date.
    pub expiries: Vec<ExpiryOut>,
}

/// One listed option contract.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ContractOut {
    /// The contract's instrument key.
    pub key: String,
    /// Units of the underlying per contract.
    pub lot_size: u32,
    /// Minimum price increment, price units.
    pub tick_size: f64,
}

/// One strike of a listed chain.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ListedStrike {
    /// Strike, price units.
    pub strike: f64,
    /// The call, when listed.
    pub call: Option<ContractOut>,
    /// The put, when listed.
    pub put: Option<ContractOut>,
}

/// The contracts of one expiry.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ListedChainOut {
    /// The underlying.
    pub underlying: String,
    /// Expiry date, market-local.
    pub expiry: NaiveDate,
    /// The instant the options stop trading and settle (UTC).
    pub expiry_time: DateTime<Utc>,
    /// The same-expiry future, when listed.
    pub future: Option<ContractOut>,
    /// Ascending by strike.
    pub strikes: Vec<ListedStrike>,
}

#[derive(ApiResponse)]
enum UnderlyingsOk {
    /// The underlyings.
    #[oai(status = 200)]
    Ok(Json<Underlyings>),
}

#[derive(ApiResponse)]
enum ExpiriesOk {
    /// The expiries.
    #[oai(status = 200)]
    Ok(Json<Expiries>),
}

#[derive(ApiResponse)]
enum ChainOk {
    /// The listed chain.
    #[oai(status = 200)]
    Ok(Json<ListedChainOut>),
}

/// Instrument endpoints.
pub struct InstrumentsApi {
    pub(super) state: AppState,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn contract(c: &OptionContract) -> ContractOut {
    ContractOut {
        key: c.key.to_string(),
        lot_size: c.lot_size.units(),
        tick_size: c.tick_size,
    }
}

#[OpenApi]
impl InstrumentsApi {
    /// Every underlying the service knows, with how many expiries and contracts are listed.
    #[oai(path = "/instruments/underlyings", method = "get", operation_id = "listUnderlyings")]
    async fn underlyings(&self) -> UnderlyingsOk {
        UnderlyingsOk::Ok(Json(Underlyings {
            underlyings: self
                .state
                .instruments
                .underlyings()
                .into_iter()
                .map(|u| UnderlyingOut {
                    key: u.key.to_string(),
                    market: u.market,
                    expiries: count(u.expiries),
                    options: count(u.options),
                    futures: count(u.futures),
                })
                .collect(),
        }))
    }

    /// The option expiries of an underlying.
    #[oai(
        path = "/instruments/:underlying/expiries",
        method = "get",
        operation_id = "listExpiries"
    )]
    async fn expiries(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
    ) -> Result<ExpiriesOk, ReadFailure> {
        let key = key_param("underlying", &underlying.0)?;
        let expiries = self.state.instruments.expiries(&key)?;
        Ok(ExpiriesOk::Ok(Json(Expiries {
            underlying: key.to_string(),
            expiries: expiries
                .into_iter()
                .map(|e| ExpiryOut {
                    date: e.date,
                    expiry_time: e.expiry_time,
                    options: count(e.options),
                    strikes: count(e.strikes),
                    future_key: e.future.map(|k| k.to_string()),
                })
                .collect(),
        })))
    }

    /// The listed contracts of one expiry, per strike.
    #[oai(
        path = "/instruments/:underlying/chain",
        method = "get",
        operation_id = "getListedChain"
    )]
    async fn chain(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// Expiry date (YYYY-MM-DD); default: the nearest expiry not yet past.
        #[oai(example = "super::examples::expiry")]
        expiry: Query<Option<NaiveDate>>,
    ) -> Result<ChainOk, ReadFailure> {
        let key = key_param("underlying", &underlying.0)?;
        let chain = self.state.instruments.chain(&key, expiry.0)?;
        let expiry_time = chain.options.first().map(|c| c.expiry).unwrap_or_default();
        let mut strikes: Vec<ListedStrike> = Vec::new();
        for c in &chain.options {
            if strikes.last().is_none_or(|s| s.strike != c.strike.value()) {
                strikes.push(ListedStrike {
                    strike: c.strike.value(),
                    call: None,
                    put: None,
                });
            }
            if let Some(s) = strikes.last_mut() {
                match c.right {
                    OptionRight::Call => s.call = Some(contract(c)),
                    OptionRight::Put => s.put = Some(contract(c)),
                }
            }
        }
        Ok(ChainOk::Ok(Json(ListedChainOut {
            underlying: key.to_string(),
            expiry: chain.expiry,
            expiry_time,
            future: chain.future.map(|f| ContractOut {
                key: f.key.to_string(),
                lot_size: f.lot_size.units(),
                tick_size: f.tick_size,
            }),
            strikes,
        })))
    }
}
