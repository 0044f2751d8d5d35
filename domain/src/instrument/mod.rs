//! Instruments: underlyings, option contracts, their validated keys, and the markets they trade on.

mod contract;
mod key;
mod listing;
mod market;
mod time_bound;

pub use contract::{
    ContractError, FutureContract, LotSize, OptionContract, OptionRight, Strike, Underlying, UnderlyingKind,
};
pub use key::{InstrumentKey, InstrumentKeyError};
pub use listing::{ProductSpec, Settlement};
pub use market::{CalendarError, MAX_WINDOWS, Market, SessionHours, TradingDay, Window};
pub use time_bound::{TimeBound, TimeBoundError};
