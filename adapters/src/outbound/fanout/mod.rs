//! Fan-out of numbered updates to every instance's subscription hub ([`domain::ports::SignalPublisher`]).
//!
//! - [`InProcessFanout`]: the embedded default, one process: numbers and delivers in place;
//! - [`RedisFanout`]: production, many instances: numbers in Redis, delivers over pub/sub;
//! - [`RedisIngestLog`]: the rows each instance accepted, followed by the others so every
//!   instance's realtime state reflects all ingest.

mod ingest_log;
mod memory;
mod redis;

pub use ingest_log::{CatchUp, RedisIngestLog};
pub use memory::InProcessFanout;
pub use redis::{HistoryLoad, RedisFanout};
