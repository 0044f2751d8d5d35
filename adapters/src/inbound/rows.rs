//! The rows the ways in accept, shared by REST (`http/ingest.rs`) and the Redis Streams consumer
//! (`streams.rs`) so that neither imports the other: one tick, one 1-minute candle, and the
//! strict JSON string their keys are.

use chrono::{DateTime, Utc};
use domain::candles::Bar;
use domain::instrument::InstrumentKey;
use domain::market_data::Tick;
use domain::ports::InstrumentCandle;
use poem_openapi::Object;

/// One tick. Prices in the instrument's price units; quantities in units of the underlying.
#[derive(Debug, Clone, Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none, example)]
pub struct TickIn {
    /// Instrument key, e.g. `NSE:NIFTY` or `NSE:NIFTY-20260203-26000-CE`.
    pub key: StrictString,
    /// Exchange timestamp (RFC 3339); must lie in a trading session and not in the future.
    pub ts: DateTime<Utc>,
    /// Last traded price (> 0).
    pub last: Option<f64>,
    /// Best bid (> 0, ≤ ask).
    pub bid: Option<f64>,
    /// Best ask (> 0).
    pub ask: Option<f64>,
    /// Volume traded in the session so far (cumulative), units (≥ 0).
    pub volume: Option<f64>,
    /// Open interest, units (≥ 0).
    pub oi: Option<f64>,
}

/// One 1-minute candle, labelled by its start.
#[derive(Debug, Clone, Object, serde::Deserialize)]
#[oai(skip_serializing_if_is_none, example)]
pub struct CandleIn {
    /// Instrument key.
    pub key: StrictString,
    /// Bar start (RFC 3339), on a whole minute inside a session.
    pub start: DateTime<Utc>,
    /// First price (> 0, within [low, high]).
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price (≤ high).
    pub low: f64,
    /// Last price (within [low, high]).
    pub close: f64,
    /// Volume traded in the minute, units (≥ 0).
    pub volume: f64,
    /// Open interest at the bar's end, units (≥ 0).
    pub oi: Option<f64>,
}

impl TickIn {
    /// The domain tick, once its key is known valid.
    #[must_use]
    pub fn into_tick(self, key: InstrumentKey) -> Tick {
        Tick {
            key,
            ts: self.ts,
            last: self.last,
            bid: self.bid,
            ask: self.ask,
            volume: self.volume,
            oi: self.oi,
        }
    }
}

impl CandleIn {
    /// The domain candle, once its key is known valid.
    #[must_use]
    pub fn into_candle(self, key: InstrumentKey) -> InstrumentCandle {
        let mut bar = Bar::ohlcv(self.start, self.open, self.high, self.low, self.close, self.volume);
        bar.oi = self.oi;
        InstrumentCandle { key, bar }
    }
}

/// A JSON string and only a string: poem-openapi's `String` also takes a number or a boolean
/// (`false` would become the text "false"), which the document does not allow.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct StrictString(pub String);

impl std::ops::Deref for StrictString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl poem_openapi::types::Type for StrictString {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        <String as poem_openapi::types::Type>::name()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        <String as poem_openapi::types::Type>::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl poem_openapi::types::ParseFromJSON for StrictString {
    fn parse_from_json(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Self> {
        match value {
            Some(serde_json::Value::String(s)) => Ok(Self(s)),
            other => Err(poem_openapi::types::ParseError::expected_type(
                other.unwrap_or_default(),
            )),
        }
    }
}

impl poem_openapi::types::ToJSON for StrictString {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.0.clone()))
    }
}
