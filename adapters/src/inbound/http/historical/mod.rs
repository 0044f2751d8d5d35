//! `GET /api/v2/historical/…`: pages of stored candles and Greeks of one instrument, and of an
//! expiry's moneyness aggregates and ATM IV, on any timeframe, with an opaque cursor (limits in
//! [`application::history`]).
//!
//! `shapes.rs` holds the answers' shapes, the failures and the parameter parsing; this module the
//! endpoints.

mod past;
mod shapes;
pub use past::PastApi;
use shapes::{AtmIvOk, CandlesOk, GreeksOk, LevelOk};

use chrono::NaiveDate;
use domain::moneyness::MoneynessLevel;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::AppState;
use super::error::ErrorBody;
use super::shapes::{UNITS, key_param};
use super::time_param::TimeParam;

pub use shapes::*;

/// Historical endpoints.
pub struct HistoricalApi {
    pub(super) state: AppState,
}

#[OpenApi]
impl HistoricalApi {
    /// Candles of an instrument on any timeframe (`5m`, `7m`, `13m`, `1h`, `1d`…), buckets
    /// anchored at each session's open, aggregated from the stored 1-minute bars.
    #[oai(
        path = "/historical/candles/:instrument_key",
        method = "get",
        operation_id = "getHistoricalCandles"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn candles(
        &self,
        /// Instrument key, e.g. `NSE:NIFTY` or `NSE:NIFTY-20260224-26000-CE`.
        #[oai(example = "super::examples::underlying")]
        instrument_key: Path<String>,
        /// Range start, inclusive: a date-time with its UTC offset (`2026-02-02T09:15:00+05:30`) or a
        /// date (`2026-02-02`, from the exchange's local midnight): buckets starting at or after it.
        #[oai(example = "super::examples::from")]
        from: Query<TimeParam>,
        /// Range end, exclusive: a date-time with its UTC offset, or a date (through the end of that
        /// exchange-local day); at most 31 days after `from` (1830 for `1d`, `1w`).
        #[oai(example = "super::examples::to")]
        to: Query<TimeParam>,
        /// Timeframe: `Nm`, `Nh`, `Nd` or `1w`; default `1m`.
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
    ) -> Result<CandlesOk, HistoryFailure> {
        let key = key_param("instrument_key", &instrument_key.0)?;
        let req = page_request(&self.state.history, &key, from.0, to.0, timeframe.0, limit.0, cursor.0)?;
        let page = self.state.history.candles(&key, &req).await?;
        Ok(CandlesOk::Ok(Json(CandlesPage {
            instrument_key: key.to_string(),
            timeframe: req.timeframe.to_string(),
            candles: page.rows.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
            units: UNITS.to_owned(),
        })))
    }

    /// IV and Greeks of an option over time: on `1m` every stored minute snapshot, on a coarser
    /// timeframe each bucket's last snapshot.
    #[oai(
        path = "/historical/greeks/:instrument_key",
        method = "get",
        operation_id = "getHistoricalGreeks"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn greeks(
        &self,
        /// Option key, e.g. `NSE:NIFTY-20260224-26000-CE`.
        #[oai(example = "super::examples::option_key")]
        instrument_key: Path<String>,
        /// Range start, inclusive: a date-time with its UTC offset (`2026-02-02T09:15:00+05:30`) or a
        /// date (`2026-02-02`, from the exchange's local midnight).
        #[oai(example = "super::examples::from")]
        from: Query<TimeParam>,
        /// Range end, exclusive: a date-time with its UTC offset, or a date (through the end of that
        /// exchange-local day); at most 31 days after `from` (1830 for `1d`, `1w`).
        #[oai(example = "super::examples::to")]
        to: Query<TimeParam>,
        /// Timeframe: `Nm`, `Nh`, `Nd` or `1w`; default `1m`.
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
    ) -> Result<GreeksOk, HistoryFailure> {
        let key = key_param("instrument_key", &instrument_key.0)?;
        let req = page_request(&self.state.history, &key, from.0, to.0, timeframe.0, limit.0, cursor.0)?;
        let page = self.state.history.greeks(&key, &req).await?;
        Ok(GreeksOk::Ok(Json(GreeksPage {
            instrument_key: key.to_string(),
            timeframe: req.timeframe.to_string(),
            rows: page.rows.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
            units: UNITS.to_owned(),
        })))
    }

    /// A moneyness level (or the ITM / OTM group) of an expiry over time: per bucket, each
    /// right's last aggregates (mean IV, OI-weighted Greeks, volume and OI totals).
    #[oai(
        path = "/historical/moneyness/:underlying/greeks/:level",
        method = "get",
        operation_id = "getHistoricalMoneynessGreeks"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn moneyness_level(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// `ATM`, `ITM1`…`ITM1000`, `OTM1`…`OTM1000`, or the groups `ITM`, `OTM`.
        #[oai(example = "super::examples::level")]
        level: Path<String>,
        /// Expiry date (YYYY-MM-DD).
        #[oai(example = "super::examples::expiry_date")]
        expiry: Query<NaiveDate>,
        /// Range start, inclusive: a date-time with its UTC offset (`2026-02-02T09:15:00+05:30`) or a
        /// date (`2026-02-02`, from the exchange's local midnight).
        #[oai(example = "super::examples::from")]
        from: Query<TimeParam>,
        /// Range end, exclusive: a date-time with its UTC offset, or a date (through the end of that
        /// exchange-local day); at most 31 days after `from` (1830 for `1d`, `1w`).
        #[oai(example = "super::examples::to")]
        to: Query<TimeParam>,
        /// Timeframe: `Nm`, `Nh`, `Nd` or `1w`; default `1m`.
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
    ) -> Result<LevelOk, HistoryFailure> {
        let key = key_param("underlying", &underlying.0)?;
        let wanted: MoneynessLevel = level.0.parse().map_err(|e: domain::moneyness::LevelError| {
            HistoryFailure::BadRequest(Json(ErrorBody::new("bad_request", e.to_string(), Some("level"))))
        })?;
        let req = page_request(&self.state.history, &key, from.0, to.0, timeframe.0, limit.0, cursor.0)?;
        let page = self.state.history.moneyness_level(&key, expiry.0, wanted, &req).await?;
        Ok(LevelOk::Ok(Json(LevelPage {
            underlying: key.to_string(),
            expiry: expiry.0,
            level: wanted.to_string(),
            timeframe: req.timeframe.to_string(),
            rows: page
                .rows
                .into_iter()
                .map(|b| LevelBucketOut {
                    start: b.start,
                    end: b.end,
                    call: b.call.map(LevelSnapshotOut::new),
                    put: b.put.map(LevelSnapshotOut::new),
                })
                .collect(),
            next_cursor: page.next_cursor,
            units: UNITS.to_owned(),
        })))
    }

    /// The ATM IV of an expiry over time, each bucket's last value.
    #[oai(
        path = "/historical/moneyness/:underlying/atm-iv",
        method = "get",
        operation_id = "getHistoricalAtmIv"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn atm_iv(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// Expiry date (YYYY-MM-DD).
        #[oai(example = "super::examples::expiry_date")]
        expiry: Query<NaiveDate>,
        /// Range start, inclusive: a date-time with its UTC offset (`2026-02-02T09:15:00+05:30`) or a
        /// date (`2026-02-02`, from the exchange's local midnight).
        #[oai(example = "super::examples::from")]
        from: Query<TimeParam>,
        /// Range end, exclusive: a date-time with its UTC offset, or a date (through the end of that
        /// exchange-local day); at most 31 days after `from` (1830 for `1d`, `1w`).
        #[oai(example = "super::examples::to")]
        to: Query<TimeParam>,
        /// Timeframe: `Nm`, `Nh`, `Nd` or `1w`; default `1m`.
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
    ) -> Result<AtmIvOk, HistoryFailure> {
        let key = key_param("underlying", &underlying.0)?;
        let req = page_request(&self.state.history, &key, from.0, to.0, timeframe.0, limit.0, cursor.0)?;
        let page = self.state.history.atm_iv(&key, expiry.0, &req).await?;
        Ok(AtmIvOk::Ok(Json(AtmIvPage {
            underlying: key.to_string(),
            expiry: expiry.0,
            timeframe: req.timeframe.to_string(),
            rows: page
                .rows
                .into_iter()
                .map(|b| AtmIvBucketOut {
                    start: b.start,
                    end: b.end,
                    minutes: b.minutes,
                    as_of: b.last.minute,
                    atm_iv: b.last.atm_iv,
                })
                .collect(),
            next_cursor: page.next_cursor,
            units: UNITS.to_owned(),
        })))
    }
}
