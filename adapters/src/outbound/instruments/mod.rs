//! Instrument catalogues behind the [`domain::ports::InstrumentSource`] port: an in-memory
//! [`Catalogue`], loaded from a contract-master CSV ([`contract_master`]) or generated from the
//! built-in listing rules ([`builtin`]), and the external instrument service over HTTP ([`http`]).

pub mod builtin;
mod catalogue;
pub mod contract_master;
pub mod http;

pub use catalogue::Catalogue;
