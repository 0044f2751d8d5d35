//! Moneyness: the strike step, the ATM strike, levels ATM / ITMn / OTMn per right, the group
//! levels ITM / OTM, and aggregation of an option chain by level.
//!
//! One definition of levels for every consumer (ingest, the mapping cache, the API).

mod aggregate;
mod level;
mod mapping;

pub use aggregate::{
    LevelAggregate, LevelEntry, OptionPoint, aggregate_by_group, aggregate_by_level, aggregate_points,
};
pub use level::{LevelError, MoneynessLevel, ReferencePrice, atm_strike, level_of, strike_step};
pub use mapping::{MappingBasis, MoneynessMapping};
