//! Following other instances' ingest: every instance serves the whole realtime picture.
//!
//! Behind a load balancer each batch reaches one instance. [`IngestTicks::follow`] applies a
//! batch another instance took in to this instance's realtime state through the same stages —
//! validation, 1-minute bars, quotes, pricing, chain snapshots at the same minute boundaries —
//! so reads answer the same everywhere. Nothing of it is stored, published or counted here: the
//! instance that took it in does that once. Its open minutes are kept apart from this
//! instance's own (`pricing::Role`), so their snapshots only update the state.

use domain::market_data::Tick;
use domain::ports::PortError;

use super::pricing::Role;
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
}
