//! The ways in: everything that calls the use cases.
//!
//! - [`http`]: the REST API and the WebSocket subscriptions;
//! - [`streams`]: the Redis Streams consumer (production ingest);
//! - [`replay`]: historical files (NSE option chains, candle CSVs) as ingest batches;
//! - [`feed`]: the simulated market of the embedded default;
//! - [`calc_csv`]: CSV codecs of the `calc` commands, over the application calculators;
//! - [`rows`]: the tick and candle rows REST and the stream consumer both accept.

pub mod calc_csv;
pub mod feed;
pub mod http;
pub mod replay;
pub mod rows;
pub mod streams;
