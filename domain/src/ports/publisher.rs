//! Fan-out of computed signals to every instance's subscribers (in-process broadcast in the
//! embedded mode, Redis pub/sub in production).
//!
//! The publisher numbers each update on its topic, one sequence per topic across every
//! instance, and delivers it to the [`UpdateSink`] of every instance, the publishing one
//! included (so every instance sees one order). The sink is the subscription hub, which keeps
//! each topic's history and hands updates to its connections.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{GreeksRecord, InstrumentCandle, PortError};
use crate::candles::{AggregatedBar, Timeframe};
use crate::chain::{AtmIv, PutCallRatio, StrikeIv, Wing25};
use crate::expiry::Forward;
use crate::instrument::InstrumentKey;
use crate::moneyness::{LevelAggregate, MappingBasis, MoneynessLevel};

/// The data of one update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalEvent {
    /// New Greeks for one option.
    Greeks(GreeksRecord),
    /// One moneyness level of one expiry at one minute, both rights.
    MoneynessLevel {
        /// The underlying.
        underlying: InstrumentKey,
        /// The expiry (exchange-local date).
        expiry: NaiveDate,
        /// The level or group.
        level: MoneynessLevel,
        /// The minute (UTC start) whose quotes were evaluated.
        minute: DateTime<Utc>,
        /// The calls' aggregates at this level, when it has calls.
        call: Option<LevelAggregate>,
        /// The puts' aggregates at this level, when it has puts.
        put: Option<LevelAggregate>,
        /// ATM IV of the expiry at that minute.
        atm_iv: Option<f64>,
        /// What decided the level's strikes: the instrument service's mapping or the local
        /// strike ladder.
        #[serde(default)]
        mapping_source: MappingBasis,
        /// When that mapping was made (the ladder's: the minute itself).
        #[serde(default)]
        mapping_as_of: Option<DateTime<Utc>>,
    },
    /// A 1-minute candle closed or changed.
    Candle(InstrumentCandle),
    /// A bar of a longer timeframe (built from the 1-minute bars) closed or changed.
    Bar {
        /// The instrument.
        key: InstrumentKey,
        /// The timeframe (`5m`, `1h`, `1d`, …).
        timeframe: Timeframe,
        /// The bar: bucket start and end, OHLCV, VWAP, OI, and how many 1-minute bars it holds.
        bar: AggregatedBar,
    },
    /// An indicator on one bar of a timeframe.
    Indicator {
        /// The instrument.
        key: InstrumentKey,
        /// The indicator and its parameters in canonical form (`rsi:14`, `macd:12:26:9`).
        indicator: String,
        /// The timeframe of the bars.
        timeframe: Timeframe,
        /// Start of the bar the values are at (UTC).
        bar_start: DateTime<Utc>,
        /// The output names, in the order of `values` (`["macd", "macd_signal", "macd_hist"]`).
        columns: Vec<String>,
        /// The outputs; `null` while the indicator warms up (too few bars yet).
        values: Vec<Option<f64>>,
    },
    /// One expiry's chain at one minute: its IVs by strike and its statistics.
    Chain {
        /// The underlying.
        underlying: InstrumentKey,
        /// The expiry (exchange-local date).
        expiry: NaiveDate,
        /// The minute (UTC start) whose quotes were evaluated.
        minute: DateTime<Utc>,
        /// The underlying's spot then, price units, when known.
        spot: Option<f64>,
        /// The expiry's forward and how it was obtained.
        forward: Forward,
        /// Time to expiry, years (in the market's time basis).
        t_years: f64,
        /// The ATM strike.
        atm_strike: Option<f64>,
        /// ATM IV and the strikes it came from.
        atm_iv: Option<AtmIv>,
        /// 25-delta risk reversal and butterfly.
        wing_25: Option<Wing25>,
        /// Put–call ratios of OI and volume.
        pcr: PutCallRatio,
        /// The max-pain strike.
        max_pain: Option<f64>,
        /// IVs by strike (call, put, and the OTM side's), ascending.
        strikes: Vec<StrikeIv>,
        /// Options quoted without an IV.
        options_without_iv: usize,
    },
    /// ATM IV of one expiry at one minute.
    AtmIv {
        /// The underlying.
        underlying: InstrumentKey,
        /// The expiry (exchange-local date).
        expiry: NaiveDate,
        /// The minute (UTC start) whose quotes were evaluated.
        minute: DateTime<Utc>,
        /// The ATM IV and the strikes it came from; absent when no strike near the forward
        /// has an IV.
        atm_iv: Option<AtmIv>,
    },
}

/// An update to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Canonical topic text (see [`crate::subscriptions::Topic`]).
    pub topic: String,
    /// When the data was produced at its source (the tick's exchange timestamp, or the minute).
    pub source_ts: DateTime<Utc>,
    /// A bar, or an indicator on a bar, still forming.
    pub forming: bool,
    /// The data.
    pub event: SignalEvent,
    /// When the service took in the batch this update comes from (wall clock; set by the
    /// ingest pipeline as it publishes), for the tick-to-send lag.
    pub received: Option<DateTime<Utc>>,
}

/// An update as every instance delivers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicUpdate {
    /// Canonical topic text.
    pub topic: String,
    /// The numbering the sequence belongs to: it changes when the numbering restarts.
    pub epoch: u64,
    /// Position in the topic, from 1, one more per update.
    pub seq: u64,
    /// When the data was produced at its source.
    pub source_ts: DateTime<Utc>,
    /// A bar, or an indicator on a bar, still forming.
    pub forming: bool,
    /// The data.
    pub event: SignalEvent,
    /// When the instance that took in its batch did so (its wall clock), when known: the start
    /// of the tick-to-send lag. Not sent to clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<DateTime<Utc>>,
}

#[cfg(any(test, feature = "mocks"))]
impl TopicUpdate {
    /// A test update of `topic`: a forming NIFTY 1-minute candle at 2026-11-24 09:30 IST.
    ///
    /// # Panics
    /// Never (fixed, valid inputs).
    #[must_use]
    pub fn example(topic: &str, epoch: u64, seq: u64) -> Self {
        use chrono::TimeZone;
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 4, 0, 0).single().unwrap_or_default();
        Self {
            topic: topic.to_owned(),
            epoch,
            seq,
            source_ts: start,
            received: None,
            forming: true,
            event: SignalEvent::Candle(InstrumentCandle {
                key: InstrumentKey::parse("NSE:NIFTY").expect("a valid key"),
                bar: crate::candles::Bar {
                    start,
                    open: 1.0,
                    high: 1.0,
                    low: 1.0,
                    close: 1.0,
                    volume: 0.0,
                    vwap: None,
                    oi: None,
                    minutes: 1,
                },
            }),
        }
    }
}

/// Numbers updates and fans them out to every instance.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SignalPublisher: Send + Sync {
    /// Numbers each update on its topic (in the order given) and fans them out.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the fan-out backend is down; then none of them is
    /// delivered anywhere.
    async fn publish(&self, updates: Vec<Outgoing>) -> Result<(), PortError>;
}

/// Where the fan-out delivers updates on this instance. Must not block: it runs on the
/// fan-out's receiving task.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait UpdateSink: Send + Sync {
    /// Takes one update.
    fn deliver(&self, update: TopicUpdate);
}
