//! `POST /api/v2/ingest/ticks` and `POST /api/v2/ingest/candles`.

use application::ingest::IngestReport;
use domain::instrument::InstrumentKey;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{ApiRequest, ApiResponse, Object, OpenApi};

pub use crate::inbound::rows::{CandleIn, StrictString, TickIn};

use super::AppState;
use super::csv_body::{self, CsvText};
use super::error::ErrorBody;
use super::json_rows::JsonRows;

/// Most rows one request may carry.
pub const MAX_ROWS: usize = 10_000;

/// A rejected row.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RejectedRow {
    /// 0-based index of the row in the request.
    pub index: u32,
    /// Offending field.
    pub field: String,
    /// Why it was rejected.
    pub reason: String,
}

/// The outcome of a batch: accepted rows are stored before this answer is sent.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IngestResult {
    /// Rows accepted and durable.
    pub accepted: u32,
    /// Rows rejected, each with its reason; the others were accepted.
    pub rejected: Vec<RejectedRow>,
}

#[derive(ApiResponse)]
enum IngestOk {
    /// The batch was processed; see `rejected` for rows that were not accepted.
    #[oai(status = 200)]
    Ok(Json<IngestResult>),
}

#[derive(ApiResponse)]
enum IngestError {
    /// A configured API key is required in `X-API-Key`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The body as a whole is unusable: a CSV header without a required column or with an unknown one.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// More than 10 000 rows.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// The `Content-Type` is neither `application/json` nor `text/csv` (answered before the
    /// handler runs; listed so the document shows it).
    #[oai(status = 415)]
    #[allow(dead_code)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The database is down, or minute snapshots are waiting to be written faster than the
    /// database takes them (`code` = `overloaded`); nothing of the batch was accepted.
    /// `Retry-After` gives the seconds to wait before sending it again.
    #[oai(status = 503)]
    Unavailable(
        Json<ErrorBody>,
        /// Seconds to wait before retrying.
        #[oai(header = "Retry-After")]
        u64,
    ),
}

/// Columns of a ticks CSV body: required, then optional.
const TICK_REQUIRED: &[&str] = &["key", "ts"];
const TICK_OPTIONAL: &[&str] = &["last", "bid", "ask", "volume", "oi"];
/// Columns of a candles CSV body: required, then optional.
const CANDLE_REQUIRED: &[&str] = &["key", "start", "open", "high", "low", "close", "volume"];
const CANDLE_OPTIONAL: &[&str] = &["oi"];

/// A batch of ticks: a JSON array, or CSV with a header row (`key,ts,last,bid,ask,volume,oi`;
/// `key` and `ts` required, the others optional, empty cells absent).
#[derive(ApiRequest)]
enum TicksBody {
    /// A JSON array of ticks.
    Json(JsonRows<TickIn>),
    /// CSV: a header row naming the columns (as the JSON fields), then one tick per row.
    Csv(CsvText),
}

/// A batch of 1-minute candles: a JSON array, or CSV with a header row
/// (`key,start,open,high,low,close,volume,oi`; `oi` optional).
#[derive(ApiRequest)]
enum CandlesBody {
    /// A JSON array of candles.
    Json(JsonRows<CandleIn>),
    /// CSV: a header row naming the columns (as the JSON fields), then one candle per row.
    Csv(CsvText),
}

/// Ingest endpoints.
pub struct IngestApi {
    pub(super) state: AppState,
}

#[OpenApi]
impl IngestApi {
    /// Ingests ticks of underlyings and options.
    ///
    /// Each row is validated on its own: a bad row is listed in `rejected` with its index, field
    /// and reason, and every good row of the batch is accepted. Accepted rows' 1-minute candles
    /// are durable before the answer; IV and Greeks follow in memory at once and in the store
    /// within the flush interval.
    #[oai(path = "/ingest/ticks", method = "post", operation_id = "ingestTicks")]
    async fn ingest_ticks(
        &self,
        /// API key, required when keys are configured.
        #[oai(name = "X-API-Key")]
        api_key: Header<Option<String>>,
        body: TicksBody,
    ) -> Result<IngestOk, IngestError> {
        let started = std::time::Instant::now();
        self.authorize(api_key.0.as_deref())?;
        let (rows, rejected) = match body {
            TicksBody::Json(JsonRows(rows)) => {
                within_limit(rows.len())?;
                split_rows(rows)
            }
            TicksBody::Csv(CsvText(text)) => ticks_from_csv(&text).map_err(bad_csv)?,
        };
        let (ticks, rejected, index_of) = parse_keys(rows, rejected, |t| &*t.key, |k, t| t.into_tick(k));
        let report = self.state.ingest.execute(&ticks).await.map_err(unavailable)?;
        Ok(IngestOk::Ok(Json(
            self.counted(merge(report, rejected, &index_of), started),
        )))
    }

    /// Ingests 1-minute candles (bar-start labelled) of underlyings and options.
    ///
    /// Each row is validated on its own (prices positive and consistent, start on a whole minute
    /// inside a session and not in the future, a known instrument); good rows are upserted and
    /// durable before the answer, so sending a candle again replaces it with the same values.
    #[oai(path = "/ingest/candles", method = "post", operation_id = "ingestCandles")]
    async fn ingest_candles(
        &self,
        /// API key, required when keys are configured.
        #[oai(name = "X-API-Key")]
        api_key: Header<Option<String>>,
        body: CandlesBody,
    ) -> Result<IngestOk, IngestError> {
        let started = std::time::Instant::now();
        self.authorize(api_key.0.as_deref())?;
        let (rows, rejected) = match body {
            CandlesBody::Json(JsonRows(rows)) => {
                within_limit(rows.len())?;
                split_rows(rows)
            }
            CandlesBody::Csv(CsvText(text)) => candles_from_csv(&text).map_err(bad_csv)?,
        };
        let (candles, rejected, index_of) = parse_keys(rows, rejected, |c| &*c.key, |k, c| c.into_candle(k));
        let report = self.state.ingest.execute_candles(&candles).await.map_err(unavailable)?;
        Ok(IngestOk::Ok(Json(
            self.counted(merge(report, rejected, &index_of), started),
        )))
    }
}

impl IngestApi {
    /// Counts the batch's rows in `signal_ingest_rows_total` / `signal_ingest_rejections_total`
    /// (way `rest`), and its time since `started`.
    fn counted(&self, result: IngestResult, started: std::time::Instant) -> IngestResult {
        let fields = result.rejected.iter().map(|r| r.field.as_str());
        self.state
            .metrics
            .count_ingest("rest", result.accepted as usize, fields, started.elapsed());
        result
    }

    /// Checks the API key when keys are configured.
    fn authorize(&self, api_key: Option<&str>) -> Result<(), IngestError> {
        let keys = &self.state.api_keys;
        if !keys.is_empty() && !api_key.is_some_and(|k| keys.iter().any(|x| x == k)) {
            return Err(IngestError::Unauthorized(Json(ErrorBody::new(
                "unauthorized",
                "a valid X-API-Key header is required",
                Some("X-API-Key"),
            ))));
        }
        Ok(())
    }
}

/// Refuses a JSON batch over [`MAX_ROWS`] (a CSV body is counted while it is read).
fn within_limit(rows: usize) -> Result<(), IngestError> {
    if rows > MAX_ROWS {
        return Err(IngestError::TooLarge(Json(ErrorBody::new(
            "payload_too_large",
            format!("{rows} rows; at most {MAX_ROWS} per request"),
            None,
        ))));
    }
    Ok(())
}

/// A CSV body of ticks: its rows (each with its index) and the rows refused; the whole body is
/// refused for a missing or unknown column or too many rows.
pub(crate) fn ticks_from_csv(text: &str) -> Result<csv_body::Parsed<TickIn>, ErrorBody> {
    csv_body::parse(text, TICK_REQUIRED, TICK_OPTIONAL, MAX_ROWS, |r| {
        Ok(TickIn {
            key: StrictString(r.text("key")?),
            ts: r.instant("ts")?,
            last: r.opt_f64("last")?,
            bid: r.opt_f64("bid")?,
            ask: r.opt_f64("ask")?,
            volume: r.opt_f64("volume")?,
            oi: r.opt_f64("oi")?,
        })
    })
}

/// A CSV body of candles, as [`ticks_from_csv`].
pub(crate) fn candles_from_csv(text: &str) -> Result<csv_body::Parsed<CandleIn>, ErrorBody> {
    csv_body::parse(text, CANDLE_REQUIRED, CANDLE_OPTIONAL, MAX_ROWS, |r| {
        Ok(CandleIn {
            key: StrictString(r.text("key")?),
            start: r.instant("start")?,
            open: r.f64("open")?,
            high: r.f64("high")?,
            low: r.f64("low")?,
            close: r.f64("close")?,
            volume: r.f64("volume")?,
            oi: r.opt_f64("oi")?,
        })
    })
}

/// Rows parsed (each with its index in the request) and rows rejected while parsing.
pub(crate) fn split_rows<T>(rows: Vec<Result<T, RejectedRow>>) -> (Vec<(usize, T)>, Vec<RejectedRow>) {
    let mut ok = Vec::with_capacity(rows.len());
    let mut rejected = Vec::new();
    for (i, r) in rows.into_iter().enumerate() {
        match r {
            Ok(row) => ok.push((i, row)),
            Err(e) => rejected.push(e),
        }
    }
    (ok, rejected)
}

/// Parses every row's instrument key: rows with a valid key are built with `build`, the others
/// added to `rejected`; also returns each built row's index in the request.
pub(crate) fn parse_keys<T, R>(
    rows: Vec<(usize, T)>,
    mut rejected: Vec<RejectedRow>,
    key_of: impl Fn(&T) -> &str,
    build: impl Fn(InstrumentKey, T) -> R,
) -> (Vec<R>, Vec<RejectedRow>, Vec<usize>) {
    let (mut built, mut index_of) = (Vec::with_capacity(rows.len()), Vec::with_capacity(rows.len()));
    for (i, row) in rows {
        match InstrumentKey::parse(key_of(&row)) {
            Ok(key) => {
                index_of.push(i);
                built.push(build(key, row));
            }
            Err(e) => rejected.push(RejectedRow {
                index: i as u32,
                field: "key".into(),
                reason: e.to_string(),
            }),
        }
    }
    (built, rejected, index_of)
}

/// The store failed: nothing of the batch was accepted.
fn unavailable(e: domain::ports::PortError) -> IngestError {
    match e {
        domain::ports::PortError::Overloaded(why) => {
            IngestError::Unavailable(Json(ErrorBody::new("overloaded", why, None)), 2)
        }
        other => IngestError::Unavailable(Json(ErrorBody::new("unavailable", other.to_string(), None)), 1),
    }
}

/// A CSV body refused as a whole (a missing or unknown column, too many rows).
fn bad_csv(body: ErrorBody) -> IngestError {
    if body.code == "payload_too_large" {
        IngestError::TooLarge(Json(body))
    } else {
        IngestError::BadRequest(Json(body))
    }
}

/// The use case's report (indices into the parsed rows) merged with the rows refused while
/// parsing, all indexed in the request's order.
pub(crate) fn merge(report: IngestReport, mut rejected: Vec<RejectedRow>, index_of: &[usize]) -> IngestResult {
    rejected.extend(report.rejected.into_iter().map(|r| RejectedRow {
        index: index_of[r.index] as u32,
        field: r.field,
        reason: r.reason,
    }));
    rejected.sort_by_key(|r| r.index);
    IngestResult {
        accepted: report.accepted as u32,
        rejected,
    }
}

impl poem_openapi::types::Example for TickIn {
    fn example() -> Self {
        Self {
            key: StrictString("NSE:NIFTY-20260224-26000-CE".to_owned()),
            ts: "2026-02-02T04:30:05Z".parse().unwrap_or_default(),
            last: Some(212.35),
            bid: Some(212.1),
            ask: Some(212.6),
            volume: Some(1_950.0),
            oi: Some(1_204_550.0),
        }
    }
}

impl poem_openapi::types::Example for CandleIn {
    fn example() -> Self {
        Self {
            key: StrictString("NSE:NIFTY".to_owned()),
            start: "2026-02-02T04:30:00Z".parse().unwrap_or_default(),
            open: 25_990.5,
            high: 26_004.0,
            low: 25_987.25,
            close: 26_001.1,
            volume: 0.0,
            oi: None,
        }
    }
}
