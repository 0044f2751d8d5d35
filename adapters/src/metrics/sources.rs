//! The parts of the service that show their state at `/metrics` ([`Source`]), and the figures
//! they copy into a scrape's [`StateReading`]. Each adapter implements [`Source`] beside its own
//! code (the store, the Redis fan-out and mapping cache, the in-process mapping cache, the
//! instrument-service client); the binary lists them in `AppState::metric_sources`.

use super::StateReading;

/// Something that shows its state at `/metrics`.
pub trait Source: Send + Sync {
    /// Copies what it holds now into `reading`.
    fn read_into(&self, reading: &mut StateReading);
}

/// A database pool's connections now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (idle or in use).
    pub open: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// The pool's bound.
    pub max: u32,
    /// Calls that found no connection within the acquire timeout, since start (all pools of
    /// the process).
    pub acquire_timeouts: u64,
}

/// The Redis fan-out's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanoutStats {
    /// Batches delivered to this instance's subscribers only, Redis being unavailable.
    pub local_only_batches: u64,
    /// Publishing scripts that failed or timed out.
    pub publish_errors: u64,
    /// Times the receiving subscription was lost after being up.
    pub subscription_losses: u64,
    /// Times the receiving subscription was set up again after a loss.
    pub reconnects: u64,
    /// The receiving subscription is up now.
    pub subscribed: bool,
}

/// A Redis connection pool's history (bb8's statistics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RedisPoolStats {
    /// Gets that had to wait for a connection.
    pub waits: u64,
    /// Gets that gave up waiting.
    pub wait_timeouts: u64,
    /// Time spent waiting, seconds.
    pub wait_seconds: f64,
    /// Connections opened (after the first, each is a reconnect).
    pub connections_created: u64,
    /// Connections dropped as broken.
    pub connections_broken: u64,
}

impl From<bb8::Statistics> for RedisPoolStats {
    fn from(s: bb8::Statistics) -> Self {
        Self {
            waits: s.get_waited,
            wait_timeouts: s.get_timed_out,
            wait_seconds: s.get_wait_time.as_secs_f64(),
            connections_created: s.connections_created,
            connections_broken: s.connections_closed_broken,
        }
    }
}

/// An in-process cache tier's size and removals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Entries held.
    pub entries: u64,
    /// Estimated bytes held.
    pub bytes: u64,
    /// Entries dropped to stay within the bound.
    pub evictions: u64,
    /// Entries dropped at the end of their time-to-live.
    pub expirations: u64,
}
