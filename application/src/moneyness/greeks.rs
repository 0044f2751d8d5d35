//! The moneyness-aware Greeks calculator: aggregates one expiry's option points by the levels of
//! its moneyness mapping (per right, every single level and the groups ITM and OTM).

use std::sync::Arc;

use chrono::NaiveDate;
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::{LevelAggregate, MoneynessLevel, OptionPoint, aggregate_points};

use super::{MappingError, MappingOrigin, MappingService};

/// One level's aggregates for one right.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelRow {
    /// Call or put.
    pub right: OptionRight,
    /// Level (for this right: a put's ITM1 is the strike above ATM).
    pub level: MoneynessLevel,
    /// The strikes aggregated.
    pub strikes: Vec<f64>,
    /// Mean IV, OI-weighted Greeks, volume and OI totals.
    pub aggregate: LevelAggregate,
}

/// Aggregates by level plus the mapping's provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct MoneynessGreeksReport {
    /// ATM strike of the mapping used.
    pub atm_strike: f64,
    /// The mapping was stale (service down).
    pub mapping_stale: bool,
    /// Age of the mapping.
    pub mapping_age: chrono::Duration,
    /// Where the mapping came from.
    pub mapping_origin: MappingOrigin,
    /// Rows ordered by right, then level.
    pub levels: Vec<LevelRow>,
}

/// The use case.
pub struct MoneynessGreeks {
    mappings: Arc<MappingService>,
}

impl MoneynessGreeks {
    /// Uses `mappings` for the levels.
    #[must_use]
    pub fn new(mappings: Arc<MappingService>) -> Self {
        Self { mappings }
    }

    /// Aggregates `points` (one expiry of `underlying`) by the mapping's levels.
    ///
    /// # Errors
    /// [`MappingError`] when no mapping can be had.
    #[tracing::instrument(skip(self, points), fields(%underlying, %expiry, n = points.len()))]
    pub async fn execute(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        points: &[OptionPoint],
        reference: Option<f64>,
    ) -> Result<MoneynessGreeksReport, MappingError> {
        let answer = self.mappings.get(underlying, expiry, reference).await?;
        let m = &answer.mapping;
        let mut levels = Vec::new();
        for right in [OptionRight::Call, OptionRight::Put] {
            for level in m.levels_for(right) {
                levels.push(LevelRow {
                    right,
                    level,
                    aggregate: aggregate_points(m.points_at(points, right, level)),
                    strikes: m.strikes(right, level).to_vec(),
                });
            }
        }
        Ok(MoneynessGreeksReport {
            atm_strike: m.atm_strike,
            mapping_stale: answer.stale,
            mapping_age: answer.age,
            mapping_origin: answer.origin,
            levels,
        })
    }
}
