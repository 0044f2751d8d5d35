//! Ingest: ticks in, 1-minute candles, IV and Greeks, and moneyness aggregates out.
//!
//! [`IngestTicks`] is the one path every way in uses (REST, Redis Streams, replay, the built-in
//! feed). A batch is validated row by row; accepted rows update the minute bars, which are stored
//! before the call returns (durable); then every option touched by the batch is priced against
//! the state after the whole batch (so a snapshot's put–call parity sees all its quotes), the
//! latest values go to the in-memory [`RealtimeState`], and minute snapshots of Greeks and
//! moneyness aggregates are written in batches by [`IngestTicks::flush`].

mod candles;
mod moneyness;
mod pricing;
mod registry;
mod state;
mod ticks;

pub use registry::{InstrumentKind, InstrumentRegistry, RegisteredInstrument};
pub use state::{ChainSnapshot, ExpiryState, QuoteState, RealtimeState};
pub use ticks::{BulkWrite, IngestReport, IngestTicks, RowRejection};
