//! Candles on any timeframe: timeframe parsing, session-anchored buckets, and aggregation of
//! 1-minute bars (streaming and batch are one code path).

mod aggregate;
mod bucket;
mod minute_builder;
mod timeframe;

pub use aggregate::{AggregateError, AggregatedBar, Aggregator, Bar, aggregate};
pub use bucket::{Bucket, Bucketer};
pub use minute_builder::{MinuteBarBuilder, TickEffect};
pub use timeframe::{MAX_DAYS, MAX_HOURS, MAX_MINUTES, TimeUnit, Timeframe, TimeframeError};
