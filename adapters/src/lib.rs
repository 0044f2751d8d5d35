//! Adapters, laid out by direction.
//!
//! - [`inbound`] — the ways in, which drive the use cases: the REST API and the WebSocket
//!   subscriptions (`http/`), the Redis Streams consumer, replay files, the simulated market,
//!   the `calc` CSV codecs, and the row types REST and streams share (`rows.rs`);
//! - [`outbound`] — the ways out, which implement the domain's ports: the sea-orm store, the
//!   caches, the update fan-out, the instrument catalogues and client, the system clock;
//! - [`metrics`] — what `/metrics` exposes: events counted where they happen, state read at
//!   scrape time.

pub mod inbound;
pub mod metrics;
pub mod outbound;
