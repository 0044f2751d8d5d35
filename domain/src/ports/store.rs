//! Signal storage: candles and computed signals, written in batches, read by time range.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::{ComputationRecord, GreeksRecord, InstrumentCandle, MoneynessRecord, PortError, TimeRange};
use crate::candles::{AggregatedBar, Timeframe};
use crate::instrument::{InstrumentKey, OptionContract, OptionRight};
use crate::moneyness::MoneynessLevel;

/// Durable storage of market data and computed signals.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SignalStore: Send + Sync {
    /// Upserts 1-minute candles (idempotent: the same bar twice leaves one row; of several bars
    /// of one instrument and minute in `candles`, the last is kept), and in the same
    /// transaction drops every cached aggregate (see [`Self::save_timeframe_bars`]) of those
    /// instruments whose bucket spans one of the written minutes.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down; nothing is half-written.
    async fn save_candles(&self, candles: &[InstrumentCandle]) -> Result<(), PortError>;

    /// 1-minute candles of one instrument in `range`, ascending.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn candles(&self, key: &InstrumentKey, range: TimeRange) -> Result<Vec<InstrumentCandle>, PortError>;

    /// The 1-minute candles of every instrument of `keys` whose start is in `range`, each
    /// instrument's ascending: what ingest resumes its bar builders from when a batch meets
    /// instruments for the first time (a replay meets thousands). One query where the store
    /// can; by default one [`Self::candles`] per key.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn candles_of(&self, keys: &[InstrumentKey], range: TimeRange) -> Result<Vec<InstrumentCandle>, PortError> {
        let mut out = Vec::new();
        for key in keys {
            out.extend(self.candles(key, range).await?);
        }
        Ok(out)
    }

    /// Cached aggregated bars of one instrument and timeframe whose bucket starts in `range`,
    /// ascending (`signal_custom_timeframes`).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn timeframe_bars(
        &self,
        key: &InstrumentKey,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<AggregatedBar>, PortError>;

    /// Caches aggregated bars of one instrument and timeframe (upsert by bucket start).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn save_timeframe_bars(
        &self,
        key: &InstrumentKey,
        timeframe: Timeframe,
        bars: &[AggregatedBar],
    ) -> Result<(), PortError>;

    /// Upserts per-option Greeks snapshots.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn save_greeks(&self, records: &[GreeksRecord]) -> Result<(), PortError>;

    /// Greeks snapshots of one option in `range`, ascending, at most `limit`.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn greeks(&self, key: &InstrumentKey, range: TimeRange, limit: usize)
    -> Result<Vec<GreeksRecord>, PortError>;

    /// Registers option contracts met in data (idempotent), with their market code.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn register_contracts(&self, contracts: &[OptionContract], market: &str) -> Result<(), PortError>;

    /// Records what a computation run did (`signal_computation_metadata`).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn save_computation(&self, record: &ComputationRecord) -> Result<(), PortError>;

    /// Upserts per-level moneyness aggregates.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn save_moneyness(&self, records: &[MoneynessRecord]) -> Result<(), PortError>;

    /// Stores one group of a bulk load: its 1-minute candles (as [`Self::save_candles`]),
    /// moneyness aggregates and Greeks snapshots, each table's rows all or nothing. The store
    /// may write the tables at once (they are independent); by default the three calls in
    /// that order.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down; a table whose write failed holds
    /// none of its rows.
    async fn save_history(
        &self,
        candles: &[InstrumentCandle],
        moneyness: &[MoneynessRecord],
        greeks: &[GreeksRecord],
    ) -> Result<(), PortError> {
        self.save_candles(candles).await?;
        self.save_moneyness(moneyness).await?;
        self.save_greeks(greeks).await
    }

    /// Moneyness aggregates of one underlying, expiry, right and level in `range`, ascending by
    /// minute, at most `limit`.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn moneyness(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        right: OptionRight,
        level: MoneynessLevel,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<MoneynessRecord>, PortError>;

    /// The expiries of `underlying` that have moneyness rows, from `from` on, ascending.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn moneyness_expiries(
        &self,
        underlying: &InstrumentKey,
        from: NaiveDate,
    ) -> Result<Vec<NaiveDate>, PortError>;

    /// The latest `ATM` call row of one expiry in `range`: the expiry's ATM IV and the inputs
    /// its chain was evaluated on ([`MoneynessRecord::chain`]) at its last minute there. The
    /// default reads the range's rows (at most 10 000) and keeps the last; stores override it
    /// with one indexed lookup.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn last_atm(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        range: TimeRange,
    ) -> Result<Option<MoneynessRecord>, PortError> {
        let rows = self
            .moneyness(
                underlying,
                expiry,
                OptionRight::Call,
                MoneynessLevel::Atm,
                range,
                10_000,
            )
            .await?;
        Ok(rows.into_iter().next_back())
    }

    /// The latest Greeks record of each of `keys` in `range` (keys without one are left out).
    /// The default reads each key's rows in the range (at most 10 000) one key after another;
    /// stores override it with one query.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database is down.
    async fn latest_greeks(&self, keys: &[InstrumentKey], range: TimeRange) -> Result<Vec<GreeksRecord>, PortError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(r) = self.greeks(key, range, 10_000).await?.pop() {
                out.push(r);
            }
        }
        Ok(out)
    }
}
