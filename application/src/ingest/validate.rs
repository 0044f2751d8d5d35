//! Stage 1, validation: each row of a batch is checked on its own — a known instrument, a sane
//! time for its market (not in the future, not before the market's first date, in a session),
//! prices and quantities finite, non-negative and under the configured ceilings. A bad row is
//! answered with its index, the field to blame and why; it never spoils the rest of the batch.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::instrument::Market;
use domain::market_data::{Sanity, Tick, check_time};

use crate::market::{InstrumentRegistry, RegisteredInstrument};

/// One rejected row of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRejection {
    /// 0-based index in the batch.
    pub index: usize,
    /// Offending field.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// The answer to a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Rows accepted (and durable).
    pub accepted: usize,
    /// Rows rejected, with reasons, by index.
    pub rejected: Vec<RowRejection>,
}

/// A rejection of row `index`.
pub(super) fn rejection(index: usize, field: &str, reason: impl Into<String>) -> RowRejection {
    RowRejection {
        index,
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// The validation stage.
pub(super) struct Validation {
    registry: Arc<InstrumentRegistry>,
    /// Ceilings of prices and quantities.
    pub(super) sanity: Sanity,
}

/// An accepted row: its index in the batch and its instrument.
pub(super) type Row = (usize, Arc<RegisteredInstrument>);

impl Validation {
    pub(super) fn new(registry: Arc<InstrumentRegistry>) -> Self {
        Self {
            registry,
            sanity: Sanity::default(),
        }
    }

    /// The rows of `ticks` that pass, in order, with their instrument; the others go to
    /// `report.rejected`.
    pub(super) fn rows(&self, ticks: &[Tick], now: DateTime<Utc>, report: &mut IngestReport) -> Vec<Row> {
        let mut out = Vec::with_capacity(ticks.len());
        // The last time that passed, and for which market: a batch's rows usually share one
        // time, and the calendar check (time zone conversions) is the costly part.
        let mut time_ok: Option<(DateTime<Utc>, *const Market)> = None;
        for (i, t) in ticks.iter().enumerate() {
            let Some(reg) = self.registry.get(&t.key) else {
                report
                    .rejected
                    .push(rejection(i, "key", format!("unknown instrument {}", t.key)));
                continue;
            };
            let market: *const Market = reg.market();
            let checked = t.validate_values().and_then(|()| {
                if time_ok == Some((t.ts, market)) {
                    return Ok(());
                }
                check_time("ts", t.ts, now, reg.market())?;
                time_ok = Some((t.ts, market));
                Ok(())
            });
            if let Err(e) = checked.and_then(|()| self.sanity.check_tick(t)) {
                report.rejected.push(rejection(i, &e.field, e.reason));
                continue;
            }
            out.push((i, reg));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use domain::instrument::InstrumentKey;

    use super::*;

    fn tick(key: &str, last: f64) -> Tick {
        Tick {
            key: InstrumentKey::parse(key).unwrap(),
            ts: Utc.with_ymd_and_hms(2026, 2, 2, 4, 0, 0).unwrap(),
            last: Some(last),
            bid: None,
            ask: None,
            volume: None,
            oi: None,
        }
    }

    #[test]
    fn each_bad_row_is_named_and_the_good_ones_pass() {
        let registry = InstrumentRegistry::default();
        registry
            .register_underlying(InstrumentKey::parse("NSE:NIFTY").unwrap(), "NSE")
            .unwrap();
        let v = Validation::new(Arc::new(registry));
        let now = Utc.with_ymd_and_hms(2026, 2, 2, 4, 1, 0).unwrap();
        let mut report = IngestReport::default();
        let rows = v.rows(
            &[
                tick("NSE:NIFTY", 26_000.0),
                tick("NSE:NOPE", 1.0),
                tick("NSE:NIFTY", f64::NAN),
            ],
            now,
            &mut report,
        );
        assert_eq!(rows.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0]);
        let fields: Vec<(usize, &str)> = report.rejected.iter().map(|r| (r.index, r.field.as_str())).collect();
        assert_eq!(fields, [(1, "key"), (2, "last")]);
    }
}
