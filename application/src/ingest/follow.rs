//! Following other instances' ingest: every instance serves the whole realtime picture.
//!
//! Behind a load balancer each batch reaches one instance. [`IngestTicks::follow`] applies a
//! batch another instance took in to this instance's realtime state through the same stages —
//! validation, 1-minute bars, quotes, pricing, chain snapshots at the same minute boundaries —
//! so reads answer the same everywhere. Nothing of it is stored, published or counted here: the
//! instance that took it in does that once. Its open minutes are kept apart from this
//! instance's own (`pricing::Role`), so their snapshots only update the state.

use crate::market::InstrumentKind;
use domain::market_data::Tick;
use domain::ports::{PortError, TimeRange};

use super::pricing::{Role, minute_of};
use super::ticks::IngestTicks;

impl IngestTicks {
    /// Applies a batch another instance accepted to this instance's realtime state (see the
    /// module's documentation). Returns the rows applied (the rules are the same everywhere, so
    /// those the other instance accepted).
    ///
    /// # Errors
    /// [`PortError`] when the store fails reading the bars a newly seen instrument already has.
    pub async fn follow(&self, ticks: &[Tick]) -> Result<usize, PortError> {
        let applied = self.apply(ticks, Role::Followed).await?;
        let _ = self.pricing.price(ticks, &applied.quoted, Role::Followed);
        Ok(applied.report.accepted)
    }

    /// Applies the newest rows of instruments another instance took in before what a starting
    /// instance can replay batch by batch (oldest first), as [`Self::follow`] does; then takes
    /// each option's IV and Greeks from the store's minute snapshot of its row. Pricing one row
    /// alone here cannot be exact: the other instance priced it on the forward it had then (the
    /// spot and the expiry's other quotes at that time); the snapshot is what it computed. An
    /// option whose snapshot is not stored yet keeps the price made here. Returns the rows
    /// applied and the options whose Greeks came from the store.
    ///
    /// # Errors
    /// [`PortError`] when the store fails.
    pub async fn restore(&self, ticks: &[Tick]) -> Result<(usize, usize), PortError> {
        let applied = self.follow(ticks).await?;
        let mut from_store = 0;
        for t in ticks {
            let is_option = self
                .registry
                .get(&t.key)
                .is_some_and(|r| matches!(r.kind, InstrumentKind::Option(_)));
            if !is_option {
                continue;
            }
            let minute = minute_of(t.ts);
            let range = TimeRange {
                from: minute,
                to: minute + chrono::Duration::minutes(1),
            };
            if let Some(record) = self.persist.store.greeks(&t.key, range, 1).await?.pop() {
                self.state.set_greeks(record);
                from_store += 1;
            }
        }
        Ok((applied, from_store))
    }
}
