//! The system clock: the one place that reads the wall clock.

use chrono::{DateTime, Utc};
use domain::ports::Clock;

/// [`Clock`] backed by the operating system's UTC time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the clock adapter is where Utc::now belongs
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
