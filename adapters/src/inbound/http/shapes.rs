//! Response parts shared by the read endpoints: the conventions block, a level's aggregates,
//! Greeks in API units, and the 400/404 failure answer.

use chrono::{DateTime, Utc};
use domain::chain::{AtmIv, Conventions, PutCallRatio, Wing25};
use domain::expiry::Forward;
use domain::moneyness::LevelAggregate;
use domain::ports::GreeksRecord;
use domain::pricing::Greeks;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use super::error::ErrorBody;

/// The units every value is given in; repeated in each answer so a stored answer explains itself.
pub const UNITS: &str = "iv: decimal per √year (0.15 = 15 %); prices, strikes and the forward: the \
    underlying's price units; delta: per 1 unit of the underlying (of the forward under Black-76); \
    gamma: per unit²; theta: per calendar day; vega: per volatility point (0.01); rho: per rate \
    point (0.01); vanna: per unit per unit of σ; volga: per unit of σ²; charm: per year; speed: per unit³; \
    oi and volume: contracts' units as reported by the exchange";

/// How the values were computed.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ConventionsOut {
    /// `black76` (on the forward) or `bsm` (on spot).
    pub model: String,
    /// Risk-free rate, continuously compounded, decimal per year (0.065 = 6.5 %).
    pub rate: f64,
    /// Continuous dividend yield, decimal per year (BSM only).
    pub div_yield: f64,
    /// `exact` (seconds to the expiry instant / (365·86400)) or `calendar_days` (days / 365).
    pub time_basis: String,
    /// Premium IV is solved from: `mid`, `last`, or `auto` (mid when both sides are sane, else last).
    pub price_source: String,
    /// What the ATM strike is nearest to: `forward` or `spot`.
    pub atm_reference: String,
    /// The units of every number in the answer.
    pub units: String,
}

impl From<&Conventions> for ConventionsOut {
    fn from(c: &Conventions) -> Self {
        Self {
            model: c.model.as_str().to_owned(),
            rate: c.rate,
            div_yield: c.div_yield,
            time_basis: c.time_basis.as_str().to_owned(),
            price_source: c.price_source.as_str().to_owned(),
            atm_reference: c.reference.as_str().to_owned(),
            units: UNITS.to_owned(),
        }
    }
}

/// The forward an expiry was priced on.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ForwardOut {
    /// Forward price, price units.
    pub value: f64,
    /// `future` (the same-expiry future), `put_call_parity` or `carry_spot`.
    pub source: String,
}

impl From<Forward> for ForwardOut {
    fn from(f: Forward) -> Self {
        Self {
            value: f.value,
            source: f.source.as_str().to_owned(),
        }
    }
}

/// Greeks in API units (see `units` in the conventions).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GreeksOut {
    /// ∂V/∂S per 1 unit of the underlying (the forward under Black-76).
    pub delta: f64,
    /// ∂²V/∂S² per unit².
    pub gamma: f64,
    /// ∂V/∂t per calendar day (negative when time decay costs).
    pub theta_per_day: f64,
    /// ∂V/∂σ per volatility point (0.01).
    pub vega_per_vol_point: f64,
    /// ∂V/∂r per rate point (0.01).
    pub rho_per_rate_point: f64,
    /// ∂²V/∂S∂σ, per unit of the underlying per unit of σ.
    pub vanna: f64,
    /// ∂²V/∂σ², per unit of σ².
    pub volga: f64,
    /// −∂Δ/∂T, per year.
    pub charm_per_year: f64,
    /// ∂³V/∂S³, per unit³.
    pub speed: f64,
}

impl From<Greeks> for GreeksOut {
    fn from(g: Greeks) -> Self {
        Self {
            delta: g.delta,
            gamma: g.gamma,
            theta_per_day: g.theta_per_day(),
            vega_per_vol_point: g.vega_per_vol_point(),
            rho_per_rate_point: g.rho_per_rate_point(),
            vanna: g.vanna,
            volga: g.volga,
            charm_per_year: g.charm_per_year,
            speed: g.speed,
        }
    }
}

/// One option's IV and Greeks at one minute, and how they were computed.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GreeksSnapshotOut {
    /// The minute (UTC start) the values are for.
    pub as_of: DateTime<Utc>,
    /// Underlying spot, price units.
    pub underlying_price: f64,
    /// The forward used and its source.
    pub forward: ForwardOut,
    /// Time to expiry used, years.
    pub t_years: f64,
    /// Premium the IV was solved from, price units.
    pub option_price: Option<f64>,
    /// Which quote that premium is: `mid` or `last`.
    pub price_source: Option<String>,
    /// Implied volatility, decimal per √year (0.15 = 15 %).
    pub iv: Option<f64>,
    /// Why there is no IV: `below_intrinsic`, `above_upper_bound`, `no_time_value`, `invalid_input`.
    pub iv_error: Option<String>,
    /// Greeks at that IV.
    pub greeks: Option<GreeksOut>,
    /// Model used: `black76` or `bsm`.
    pub model: String,
    /// Rate used, decimal per year.
    pub rate: f64,
    /// Time basis used: `exact` or `calendar_days`.
    pub time_basis: String,
}

impl From<GreeksRecord> for GreeksSnapshotOut {
    fn from(r: GreeksRecord) -> Self {
        Self {
            as_of: r.minute,
            underlying_price: r.underlying_price,
            forward: Forward {
                value: r.forward,
                source: r.forward_source,
            }
            .into(),
            t_years: r.t_years,
            option_price: r.option_price,
            price_source: r.price_source.map(|p| p.as_str().to_owned()),
            iv: r.iv,
            iv_error: r.iv_error.map(|e| e.code().to_owned()),
            greeks: r.greeks.map(Into::into),
            model: r.model.as_str().to_owned(),
            rate: r.rate,
            time_basis: r.time_basis.as_str().to_owned(),
        }
    }
}

/// ATM IV of an expiry and the strikes it came from (REST `…/atm-iv` and the WebSocket
/// `atm_iv` update).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AtmIvOut {
    /// IV at the forward, decimal per √year: linear in strike between the two strikes around the
    /// forward, each strike's IV the mean of its call and put IVs. Null when the chain has no IV
    /// on one side of the forward.
    pub atm_iv: Option<f64>,
    /// The strike at or below the forward used, price units.
    pub lower_strike: Option<f64>,
    /// The strike at or above the forward used, price units.
    pub upper_strike: Option<f64>,
}

impl From<Option<AtmIv>> for AtmIvOut {
    fn from(a: Option<AtmIv>) -> Self {
        Self {
            atm_iv: a.map(|a| a.iv),
            lower_strike: a.map(|a| a.lower_strike),
            upper_strike: a.map(|a| a.upper_strike),
        }
    }
}

/// An expiry's chain statistics (REST `…/chain/{underlying}/stats` and the WebSocket `chain`
/// update).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ChainStatsOut {
    /// ATM IV at the forward, decimal per √year.
    pub atm_iv: Option<f64>,
    /// Put–call ratio by open interest (Σ put OI / Σ call OI).
    pub pcr_by_oi: Option<f64>,
    /// Put–call ratio by session volume.
    pub pcr_by_volume: Option<f64>,
    /// The strike where option holders' total intrinsic payout is smallest.
    pub max_pain_strike: Option<f64>,
    /// IV of the +0.25-delta call, decimal per √year (interpolated in delta).
    pub call_iv_25d: Option<f64>,
    /// IV of the −0.25-delta put, decimal per √year.
    pub put_iv_25d: Option<f64>,
    /// 25-delta risk reversal `σ25C − σ25P`, decimal per √year.
    pub risk_reversal_25d: Option<f64>,
    /// 25-delta butterfly `(σ25C + σ25P)/2 − σATM`, decimal per √year.
    pub butterfly_25d: Option<f64>,
}

impl ChainStatsOut {
    /// The statistics of ATM IV `atm`, wings `wing`, put–call ratios `pcr` and max pain.
    #[must_use]
    pub fn new(atm: Option<AtmIv>, wing: Option<Wing25>, pcr: PutCallRatio, max_pain: Option<f64>) -> Self {
        Self {
            atm_iv: atm.map(|a| a.iv),
            pcr_by_oi: pcr.by_oi,
            pcr_by_volume: pcr.by_volume,
            max_pain_strike: max_pain,
            call_iv_25d: wing.map(|w| w.call_iv),
            put_iv_25d: wing.map(|w| w.put_iv),
            risk_reversal_25d: wing.map(|w| w.risk_reversal),
            butterfly_25d: wing.map(|w| w.butterfly),
        }
    }
}

/// The aggregates of one moneyness level (or group) of one right.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LevelOut {
    /// `call` or `put`.
    pub right: String,
    /// `ATM`, `ITMn`, `OTMn`, or the groups `ITM` and `OTM`.
    pub level: String,
    /// Options in the level.
    pub count: u32,
    /// Options in the level with an IV.
    pub count_with_iv: u32,
    /// Mean IV of those, decimal per √year.
    pub mean_iv: Option<f64>,
    /// Greeks weighted by open interest (a plain mean when the level has no OI).
    pub greeks_oi_weighted: GreeksOut,
    /// Total session volume.
    pub total_volume: f64,
    /// Total open interest.
    pub total_oi: f64,
}

impl LevelOut {
    /// The level `level` of `right` with aggregates `a`.
    #[must_use]
    pub fn new(
        right: domain::instrument::OptionRight,
        level: domain::moneyness::MoneynessLevel,
        a: &LevelAggregate,
    ) -> Self {
        Self {
            right: right.as_str().to_owned(),
            level: level.to_string(),
            count: a.count,
            count_with_iv: a.count_with_iv,
            mean_iv: a.mean_iv,
            greeks_oi_weighted: a.greeks_oi_weighted.into(),
            total_volume: a.total_volume,
            total_oi: a.total_oi,
        }
    }
}

/// A read that could not be answered.
#[derive(ApiResponse)]
pub enum ReadFailure {
    /// A parameter is malformed (`field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Nothing is known yet for what was asked (`field` names the selector).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
}

impl ReadFailure {
    /// A 400 naming `field`.
    pub fn bad(field: &str, message: impl Into<String>) -> Self {
        Self::BadRequest(Json(ErrorBody::new("bad_request", message, Some(field))))
    }

    /// A 404 naming `field`.
    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::NotFound(Json(ErrorBody::new("not_found", message, Some(field))))
    }
}

impl From<application::realtime::ReadError> for ReadFailure {
    fn from(e: application::realtime::ReadError) -> Self {
        match e {
            application::realtime::ReadError::NotFound { field, message } => Self::not_found(field, message),
        }
    }
}

/// Parses an instrument key parameter named `field`.
///
/// # Errors
/// A 400 naming `field` when the key is malformed.
pub fn key_param(field: &str, raw: &str) -> Result<domain::instrument::InstrumentKey, ReadFailure> {
    domain::instrument::InstrumentKey::parse(raw).map_err(|e| ReadFailure::bad(field, e.to_string()))
}

/// `stale_after_seconds` of the realtime answers: the application's rule, as a JSON number.
pub(super) const STALE_AFTER_SECONDS: u32 = {
    let s = application::realtime::STALE_AFTER_SECS;
    assert!(s >= 0 && s <= u32::MAX as i64);
    s as u32
};
