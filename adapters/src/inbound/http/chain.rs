//! `GET /api/v2/realtime/chain/{underlying}` and `…/stats`: an expiry's option chain and its
//! statistics, as last evaluated from the in-memory state.
//!
//! IV, Greeks and every statistic are as of `meta.as_of` (the minute last evaluated); the quote
//! fields (bid, ask, last, OI, volume) of each option are the latest received.

use std::collections::{BTreeMap, HashMap};

use application::past_chain::Closes;
use application::realtime::ChainRead;
use chrono::{DateTime, NaiveDate, Utc};
use domain::instrument::OptionRight;
use domain::moneyness::OptionPoint;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::AppState;
use super::shapes::{
    ChainStatsOut, ConventionsOut, ForwardOut, GreeksOut, LevelOut, ReadFailure, STALE_AFTER_SECONDS, key_param,
};

/// What every chain-derived answer starts with: which chain, as of when, computed how.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ChainMeta {
    /// The underlying, e.g. `NSE:NIFTY`.
    pub underlying: String,
    /// The expiry date (market-local).
    pub expiry: NaiveDate,
    /// Start of the minute (UTC) whose quotes the analytics were computed from.
    pub as_of: DateTime<Utc>,
    /// True when `as_of` is more than `stale_after_seconds` behind the server's clock (UTC now):
    /// no newer data has arrived since. The simulated market runs on the last session's clock,
    /// so its live numbers read stale on any other day.
    pub stale: bool,
    /// How far behind the server's clock data may be before it is called stale, seconds.
    pub stale_after_seconds: u32,
    /// The conventions and units used.
    pub conventions: ConventionsOut,
    /// The expiry's forward and its source.
    pub forward: ForwardOut,
    /// The underlying's spot at `as_of`, price units, when known.
    pub spot: Option<f64>,
    /// Time to expiry used, years.
    pub t_years: f64,
    /// The ATM strike (nearest the forward or spot, ties to the higher strike).
    pub atm_strike: Option<f64>,
    /// The strike step (the most common gap between listed strikes).
    pub strike_step: Option<f64>,
    /// What decided the moneyness levels of this chain (each option's level, the statistics and
    /// skew by level): `instrument_service` (its mapping) or `local_ladder` (the listed strikes
    /// around the ATM strike).
    pub mapping_source: String,
    /// When that mapping was made (the ladder's: `as_of`).
    pub mapping_as_of: DateTime<Utc>,
    /// Open (UTC) of the session `as_of` belongs to. The historical chain a minute before it is
    /// the previous session's close (what a change since the previous close is measured from).
    pub session_open: Option<DateTime<Utc>>,
}

impl ChainMeta {
    pub(super) fn new(r: &ChainRead) -> Self {
        let s = &r.snapshot;
        Self {
            underlying: r.underlying.to_string(),
            expiry: r.expiry,
            as_of: s.minute,
            stale: r.stale,
            stale_after_seconds: STALE_AFTER_SECONDS,
            conventions: (&r.conventions).into(),
            forward: s.forward.into(),
            spot: s.spot,
            t_years: s.t_years,
            atm_strike: s.analytics.atm_strike,
            strike_step: s.analytics.strike_step,
            mapping_source: s.mapping_source().as_str().to_owned(),
            mapping_as_of: s.mapping_as_of(),
            session_open: r.session_open,
        }
    }
}

/// One option of the chain.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ChainOption {
    /// The option's instrument key.
    pub instrument_key: String,
    /// Moneyness level for this right: `ATM`, `ITMn` or `OTMn`.
    pub level: Option<String>,
    /// Exchange time of the latest quote.
    pub quote_time: DateTime<Utc>,
    /// Best bid, price units.
    pub bid: Option<f64>,
    /// Best ask, price units.
    pub ask: Option<f64>,
    /// Last traded price, price units.
    pub last: Option<f64>,
    /// Open interest.
    pub oi: f64,
    /// Session volume.
    pub volume: f64,
    /// `last` less the last price at the previous session's close, price units; absent when
    /// either is unknown (no stored chain of that close).
    pub last_change: Option<f64>,
    /// `oi` less the open interest at the previous session's close, units.
    pub oi_change: Option<f64>,
    /// Implied volatility at `as_of`, decimal per √year.
    pub iv: Option<f64>,
    /// Why there is no IV: `below_intrinsic`, `above_upper_bound`, `no_time_value`,
    /// `invalid_input`, or `no_price` (no usable quote).
    pub iv_error: Option<String>,
    /// Greeks at that IV.
    pub greeks: Option<GreeksOut>,
}

/// One strike with both rights.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ChainStrike {
    /// Strike, price units.
    pub strike: f64,
    /// The call, when listed and quoted.
    pub call: Option<ChainOption>,
    /// The put, when listed and quoted.
    pub put: Option<ChainOption>,
}

/// An expiry's chain, ascending by strike.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RealtimeChain {
    /// Which chain, as of when, how.
    pub meta: ChainMeta,
    /// ATM IV at the forward (interpolated between the two strikes around it), decimal per √year.
    pub atm_iv: Option<f64>,
    /// Every quoted strike.
    pub strikes: Vec<ChainStrike>,
}

/// Count of options without IV for one reason.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IvErrorCount {
    /// `below_intrinsic`, `above_upper_bound`, `no_time_value`, `invalid_input` or `no_price`.
    pub reason: String,
    /// Options with that reason.
    pub count: u32,
}

/// An expiry's chain statistics.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RealtimeChainStats {
    /// Which chain, as of when, how.
    pub meta: ChainMeta,
    /// ATM IV, put–call ratios, max pain and the 25-delta wings.
    #[oai(flatten)]
    pub stats: ChainStatsOut,
    /// Options in the chain.
    pub options: u32,
    /// Options without an IV, by reason.
    pub without_iv: Vec<IvErrorCount>,
    /// Greeks distribution, volume and OI by level: every single level of each right
    /// (calls then puts, ascending by strike), then the groups ITM and OTM of each right.
    pub levels: Vec<LevelOut>,
}

#[derive(ApiResponse)]
enum ChainOk {
    /// The chain.
    #[oai(status = 200)]
    Ok(Json<RealtimeChain>),
}

#[derive(ApiResponse)]
enum StatsOk {
    /// The statistics.
    #[oai(status = 200)]
    Ok(Json<RealtimeChainStats>),
}

/// Realtime chain endpoints.
pub struct ChainApi {
    pub(super) state: AppState,
}

/// The chain of the `underlying` path parameter for the `expiry` query parameter.
pub(super) fn read_chain(
    state: &AppState,
    underlying: &str,
    expiry: Option<NaiveDate>,
) -> Result<ChainRead, ReadFailure> {
    let key = key_param("underlying", underlying)?;
    Ok(state.realtime.chain(&key, expiry)?)
}

fn slot(strike: f64, right: OptionRight) -> (u64, OptionRight) {
    (strike.to_bits(), right)
}

/// The reason code of an option without IV (`no_price` when it had no usable quote).
fn iv_reason(r: Option<domain::pricing::IvError>) -> &'static str {
    r.map_or("no_price", domain::pricing::IvError::code)
}

/// The previous session's closes of `r`'s options, when stored.
pub(super) async fn previous_close(state: &AppState, r: &ChainRead) -> Option<Closes> {
    let open = r.session_open?;
    state.past_chains.previous_close(&r.underlying, r.expiry, open).await
}

/// The chain of `r` as the API shows it (the realtime and the historical chain alike), with
/// each option's change since `previous` (the previous session's closes).
pub(super) fn render_chain(r: &ChainRead, previous: Option<&Closes>) -> RealtimeChain {
    let a = &r.snapshot.analytics;
    let points: HashMap<_, &OptionPoint> = a.points.iter().map(|p| (slot(p.strike, p.right), p)).collect();
    let failures: HashMap<_, _> = a
        .iv_failures
        .iter()
        .map(|f| (slot(f.strike, f.right), f.reason))
        .collect();
    let mut strikes: BTreeMap<u64, ChainStrike> = BTreeMap::new();
    for ((bits, right), (key, strike, q)) in &r.quotes.quotes {
        let p = points.get(&(*bits, *right));
        let close = previous.and_then(|c| c.get(key));
        let option = ChainOption {
            last_change: close.and_then(|c| Some(q.last? - c.last?)),
            oi_change: close.map(|c| q.oi - c.oi),
            instrument_key: key.to_string(),
            level: r.snapshot.level_of(*strike, *right).map(|l| l.to_string()),
            quote_time: q.ts,
            bid: q.bid,
            ask: q.ask,
            last: q.last,
            oi: q.oi,
            volume: q.volume,
            iv: p.and_then(|p| p.iv),
            iv_error: failures.get(&(*bits, *right)).map(|r| iv_reason(*r).to_owned()),
            greeks: p.and_then(|p| p.greeks).map(Into::into),
        };
        let row = strikes.entry(*bits).or_insert_with(|| ChainStrike {
            strike: *strike,
            call: None,
            put: None,
        });
        match right {
            OptionRight::Call => row.call = Some(option),
            OptionRight::Put => row.put = Some(option),
        }
    }
    RealtimeChain {
        meta: ChainMeta::new(r),
        atm_iv: a.atm_iv.map(|x| x.iv),
        strikes: strikes.into_values().collect(),
    }
}

#[OpenApi]
impl ChainApi {
    /// An expiry's option chain: per strike, both rights' quote, IV, Greeks, OI, volume and level.
    #[oai(
        path = "/realtime/chain/:underlying",
        method = "get",
        operation_id = "getRealtimeChain"
    )]
    async fn chain(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// Expiry date (YYYY-MM-DD); default: the nearest expiry not yet past.
        #[oai(example = "super::examples::expiry")]
        expiry: Query<Option<NaiveDate>>,
    ) -> Result<ChainOk, ReadFailure> {
        let r = read_chain(&self.state, &underlying.0, expiry.0)?;
        let previous = previous_close(&self.state, &r).await;
        Ok(ChainOk::Ok(Json(render_chain(&r, previous.as_ref()))))
    }

    /// An expiry's chain statistics: PCR, max pain, ATM IV, 25-delta wings, and the Greeks
    /// distribution, volume and OI by moneyness level.
    #[oai(
        path = "/realtime/chain/:underlying/stats",
        method = "get",
        operation_id = "getRealtimeChainStats"
    )]
    async fn stats(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// Expiry date (YYYY-MM-DD); default: the nearest expiry not yet past.
        #[oai(example = "super::examples::expiry")]
        expiry: Query<Option<NaiveDate>>,
    ) -> Result<StatsOk, ReadFailure> {
        let r = read_chain(&self.state, &underlying.0, expiry.0)?;
        let a = &r.snapshot.analytics;
        let mut without: BTreeMap<&str, u32> = BTreeMap::new();
        for f in &a.iv_failures {
            *without.entry(iv_reason(f.reason)).or_default() += 1;
        }
        let levels: Vec<LevelOut> = r
            .snapshot
            .levels
            .iter()
            .map(|(right, level, aggregate)| LevelOut::new(*right, *level, aggregate))
            .collect();
        Ok(StatsOk::Ok(Json(RealtimeChainStats {
            meta: ChainMeta::new(&r),
            stats: ChainStatsOut::new(a.atm_iv, a.wing_25, a.pcr, a.max_pain),
            options: u32::try_from(a.points.len()).unwrap_or(u32::MAX),
            without_iv: without
                .into_iter()
                .map(|(reason, count)| IvErrorCount {
                    reason: reason.to_owned(),
                    count,
                })
                .collect(),
            levels,
        })))
    }
}
