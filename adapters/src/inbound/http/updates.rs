//! The `data` of a WebSocket update, in the REST answers' own words.
//!
//! Every kind of [`SignalEvent`] is turned into a poem-openapi type built from the same parts
//! the REST answers use ([`GreeksSnapshotOut`], [`CandleOut`], [`LevelOut`], [`SkewPoint`], …)
//! and written through its OpenAPI JSON form, so a field has one name, one unit and one time
//! format on both ways out: `theta_per_day` and `vega_per_vol_point` on a Greeks update as in
//! `GET /realtime/greeks`, `forward: {value, source}`, times as RFC 3339 with `+00:00`.
//! The same types describe the updates in the AsyncAPI document.
//!
//! `kind` tells the variant: `greeks`, `moneyness_level`, `candle`, `bar`, `indicator`,
//! `chain`, `atm_iv`.

use chrono::{DateTime, NaiveDate, Utc};
use domain::candles::AggregatedBar;
use domain::ports::{InstrumentCandle, SignalEvent};
use poem_openapi::types::ToJSON;
use poem_openapi::{Object, Union};

use super::historical::CandleOut;
use super::moneyness::SkewPoint;
use super::shapes::{AtmIvOut, ChainStatsOut, ForwardOut, GreeksSnapshotOut, LevelOut};

/// New IV and Greeks of one option: the fields of `GET /api/v2/realtime/greeks/{key}`
/// without `stale` and `conventions`.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GreeksUpdate {
    /// The option.
    pub instrument_key: String,
    /// The values of the minute priced.
    #[oai(flatten)]
    pub snapshot: GreeksSnapshotOut,
}

/// One moneyness level of one expiry at one minute, both rights.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MoneynessLevelUpdate {
    /// The underlying.
    pub underlying: String,
    /// The expiry (exchange-local date).
    pub expiry: NaiveDate,
    /// `ATM`, `ITMn`, `OTMn`, or a group `ITM` / `OTM`.
    pub level: String,
    /// The minute (UTC start) whose quotes were evaluated.
    pub as_of: DateTime<Utc>,
    /// The calls' aggregates at the level, when it has calls.
    pub call: Option<LevelOut>,
    /// The puts' aggregates at the level, when it has puts.
    pub put: Option<LevelOut>,
    /// ATM IV of the expiry then, decimal per √year.
    pub atm_iv: Option<f64>,
    /// What decided the level's strikes: `instrument_service` or `local_ladder`.
    pub mapping_source: String,
    /// When that mapping was made.
    pub mapping_as_of: Option<DateTime<Utc>>,
}

/// A candle of one instrument: a 1-minute bar (`kind: candle`) or a bucket of a longer
/// timeframe (`kind: bar`), the fields of a historical candle.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CandleUpdate {
    /// The instrument.
    pub instrument_key: String,
    /// The timeframe, e.g. `1m`, `5m`.
    pub timeframe: String,
    /// The candle.
    #[oai(flatten)]
    pub candle: CandleOut,
}

/// A bucket of a timeframe longer than a minute: the fields of a [`CandleUpdate`] (a type of
/// its own so that `kind` names one schema).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BarUpdate {
    /// The bucket.
    #[oai(flatten)]
    pub bar: CandleUpdate,
}

/// An indicator's values at one bar.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IndicatorUpdate {
    /// The instrument.
    pub instrument_key: String,
    /// The indicator and its parameters, e.g. `rsi:14`, `macd:12:26:9`.
    pub indicator: String,
    /// The timeframe of the bars, e.g. `5m`.
    pub timeframe: String,
    /// Bar (bucket) start, UTC.
    pub start: DateTime<Utc>,
    /// Output names, in the order of `values`.
    pub columns: Vec<String>,
    /// One value per entry of `columns`; null during warm-up.
    pub values: Vec<Option<f64>>,
}

/// An expiry's chain statistics and IVs by strike at one minute.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ChainUpdate {
    /// The underlying.
    pub underlying: String,
    /// The expiry (exchange-local date).
    pub expiry: NaiveDate,
    /// The minute (UTC start) whose quotes were evaluated.
    pub as_of: DateTime<Utc>,
    /// The underlying's spot then, price units, when known.
    pub spot: Option<f64>,
    /// The expiry's forward and its source.
    pub forward: ForwardOut,
    /// Time to expiry used, years.
    pub t_years: f64,
    /// The ATM strike.
    pub atm_strike: Option<f64>,
    /// ATM IV, put–call ratios, max pain and the 25-delta wings.
    #[oai(flatten)]
    pub stats: ChainStatsOut,
    /// IVs by strike, ascending.
    pub by_strike: Vec<SkewPoint>,
    /// Options quoted without an IV.
    pub options_without_iv: u32,
}

/// ATM IV of one expiry at one minute: the fields of
/// `GET /api/v2/realtime/moneyness/{underlying}/atm-iv` without its `meta`.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AtmIvUpdate {
    /// The underlying.
    pub underlying: String,
    /// The expiry (exchange-local date).
    pub expiry: NaiveDate,
    /// The minute (UTC start) whose quotes were evaluated.
    pub as_of: DateTime<Utc>,
    /// ATM IV and the strikes it came from.
    #[oai(flatten)]
    pub atm: AtmIvOut,
}

/// The data of an update; `kind` tells which.
#[derive(Debug, Clone, Union)]
#[oai(discriminator_name = "kind")]
pub enum UpdateData {
    /// New Greeks of one option.
    #[oai(mapping = "greeks")]
    Greeks(GreeksUpdate),
    /// One level of one expiry, both rights.
    #[oai(mapping = "moneyness_level")]
    MoneynessLevel(MoneynessLevelUpdate),
    /// A 1-minute candle.
    #[oai(mapping = "candle")]
    Candle(CandleUpdate),
    /// A bucket of a longer timeframe.
    #[oai(mapping = "bar")]
    Bar(BarUpdate),
    /// An indicator at one bar.
    #[oai(mapping = "indicator")]
    Indicator(IndicatorUpdate),
    /// An expiry's chain statistics and IVs by strike.
    #[oai(mapping = "chain")]
    Chain(ChainUpdate),
    /// An expiry's ATM IV.
    #[oai(mapping = "atm_iv")]
    AtmIv(AtmIvUpdate),
}

impl UpdateData {
    /// The JSON value of the data, as REST would write its parts.
    #[must_use]
    pub fn json(event: &SignalEvent) -> serde_json::Value {
        Self::from(event).to_json().unwrap_or(serde_json::Value::Null)
    }
}

fn one_minute(c: &InstrumentCandle) -> CandleUpdate {
    let b = &c.bar;
    CandleUpdate {
        instrument_key: c.key.to_string(),
        timeframe: "1m".to_owned(),
        candle: CandleOut::from(AggregatedBar {
            start: b.start,
            end: b.start + chrono::Duration::minutes(1),
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: b.volume,
            vwap: b.vwap,
            oi: b.oi,
            n_bars: 1,
            expected_bars: 1,
            partial: false,
            gaps: 0,
        }),
    }
}

impl From<&SignalEvent> for UpdateData {
    fn from(event: &SignalEvent) -> Self {
        match event {
            SignalEvent::Greeks(r) => Self::Greeks(GreeksUpdate {
                instrument_key: r.key.to_string(),
                snapshot: r.clone().into(),
            }),
            SignalEvent::MoneynessLevel {
                underlying,
                expiry,
                level,
                minute,
                call,
                put,
                atm_iv,
                mapping_source,
                mapping_as_of,
            } => Self::MoneynessLevel(MoneynessLevelUpdate {
                underlying: underlying.to_string(),
                expiry: *expiry,
                level: level.to_string(),
                as_of: *minute,
                call: call
                    .as_ref()
                    .map(|a| LevelOut::new(domain::instrument::OptionRight::Call, *level, a)),
                put: put
                    .as_ref()
                    .map(|a| LevelOut::new(domain::instrument::OptionRight::Put, *level, a)),
                atm_iv: *atm_iv,
                mapping_source: mapping_source.as_str().to_owned(),
                mapping_as_of: *mapping_as_of,
            }),
            SignalEvent::Candle(c) => Self::Candle(one_minute(c)),
            SignalEvent::Bar { key, timeframe, bar } => Self::Bar(BarUpdate {
                bar: CandleUpdate {
                    instrument_key: key.to_string(),
                    timeframe: timeframe.to_string(),
                    candle: CandleOut::from(*bar),
                },
            }),
            SignalEvent::Indicator {
                key,
                indicator,
                timeframe,
                bar_start,
                columns,
                values,
            } => Self::Indicator(IndicatorUpdate {
                instrument_key: key.to_string(),
                indicator: indicator.clone(),
                timeframe: timeframe.to_string(),
                start: *bar_start,
                columns: columns.clone(),
                values: values.clone(),
            }),
            SignalEvent::Chain {
                underlying,
                expiry,
                minute,
                spot,
                forward,
                t_years,
                atm_strike,
                atm_iv,
                wing_25,
                pcr,
                max_pain,
                strikes,
                options_without_iv,
            } => Self::Chain(ChainUpdate {
                underlying: underlying.to_string(),
                expiry: *expiry,
                as_of: *minute,
                spot: *spot,
                forward: (*forward).into(),
                t_years: *t_years,
                atm_strike: *atm_strike,
                stats: ChainStatsOut::new(*atm_iv, *wing_25, *pcr, *max_pain),
                by_strike: strikes
                    .iter()
                    .map(|s| SkewPoint {
                        strike: s.strike,
                        log_moneyness: (s.strike / forward.value).ln(),
                        call_level: None,
                        call_iv: s.call_iv,
                        put_iv: s.put_iv,
                        otm_iv: s.otm_iv,
                    })
                    .collect(),
                options_without_iv: u32::try_from(*options_without_iv).unwrap_or(u32::MAX),
            }),
            SignalEvent::AtmIv {
                underlying,
                expiry,
                minute,
                atm_iv,
            } => Self::AtmIv(AtmIvUpdate {
                underlying: underlying.to_string(),
                expiry: *expiry,
                as_of: *minute,
                atm: (*atm_iv).into(),
            }),
        }
    }
}
