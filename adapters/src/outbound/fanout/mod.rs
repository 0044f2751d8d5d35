//! Fan-out of numbered updates to every instance's subscription hub ([`domain::ports::SignalPublisher`]).
//!
//! - [`InProcessFanout`]: the embedded default, one process: numbers and delivers in place;
//! - [`RedisFanout`]: production, many instances: numbers in Redis, delivers over pub/sub.

mod memory;
mod redis;

pub use memory::InProcessFanout;
pub use redis::RedisFanout;
