//! Historical files turned into ingest batches (the `replay` command and tests).
//!
//! Each reader yields [`ReplayBatch`]es in time order: the contracts the batch mentions (to be
//! registered, so historical data needs no catalogue of its own) and its ticks, the underlying's
//! first so that the options of a snapshot are priced against that snapshot's spot.

pub mod candles;
pub mod eod_chain;
pub mod nse_chain;
pub mod nse_chain_raw;

use chrono::{DateTime, Utc};
use domain::instrument::{InstrumentKey, OptionContract};
use domain::market_data::Tick;

/// One snapshot of one underlying.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayBatch {
    /// Exchange time of the snapshot.
    pub ts: DateTime<Utc>,
    /// The underlying's key.
    pub underlying: InstrumentKey,
    /// Market code.
    pub market: String,
    /// Contracts met in the batch.
    pub contracts: Vec<OptionContract>,
    /// Ticks: the underlying's, then the options'.
    pub ticks: Vec<Tick>,
}

impl ReplayBatch {
    /// A batch at `ts` opening with the underlying's tick at `spot`.
    pub(crate) fn starting(ts: DateTime<Utc>, underlying: InstrumentKey, market: &str, spot: f64) -> Self {
        Self {
            ts,
            market: market.to_owned(),
            contracts: Vec::new(),
            ticks: vec![spot_tick(underlying.clone(), ts, spot)],
            underlying,
        }
    }
}

/// An underlying's tick: its spot as the last price, nothing else.
pub(crate) fn spot_tick(key: InstrumentKey, ts: DateTime<Utc>, spot: f64) -> Tick {
    Tick {
        key,
        ts,
        last: Some(spot),
        bid: None,
        ask: None,
        volume: None,
        oi: None,
    }
}
