//! Historical reads: pages of stored data of one instrument on any timeframe.
//!
//! Every read names a range `[from, to)`, a timeframe (default 1m), a page size `limit` and,
//! for the pages after the first, the opaque `cursor` the previous page returned. Limits: at most
//! [`MAX_LIMIT`] rows per page; a span of at most [`MAX_INTRADAY_SPAN_DAYS`] days for intraday
//! timeframes and [`MAX_DAILY_SPAN_DAYS`] for daily and weekly ones.
//!
//! - Candles: 1-minute bars aggregated to the timeframe's session-anchored buckets (through the
//!   `signal_custom_timeframes` cache for timeframes above 1m, see [`crate::candles`]).
//! - Greeks, moneyness aggregates and ATM IV: the last 1-minute snapshot of each bucket (as a
//!   candle's close), with the number of minutes the bucket had snapshots for.
//!
//! A cursor encodes the request it continues (range start and timeframe) and where the next page
//! starts; a cursor from another request, or tampered with, is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::candles::{AggregatedBar, Bucketer, Timeframe, aggregate};
use domain::instrument::{InstrumentKey, Market, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{AggregateCache, Clock, GreeksRecord, MoneynessRecord, PortError, SignalStore, TimeRange};

use crate::candles::TimeframeBars;
use crate::market::InstrumentRegistry;

/// Rows per page at most.
pub const MAX_LIMIT: usize = 5_000;
/// Rows per page when the caller names no limit.
pub const DEFAULT_LIMIT: usize = 500;
/// The longest range of one request on an intraday timeframe, days.
pub const MAX_INTRADAY_SPAN_DAYS: i64 = 31;
/// The longest range of one request on a daily or weekly timeframe, days.
pub const MAX_DAILY_SPAN_DAYS: i64 = 1_830;

/// One page request.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    /// The range asked for.
    pub range: TimeRange,
    /// Bucket size.
    pub timeframe: Timeframe,
    /// Rows per page, 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// Where to continue, from the previous page.
    pub cursor: Option<String>,
}

/// One page of rows, ascending in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows.
    pub rows: Vec<T>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// One bucket of a series of minute snapshots: the last snapshot in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucketed<T> {
    /// Bucket start, UTC.
    pub start: DateTime<Utc>,
    /// Bucket end (exclusive), UTC.
    pub end: DateTime<Utc>,
    /// Minutes of the bucket with a snapshot.
    pub minutes: u32,
    /// The bucket's last snapshot.
    pub last: T,
}

/// One bucket of an option's Greeks.
pub type GreeksBucket = Bucketed<GreeksRecord>;

/// One bucket of a moneyness level: the last aggregates of each right in it.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelBucket {
    /// Bucket start, UTC.
    pub start: DateTime<Utc>,
    /// Bucket end (exclusive), UTC.
    pub end: DateTime<Utc>,
    /// The calls' last aggregates in the bucket and the minutes with one.
    pub call: Option<(u32, MoneynessRecord)>,
    /// The puts' last aggregates in the bucket and the minutes with one.
    pub put: Option<(u32, MoneynessRecord)>,
}

/// Groups minute snapshots (ascending) into the timeframe's buckets, keeping each bucket's last;
/// snapshots outside the market's sessions are dropped.
fn last_per_bucket<T>(
    records: Vec<T>,
    market: Market,
    timeframe: Timeframe,
    minute: impl Fn(&T) -> DateTime<Utc>,
) -> Vec<Bucketed<T>> {
    let mut bucketer = Bucketer::new(market, timeframe);
    let mut out: Vec<Bucketed<T>> = Vec::new();
    for r in records {
        let Some(b) = bucketer.bucket_of(minute(&r)) else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.start == b.start => {
                last.minutes += 1;
                last.last = r;
            }
            _ => out.push(Bucketed {
                start: b.start,
                end: b.end,
                minutes: 1,
                last: r,
            }),
        }
    }
    out
}

/// Why a historical read has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistoryError {
    /// A parameter is out of range or malformed; names it.
    #[error("{field}: {message}")]
    BadParam {
        /// The parameter.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// The instrument is unknown.
    #[error("{message}")]
    NotFound {
        /// The parameter selecting it.
        field: &'static str,
        /// What is unknown.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] PortError),
}

fn bad(field: &'static str, message: impl Into<String>) -> HistoryError {
    HistoryError::BadParam {
        field,
        message: message.into(),
    }
}

/// The cursor of the page starting at `next` for a request starting at `from` on `timeframe`:
/// hex of `v1|<from ms>|<timeframe>|<next ms>`.
fn encode_cursor(from: DateTime<Utc>, timeframe: Timeframe, next: DateTime<Utc>) -> String {
    let plain = format!("v1|{}|{timeframe}|{}", from.timestamp_millis(), next.timestamp_millis());
    plain.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str, req: &PageRequest) -> Result<DateTime<Utc>, HistoryError> {
    let invalid = || {
        bad(
            "cursor",
            "not a cursor of this request (use the next_cursor of its previous page)",
        )
    };
    let bytes: Option<Vec<u8>> = cursor
        .len()
        .is_multiple_of(2)
        .then(|| {
            (0..cursor.len())
                .step_by(2)
                .map(|i| cursor.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect()
        })
        .flatten();
    let plain = bytes.and_then(|b| String::from_utf8(b).ok()).ok_or_else(invalid)?;
    let parts: Vec<&str> = plain.split('|').collect();
    let [version, from, tf, next] = parts.as_slice() else {
        return Err(invalid());
    };
    if *version != "v1"
        || from.parse::<i64>().ok() != Some(req.range.from.timestamp_millis())
        || *tf != req.timeframe.to_string()
    {
        return Err(invalid());
    }
    let next = next
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or_else(invalid)?;
    if next < req.range.from || next >= req.range.to {
        return Err(invalid());
    }
    Ok(next)
}

/// Checks the request and returns the range of this page.
///
/// # Errors
/// [`HistoryError::BadParam`] naming `to`, `limit` or `cursor`.
pub fn page_range(req: &PageRequest) -> Result<TimeRange, HistoryError> {
    let TimeRange { from, to } = req.range;
    if to <= from {
        return Err(bad("to", format!("must be after from ({from})")));
    }
    let max_days = if req.timeframe.intraday_minutes().is_some() {
        MAX_INTRADAY_SPAN_DAYS
    } else {
        MAX_DAILY_SPAN_DAYS
    };
    if to - from > Duration::days(max_days) {
        return Err(bad(
            "to",
            format!(
                "the range spans more than {max_days} days, the most for timeframe {}",
                req.timeframe
            ),
        ));
    }
    if req.limit == 0 || req.limit > MAX_LIMIT {
        return Err(bad("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let from = match &req.cursor {
        Some(c) => decode_cursor(c, req)?,
        None => from,
    };
    Ok(TimeRange { from, to })
}

/// Cuts `rows` (ascending by `start`) to one page.
pub(crate) fn paginate<T>(mut rows: Vec<T>, req: &PageRequest, start: impl Fn(&T) -> DateTime<Utc>) -> Page<T> {
    let next_cursor = rows
        .get(req.limit)
        .map(|r| encode_cursor(req.range.from, req.timeframe, start(r)));
    rows.truncate(req.limit);
    Page { rows, next_cursor }
}

/// Minute rows to read for one page: one more than a page on 1m tells whether there is a next
/// page; coarser timeframes read the whole (bounded) span and bucket it.
fn rows_to_read(req: &PageRequest) -> usize {
    if req.timeframe == Timeframe::one_minute() {
        req.limit + 1
    } else {
        usize::try_from(MAX_DAILY_SPAN_DAYS * 1_440).unwrap_or(usize::MAX)
    }
}

/// The historical read use cases.
pub struct HistoryReads {
    store: Arc<dyn SignalStore>,
    registry: Arc<InstrumentRegistry>,
    bars: TimeframeBars,
}

impl HistoryReads {
    /// Reads `store`; `registry` gives each instrument's market (sessions for the buckets).
    #[must_use]
    pub fn new(store: Arc<dyn SignalStore>, registry: Arc<InstrumentRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self {
            bars: TimeframeBars::new(store.clone(), clock),
            store,
            registry,
        }
    }

    /// Keeps closed days of intraday timeframes in `memory` too (see [`crate::candles`]).
    #[must_use]
    pub fn with_memory(self, memory: Option<Arc<dyn AggregateCache>>) -> Self {
        Self {
            bars: self.bars.with_memory(memory),
            ..self
        }
    }

    /// The market of `key`: from the registry, else from the key's exchange prefix (contracts
    /// met only in replayed files are not in the registry after a restart).
    ///
    /// # Errors
    /// [`HistoryError::NotFound`] when neither knows it.
    pub fn market(&self, key: &InstrumentKey) -> Result<Market, HistoryError> {
        self.registry.market_for(key).ok_or_else(|| HistoryError::NotFound {
            field: "instrument_key",
            message: format!("unknown instrument {key}"),
        })
    }

    /// Bars of `key` on `timeframe` starting in `range` (the still-open bucket included, as it
    /// stands): 1-minute bars straight from the store, coarser ones through the cache.
    pub(crate) async fn bars(
        &self,
        key: &InstrumentKey,
        market: &Market,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<AggregatedBar>, PortError> {
        if timeframe == Timeframe::one_minute() {
            let minutes: Vec<_> = self
                .store
                .candles(key, range)
                .await?
                .into_iter()
                .map(|c| c.bar)
                .collect();
            aggregate(&minutes, timeframe, market)
                .map_err(|e| PortError::Invalid(format!("stored 1-minute bars of {key}: {e}")))
        } else {
            Ok(self.bars.bars(key, market, timeframe, range).await?.0)
        }
    }

    /// Candles of `key` on the request's timeframe.
    ///
    /// # Errors
    /// [`HistoryError`]: a bad parameter, an unknown market, or the store's failure.
    pub async fn candles(&self, key: &InstrumentKey, req: &PageRequest) -> Result<Page<AggregatedBar>, HistoryError> {
        let range = page_range(req)?;
        let market = self.market(key)?;
        let bars = self.bars(key, &market, req.timeframe, range).await?;
        Ok(paginate(bars, req, |b| b.start))
    }

    /// Greeks of `key`: each bucket's last snapshot.
    ///
    /// # Errors
    /// [`HistoryError`]: a bad parameter, an unknown market, or the store's failure.
    pub async fn greeks(&self, key: &InstrumentKey, req: &PageRequest) -> Result<Page<GreeksBucket>, HistoryError> {
        let range = page_range(req)?;
        let market = self.market(key)?;
        let limit = rows_to_read(req);
        let records = self.store.greeks(key, range, limit).await?;
        let out = last_per_bucket(records, market, req.timeframe, |r| r.minute);
        Ok(paginate(out, req, |b| b.start))
    }

    /// One moneyness level (or group) of an expiry over time, both rights, each bucket's last
    /// aggregates.
    ///
    /// # Errors
    /// [`HistoryError`]: a bad parameter, an unknown market, or the store's failure.
    pub async fn moneyness_level(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        level: MoneynessLevel,
        req: &PageRequest,
    ) -> Result<Page<LevelBucket>, HistoryError> {
        let range = page_range(req)?;
        let market = self.market(underlying)?;
        let mut merged: BTreeMap<DateTime<Utc>, LevelBucket> = BTreeMap::new();
        for right in [OptionRight::Call, OptionRight::Put] {
            let records = self
                .store
                .moneyness(underlying, expiry, right, level, range, rows_to_read(req))
                .await?;
            for b in last_per_bucket(records, market.clone(), req.timeframe, |r| r.minute) {
                let e = merged.entry(b.start).or_insert_with(|| LevelBucket {
                    start: b.start,
                    end: b.end,
                    call: None,
                    put: None,
                });
                match right {
                    OptionRight::Call => e.call = Some((b.minutes, b.last)),
                    OptionRight::Put => e.put = Some((b.minutes, b.last)),
                }
            }
        }
        Ok(paginate(merged.into_values().collect(), req, |b| b.start))
    }

    /// The ATM IV of an expiry over time (as stored with each minute's ATM call aggregates),
    /// each bucket's last.
    ///
    /// # Errors
    /// [`HistoryError`]: a bad parameter, an unknown market, or the store's failure.
    pub async fn atm_iv(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        req: &PageRequest,
    ) -> Result<Page<Bucketed<MoneynessRecord>>, HistoryError> {
        let range = page_range(req)?;
        let market = self.market(underlying)?;
        let records = self
            .store
            .moneyness(
                underlying,
                expiry,
                OptionRight::Call,
                MoneynessLevel::Atm,
                range,
                rows_to_read(req),
            )
            .await?;
        Ok(paginate(
            last_per_bucket(records, market, req.timeframe, |r| r.minute),
            req,
            |b| b.start,
        ))
    }
}

#[cfg(test)]
mod tests;
