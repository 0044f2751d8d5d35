//! Time as a port: nothing in the domain or application reads the system clock directly.

use std::sync::RwLock;

use chrono::{DateTime, Duration, Utc};

/// The current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, UTC. Infallible.
    fn now(&self) -> DateTime<Utc>;
}

/// A clock tests set and advance by hand.
#[derive(Debug)]
pub struct ManualClock(RwLock<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `t`.
    #[must_use]
    pub fn new(t: DateTime<Utc>) -> Self {
        Self(RwLock::new(t))
    }

    /// Moves the clock to `t`.
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = t;
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut g = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *g += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_mock_stands_in_for_the_port() {
        let t = DateTime::parse_from_rfc3339("2026-11-24T03:45:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut m = MockClock::new();
        m.expect_now().times(1).return_const(t);
        let clock: &dyn Clock = &m;
        assert_eq!(clock.now(), t);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t = DateTime::parse_from_rfc3339("2026-11-24T03:45:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = ManualClock::new(t);
        assert_eq!(c.now(), t);
        c.advance(Duration::minutes(5));
        assert_eq!(c.now(), t + Duration::minutes(5));
    }
}
