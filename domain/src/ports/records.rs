//! The records that cross the storage and publishing ports.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::candles::Bar;
use crate::chain::QuotePrice;
use crate::expiry::{Forward, ForwardSource, TimeBasis};
use crate::instrument::InstrumentKey;
use crate::instrument::OptionRight;
use crate::moneyness::{LevelAggregate, MoneynessLevel};
use crate::pricing::{Greeks, IvError, PricingModel};

/// A half-open time range `[from, to)`, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
}

/// A 1-minute bar of one instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentCandle {
    /// The instrument.
    pub key: InstrumentKey,
    /// The bar (start-labelled, UTC).
    pub bar: Bar,
}

/// IV and Greeks of one option at one minute, with the conventions used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GreeksRecord {
    /// The option.
    pub key: InstrumentKey,
    /// Minute the values are for (start of the minute, UTC).
    pub minute: DateTime<Utc>,
    /// Underlying spot, price units.
    pub underlying_price: f64,
    /// Forward used, price units.
    pub forward: f64,
    /// Where the forward came from.
    pub forward_source: ForwardSource,
    /// The option premium the IV was solved from.
    pub option_price: Option<f64>,
    /// Which quote price was used.
    pub price_source: Option<QuotePrice>,
    /// IV, decimal per √year.
    pub iv: Option<f64>,
    /// Why there is no IV.
    pub iv_error: Option<IvError>,
    /// Greeks at the IV.
    pub greeks: Option<Greeks>,
    /// Model used.
    pub model: PricingModel,
    /// Rate used, decimal per year.
    pub rate: f64,
    /// Time basis used.
    pub time_basis: TimeBasis,
    /// Time to expiry used, years.
    pub t_years: f64,
}

/// Aggregates of one underlying, expiry, right and level at one minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoneynessRecord {
    /// The underlying.
    pub underlying: InstrumentKey,
    /// The expiry date (exchange-local).
    pub expiry: NaiveDate,
    /// Minute, UTC.
    pub minute: DateTime<Utc>,
    /// Right.
    pub right: OptionRight,
    /// Level or group.
    pub level: MoneynessLevel,
    /// The aggregates.
    pub aggregate: LevelAggregate,
    /// ATM IV of the expiry at that minute.
    pub atm_iv: Option<f64>,
    /// What the expiry's chain was evaluated on at that minute (forward, time, spot): carried by
    /// the `ATM` rows, so that the chain as of a past minute can be evaluated again exactly
    /// (`GET /historical/chain`) and the term structure of a past day rebuilt (IV rank).
    #[serde(default)]
    pub chain: Option<ChainInputs>,
}

/// The market state one expiry's chain was evaluated on at one minute.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChainInputs {
    /// The expiry's forward and its source.
    pub forward: Forward,
    /// Time to expiry, years.
    pub t_years: f64,
    /// The underlying's spot, price units, when known.
    pub spot: Option<f64>,
}

/// What one computation run did, for auditing data quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputationRecord {
    /// What was computed, e.g. `greeks` or `moneyness`.
    pub computation: String,
    /// What it covered, e.g. `flush` or an instrument key.
    pub scope: String,
    /// Earliest input minute.
    pub input_from: DateTime<Utc>,
    /// Latest input minute.
    pub input_to: DateTime<Utc>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// How long it took, microseconds.
    pub duration_us: i64,
    /// Rows produced.
    pub rows: u32,
    /// Rows without an IV.
    pub rows_without_iv: u32,
    /// Why, by reason code (`below_intrinsic`, …, `no_price`).
    pub iv_errors: std::collections::BTreeMap<String, u32>,
    /// Inputs older than the staleness limit.
    pub stale_inputs: u32,
}
