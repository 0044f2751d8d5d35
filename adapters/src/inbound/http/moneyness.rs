//! `GET /api/v2/realtime/moneyness/{underlying}/…`: one level's aggregated Greeks, the strikes at
//! a level, the ATM IV and the IV skew of an expiry, as last evaluated from the in-memory state.
//! Levels come from the expiry's moneyness mapping ([`application::moneyness::MoneynessReads`]);
//! each level answer says which mapping it used and as of when.

use application::moneyness::MappingUsed;
use chrono::{DateTime, NaiveDate, Utc};
use domain::instrument::OptionRight;
use domain::moneyness::MoneynessLevel;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::AppState;
use super::chain::{ChainMeta, read_chain};
use super::shapes::{AtmIvOut, LevelOut, ReadFailure, key_param};

/// A `level` path parameter.
fn level_param(raw: &str) -> Result<MoneynessLevel, ReadFailure> {
    raw.parse()
        .map_err(|e: domain::moneyness::LevelError| ReadFailure::bad("level", e.to_string()))
}

/// The example of the `right` parameter.
#[allow(clippy::unnecessary_wraps)]
fn calls() -> Option<RightParam> {
    Some(RightParam::Call)
}

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum RightParam {
    /// Calls only.
    Call,
    /// Puts only.
    Put,
}

/// The moneyness mapping an answer grouped strikes by.
#[derive(Debug, Clone, Object)]
pub struct MappingOut {
    /// What decided the levels: `instrument_service` (its mapping) or `local_ladder` (the listed
    /// strikes around the ATM strike nearest the forward or spot).
    pub source: String,
    /// Where this instance found it: `memory` (in-process cache), `redis` (shared cache),
    /// `instrument_service` (asked just now) or `computed` (the local ladder, here).
    pub via: String,
    /// When the mapping was made.
    pub as_of: DateTime<Utc>,
    /// True when past its time to live, served because the instrument service is down.
    pub stale: bool,
    /// The mapping's ATM strike, price units.
    pub atm_strike: f64,
    /// The mapping's strike step, price units.
    pub strike_step: f64,
}

impl From<MappingUsed> for MappingOut {
    fn from(m: MappingUsed) -> Self {
        Self {
            source: m.source.as_str().to_owned(),
            via: m.via.as_str().to_owned(),
            as_of: m.as_of,
            stale: m.stale,
            atm_strike: m.atm_strike,
            strike_step: m.strike_step,
        }
    }
}

/// One moneyness level's aggregates for each right.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RealtimeLevelGreeks {
    /// Which chain, as of when, how.
    pub meta: ChainMeta,
    /// The level asked for: `ATM`, `ITMn`, `OTMn`, or a group `ITM` / `OTM`.
    pub level: String,
    /// One entry per right (or only the right asked for), with the strikes it covers.
    pub rights: Vec<LevelStrikes>,
    /// The mapping the strikes were grouped by.
    pub mapping: MappingOut,
}

/// The strikes at one moneyness level of an expiry.
#[derive(Debug, Clone, Object)]
pub struct RealtimeLevelStrikes {
    /// The underlying's key.
    pub underlying: String,
    /// The expiry (exchange-local date).
    pub expiry: NaiveDate,
    /// The level asked for.
    pub level: String,
    /// The calls' strikes at the level, ascending, price units.
    pub call_strikes: Vec<f64>,
    /// The puts' strikes at the level, ascending, price units (a put's ITM1 is the call's OTM1).
    pub put_strikes: Vec<f64>,
    /// The mapping used.
    pub mapping: MappingOut,
}

/// A level's aggregates for one right and the strikes in it.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LevelStrikes {
    /// Aggregates (mean IV, OI-weighted Greeks, totals).
    pub aggregate: LevelOut,
    /// The strikes in the level for this right, ascending, price units.
    pub strikes: Vec<f64>,
}

/// ATM IV of an expiry.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RealtimeAtmIv {
    /// Which chain, as of when, how.
    pub meta: ChainMeta,
    /// ATM IV and the strikes it came from.
    #[oai(flatten)]
    pub atm: AtmIvOut,
}

/// One strike's IVs.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SkewPoint {
    /// Strike, price units.
    pub strike: f64,
    /// `ln(strike / forward)`.
    pub log_moneyness: f64,
    /// The call's level: `ATM`, `ITMn`, `OTMn` (the put's is the mirror).
    pub call_level: Option<String>,
    /// The call's IV, decimal per √year.
    pub call_iv: Option<f64>,
    /// The put's IV, decimal per √year.
    pub put_iv: Option<f64>,
    /// The out-of-the-money side's IV (call at or above the forward, put below), else the other's.
    pub otm_iv: Option<f64>,
}

/// Mean IV of one level of one right.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LevelIv {
    /// `call` or `put`.
    pub right: String,
    /// `ATM`, `ITMn` or `OTMn`.
    pub level: String,
    /// Mean IV, decimal per √year.
    pub mean_iv: Option<f64>,
}

/// The IV skew of an expiry.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RealtimeSkew {
    /// Which chain, as of when, how.
    pub meta: ChainMeta,
    /// ATM IV, decimal per √year.
    pub atm_iv: Option<f64>,
    /// 25-delta risk reversal `σ25C − σ25P`, decimal per √year.
    pub risk_reversal_25d: Option<f64>,
    /// 25-delta butterfly `(σ25C + σ25P)/2 − σATM`, decimal per √year.
    pub butterfly_25d: Option<f64>,
    /// By strike, ascending.
    pub by_strike: Vec<SkewPoint>,
    /// By level: calls then puts, ascending by strike.
    pub by_level: Vec<LevelIv>,
}

#[derive(ApiResponse)]
enum LevelOk {
    /// The level's aggregates.
    #[oai(status = 200)]
    Ok(Json<RealtimeLevelGreeks>),
}

#[derive(ApiResponse)]
enum StrikesOk {
    /// The strikes at the level.
    #[oai(status = 200)]
    Ok(Json<RealtimeLevelStrikes>),
}

#[derive(ApiResponse)]
enum AtmIvOk {
    /// The ATM IV.
    #[oai(status = 200)]
    Ok(Json<RealtimeAtmIv>),
}

#[derive(ApiResponse)]
enum SkewOk {
    /// The skew.
    #[oai(status = 200)]
    Ok(Json<RealtimeSkew>),
}

/// Realtime moneyness endpoints.
pub struct MoneynessApi {
    pub(super) state: AppState,
}

#[OpenApi]
impl MoneynessApi {
    /// Aggregated Greeks of one moneyness level (or the ITM / OTM group) of an expiry: mean IV,
    /// OI-weighted Greeks, total volume and OI, per right.
    #[oai(
        path = "/realtime/moneyness/:underlying/greeks/:level",
        method = "get",
        operation_id = "getRealtimeMoneynessGreeks"
    )]
    async fn level_greeks(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// `ATM`, `ITM1`…`ITM1000`, `OTM1`…`OTM1000`, or the groups `ITM`, `OTM` (per right: a
        /// call below the ATM strike is ITM, a put below it OTM).
        #[oai(example = "super::examples::level")]
        level: Path<String>,
        /// Expiry date (YYYY-MM-DD); default: the nearest expiry not yet past.
        #[oai(example = "super::examples::expiry")]
        expiry: Query<Option<NaiveDate>>,
        /// Only this right; default both.
        #[oai(example = "calls")]
        right: Query<Option<RightParam>>,
    ) -> Result<LevelOk, ReadFailure> {
        let wanted = level_param(&level.0)?;
        let underlying = key_param("underlying", &underlying.0)?;
        let rights: Vec<OptionRight> = match right.0 {
            Some(RightParam::Call) => vec![OptionRight::Call],
            Some(RightParam::Put) => vec![OptionRight::Put],
            None => vec![OptionRight::Call, OptionRight::Put],
        };
        let r = self
            .state
            .moneyness
            .level(&underlying, wanted, expiry.0, &rights)
            .await?;
        Ok(LevelOk::Ok(Json(RealtimeLevelGreeks {
            meta: ChainMeta::new(&r.chain),
            level: wanted.to_string(),
            rights: r
                .rights
                .iter()
                .map(|x| LevelStrikes {
                    aggregate: LevelOut::new(x.right, wanted, &x.aggregate),
                    strikes: x.strikes.clone(),
                })
                .collect(),
            mapping: r.mapping.into(),
        })))
    }

    /// The strikes at one moneyness level of an expiry, both rights, from the expiry's moneyness
    /// mapping (the instrument service's when configured, else the local strike ladder).
    #[oai(
        path = "/realtime/moneyness/:underlying/strikes/:level",
        method = "get",
        operation_id = "getRealtimeMoneynessStrikes"
    )]
    async fn level_strikes(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// `ATM`, `ITM1`…`ITM1000`, `OTM1`…`OTM1000`, or the groups `ITM`, `OTM`, read for calls
        /// (the puts' strikes are the mirror).
        #[oai(example = "super::examples::level")]
        level: Path<String>,
        /// Expiry date (YYYY-MM-DD); default: the nearest expiry not yet past.
        #[oai(example = "super::examples::expiry")]
        expiry: Query<Option<NaiveDate>>,
    ) -> Result<StrikesOk, ReadFailure> {
        let wanted = level_param(&level.0)?;
        let underlying = key_param("underlying", &underlying.0)?;
        let r = self.state.moneyness.strikes(&underlying, wanted, expiry.0).await?;
        Ok(StrikesOk::Ok(Json(RealtimeLevelStrikes {
            underlying: r.underlying.to_string(),
            expiry: r.expiry,
            level: wanted.to_string(),
            call_strikes: r.calls,
            put_strikes: r.puts,
            mapping: r.mapping.into(),
        })))
    }

    /// ATM IV of an expiry at its forward.
    #[oai(
        path = "/realtime/moneyness/:underlying/atm-iv",
        method = "get",
        operation_id = "getRealtimeAtmIv"
    )]
    async fn atm_iv(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// Expiry date (YYYY-MM-DD); default: the nearest expiry not yet past.
        #[oai(example = "super::examples::expiry")]
        expiry: Query<Option<NaiveDate>>,
    ) -> Result<AtmIvOk, ReadFailure> {
        let r = read_chain(&self.state, &underlying.0, expiry.0)?;
        let atm = r.snapshot.analytics.atm_iv;
        Ok(AtmIvOk::Ok(Json(RealtimeAtmIv {
            meta: ChainMeta::new(&r),
            atm: atm.into(),
        })))
    }

    /// IV skew of an expiry: by strike (call, put and OTM-side IV) and by moneyness level, with
    /// the 25-delta risk reversal and butterfly.
    #[oai(
        path = "/realtime/moneyness/:underlying/skew",
        method = "get",
        operation_id = "getRealtimeSkew"
    )]
    async fn skew(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// Expiry date (YYYY-MM-DD); default: the nearest expiry not yet past.
        #[oai(example = "super::examples::expiry")]
        expiry: Query<Option<NaiveDate>>,
    ) -> Result<SkewOk, ReadFailure> {
        let r = read_chain(&self.state, &underlying.0, expiry.0)?;
        let a = &r.snapshot.analytics;
        let f = r.snapshot.forward.value;

        Ok(SkewOk::Ok(Json(RealtimeSkew {
            meta: ChainMeta::new(&r),
            atm_iv: a.atm_iv.map(|x| x.iv),
            risk_reversal_25d: a.wing_25.map(|w| w.risk_reversal),
            butterfly_25d: a.wing_25.map(|w| w.butterfly),
            by_strike: a
                .skew
                .iter()
                .map(|s| SkewPoint {
                    strike: s.strike,
                    log_moneyness: (s.strike / f).ln(),
                    call_level: r.snapshot.level_of(s.strike, OptionRight::Call).map(|l| l.to_string()),
                    call_iv: s.call_iv,
                    put_iv: s.put_iv,
                    otm_iv: s.otm_iv,
                })
                .collect(),
            by_level: r
                .snapshot
                .levels
                .iter()
                .filter(|(_, level, _)| !level.is_group())
                .map(|(right, level, aggregate)| LevelIv {
                    right: right.as_str().to_owned(),
                    level: level.to_string(),
                    mean_iv: aggregate.mean_iv,
                })
                .collect(),
        })))
    }
}
