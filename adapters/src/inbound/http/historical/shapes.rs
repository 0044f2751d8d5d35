//! The historical answers' shapes, their failures and the shared parameter parsing.

use application::history::{DEFAULT_LIMIT, GreeksBucket, HistoryError, HistoryReads, PageRequest};
use chrono::{DateTime, NaiveDate, Utc};
use domain::candles::{AggregatedBar, Timeframe};
use domain::instrument::InstrumentKey;
use domain::ports::MoneynessRecord;
use domain::ports::TimeRange;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use super::super::error::ErrorBody;
use super::super::shapes::{GreeksSnapshotOut, LevelOut};
use super::super::time_param::TimeParam;

/// One candle (bucket) of a timeframe.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CandleOut {
    /// Bucket start (a session open plus whole timeframes), UTC.
    pub start: DateTime<Utc>,
    /// Bucket end (exclusive; cut at the session close), UTC.
    pub end: DateTime<Utc>,
    /// First open, price units.
    pub open: f64,
    /// Highest high, price units.
    pub high: f64,
    /// Lowest low, price units.
    pub low: f64,
    /// Last close, price units.
    pub close: f64,
    /// Summed volume.
    pub volume: f64,
    /// Volume-weighted average price, price units (typical price weighted when bars carry none).
    pub vwap: Option<f64>,
    /// Last open interest.
    pub oi: Option<f64>,
    /// 1-minute bars in the bucket.
    pub n_bars: u32,
    /// 1-minute bars a complete bucket holds.
    pub expected_bars: u32,
    /// Cut short by the session close.
    pub partial: bool,
    /// Missing 1-minute bars (`expected_bars − n_bars`).
    pub gaps: u32,
}

impl From<AggregatedBar> for CandleOut {
    fn from(b: AggregatedBar) -> Self {
        Self {
            start: b.start,
            end: b.end,
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: b.volume,
            vwap: b.vwap,
            oi: b.oi,
            n_bars: b.n_bars,
            expected_bars: b.expected_bars,
            partial: b.partial,
            gaps: b.gaps,
        }
    }
}

/// A page of candles.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CandlesPage {
    /// The instrument.
    pub instrument_key: String,
    /// The timeframe, e.g. `5m`.
    pub timeframe: String,
    /// Ascending by start.
    pub candles: Vec<CandleOut>,
    /// Pass as `cursor` (with the same other parameters) for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// The units of every number in the answer.
    pub units: String,
}

/// The Greeks of one bucket: its last 1-minute snapshot.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GreeksBucketOut {
    /// Bucket start, UTC.
    pub start: DateTime<Utc>,
    /// Bucket end (exclusive), UTC.
    pub end: DateTime<Utc>,
    /// Minutes of the bucket with a snapshot.
    pub minutes: u32,
    /// The bucket's last snapshot.
    #[oai(flatten)]
    pub snapshot: GreeksSnapshotOut,
}

impl From<GreeksBucket> for GreeksBucketOut {
    fn from(b: GreeksBucket) -> Self {
        Self {
            start: b.start,
            end: b.end,
            minutes: b.minutes,
            snapshot: b.last.into(),
        }
    }
}

/// A page of Greeks.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GreeksPage {
    /// The option.
    pub instrument_key: String,
    /// The timeframe, e.g. `5m`.
    pub timeframe: String,
    /// Ascending by start.
    pub rows: Vec<GreeksBucketOut>,
    /// Pass as `cursor` (with the same other parameters) for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// The units of every number in the answer.
    pub units: String,
}

/// A level's aggregates of one right at a bucket's last minute.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LevelSnapshotOut {
    /// Minutes of the bucket with aggregates for this right.
    pub minutes: u32,
    /// The minute (UTC start) of the aggregates given.
    pub as_of: DateTime<Utc>,
    /// The aggregates (mean IV, OI-weighted Greeks, totals).
    pub aggregate: LevelOut,
    /// The expiry's ATM IV at that minute, decimal per √year.
    pub atm_iv: Option<f64>,
}

impl LevelSnapshotOut {
    pub(super) fn new((minutes, r): (u32, MoneynessRecord)) -> Self {
        Self {
            minutes,
            as_of: r.minute,
            aggregate: LevelOut::new(r.right, r.level, &r.aggregate),
            atm_iv: r.atm_iv,
        }
    }
}

/// One bucket of a moneyness level, both rights.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LevelBucketOut {
    /// Bucket start, UTC.
    pub start: DateTime<Utc>,
    /// Bucket end (exclusive), UTC.
    pub end: DateTime<Utc>,
    /// The calls at this level, when stored.
    pub call: Option<LevelSnapshotOut>,
    /// The puts at this level, when stored.
    pub put: Option<LevelSnapshotOut>,
}

/// A page of a moneyness level's history.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LevelPage {
    /// The underlying.
    pub underlying: String,
    /// The expiry date (market-local).
    pub expiry: NaiveDate,
    /// The level: `ATM`, `ITMn`, `OTMn`, `ITM` or `OTM`.
    pub level: String,
    /// The timeframe, e.g. `5m`.
    pub timeframe: String,
    /// Ascending by start.
    pub rows: Vec<LevelBucketOut>,
    /// Pass as `cursor` (with the same other parameters) for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// The units of every number in the answer.
    pub units: String,
}

/// The ATM IV of one bucket (its last minute).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AtmIvBucketOut {
    /// Bucket start, UTC.
    pub start: DateTime<Utc>,
    /// Bucket end (exclusive), UTC.
    pub end: DateTime<Utc>,
    /// Minutes of the bucket with a value.
    pub minutes: u32,
    /// The minute (UTC start) of the value given.
    pub as_of: DateTime<Utc>,
    /// ATM IV at the forward, decimal per √year.
    pub atm_iv: Option<f64>,
}

/// A page of an expiry's ATM IV history.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AtmIvPage {
    /// The underlying.
    pub underlying: String,
    /// The expiry date (market-local).
    pub expiry: NaiveDate,
    /// The timeframe, e.g. `5m`.
    pub timeframe: String,
    /// Ascending by start.
    pub rows: Vec<AtmIvBucketOut>,
    /// Pass as `cursor` (with the same other parameters) for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// The units of every number in the answer.
    pub units: String,
}

#[derive(ApiResponse)]
pub(super) enum LevelOk {
    /// One page.
    #[oai(status = 200)]
    Ok(Json<LevelPage>),
}

#[derive(ApiResponse)]
pub(super) enum AtmIvOk {
    /// One page.
    #[oai(status = 200)]
    Ok(Json<AtmIvPage>),
}

#[derive(ApiResponse)]
pub(super) enum CandlesOk {
    /// One page.
    #[oai(status = 200)]
    Ok(Json<CandlesPage>),
}

#[derive(ApiResponse)]
pub(super) enum GreeksOk {
    /// One page.
    #[oai(status = 200)]
    Ok(Json<GreeksPage>),
}

/// A historical read that could not be answered.
#[derive(ApiResponse)]
pub enum HistoryFailure {
    /// A parameter is malformed or out of range (`field` names it): a bad key or timeframe,
    /// `to` not after `from`, a span over the limit, a limit out of range, a foreign cursor.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// The instrument's market is unknown.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The database is down.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl From<HistoryError> for HistoryFailure {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::BadParam { field, message } => {
                Self::BadRequest(Json(ErrorBody::new("bad_request", message, Some(field))))
            }
            HistoryError::NotFound { field, message } => {
                Self::NotFound(Json(ErrorBody::new("not_found", message, Some(field))))
            }
            HistoryError::Store(e) => {
                tracing::error!(error = %e, "historical read failed");
                Self::Unavailable(Json(ErrorBody::new("unavailable", "the database is unavailable", None)))
            }
        }
    }
}

impl From<super::super::shapes::ReadFailure> for HistoryFailure {
    fn from(e: super::super::shapes::ReadFailure) -> Self {
        match e {
            super::super::shapes::ReadFailure::BadRequest(b) => Self::BadRequest(b),
            super::super::shapes::ReadFailure::NotFound(b) => Self::NotFound(b),
        }
    }
}

/// The `timeframe` query parameter (default `1m`), checked.
pub(in crate::inbound::http) fn timeframe_param(raw: Option<&str>) -> Result<Timeframe, HistoryFailure> {
    raw.unwrap_or("1m")
        .parse()
        .map_err(|e| HistoryFailure::BadRequest(Json(ErrorBody::new("bad_request", format!("{e}"), Some("timeframe")))))
}

/// The paging parameters, checked.
pub(in crate::inbound::http) fn page_request(
    reads: &HistoryReads,
    key: &InstrumentKey,
    from: TimeParam,
    to: TimeParam,
    timeframe: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
) -> Result<PageRequest, HistoryFailure> {
    // A date is the day on the instrument's exchange, so the market is needed first.
    let market = reads.market(key)?;
    Ok(PageRequest {
        range: TimeRange {
            from: from.start_on(&market),
            to: to.end_on(&market),
        },
        timeframe: timeframe_param(timeframe.as_deref())?,
        limit: limit.map_or(DEFAULT_LIMIT, |l| usize::try_from(l).unwrap_or(usize::MAX)),
        cursor,
    })
}
