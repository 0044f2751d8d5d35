//! `GET /api/v2/realtime/surface/{underlying}` (IV per expiry and strike, the ATM term structure
//! and the 30-day constant-maturity IV) and `GET /api/v2/realtime/gex/{underlying}` (one
//! expiry's gamma exposure, walls and flip level), from the live chains in memory.

use application::exposure::exposure;
use application::surface::surface;
use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::AppState;
use super::chain::ChainMeta;
use super::shapes::{ConventionsOut, ForwardOut, ReadFailure, STALE_AFTER_SECONDS, key_param};

/// One strike of an expiry's smile.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SurfaceStrike {
    /// Strike, price units.
    pub strike: f64,
    /// `ln(strike / forward)`.
    pub log_moneyness: f64,
    /// The call's IV, decimal per √year.
    pub call_iv: Option<f64>,
    /// The put's IV, decimal per √year.
    pub put_iv: Option<f64>,
    /// The out-of-the-money side's IV (the call at or above the forward, the put below; the
    /// other side's when it has none), decimal per √year.
    pub otm_iv: Option<f64>,
}

/// One expiry of the surface.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SurfaceExpiry {
    /// The expiry date (market-local).
    pub expiry: NaiveDate,
    /// Start of the minute (UTC) this expiry was last evaluated at.
    pub as_of: DateTime<Utc>,
    /// True when `as_of` is more than `stale_after_seconds` behind the server's clock.
    pub stale: bool,
    /// The expiry's forward and its source.
    pub forward: ForwardOut,
    /// Time to expiry, years.
    pub t_years: f64,
    /// The ATM strike.
    pub atm_strike: Option<f64>,
    /// ATM IV at the forward, decimal per √year.
    pub atm_iv: Option<f64>,
    /// The smile, ascending by strike.
    pub strikes: Vec<SurfaceStrike>,
}

/// One point of the ATM term structure.
#[derive(Debug, Clone, Object)]
pub struct TermPointOut {
    /// The expiry date (market-local).
    pub expiry: NaiveDate,
    /// Time to expiry, years.
    pub t_years: f64,
    /// ATM IV, decimal per √year.
    pub atm_iv: f64,
}

/// The ATM IV at a constant maturity, interpolated in total variance (`σ²·t`) between the
/// expiries around it; flat outside them.
#[derive(Debug, Clone, Object)]
pub struct ConstantMaturityOut {
    /// The maturity, calendar days.
    pub maturity_days: u32,
    /// The IV, decimal per √year.
    pub atm_iv: f64,
    /// Time of the expiry at or before the maturity used, years.
    pub from_t_years: f64,
    /// Time of the expiry after it, years (equal to `from_t_years` when flat).
    pub to_t_years: f64,
    /// True when the maturity lies outside the expiries and the nearest one's IV is used.
    pub extrapolated: bool,
}

impl From<domain::chain::ConstantMaturityIv> for ConstantMaturityOut {
    fn from(c: domain::chain::ConstantMaturityIv) -> Self {
        Self {
            maturity_days: 30,
            atm_iv: c.iv,
            from_t_years: c.from_t_years,
            to_t_years: c.to_t_years,
            extrapolated: c.extrapolated,
        }
    }
}

/// An underlying's volatility surface.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RealtimeSurface {
    /// The underlying, e.g. `NSE:NIFTY`.
    pub underlying: String,
    /// The conventions and units used.
    pub conventions: ConventionsOut,
    /// How far behind the server's clock an expiry may be before it is called stale, seconds.
    pub stale_after_seconds: u32,
    /// The underlying's spot at the latest evaluation, price units, when known.
    pub spot: Option<f64>,
    /// Every live expiry (time to expiry > 0) ascending.
    pub expiries: Vec<SurfaceExpiry>,
    /// The ATM term structure: the expiries with an ATM IV, ascending by time.
    pub term_structure: Vec<TermPointOut>,
    /// The 30-day constant-maturity ATM IV.
    pub constant_maturity: Option<ConstantMaturityOut>,
}

/// One strike's gamma exposure.
#[derive(Debug, Clone, Object)]
pub struct GexStrike {
    /// Strike, price units.
    pub strike: f64,
    /// The calls' exposure, currency per 1 % move of the underlying (≥ 0).
    pub call_gex_per_pct_move: f64,
    /// The puts' exposure, currency per 1 % move (≤ 0).
    pub put_gex_per_pct_move: f64,
    /// Calls and puts together, currency per 1 % move.
    pub net_gex_per_pct_move: f64,
}

/// One expiry's gamma exposure.
///
/// Per option `OI × gamma × units_per_oi × spot² × 0.01`: the underlying value dealers must
/// trade per 1 % move to stay delta-hedged. **Dealer assumption**: the public buys puts and
/// sells calls, so dealers are long the calls' gamma (counted positive) and short the puts'
/// (negative). A positive net means dealers' hedging damps moves; a negative one amplifies
/// them. The zero-gamma (flip) level is the spot at which the net changes sign, every option
/// re-priced there with its own IV, time and rate.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RealtimeGex {
    /// Which chain, as of when, how.
    pub meta: ChainMeta,
    /// The spot the exposure is computed at, price units.
    pub gex_spot: f64,
    /// Where `gex_spot` came from: `spot` (the underlying's) or `forward` (no spot known).
    pub gex_spot_source: String,
    /// Underlying units one unit of open interest stands for: 1 on NSE (OI published in units),
    /// 100 on Cboe (OI in contracts of 100).
    pub units_per_oi: f64,
    /// Per strike with gamma, ascending.
    pub strikes: Vec<GexStrike>,
    /// All calls, currency per 1 % move.
    pub call_gex_per_pct_move: f64,
    /// All puts, currency per 1 % move.
    pub put_gex_per_pct_move: f64,
    /// Calls and puts together, currency per 1 % move.
    pub net_gex_per_pct_move: f64,
    /// The strike with the largest call exposure.
    pub call_wall_strike: Option<f64>,
    /// The strike with the largest put exposure in size.
    pub put_wall_strike: Option<f64>,
    /// The spot at which the net exposure changes sign (the crossing nearest `gex_spot`),
    /// price units; absent when it keeps its sign over the searched range.
    pub zero_gamma_level: Option<f64>,
    /// The searched range's lowest spot, price units (`gex_spot` less 15 %).
    pub flip_search_low: f64,
    /// The searched range's highest spot, price units (`gex_spot` plus 15 %).
    pub flip_search_high: f64,
}

#[derive(ApiResponse)]
enum SurfaceOk {
    /// The surface.
    #[oai(status = 200)]
    Ok(Json<RealtimeSurface>),
}

#[derive(ApiResponse)]
enum GexOk {
    /// The gamma exposure.
    #[oai(status = 200)]
    Ok(Json<RealtimeGex>),
}

/// The surface and exposure endpoints.
pub struct SurfaceApi {
    pub(super) state: AppState,
}

#[OpenApi]
impl SurfaceApi {
    /// An underlying's volatility surface: per live expiry its forward, time, ATM IV and smile
    /// (call, put and OTM IV per strike), the ATM term structure, and the 30-day
    /// constant-maturity ATM IV.
    #[oai(
        path = "/realtime/surface/:underlying",
        method = "get",
        operation_id = "getRealtimeSurface"
    )]
    async fn surface(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
    ) -> Result<SurfaceOk, ReadFailure> {
        let key = key_param("underlying", &underlying.0)?;
        let s = surface(&self.state.realtime, &key)?;
        let first = &s.expiries[0];
        let latest = s.expiries.iter().max_by_key(|r| r.snapshot.minute).unwrap_or(first);
        let expiries = s
            .expiries
            .iter()
            .map(|r| {
                let snap = &r.snapshot;
                let f = snap.forward.value;
                SurfaceExpiry {
                    expiry: r.expiry,
                    as_of: snap.minute,
                    stale: r.stale,
                    forward: snap.forward.into(),
                    t_years: snap.t_years,
                    atm_strike: snap.analytics.atm_strike,
                    atm_iv: snap.analytics.atm_iv.map(|a| a.iv),
                    strikes: snap
                        .analytics
                        .skew
                        .iter()
                        .map(|k| SurfaceStrike {
                            strike: k.strike,
                            log_moneyness: (k.strike / f).ln(),
                            call_iv: k.call_iv,
                            put_iv: k.put_iv,
                            otm_iv: k.otm_iv,
                        })
                        .collect(),
                }
            })
            .collect();
        let term_structure = s
            .expiries
            .iter()
            .filter_map(|r| {
                let a = r.snapshot.analytics.atm_iv?;
                Some(TermPointOut {
                    expiry: r.expiry,
                    t_years: r.snapshot.t_years,
                    atm_iv: a.iv,
                })
            })
            .collect();
        Ok(SurfaceOk::Ok(Json(RealtimeSurface {
            underlying: key.to_string(),
            conventions: (&first.conventions).into(),
            stale_after_seconds: STALE_AFTER_SECONDS,
            spot: latest.snapshot.spot,
            expiries,
            term_structure,
            constant_maturity: s.constant_maturity.map(Into::into),
        })))
    }

    /// One expiry's gamma exposure: per strike, calls, puts and net, the call and put walls and
    /// the zero-gamma (flip) level. See the response schema for the dealer assumption.
    #[oai(path = "/realtime/gex/:underlying", method = "get", operation_id = "getRealtimeGex")]
    async fn gex(
        &self,
        /// Underlying key, e.g. `NSE:NIFTY`.
        #[oai(example = "super::examples::underlying")]
        underlying: Path<String>,
        /// Expiry date (YYYY-MM-DD); default: the nearest expiry not yet past.
        #[oai(example = "super::examples::expiry")]
        expiry: Query<Option<NaiveDate>>,
    ) -> Result<GexOk, ReadFailure> {
        let key = key_param("underlying", &underlying.0)?;
        let x = exposure(&self.state.realtime, &key, expiry.0)?;
        let e = &x.exposure;
        Ok(GexOk::Ok(Json(RealtimeGex {
            meta: ChainMeta::new(&x.read),
            gex_spot: x.spot,
            gex_spot_source: if x.spot_is_forward { "forward" } else { "spot" }.to_owned(),
            units_per_oi: x.units_per_oi,
            strikes: e
                .strikes
                .iter()
                .map(|s| GexStrike {
                    strike: s.strike,
                    call_gex_per_pct_move: s.call,
                    put_gex_per_pct_move: s.put,
                    net_gex_per_pct_move: s.net(),
                })
                .collect(),
            call_gex_per_pct_move: e.call,
            put_gex_per_pct_move: e.put,
            net_gex_per_pct_move: e.net,
            call_wall_strike: e.call_wall,
            put_wall_strike: e.put_wall,
            zero_gamma_level: x.zero_gamma,
            flip_search_low: x.grid.0,
            flip_search_high: x.grid.1,
        })))
    }
}
