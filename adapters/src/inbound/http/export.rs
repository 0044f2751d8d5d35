//! `GET /api/v2/historical/export/{dataset}`: a whole range of candles or Greeks of one
//! instrument as CSV or NDJSON, streamed.
//!
//! The range is cut into windows of [`WINDOW_DAYS`] days, each read page by page
//! ([`application::history`]) and written out before the next is read, so memory stays
//! constant whatever the range. The format is `format=` if given, else the `Accept` header
//! (`application/x-ndjson` or `text/csv`), else CSV. Responses are compressed (gzip, br, zstd)
//! by the server's compression layer when the client's `Accept-Encoding` allows. A store failure
//! once streaming has begun ends the body early (the client sees a truncated transfer); one
//! before the first byte is a 503.

use std::collections::VecDeque;

use application::history::{HistoryReads, PageRequest};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use domain::candles::Timeframe;
use domain::instrument::InstrumentKey;
use domain::ports::TimeRange;
use poem::Body;
use poem::http::HeaderMap;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Enum, OpenApi, ResponseContent};

use super::AppState;
use super::error::ErrorBody;
use super::historical::{CandleOut, GreeksBucketOut, HistoryFailure, timeframe_param};
use super::shapes::key_param;
use super::time_param::TimeParam;

/// Days read per window.
pub const WINDOW_DAYS: i64 = 7;
/// The longest range of one export, days.
pub const MAX_EXPORT_DAYS: i64 = 366;
/// Rows per page read from the store.
const PAGE_ROWS: usize = 5_000;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// Candles on the timeframe (as `/historical/candles`).
    Candles,
    /// Greeks snapshots, each bucket's last (as `/historical/greeks`).
    Greeks,
}

/// The export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line (the objects of the matching historical endpoint).
    Ndjson,
}

/// The example of the `format` parameter.
#[allow(clippy::unnecessary_wraps)]
fn csv_format() -> Option<Format> {
    Some(Format::Csv)
}

/// The exported rows.
#[derive(ResponseContent)]
pub enum ExportBody {
    /// CSV with a header row.
    #[oai(content_type = "text/csv")]
    Csv(Binary<Body>),
    /// Newline-delimited JSON.
    #[oai(content_type = "application/x-ndjson")]
    Ndjson(Binary<Body>),
}

#[derive(ApiResponse)]
enum ExportOk {
    /// The rows, streamed.
    #[oai(status = 200)]
    Ok(ExportBody),
}

/// One row of either dataset, as the API shows it.
enum Row {
    Candle(CandleOut),
    Greeks(GreeksBucketOut),
}

const CANDLE_COLUMNS: &[&str] = &[
    "instrument_key",
    "start",
    "end",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "oi",
    "n_bars",
    "expected_bars",
    "partial",
    "gaps",
];

const GREEKS_COLUMNS: &[&str] = &[
    "instrument_key",
    "start",
    "end",
    "minutes",
    "as_of",
    "underlying_price",
    "forward",
    "forward_source",
    "t_years",
    "option_price",
    "price_source",
    "iv",
    "iv_error",
    "delta",
    "gamma",
    "theta_per_day",
    "vega_per_vol_point",
    "rho_per_rate_point",
    "vanna",
    "volga",
    "charm_per_year",
    "speed",
    "model",
    "rate",
    "time_basis",
];

/// A number in shortest round-trip form; a non-finite one (which validation keeps out of the
/// store, but an old row may hold) is an empty cell, as in the JSON answers (`null`), never
/// `inf` or `NaN`.
fn num(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { String::new() }
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

impl Row {
    fn csv_fields(&self, key: &str) -> Vec<String> {
        match self {
            Self::Candle(c) => vec![
                key.to_owned(),
                time(c.start),
                time(c.end),
                num(c.open),
                num(c.high),
                num(c.low),
                num(c.close),
                num(c.volume),
                opt(c.vwap),
                opt(c.oi),
                c.n_bars.to_string(),
                c.expected_bars.to_string(),
                c.partial.to_string(),
                c.gaps.to_string(),
            ],
            Self::Greeks(b) => {
                let s = &b.snapshot;
                let g = s.greeks.as_ref();
                vec![
                    key.to_owned(),
                    time(b.start),
                    time(b.end),
                    b.minutes.to_string(),
                    time(s.as_of),
                    num(s.underlying_price),
                    num(s.forward.value),
                    s.forward.source.clone(),
                    num(s.t_years),
                    opt(s.option_price),
                    s.price_source.clone().unwrap_or_default(),
                    opt(s.iv),
                    s.iv_error.clone().unwrap_or_default(),
                    opt(g.map(|g| g.delta)),
                    opt(g.map(|g| g.gamma)),
                    opt(g.map(|g| g.theta_per_day)),
                    opt(g.map(|g| g.vega_per_vol_point)),
                    opt(g.map(|g| g.rho_per_rate_point)),
                    opt(g.map(|g| g.vanna)),
                    opt(g.map(|g| g.volga)),
                    opt(g.map(|g| g.charm_per_year)),
                    opt(g.map(|g| g.speed)),
                    s.model.clone(),
                    num(s.rate),
                    s.time_basis.clone(),
                ]
            }
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Self::Candle(c) => c.to_json(),
            Self::Greeks(g) => g.to_json(),
        }
        .unwrap_or(serde_json::Value::Null)
    }
}

/// Where an export stands between chunks.
struct Export {
    reads: std::sync::Arc<HistoryReads>,
    key: InstrumentKey,
    dataset: Dataset,
    format: Format,
    timeframe: Timeframe,
    windows: VecDeque<TimeRange>,
    /// The page request under way: its window and the next page's cursor.
    page: Option<PageRequest>,
    header: bool,
}

impl Export {
    /// The next chunk of output: a header, or one page of rows; `None` when done.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, std::io::Error> {
        if !self.header {
            self.header = true;
            if self.format == Format::Csv {
                let cols = match self.dataset {
                    Dataset::Candles => CANDLE_COLUMNS,
                    Dataset::Greeks => GREEKS_COLUMNS,
                };
                return Ok(Some(Bytes::from(format!("{}\n", cols.join(",")))));
            }
        }
        loop {
            let req = match self.page.take() {
                Some(r) => r,
                None => match self.windows.pop_front() {
                    Some(range) => PageRequest {
                        range,
                        timeframe: self.timeframe,
                        limit: PAGE_ROWS,
                        cursor: None,
                    },
                    None => return Ok(None),
                },
            };
            let (rows, next) = self.read(&req).await.map_err(std::io::Error::other)?;
            if let Some(cursor) = next {
                self.page = Some(PageRequest {
                    cursor: Some(cursor),
                    ..req
                });
            }
            if rows.is_empty() {
                continue;
            }
            return Ok(Some(self.encode(&rows)?));
        }
    }

    async fn read(&self, req: &PageRequest) -> Result<(Vec<Row>, Option<String>), application::history::HistoryError> {
        Ok(match self.dataset {
            Dataset::Candles => {
                let p = self.reads.candles(&self.key, req).await?;
                (
                    p.rows.into_iter().map(|b| Row::Candle(b.into())).collect(),
                    p.next_cursor,
                )
            }
            Dataset::Greeks => {
                let p = self.reads.greeks(&self.key, req).await?;
                (
                    p.rows.into_iter().map(|b| Row::Greeks(b.into())).collect(),
                    p.next_cursor,
                )
            }
        })
    }

    fn encode(&self, rows: &[Row]) -> Result<Bytes, std::io::Error> {
        let key = self.key.as_str();
        match self.format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                for r in rows {
                    w.write_record(r.csv_fields(key)).map_err(std::io::Error::other)?;
                }
                w.into_inner()
                    .map(Bytes::from)
                    .map_err(|e| std::io::Error::other(e.to_string()))
            }
            Format::Ndjson => {
                let mut out = Vec::new();
                for r in rows {
                    serde_json::to_writer(&mut out, &r.json()).map_err(std::io::Error::other)?;
                    out.push(b'\n');
                }
                Ok(Bytes::from(out))
            }
        }
    }
}

fn bad(field: &str, message: impl Into<String>) -> HistoryFailure {
    HistoryFailure::BadRequest(Json(ErrorBody::new("bad_request", message, Some(field))))
}

/// The format from `format=`, else from `Accept`, else CSV.
fn negotiate(format: Option<Format>, headers: &HeaderMap) -> Format {
    format.unwrap_or_else(|| {
        let accept = headers
            .get(poem::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if accept.contains("ndjson") {
            Format::Ndjson
        } else {
            Format::Csv
        }
    })
}

/// Export endpoints.
pub struct ExportApi {
    pub(super) state: AppState,
}

#[OpenApi]
impl ExportApi {
    /// A whole range of an instrument's candles or Greeks as CSV or NDJSON, streamed in
    /// constant memory (up to 366 days per request), compressed when the client accepts it.
    #[oai(
        path = "/historical/export/:dataset",
        method = "get",
        operation_id = "exportHistorical"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn export(
        &self,
        headers: &HeaderMap,
        /// `candles` or `greeks`.
        #[oai(example = "super::examples::dataset")]
        dataset: Path<String>,
        /// Instrument key, e.g. `NSE:NIFTY` or an option's key.
        #[oai(example = "super::examples::option_key")]
        instrument_key: Query<String>,
        /// Range start, inclusive: a date-time with its UTC offset (`2026-02-02T09:15:00+05:30`) or a
        /// date (`2026-02-02`, from the exchange's local midnight).
        #[oai(example = "super::examples::from")]
        from: Query<TimeParam>,
        /// Range end, exclusive: a date-time with its UTC offset, or a date (through the end of that
        /// exchange-local day); at most 366 days after `from`.
        #[oai(example = "super::examples::to")]
        to: Query<TimeParam>,
        /// Timeframe: `Nm`, `Nh`, `Nd` or `1w`; default `1m`.
        #[oai(example = "super::examples::timeframe")]
        timeframe: Query<Option<String>>,
        /// `csv` or `ndjson`; default from `Accept` (`application/x-ndjson`), else CSV.
        #[oai(example = "csv_format")]
        format: Query<Option<Format>>,
    ) -> Result<ExportOk, HistoryFailure> {
        // A typed path parameter's parse error would name it `param0`: parse it here.
        let dataset = match dataset.0.as_str() {
            "candles" => Dataset::Candles,
            "greeks" => Dataset::Greeks,
            other => return Err(bad("dataset", format!("'{other}' is not a dataset: candles or greeks"))),
        };
        let key = key_param("instrument_key", &instrument_key.0)?;
        let timeframe = timeframe_param(timeframe.0.as_deref())?;
        // A date is the day on the instrument's exchange.
        let market = self.state.history.market(&key)?;
        let (from, to) = (from.0.start_on(&market), to.0.end_on(&market));
        if to <= from {
            return Err(bad("to", format!("must be after from ({from})")));
        }
        if to - from > Duration::days(MAX_EXPORT_DAYS) {
            return Err(bad("to", format!("an export spans at most {MAX_EXPORT_DAYS} days")));
        }
        let mut windows = VecDeque::new();
        let mut start = from;
        while start < to {
            let end = (start + Duration::days(WINDOW_DAYS)).min(to);
            windows.push_back(TimeRange { from: start, to: end });
            start = end;
        }
        let format = negotiate(format.0, headers);
        let reads = self.state.history.clone();
        let mut export = Export {
            reads,
            key,
            dataset,
            format,
            timeframe,
            windows,
            page: None,
            header: false,
        };
        // The first rows are read before answering: a bad instrument or a store that is down is
        // then an error status, not a truncated 200.
        let first = export.next_chunk().await;
        let first = match (first, format) {
            (Ok(Some(header)), Format::Csv) => {
                let rows = export.next_chunk().await.map_err(|e| store_down(&e))?;
                vec![Some(header), rows]
            }
            (Ok(chunk), _) => vec![chunk],
            (Err(e), _) => return Err(store_down(&e)),
        };
        let head = futures_util::stream::iter(first.into_iter().flatten().map(Ok::<_, std::io::Error>));
        let tail = futures_util::stream::try_unfold(export, |mut e| async move {
            Ok(e.next_chunk().await?.map(|chunk| (chunk, e)))
        });
        let body = Body::from_bytes_stream(futures_util::StreamExt::chain(head, tail));
        Ok(ExportOk::Ok(match format {
            Format::Csv => ExportBody::Csv(Binary(body)),
            Format::Ndjson => ExportBody::Ndjson(Binary(body)),
        }))
    }
}

fn store_down(e: &std::io::Error) -> HistoryFailure {
    tracing::error!(error = %e, "export failed before its first row");
    HistoryFailure::Unavailable(Json(ErrorBody::new("unavailable", "the database is unavailable", None)))
}
