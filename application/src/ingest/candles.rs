//! Ingesting 1-minute candles: validated per row, upserted (idempotent), and the closes of
//! underlyings taken as their latest spot.

use domain::candles::Bar;
use domain::market_data::{MAX_FUTURE_SKEW_SECS, within_calendar};
use domain::ports::{InstrumentCandle, PortError};

use super::ticks::IngestTicks;
use super::validate::{IngestReport, RowRejection};
use crate::market::InstrumentKind;

fn check(b: &Bar) -> Result<(), (&'static str, String)> {
    for (field, v) in [("open", b.open), ("high", b.high), ("low", b.low), ("close", b.close)] {
        if !(v.is_finite() && v > 0.0) {
            return Err((field, format!("{v} must be a positive finite price")));
        }
    }
    if !(b.volume.is_finite() && b.volume >= 0.0) {
        return Err(("volume", "must be a finite number ≥ 0".into()));
    }
    if b.oi.is_some_and(|oi| !(oi.is_finite() && oi >= 0.0)) {
        return Err(("oi", "must be a finite number ≥ 0".into()));
    }
    if b.low > b.high {
        return Err(("low", format!("low {} is above high {}", b.low, b.high)));
    }
    if b.open < b.low || b.open > b.high {
        return Err(("open", format!("open {} is outside [low, high]", b.open)));
    }
    if b.close < b.low || b.close > b.high {
        return Err(("close", format!("close {} is outside [low, high]", b.close)));
    }
    if b.start.timestamp_millis().rem_euclid(60_000) != 0 {
        return Err(("start", "a 1-minute bar starts on a whole minute".into()));
    }
    Ok(())
}

impl IngestTicks {
    /// Validates and stores 1-minute candles (bar-start labelled). Accepted rows are durable
    /// when this returns; replaying the same candles changes nothing.
    ///
    /// # Errors
    /// [`PortError`] when the store fails; then nothing of the batch is reported accepted.
    pub async fn execute_candles(&self, candles: &[InstrumentCandle]) -> Result<IngestReport, PortError> {
        let now = self.clock.now();
        let mut report = IngestReport::default();
        let mut ok = Vec::with_capacity(candles.len());
        for (i, c) in candles.iter().enumerate() {
            let reject = |field: &str, reason: String| RowRejection {
                index: i,
                field: field.to_owned(),
                reason,
            };
            let Some(reg) = self.registry.get(&c.key) else {
                report
                    .rejected
                    .push(reject("key", format!("unknown instrument {}", c.key)));
                continue;
            };
            if let Err((field, reason)) = check(&c.bar) {
                report.rejected.push(reject(field, reason));
                continue;
            }
            if let Err(e) = self.validation.sanity.check(
                &[
                    ("open", Some(c.bar.open)),
                    ("high", Some(c.bar.high)),
                    ("low", Some(c.bar.low)),
                    ("close", Some(c.bar.close)),
                ],
                &[("volume", Some(c.bar.volume)), ("oi", c.bar.oi)],
            ) {
                report.rejected.push(reject(&e.field, e.reason));
                continue;
            }
            let market = reg.market();
            if let Err(e) = within_calendar("start", c.bar.start, market) {
                report.rejected.push(reject(&e.field, e.reason));
                continue;
            }
            if c.bar.start > now + chrono::Duration::seconds(MAX_FUTURE_SKEW_SECS) {
                report.rejected.push(reject(
                    "start",
                    format!("{} is in the future", c.bar.start.to_rfc3339()),
                ));
                continue;
            }
            if market.session_containing(c.bar.start).is_none() {
                report.rejected.push(reject(
                    "start",
                    format!("{} is outside the {} session", c.bar.start.to_rfc3339(), market.code()),
                ));
                continue;
            }
            if reg.kind == InstrumentKind::Underlying {
                self.state
                    .set_spot(&c.key, c.bar.start + chrono::Duration::minutes(1), c.bar.close);
            }
            ok.push(InstrumentCandle {
                key: c.key.clone(),
                bar: Bar { minutes: 1, ..c.bar },
            });
            report.accepted += 1;
        }
        // Through the same group commit as the live bars, so the later of the two always wins.
        self.persist.bars.stage(ok).wait().await?;
        Ok(report)
    }
}
