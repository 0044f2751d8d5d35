//! `GET /api/v2/historical/chain/{underlying}` (the chain as it stood at a past minute, in the
//! realtime chain's shape) and `GET /api/v2/historical/moneyness/{underlying}/iv-rank` (today's
//! 30-day constant-maturity ATM IV against its history).

use application::iv_rank::{DEFAULT_WINDOW, DayIv};
use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::super::AppState;
use super::super::chain::{RealtimeChain, previous_close, render_chain};
use super::super::shapes::key_param;
use super::HistoryFailure;

/// One day's 30-day constant-maturity ATM IV.
#[derive(Debug, Clone, Object)]
pub struct DayIvOut {
    /// The trading date (exchange-local).
    pub date: NaiveDate,
    /// Start of the minute (UTC) of the latest ATM IV used that day.
    pub as_of: DateTime<Utc>,
    /// The IV at 30 days, interpolated in total variance between the expiries around it,
    /// decimal per √year.
    pub atm_iv_30d: f64,
    /// Time of the expiry at or before 30 days used, years.
    pub from_t_years: f64,
    /// Time of the expiry after 30 days used, years (equal to `from_t_years` when flat).
    pub to_t_years: f64,
    /// True when no expiries lay on both sides of 30 days and the nearest one's IV was used.
    pub extrapolated: bool,
}

impl From<DayIv> for DayIvOut {
    fn from(d: DayIv) -> Self {
        Self {
            date: d.date,
            as_of: d.as_of,
            atm_iv_30d: d.iv.iv,
            from_t_years: d.iv.from_t_years,
            to_t_years: d.iv.to_t_years,
            extrapolated: d.iv.extrapolated,
        }
    }
}

/// Where today's 30-day ATM IV stands in its history.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IvRankOut {
    /// The underlying.
    pub underlying: String,
    /// Trading days asked for before today.
    pub window_trading_days: u32,
    /// Days of the window with a value (the history's length).
    pub history_days: u32,
    /// The latest day with a value: today's session when it has one.
    pub today: Option<DayIvOut>,
    /// `(today − lowest) / (highest − lowest)` over the history and today, 0 to 1; absent
    /// without history or when every value is equal.
    pub iv_rank: Option<f64>,
    /// Share of the history's days with a lower value than today, 0 to 1.
    pub iv_percentile: Option<f64>,
    /// The lowest 30-day ATM IV of the history and today, decimal per √year.
    pub low_atm_iv_30d: Option<f64>,
    /// The highest, decimal per √year.
    pub high_atm_iv_30d: Option<f64>,
    /// The history, ascending by date (today not included).
    pub history: Vec<DayIvOut>,
}

#[derive(ApiResponse)]
enum PastChainOk {
    /// The chain at that minute.
    #[oai(status = 200)]
    Ok(Json<RealtimeChain>),
}

#[derive(ApiResponse)]
enum IvRankOk {
    /// The rank.
    #[oai(status = 200)]
    Ok(Json<IvRankOut>),
}

/// The historical chain and IV rank endpoints.
pub struct PastApi {
    pub(in crate::inbound::http) state: AppState,
}

#[OpenApi]
impl PastApi {
    /// The chain of an expiry as it stood at a past minute: its last evaluation at or before
    /// `at` (within 24 hours), evaluated again from the stored minute snapshots, in the realtime
    /// chain's shape. IV, Greeks, levels and statistics equal what the realtime chain said at
    /// that minute; `last`, `oi` and `volume` come from the 1-minute bars (volume: the session's
    /// so far); bid and ask are not stored and are absent; levels follow the local strike
    /// ladder (`mapping_source: local_ladder`).
    #[oai(
        path = "/historical/chain/:underlying",
        method = "get",
        operation_id = "getHistoricalChain"
    )]
    async fn chain(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::super::examples::underlying")]
        underlying: Path<String>,
        /// The minute: a date-time with its UTC offset, e.g. `2026-02-02T14:30:00+05:30`.
        #[oai(example = "super::super::examples::at")]
        at: Query<DateTime<Utc>>,
        /// Expiry date (YYYY-MM-DD); default: the nearest expiry with a chain stored then.
        #[oai(example = "super::super::examples::expiry")]
        expiry: Query<Option<NaiveDate>>,
    ) -> Result<PastChainOk, HistoryFailure> {
        let key = key_param("underlying", &underlying.0)?;
        let read = self.state.past_chains.chain_at(&key, at.0, expiry.0).await?;
        let previous = previous_close(&self.state, &read).await;
        Ok(PastChainOk::Ok(Json(render_chain(&read, previous.as_ref()))))
    }

    /// IV rank and percentile of today's 30-day constant-maturity ATM IV against the `window`
    /// trading days before, with each day's value (its session's last ATM IVs of the expiries
    /// around 30 days, interpolated in total variance).
    #[oai(
        path = "/historical/moneyness/:underlying/iv-rank",
        method = "get",
        operation_id = "getHistoricalIvRank"
    )]
    async fn iv_rank(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::super::examples::underlying")]
        underlying: Path<String>,
        /// The history's length, trading days before today, 1 to 1000; default 252 (a year).
        #[oai(
            example = "super::super::examples::window",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        window: Query<Option<u32>>,
    ) -> Result<IvRankOk, HistoryFailure> {
        let key = key_param("underlying", &underlying.0)?;
        let r = self
            .state
            .iv_ranks
            .rank(&key, window.0.unwrap_or(DEFAULT_WINDOW))
            .await?;
        Ok(IvRankOk::Ok(Json(IvRankOut {
            underlying: key.to_string(),
            window_trading_days: r.window,
            history_days: u32::try_from(r.history.len()).unwrap_or(u32::MAX),
            today: r.today.map(Into::into),
            iv_rank: r.rank.and_then(|x| x.rank),
            iv_percentile: r.rank.map(|x| x.percentile),
            low_atm_iv_30d: r.rank.map(|x| x.low),
            high_atm_iv_30d: r.rank.map(|x| x.high),
            history: r.history.into_iter().map(Into::into).collect(),
        })))
    }
}
