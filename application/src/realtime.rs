//! Realtime reads: the latest evaluated chain of an underlying's expiry, from the in-memory
//! state the ingest pipeline keeps, and whether it is stale.
//!
//! Which expiry when the caller names none: the nearest one not yet past (by the clock's UTC
//! date), else the latest one known.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::chain::Conventions;
use domain::instrument::InstrumentKey;
use domain::ports::{Clock, GreeksRecord};

use crate::market::{ChainSnapshot, ExpiryState, InstrumentRegistry, RealtimeState};

/// Data whose as-of time is more than this behind the clock is reported stale.
pub const STALE_AFTER_SECS: i64 = 120;

/// Why a realtime read has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Nothing known yet for what was asked; names the field.
    #[error("{message}")]
    NotFound {
        /// The request field that selected nothing (`underlying`, `expiry`, `instrument_key`).
        field: &'static str,
        /// What is missing.
        message: String,
    },
}

/// One expiry's latest chain with the quotes it was computed from.
#[derive(Debug, Clone)]
pub struct ChainRead {
    /// The underlying.
    pub underlying: InstrumentKey,
    /// The expiry date (market-local).
    pub expiry: NaiveDate,
    /// The analytics and their inputs.
    pub snapshot: ChainSnapshot,
    /// The latest quotes of the expiry's options (keys, bid, ask, last, OI, volume).
    pub quotes: ExpiryState,
    /// Whether the snapshot's minute is more than [`STALE_AFTER_SECS`] behind the clock.
    pub stale: bool,
    /// The conventions of the underlying's market, which the chain was priced with.
    pub conventions: Conventions,
    /// Open (UTC) of the session the snapshot's minute belongs to, when it is in one: a minute
    /// before it, the historical chain gives the previous session's close.
    pub session_open: Option<DateTime<Utc>>,
}

/// One option's latest IV and Greeks.
#[derive(Debug, Clone, PartialEq)]
pub struct GreeksRead {
    /// The record (it carries the model, rate and time basis it was priced with).
    pub record: GreeksRecord,
    /// Whether its minute is more than [`STALE_AFTER_SECS`] behind the clock.
    pub stale: bool,
    /// The conventions of the option's market.
    pub conventions: Conventions,
}

/// The realtime read use cases.
pub struct RealtimeReads {
    state: Arc<RealtimeState>,
    registry: Arc<InstrumentRegistry>,
    clock: Arc<dyn Clock>,
}

impl RealtimeReads {
    /// Reads from `state`, with each instrument's conventions from `registry`, judging
    /// staleness by `clock`.
    #[must_use]
    pub fn new(state: Arc<RealtimeState>, registry: Arc<InstrumentRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self { state, registry, clock }
    }

    /// Every evaluated chain of `underlying`, ascending by expiry.
    ///
    /// # Errors
    /// [`ReadError::NotFound`] naming `underlying` when none was evaluated yet.
    pub fn chains(&self, underlying: &InstrumentKey) -> Result<Vec<ChainRead>, ReadError> {
        let reads: Vec<ChainRead> = self
            .state
            .chain_expiries(underlying)
            .into_iter()
            .filter_map(|e| self.chain(underlying, Some(e)).ok())
            .collect();
        if reads.is_empty() {
            return Err(ReadError::NotFound {
                field: "underlying",
                message: format!("no option chain of {underlying} evaluated yet"),
            });
        }
        Ok(reads)
    }

    /// The market of `key`, when registered.
    #[must_use]
    pub fn market_of(&self, key: &InstrumentKey) -> Option<domain::instrument::Market> {
        self.registry.get(key).map(|r| r.market().clone())
    }

    fn conventions_of(&self, key: &InstrumentKey) -> Conventions {
        self.registry
            .get(key)
            .map_or(Conventions::DEFAULT, |r| *r.conventions())
    }

    /// The latest IV and Greeks of an option.
    ///
    /// # Errors
    /// [`ReadError::NotFound`] when the option was not priced yet.
    pub fn greeks(&self, key: &InstrumentKey) -> Result<GreeksRead, ReadError> {
        let record = self.state.greeks(key).ok_or_else(|| ReadError::NotFound {
            field: "instrument_key",
            message: format!("no Greeks for {key} yet"),
        })?;
        Ok(GreeksRead {
            stale: self.is_stale(record.minute),
            conventions: self.conventions_of(key),
            record,
        })
    }

    /// Whether data as of `as_of` is stale now.
    #[must_use]
    pub fn is_stale(&self, as_of: DateTime<Utc>) -> bool {
        self.clock.now() - as_of > Duration::seconds(STALE_AFTER_SECS)
    }

    /// The latest chain of `underlying` for `expiry` (or the nearest expiry, see the module docs).
    ///
    /// # Errors
    /// [`ReadError::NotFound`] when no chain of that underlying (or expiry) was evaluated yet.
    pub fn chain(&self, underlying: &InstrumentKey, expiry: Option<NaiveDate>) -> Result<ChainRead, ReadError> {
        let expiry = match expiry {
            Some(e) => e,
            None => self
                .state
                .nearest_expiry(underlying, self.clock.now().date_naive())
                .ok_or_else(|| ReadError::NotFound {
                    field: "underlying",
                    message: format!("no option chain of {underlying} evaluated yet"),
                })?,
        };
        let snapshot = self.state.chain(underlying, expiry).ok_or_else(|| {
            let known = self.state.chain_expiries(underlying);
            ReadError::NotFound {
                field: "expiry",
                message: format!(
                    "no chain of {underlying} expiring {expiry} evaluated yet; known expiries: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                    }
                ),
            }
        })?;
        Ok(ChainRead {
            session_open: self
                .registry
                .get(underlying)
                .and_then(|r| r.market().session_containing(snapshot.minute))
                .map(|d| d.open),
            underlying: underlying.clone(),
            expiry,
            stale: self.is_stale(snapshot.minute),
            quotes: self.state.expiry(underlying, expiry),
            conventions: self.conventions_of(underlying),
            snapshot,
        })
    }
}
