//! Adapters: concrete implementations of the domain ports and the inbound interfaces.
//!
//! - [`cache`]: moneyness-mapping caches (moka in process, Redis shared);
//! - [`calc_csv`]: CSV codecs of the `calc` commands (inbound, over the application calculators);
//! - [`clock`]: the system clock;
//! - [`fanout`]: numbered updates to every instance's subscription hub (in process);
//! - [`feed`]: the simulated market of the embedded default;
//! - [`instruments`]: instrument catalogues (contract-master file, built-in generated listing,
//!   external instrument service over HTTP);
//! - [`replay`]: historical files (NSE option chains, candle CSVs) as ingest batches;
//! - [`store`]: the sea-orm store on SQLite or PostgreSQL;
//! - [`streams`]: the Redis Streams consumer (production ingest, inbound);
//! - [`http`]: the REST API (inbound).

pub mod cache;
pub mod calc_csv;
pub mod clock;
pub mod fanout;
pub mod feed;
pub mod http;
pub mod instruments;
pub mod replay;
pub mod store;
pub mod streams;
