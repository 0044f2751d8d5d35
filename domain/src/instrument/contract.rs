//! Underlyings and option contracts, with validated strikes and lot sizes.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::InstrumentKey;

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionRight {
    /// The right to buy.
    Call,
    /// The right to sell.
    Put,
}

impl OptionRight {
    /// +1 for a call, −1 for a put: the sign of the payoff's slope.
    #[must_use]
    pub fn sign(self) -> f64 {
        match self {
            Self::Call => 1.0,
            Self::Put => -1.0,
        }
    }

    /// The other right.
    #[must_use]
    pub fn flip(self) -> Self {
        match self {
            Self::Call => Self::Put,
            Self::Put => Self::Call,
        }
    }

    /// `"call"` or `"put"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Call => "call",
            Self::Put => "put",
        }
    }
}

impl fmt::Display for OptionRight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OptionRight {
    type Err = ContractError;
    /// Accepts `call`/`put`, `c`/`p` and the exchange forms `CE`/`PE`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "call" | "c" | "ce" => Ok(Self::Call),
            "put" | "p" | "pe" => Ok(Self::Put),
            _ => Err(ContractError::BadRight(s.to_owned())),
        }
    }
}

/// Why a contract field is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContractError {
    /// The option right is not call or put.
    #[error("option right '{0}' is not one of call, put, CE, PE")]
    BadRight(String),
    /// The strike is not a positive finite number.
    #[error("strike {0} must be a positive finite number (in price units)")]
    BadStrike(f64),
    /// The lot size is zero.
    #[error("lot size must be at least 1 unit")]
    ZeroLot,
}

/// A strike price in the underlying's price units: positive and finite.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Strike(f64);

impl Strike {
    /// Validates a strike.
    ///
    /// # Errors
    /// [`ContractError::BadStrike`] when `value` is not positive and finite.
    pub fn new(value: f64) -> Result<Self, ContractError> {
        if value.is_finite() && value > 0.0 {
            Ok(Self(value))
        } else {
            Err(ContractError::BadStrike(value))
        }
    }

    /// The strike in price units.
    #[must_use]
    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Strike {
    type Error = ContractError;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Strike> for f64 {
    fn from(value: Strike) -> Self {
        value.0
    }
}

/// Units of the underlying per contract (NSE: 75 for NIFTY, 35 for BANKNIFTY; exchanges revise them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct LotSize(u32);

impl LotSize {
    /// Validates a lot size.
    ///
    /// # Errors
    /// [`ContractError::ZeroLot`] for 0.
    pub fn new(units: u32) -> Result<Self, ContractError> {
        if units == 0 {
            Err(ContractError::ZeroLot)
        } else {
            Ok(Self(units))
        }
    }

    /// Units per contract.
    #[must_use]
    pub fn units(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for LotSize {
    type Error = ContractError;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<LotSize> for u32 {
    fn from(value: LotSize) -> Self {
        value.0
    }
}

/// What kind of thing an underlying is; decides nothing in pricing, informs display and catalogues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnderlyingKind {
    /// A price index (NIFTY 50).
    Index,
    /// A single stock.
    Equity,
    /// A futures contract used as an underlying.
    Future,
}

/// An underlying that options are written on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Underlying {
    /// Its instrument key (the spot series).
    pub key: InstrumentKey,
    /// The exchange symbol, e.g. `NIFTY`.
    pub symbol: String,
    /// Market code the underlying trades on (see [`super::Market::code`]).
    pub market: String,
    /// Index, equity or future.
    pub kind: UnderlyingKind,
    /// Distance between listed strikes, in price units (50 for NIFTY, 100 for BANKNIFTY).
    pub strike_step: f64,
}

/// A listed futures contract on an underlying: its price is the forward of the options that
/// expire with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FutureContract {
    /// The contract's own key, e.g. `NSE:NIFTY-20260224-FUT`.
    pub key: InstrumentKey,
    /// Key of the underlying.
    pub underlying: InstrumentKey,
    /// The instant it settles (NSE: 15:30 IST on expiry day), UTC.
    pub expiry: DateTime<Utc>,
    /// Units of the underlying per contract.
    pub lot_size: LotSize,
    /// Minimum price increment, price units.
    pub tick_size: f64,
}

/// A listed European option contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionContract {
    /// The contract's own key.
    pub key: InstrumentKey,
    /// Key of the underlying it is written on.
    pub underlying: InstrumentKey,
    /// The instant trading stops and the contract settles (NSE: 15:30 IST on expiry day), UTC.
    pub expiry: DateTime<Utc>,
    /// Strike in price units.
    pub strike: Strike,
    /// Call or put.
    pub right: OptionRight,
    /// Units of the underlying per contract.
    pub lot_size: LotSize,
    /// Minimum price increment, price units.
    pub tick_size: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exchange_right_codes() {
        assert_eq!("CE".parse::<OptionRight>().unwrap(), OptionRight::Call);
        assert_eq!("pe".parse::<OptionRight>().unwrap(), OptionRight::Put);
        assert!("straddle".parse::<OptionRight>().is_err());
    }

    #[test]
    fn strike_and_lot_reject_nonsense() {
        assert!(Strike::new(0.0).is_err());
        assert!(Strike::new(f64::NAN).is_err());
        assert!(Strike::new(-5.0).is_err());
        assert_eq!(Strike::new(24_000.0).unwrap().value(), 24_000.0);
        assert!(LotSize::new(0).is_err());
    }
}
