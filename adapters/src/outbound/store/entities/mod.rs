//! sea-orm entities of the time-series tables. They stay inside the store adapter: nothing outside
//! `adapters::outbound::store` sees a `Model`.

pub mod candle;
pub mod computation;
pub mod custom_timeframe;
pub mod greeks;
pub mod instrument;
pub mod moneyness;
