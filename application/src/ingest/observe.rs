//! What ingest tells an observer (the metrics adapter) about each batch it prices and
//! publishes: how many options were priced, why the others have no IV, how long pricing took,
//! and how long after the batch arrived its updates were handed to the fan-out.
//!
//! A port of the use case, so the application knows nothing of Prometheus: `adapters::metrics`
//! implements it; without one ([`IngestTicks::with_observer`](super::IngestTicks::with_observer)
//! not called) nothing is counted.

use std::time::Duration;

use domain::ports::GreeksRecord;
use domain::pricing::IvError;

/// Why a priced option has no implied volatility: the solver's reasons, then the two the
/// pipeline adds.
pub const IV_FAILURE_REASONS: [&str; 6] = [
    "below_intrinsic",
    "above_upper_bound",
    "no_time_value",
    "invalid_input",
    // No price to invert: no bid/ask/last the market's price source accepts.
    "no_price",
    // Neither a spot nor a forward known for its underlying yet: not priced at all.
    "no_forward",
];

/// One batch's pricing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PricingReport {
    /// Options priced (one IV solve and, when it succeeds, one Greeks evaluation each).
    pub options: usize,
    /// Of those, the ones without an IV, counted by reason (indexed as
    /// [`IV_FAILURE_REASONS`]).
    pub iv_failures: [usize; 6],
    /// The time to price them.
    pub took: Duration,
}

impl PricingReport {
    /// Counts `records` (priced), `unpriced` options (no forward) and the time taken.
    #[must_use]
    pub fn of(records: &[GreeksRecord], unpriced: usize, took: Duration) -> Self {
        let mut iv_failures = [0; 6];
        for r in records.iter().filter(|r| r.iv.is_none()) {
            let i = match r.iv_error {
                Some(IvError::BelowIntrinsic) => 0,
                Some(IvError::AboveUpperBound) => 1,
                Some(IvError::NoTimeValue) => 2,
                Some(IvError::InvalidInput) => 3,
                None => 4,
            };
            iv_failures[i] += 1;
        }
        iv_failures[5] = unpriced;
        Self {
            options: records.len(),
            iv_failures,
            took,
        }
    }
}

/// Told about each batch as it goes through (calls are on the ingest path: keep them cheap).
pub trait IngestObserver: Send + Sync {
    /// A batch's options were priced.
    fn priced(&self, report: &PricingReport);

    /// `updates` were handed to the fan-out `lag` after their batch arrived.
    fn published(&self, updates: usize, lag: Duration);
}
