//! Retries with jittered backoff and a circuit breaker around calls to a remote service.
//!
//! - Retries: at most `max_retries` more attempts, only after a timeout, a 5xx or a transport
//!   error (refused, reset, a kept-alive connection the server had closed: every call is an
//!   idempotent GET); before retry `n`
//!   (from 0) the caller sleeps a uniformly random time in `[0, min(backoff_max, backoff_base·2ⁿ))`
//!   ("full jitter", so a fleet of instances does not retry in lock-step).
//! - Breaker: `breaker_failures` consecutive failed attempts (timeouts, 5xx, transport errors)
//!   open it; while open every call fails at once; after `breaker_cooldown` one trial call is let
//!   through (half-open): success closes it, failure opens it again. 4xx and malformed answers are
//!   the service working, so they count as successes for the breaker.

use application::sync::LockOrRecover;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::raw::RawError;

/// Tuning of [`Resilience`]; every field is configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResilienceConfig {
    /// Extra attempts after the first (0 = no retry).
    pub max_retries: u32,
    /// Backoff before the first retry (upper bound of its jitter).
    pub backoff_base: Duration,
    /// Cap on any one backoff.
    pub backoff_max: Duration,
    /// Consecutive failed attempts that open the breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before a trial call.
    pub breaker_cooldown: Duration,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            max_retries: 2,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(10),
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls fail fast until the cooldown ends.
    Open,
    /// One trial call is in flight.
    HalfOpen,
}

#[derive(Debug)]
struct Breaker {
    failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

/// Why a guarded call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardedError {
    /// The breaker is open; nothing was sent.
    #[error("circuit breaker open")]
    Open,
    /// The last attempt's error.
    #[error(transparent)]
    Call(#[from] RawError),
}

/// Retry and circuit-breaker policy for one remote service.
#[derive(Debug)]
pub struct Resilience {
    cfg: ResilienceConfig,
    breaker: Mutex<Breaker>,
}

impl Resilience {
    /// A closed breaker with `cfg`.
    #[must_use]
    pub fn new(cfg: ResilienceConfig) -> Self {
        Self {
            cfg,
            breaker: Mutex::new(Breaker {
                failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock_or_recover()
    }

    /// The breaker's current state.
    pub fn state(&self) -> BreakerState {
        let b = self.lock();
        match b.opened_at {
            None => BreakerState::Closed,
            Some(_) if b.trial_in_flight => BreakerState::HalfOpen,
            Some(t) if t.elapsed() >= self.cfg.breaker_cooldown => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }

    /// May an attempt go out now? Marks the half-open trial as taken.
    fn admit(&self) -> bool {
        let mut b = self.lock();
        match b.opened_at {
            None => true,
            Some(t) if t.elapsed() >= self.cfg.breaker_cooldown && !b.trial_in_flight => {
                b.trial_in_flight = true;
                true
            }
            Some(_) => false,
        }
    }

    fn record(&self, failed: bool) {
        let mut b = self.lock();
        let was_trial = b.trial_in_flight;
        b.trial_in_flight = false;
        if failed {
            b.failures += 1;
            if was_trial || b.failures >= self.cfg.breaker_failures {
                b.opened_at = Some(Instant::now());
            }
        } else {
            b.failures = 0;
            b.opened_at = None;
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let cap = self
            .cfg
            .backoff_base
            .saturating_mul(1 << retry.min(16))
            .min(self.cfg.backoff_max);
        cap.mul_f64(fastrand::f64())
    }

    /// Runs `attempt` under the policy.
    ///
    /// # Errors
    /// [`GuardedError::Open`] when the breaker refuses; otherwise the last attempt's error.
    pub async fn call<T, F, Fut>(&self, mut attempt: F) -> Result<T, GuardedError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RawError>>,
    {
        let mut retry = 0;
        loop {
            if !self.admit() {
                return Err(GuardedError::Open);
            }
            match attempt().await {
                Ok(v) => {
                    self.record(false);
                    return Ok(v);
                }
                Err(e) => {
                    self.record(e.is_failure());
                    if !e.is_retryable() || retry >= self.cfg.max_retries {
                        return Err(e.into());
                    }
                    tokio::time::sleep(self.backoff(retry)).await;
                    retry += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn cfg() -> ResilienceConfig {
        ResilienceConfig {
            max_retries: 2,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(2),
            breaker_failures: 3,
            breaker_cooldown: Duration::from_millis(50),
        }
    }

    fn err500() -> RawError {
        RawError::Status {
            status: 500,
            body: String::new(),
        }
    }

    #[tokio::test]
    async fn retries_timeouts_5xx_and_transport_errors_not_4xx() {
        let r = Resilience::new(cfg());
        let n = AtomicU32::new(0);
        let out: Result<(), _> = r
            .call(|| async {
                n.fetch_add(1, Ordering::SeqCst);
                Err(RawError::Status {
                    status: 404,
                    body: String::new(),
                })
            })
            .await;
        assert!(out.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 1, "a 404 is not retried");
        let n = AtomicU32::new(0);
        let out = r
            .call(|| async {
                if n.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(RawError::Timeout(Duration::ZERO))
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(out, Ok(7));
        assert_eq!(n.load(Ordering::SeqCst), 3);
        let n = AtomicU32::new(0);
        let out = r
            .call(|| async {
                if n.fetch_add(1, Ordering::SeqCst) < 1 {
                    Err(RawError::Transport("connection closed".into()))
                } else {
                    Ok(8)
                }
            })
            .await;
        assert_eq!(
            out,
            Ok(8),
            "a connection closed under a kept-alive request is tried again"
        );
        let n = AtomicU32::new(0);
        let out: Result<(), _> = r
            .call(|| async {
                n.fetch_add(1, Ordering::SeqCst);
                Err(RawError::Decode("not json".into()))
            })
            .await;
        assert!(out.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 1, "a malformed answer is not retried");
    }

    #[tokio::test]
    async fn the_breaker_opens_fails_fast_and_recovers_after_the_cooldown() {
        let r = Resilience::new(cfg());
        let n = AtomicU32::new(0);
        let out: Result<(), _> = r
            .call(|| async {
                n.fetch_add(1, Ordering::SeqCst);
                Err(err500())
            })
            .await;
        assert!(matches!(out, Err(GuardedError::Call(_))));
        assert_eq!(r.state(), BreakerState::Open);
        let out: Result<(), _> = r
            .call(|| async {
                n.fetch_add(1, Ordering::SeqCst);
                Err(err500())
            })
            .await;
        assert_eq!(out, Err(GuardedError::Open));
        assert_eq!(n.load(Ordering::SeqCst), 3, "nothing sent while open");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(r.state(), BreakerState::HalfOpen);
        assert_eq!(r.call(|| async { Ok(1) }).await, Ok(1));
        assert_eq!(r.state(), BreakerState::Closed);
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let r = Resilience::new(ResilienceConfig {
            backoff_base: Duration::from_millis(4),
            backoff_max: Duration::from_millis(20),
            ..cfg()
        });
        let draws: Vec<Duration> = (0..200).map(|_| r.backoff(1)).collect();
        assert!(
            draws.iter().all(|b| *b < Duration::from_millis(8)),
            "retry 1: below base·2"
        );
        assert!(draws.iter().any(|b| *b != draws[0]), "jittered");
        assert!((0..200).all(|_| r.backoff(10) < Duration::from_millis(20)), "capped");
    }
}
