//! `GET /api/v2/realtime/indicators/{instrument_key}/{indicator}` and
//! `/historical/indicators/{instrument_key}/{indicator}`: technical indicators on any timeframe.
//!
//! Parameters are named query parameters (`period`, `fast`, `slow`, `signal`, …, see each
//! indicator in [`domain::indicators::IndicatorKind`]); a missing one takes its default, one the
//! indicator does not take, or any unknown query parameter, is a 400 naming it.

use std::collections::BTreeMap;

use application::indicators::IndicatorPoint;
use chrono::{DateTime, Utc};
use domain::candles::Timeframe;
use domain::indicators::{IndicatorKind, IndicatorSpec};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::AppState;
use super::error::ErrorBody;
use super::historical::{HistoryFailure, page_request, timeframe_param};
use super::shapes::{STALE_AFTER_SECONDS, key_param};
use super::time_param::TimeParam;

/// Every indicator parameter name any indicator takes, in the handlers' argument order.
const PARAM_NAMES: [&str; 12] = [
    "period",
    "fast",
    "slow",
    "signal",
    "dev_up",
    "dev_down",
    "fastk",
    "slowk",
    "slowd",
    "acceleration",
    "maximum",
    "multiplier",
];

/// The other query parameters of the two endpoints.
const OTHER_PARAMS: [&str; 5] = ["timeframe", "from", "to", "limit", "cursor"];

/// One parameter of the indicator as used.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ParamOut {
    /// Its name.
    pub name: String,
    /// Its value (the default when not given).
    pub value: f64,
}

/// The indicator's values at one bar.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IndicatorPointOut {
    /// Bar (bucket) start, UTC.
    pub start: DateTime<Utc>,
    /// Bar end (exclusive), UTC.
    pub end: DateTime<Utc>,
    /// One value per entry of `columns`; null during warm-up.
    pub values: Vec<Option<f64>>,
    /// The same values by column name (`{"macd_12_26_9_macd": 1.2, …}`), for clients that
    /// would rather not zip `values` with `meta.columns`.
    pub by_column: BTreeMap<String, Option<f64>>,
}

impl IndicatorPointOut {
    /// `p` with its values named by `columns` (the meta's).
    fn new(p: IndicatorPoint, columns: &[String]) -> Self {
        Self {
            start: p.start,
            end: p.end,
            by_column: columns.iter().cloned().zip(p.values.iter().copied()).collect(),
            values: p.values,
        }
    }
}

/// What every indicator answer starts with.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IndicatorMeta {
    /// The instrument.
    pub instrument_key: String,
    /// The indicator, e.g. `macd`.
    pub indicator: String,
    /// Its parameters as used.
    pub params: Vec<ParamOut>,
    /// The timeframe of the bars, e.g. `5m`.
    pub timeframe: String,
    /// Output names, as the `calc indicators` columns (`macd_12_26_9_macd`, `ema_20`…).
    pub columns: Vec<String>,
    /// Units: moving averages, bands, ATR, SAR, SuperTrend and VWAP in price units; RSI,
    /// stochastic, ADX and MFI 0–100; Williams %R −100–0; ROC in percent; OBV in volume units.
    pub units: String,
}

/// An indicator now.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IndicatorNowOut {
    /// Which indicator, on which bars.
    pub meta: IndicatorMeta,
    /// At the last closed bar.
    pub closed: Option<IndicatorPointOut>,
    /// What the bar still forming would give if it closed now; absent between sessions.
    pub forming: Option<IndicatorPointOut>,
    /// True when the newest bar is more than `stale_after_seconds` behind the server's clock
    /// (UTC now): no newer bar has arrived since.
    pub stale: bool,
    /// How far behind the server's clock data may be before it is called stale, seconds.
    pub stale_after_seconds: u32,
}

/// A page of an indicator's history.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IndicatorPage {
    /// Which indicator, on which bars.
    pub meta: IndicatorMeta,
    /// One per closed bar in the range, ascending.
    pub rows: Vec<IndicatorPointOut>,
    /// Pass as `cursor` (with the same other parameters) for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum NowOk {
    /// The indicator now.
    #[oai(status = 200)]
    Ok(Json<IndicatorNowOut>),
}

#[derive(ApiResponse)]
enum PageOk {
    /// One page.
    #[oai(status = 200)]
    Ok(Json<IndicatorPage>),
}

fn bad(field: &str, message: impl Into<String>) -> HistoryFailure {
    HistoryFailure::BadRequest(Json(ErrorBody::new("bad_request", message, Some(field))))
}

/// The spec from the path's indicator name and the named parameters (`given`, in
/// [`PARAM_NAMES`] order); `req`'s query names anything else.
fn spec_of(req: &Request, indicator: &str, given: [Option<f64>; 12]) -> Result<IndicatorSpec, HistoryFailure> {
    // Names are lower case, as the document's pattern says (the domain's parser is lenient).
    if indicator.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad(
            "indicator",
            format!(
                "{indicator}: indicator names are lower case ({})",
                indicator.to_ascii_lowercase()
            ),
        ));
    }
    let (name, in_path) = indicator.split_once(':').unwrap_or((indicator, ""));
    let kind: IndicatorKind = name.parse().map_err(|e| bad("indicator", format!("{e}")))?;
    let pairs: Vec<(String, String)> = req
        .params()
        .map_err(|e| bad("query", format!("the query string is not valid: {e}")))?;
    if let Some((name, _)) = pairs
        .iter()
        .find(|(n, _)| !PARAM_NAMES.contains(&n.as_str()) && !OTHER_PARAMS.contains(&n.as_str()))
    {
        return Err(bad(name, format!("unknown query parameter '{name}'")));
    }
    // `rsi:14`, `macd:12:26:9`: the parameters in the path, as WebSocket topics and the CLI
    // write them (missing trailing ones take their defaults).
    if !in_path.is_empty() {
        if let Some(name) = PARAM_NAMES
            .iter()
            .zip(&given)
            .find(|(_, g)| g.is_some())
            .map(|(n, _)| *n)
        {
            return Err(bad(
                name,
                format!("{indicator} gives its parameters in the path: '{name}' cannot be given again in the query"),
            ));
        }
        return indicator.parse::<IndicatorSpec>().map_err(spec_error);
    }
    let takes = kind.params();
    if let Some(name) = PARAM_NAMES
        .iter()
        .zip(&given)
        .find(|(n, g)| g.is_some() && !takes.iter().any(|(t, _)| t == *n))
        .map(|(n, _)| *n)
    {
        let list: Vec<&str> = takes.iter().map(|(n, _)| *n).collect();
        return Err(bad(
            name,
            format!(
                "{} does not take '{name}'; it takes {}",
                kind.name(),
                if list.is_empty() {
                    "no parameters".to_owned()
                } else {
                    list.join(", ")
                }
            ),
        ));
    }
    let values: Vec<f64> = takes
        .iter()
        .map(|(n, d)| {
            PARAM_NAMES
                .iter()
                .position(|p| p == n)
                .and_then(|i| given[i])
                .unwrap_or(*d)
        })
        .collect();
    IndicatorSpec::new(kind, &values).map_err(spec_error)
}

/// A refused spec, naming the parameter at fault (else `indicator`).
fn spec_error(e: domain::indicators::SpecError) -> HistoryFailure {
    let field = match &e {
        domain::indicators::SpecError::BadParam { param, .. } => *param,
        _ => "indicator",
    };
    bad(field, e.to_string())
}

fn meta(key: &str, spec: &IndicatorSpec, timeframe: Timeframe) -> IndicatorMeta {
    IndicatorMeta {
        instrument_key: key.to_owned(),
        indicator: spec.kind().name().to_owned(),
        params: spec
            .kind()
            .params()
            .iter()
            .zip(spec.params())
            .map(|((n, _), v)| ParamOut {
                name: (*n).to_owned(),
                value: *v,
            })
            .collect(),
        timeframe: timeframe.to_string(),
        columns: spec.column_names(),
        units: "moving averages, bands, ATR, SAR, SuperTrend line and VWAP: price units; RSI, \
            stochastic, ADX, MFI: 0–100; Williams %R: −100–0; ROC: percent; OBV: volume units; \
            SuperTrend direction: +1 up, −1 down"
            .to_owned(),
    }
}

/// Indicator endpoints.
pub struct IndicatorsApi {
    pub(super) state: AppState,
}

#[OpenApi]
impl IndicatorsApi {
    /// An indicator on a timeframe now: at the last closed bar, and a peek at the bar forming.
    #[oai(
        path = "/realtime/indicators/:instrument_key/:indicator",
        method = "get",
        operation_id = "getRealtimeIndicator"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn now(
        &self,
        req: &Request,
        /// Instrument key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        instrument_key: Path<String>,
        /// `sma`, `ema`, `wma`, `dema`, `tema`, `rsi`, `macd`, `bbands`, `atr`, `adx`, `stoch`,
        /// `cci`, `obv`, `willr`, `mfi`, `roc`, `sar`, `supertrend` or `vwap_session`, with its
        /// parameters either here as WebSocket topics and the CLI write them (`rsi:14`,
        /// `macd:12:26:9`; missing trailing ones take their defaults) or as query parameters.
        #[oai(example = "super::examples::indicator")]
        indicator: Path<String>,
        /// Timeframe of the bars: `Nm`, `Nh`, `Nd` or `1w`; default `1m`.
        #[oai(example = "super::examples::timeframe")]
        timeframe: Query<Option<String>>,
        /// Period (sma, ema, wma, dema, tema, cci: 20; rsi, atr, adx, willr, mfi: 14; roc: 10;
        /// bbands: 20; supertrend: 10).
        #[oai(example = "super::examples::period")]
        period: Query<Option<f64>>,
        /// MACD fast period (12).
        fast: Query<Option<f64>>,
        /// MACD slow period (26).
        slow: Query<Option<f64>>,
        /// MACD signal period (9).
        signal: Query<Option<f64>>,
        /// Bollinger upper band width in σ (2).
        dev_up: Query<Option<f64>>,
        /// Bollinger lower band width in σ (2).
        dev_down: Query<Option<f64>>,
        /// Stochastic fast %K period (14).
        fastk: Query<Option<f64>>,
        /// Stochastic slow %K period (3).
        slowk: Query<Option<f64>>,
        /// Stochastic %D period (3).
        slowd: Query<Option<f64>>,
        /// Parabolic SAR acceleration (0.02).
        acceleration: Query<Option<f64>>,
        /// Parabolic SAR maximum acceleration (0.2).
        maximum: Query<Option<f64>>,
        /// SuperTrend ATR multiplier (3).
        multiplier: Query<Option<f64>>,
    ) -> Result<NowOk, HistoryFailure> {
        let key = key_param("instrument_key", &instrument_key.0)?;
        let given = [
            period.0,
            fast.0,
            slow.0,
            signal.0,
            dev_up.0,
            dev_down.0,
            fastk.0,
            slowk.0,
            slowd.0,
            acceleration.0,
            maximum.0,
            multiplier.0,
        ];
        let spec = spec_of(req, &indicator.0, given)?;
        let tf = timeframe_param(timeframe.0.as_deref())?;
        let now = self.state.indicators.now(&key, &spec, tf).await?;
        let meta = meta(key.as_str(), &spec, tf);
        let point = |p| IndicatorPointOut::new(p, &meta.columns);
        Ok(NowOk::Ok(Json(IndicatorNowOut {
            closed: now.closed.map(point),
            forming: now.forming.map(point),
            meta,
            stale: now.stale,
            stale_after_seconds: STALE_AFTER_SECONDS,
        })))
    }

    /// An indicator on a timeframe over a range of closed bars, page by page.
    #[oai(
        path = "/historical/indicators/:instrument_key/:indicator",
        method = "get",
        operation_id = "getHistoricalIndicator"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn history(
        &self,
        req: &Request,
        /// Instrument key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        instrument_key: Path<String>,
        /// `sma`, `ema`, `wma`, `dema`, `tema`, `rsi`, `macd`, `bbands`, `atr`, `adx`, `stoch`,
        /// `cci`, `obv`, `willr`, `mfi`, `roc`, `sar`, `supertrend` or `vwap_session`, with its
        /// parameters either here as WebSocket topics and the CLI write them (`rsi:14`,
        /// `macd:12:26:9`; missing trailing ones take their defaults) or as query parameters.
        #[oai(example = "super::examples::indicator")]
        indicator: Path<String>,
        /// Range start, inclusive: a date-time with its UTC offset (`2026-02-02T09:15:00+05:30`) or a
        /// date (`2026-02-02`, from the exchange's local midnight).
        #[oai(example = "super::examples::from")]
        from: Query<TimeParam>,
        /// Range end, exclusive: a date-time with its UTC offset, or a date (through the end of that
        /// exchange-local day); at most 31 days after `from` (1830 for `1d`, `1w`).
        #[oai(example = "super::examples::to")]
        to: Query<TimeParam>,
        /// Timeframe of the bars: `Nm`, `Nh`, `Nd` or `1w`; default `1m`.
        #[oai(example = "super::examples::timeframe")]
        timeframe: Query<Option<String>>,
        /// Rows per page, 1 to 5000; default 500.
        #[oai(
            example = "super::examples::limit",
            validator(minimum(value = "1"), maximum(value = "5000"))
        )]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Period (see the realtime operation for defaults).
        #[oai(example = "super::examples::period")]
        period: Query<Option<f64>>,
        /// MACD fast period (12).
        fast: Query<Option<f64>>,
        /// MACD slow period (26).
        slow: Query<Option<f64>>,
        /// MACD signal period (9).
        signal: Query<Option<f64>>,
        /// Bollinger upper band width in σ (2).
        dev_up: Query<Option<f64>>,
        /// Bollinger lower band width in σ (2).
        dev_down: Query<Option<f64>>,
        /// Stochastic fast %K period (14).
        fastk: Query<Option<f64>>,
        /// Stochastic slow %K period (3).
        slowk: Query<Option<f64>>,
        /// Stochastic %D period (3).
        slowd: Query<Option<f64>>,
        /// Parabolic SAR acceleration (0.02).
        acceleration: Query<Option<f64>>,
        /// Parabolic SAR maximum acceleration (0.2).
        maximum: Query<Option<f64>>,
        /// SuperTrend ATR multiplier (3).
        multiplier: Query<Option<f64>>,
    ) -> Result<PageOk, HistoryFailure> {
        let key = key_param("instrument_key", &instrument_key.0)?;
        let given = [
            period.0,
            fast.0,
            slow.0,
            signal.0,
            dev_up.0,
            dev_down.0,
            fastk.0,
            slowk.0,
            slowd.0,
            acceleration.0,
            maximum.0,
            multiplier.0,
        ];
        let spec = spec_of(req, &indicator.0, given)?;
        let page_req = page_request(&self.state.history, &key, from.0, to.0, timeframe.0, limit.0, cursor.0)?;
        let tf = page_req.timeframe;
        let page = self.state.indicators.history(&key, &spec, &page_req).await?;
        let meta = meta(key.as_str(), &spec, tf);
        Ok(PageOk::Ok(Json(IndicatorPage {
            rows: page
                .rows
                .into_iter()
                .map(|p| IndicatorPointOut::new(p, &meta.columns))
                .collect(),
            meta,
            next_cursor: page.next_cursor,
        })))
    }
}
