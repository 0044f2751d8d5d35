//! What the service knows about the market now, shared by ingest (which writes it) and the read
//! use cases (which answer from it):
//!
//! - [`Markets`]: each market's calendar and pricing conventions, by code;
//! - [`InstrumentRegistry`]: the instruments ingest accepts, each with its market;
//! - [`RealtimeState`]: the latest quotes, spot, futures, Greeks and evaluated chains;
//! - [`RegistryListing`]: the registry read as an instrument source (the local strike ladder).

mod listing;
mod markets;
mod registry;
mod state;

pub use listing::RegistryListing;
pub use markets::{MarketEntry, Markets};
pub use registry::{InstrumentKind, InstrumentRegistry, RegisteredInstrument};
pub use state::{ChainSnapshot, ExpiryKey, ExpiryState, QuoteState, RealtimeState};
