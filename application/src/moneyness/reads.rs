//! The moneyness reads the API answers: one level's aggregated Greeks of an expiry, and the
//! strikes at a level. Both group strikes by the expiry's moneyness mapping from
//! [`MappingService`] (in-process cache, Redis, the instrument service, a stale copy while the
//! service is down, else the local strike ladder), and say which mapping they used and as of
//! when.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::{
    LevelAggregate, MappingBasis, MoneynessLevel, MoneynessMapping, ReferencePrice, aggregate_points,
};

use super::{MappingAnswer, MappingError, MappingOrigin, MappingService};
use crate::realtime::{ChainRead, ReadError, RealtimeReads};

/// Which mapping an answer used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MappingUsed {
    /// What decided the levels: the instrument service or the local strike ladder.
    pub source: MappingBasis,
    /// Where this instance found it: in process, Redis, the service itself, or computed here.
    pub via: MappingOrigin,
    /// When the mapping was made.
    pub as_of: DateTime<Utc>,
    /// True when it is past its TTL, served because the instrument service is down.
    pub stale: bool,
    /// The mapping's ATM strike.
    pub atm_strike: f64,
    /// The mapping's strike step.
    pub strike_step: f64,
}

impl MappingUsed {
    fn of(a: &MappingAnswer) -> Self {
        Self {
            source: a.mapping.basis,
            via: a.origin,
            as_of: a.mapping.as_of,
            stale: a.stale,
            atm_strike: a.mapping.atm_strike,
            strike_step: a.mapping.strike_step,
        }
    }
}

/// One right's aggregates at a level.
#[derive(Debug, Clone, PartialEq)]
pub struct RightAtLevel {
    /// Call or put.
    pub right: OptionRight,
    /// The strikes at the level for this right, ascending.
    pub strikes: Vec<f64>,
    /// Mean IV, OI-weighted Greeks, volume and OI of the chain's options at those strikes.
    pub aggregate: LevelAggregate,
}

/// A level's aggregates of one expiry.
#[derive(Debug, Clone)]
pub struct LevelRead {
    /// The chain the aggregates come from.
    pub chain: ChainRead,
    /// The level asked for.
    pub level: MoneynessLevel,
    /// Per right asked for that has options at the level.
    pub rights: Vec<RightAtLevel>,
    /// The mapping used.
    pub mapping: MappingUsed,
}

/// The strikes at a level of one expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct StrikesRead {
    /// The underlying.
    pub underlying: InstrumentKey,
    /// The expiry.
    pub expiry: NaiveDate,
    /// The level asked for.
    pub level: MoneynessLevel,
    /// The calls' strikes at the level, ascending.
    pub calls: Vec<f64>,
    /// The puts' strikes at the level, ascending (a put's ITM1 is the call's OTM1).
    pub puts: Vec<f64>,
    /// The mapping used.
    pub mapping: MappingUsed,
}

/// The moneyness read use cases.
pub struct MoneynessReads {
    realtime: Arc<RealtimeReads>,
    mappings: Arc<MappingService>,
}

fn no_mapping(e: MappingError) -> ReadError {
    ReadError::NotFound {
        field: "expiry",
        message: e.to_string(),
    }
}

/// The price the local ladder places the ATM strike by: the chain's forward, or its spot when
/// the market's conventions take ATM from the spot.
fn reference(chain: &ChainRead) -> Option<f64> {
    match chain.conventions.reference {
        ReferencePrice::Spot => chain.snapshot.spot.or(Some(chain.snapshot.forward.value)),
        ReferencePrice::Forward => Some(chain.snapshot.forward.value),
    }
}

impl MoneynessReads {
    /// Reads chains from `realtime` and mappings from `mappings`.
    #[must_use]
    pub fn new(realtime: Arc<RealtimeReads>, mappings: Arc<MappingService>) -> Self {
        Self { realtime, mappings }
    }

    /// The mappings (their counters, for `/metrics`).
    #[must_use]
    pub fn mappings(&self) -> &Arc<MappingService> {
        &self.mappings
    }

    async fn mapping(&self, chain: &ChainRead) -> Result<MappingAnswer, ReadError> {
        self.mappings
            .get(&chain.underlying, chain.expiry, reference(chain))
            .await
            .map_err(no_mapping)
    }

    /// `level`'s aggregates of `underlying`'s `expiry` (default: the nearest evaluated) for
    /// `rights`, grouped by the expiry's mapping.
    ///
    /// # Errors
    /// [`ReadError::NotFound`] when no chain was evaluated, no mapping can be had, or no option
    /// of the chain is at the level.
    pub async fn level(
        &self,
        underlying: &InstrumentKey,
        level: MoneynessLevel,
        expiry: Option<NaiveDate>,
        rights: &[OptionRight],
    ) -> Result<LevelRead, ReadError> {
        let chain = self.realtime.chain(underlying, expiry)?;
        let answer = self.mapping(&chain).await?;
        let m: &MoneynessMapping = &answer.mapping;
        let points = &chain.snapshot.analytics.points;
        let mut out = Vec::new();
        for &right in rights {
            let chosen = m.points_at(points, right, level);
            if chosen.clone().next().is_none() {
                continue;
            }
            out.push(RightAtLevel {
                right,
                aggregate: aggregate_points(chosen),
                strikes: m.strikes(right, level).to_vec(),
            });
        }
        if out.is_empty() {
            return Err(ReadError::NotFound {
                field: "level",
                message: format!("no option of the chain is at level {level}"),
            });
        }
        Ok(LevelRead {
            mapping: MappingUsed::of(&answer),
            chain,
            level,
            rights: out,
        })
    }

    /// The strikes at `level` of `underlying`'s `expiry` (default: the nearest evaluated),
    /// both rights.
    ///
    /// # Errors
    /// [`ReadError::NotFound`] when no chain was evaluated, no mapping can be had, or the
    /// mapping has no strike at the level for either right.
    pub async fn strikes(
        &self,
        underlying: &InstrumentKey,
        level: MoneynessLevel,
        expiry: Option<NaiveDate>,
    ) -> Result<StrikesRead, ReadError> {
        let chain = self.realtime.chain(underlying, expiry)?;
        let answer = self.mapping(&chain).await?;
        let m = &answer.mapping;
        let (calls, puts) = (
            m.strikes(OptionRight::Call, level).to_vec(),
            m.strikes(OptionRight::Put, level).to_vec(),
        );
        if calls.is_empty() && puts.is_empty() {
            return Err(ReadError::NotFound {
                field: "level",
                message: format!(
                    "the mapping of {underlying} {} has no strike at level {level}",
                    chain.expiry
                ),
            });
        }
        Ok(StrikesRead {
            underlying: underlying.clone(),
            expiry: chain.expiry,
            level,
            calls,
            puts,
            mapping: MappingUsed::of(&answer),
        })
    }
}
