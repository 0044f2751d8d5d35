//! The built-in market feed of the embedded default: simulated NIFTY, BANKNIFTY and SPX markets,
//! each on its own exchange's clock.
//!
//! Every interval it moves each underlying by a small random step (a geometric random walk at
//! its own volatility), quotes its futures at fair value (spot carried at its market's rate;
//! NSE lists them, Cboe does not), prices the nearest strikes of the first live expiries off a
//! smile with Black-76 on the carried forward (Cboe's index with a dividend yield, so the
//! parity forward the service solves for is not the spot carried at the rate), quotes them with
//! a spread of half a percent (at least one tick), and adds volume and open interest; the ticks
//! go through the same ingest path as any other source. Timestamps are each market's clock while
//! it is open; outside its hours an underlying runs on its market's latest session, looping
//! through it, so a new user sees live numbers at any hour (those values are marked stale by the
//! realtime API, as they should be). The chains are read again from the catalogue when a
//! market's date moves on (SPXW lists an expiry every day).

use std::collections::HashMap;
use std::sync::Arc;

use application::market::Markets;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::instrument::{FutureContract, InstrumentKey, Market, OptionContract, OptionRight, Underlying};
use domain::market_data::Tick;
use domain::ports::{InstrumentSource, PortError};
use domain::pricing::{OptionInputs, PricingModel, price_and_greeks};

/// Feed tuning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedConfig {
    /// Strikes quoted on each side of the money.
    pub strikes_each_side: usize,
    /// Expiries quoted per underlying.
    pub expiries: usize,
    /// Seconds between batches (for the random walk's scale).
    pub interval_secs: f64,
}

/// The simulated index's annual volatility at the money and dividend yield.
fn index_params(symbol: &str) -> (f64, f64) {
    match symbol {
        "BANKNIFTY" => (0.14, 0.0),
        "SPX" => (0.16, 0.013),
        _ => (0.12, 0.0),
    }
}

/// One simulated underlying.
struct Simulated {
    market: Market,
    spot: f64,
    vol: f64,
    div_yield: f64,
    rate: f64,
    step: f64,
    chain: Vec<OptionContract>,
    futures: Vec<FutureContract>,
}

/// The simulated market.
pub struct SimulatedFeed {
    cfg: FeedConfig,
    source: Arc<dyn InstrumentSource>,
    started: DateTime<Utc>,
    rng: u64,
    underlyings: Vec<(InstrumentKey, Simulated)>,
    volumes: HashMap<InstrumentKey, (f64, f64)>,
    /// Each market's local date when the chains were last read.
    dates: Vec<NaiveDate>,
}

impl SimulatedFeed {
    /// Loads the underlyings and chains to quote from `source`; each underlying is carried at
    /// its market's configured rate (`markets`), so the service's forward matches the feed's.
    ///
    /// # Errors
    /// The source's error.
    pub async fn new(
        source: Arc<dyn InstrumentSource>,
        markets: &Markets,
        cfg: FeedConfig,
        now: DateTime<Utc>,
    ) -> Result<Self, PortError> {
        let mut underlyings = Vec::new();
        for u in source.underlyings().await? {
            let Some(entry) = markets.get(&u.market) else {
                continue;
            };
            let (vol, div_yield) = index_params(&u.symbol);
            let mut sim = Simulated {
                market: entry.market.clone(),
                spot: 0.0,
                vol,
                div_yield,
                rate: entry.conventions.rate,
                step: u.strike_step,
                chain: Vec::new(),
                futures: Vec::new(),
            };
            load(source.as_ref(), &u, &mut sim, cfg, now).await?;
            // Start at the middle of the listed ladder: the listing's reference level.
            let mut strikes: Vec<f64> = sim.chain.iter().map(|c| c.strike.value()).collect();
            strikes.sort_by(f64::total_cmp);
            sim.spot = strikes.get(strikes.len() / 2).copied().unwrap_or(1_000.0);
            underlyings.push((u.key, sim));
        }
        let seed = u64::try_from(now.timestamp_millis()).unwrap_or(1) | 1;
        Ok(Self {
            cfg,
            dates: dates(&underlyings, now),
            source,
            started: now,
            rng: seed,
            underlyings,
            volumes: HashMap::new(),
        })
    }

    /// Reads the chains again when a market's local date has moved on since the last read, or
    /// an expiry quoted has settled (SPXW's at 16:00, while the options trade to 16:15).
    ///
    /// # Errors
    /// The source's error (the feed keeps its previous chains).
    pub async fn refresh(&mut self, now: DateTime<Utc>) -> Result<(), PortError> {
        let today = dates(&self.underlyings, now);
        let settled = self.underlyings.iter().any(|(_, s)| {
            let ts = feed_time(&s.market, self.started, now);
            s.chain.iter().any(|c| c.expiry <= ts)
        });
        if today == self.dates && !settled {
            return Ok(());
        }
        let all = self.source.underlyings().await?;
        for (key, sim) in &mut self.underlyings {
            if let Some(u) = all.iter().find(|u| &u.key == key) {
                load(self.source.as_ref(), u, sim, self.cfg, now).await?;
            }
        }
        self.dates = today;
        Ok(())
    }

    fn uniform(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// The exchange time the feed stamps on `market`'s instruments at wall time `now`.
    #[must_use]
    pub fn feed_time(&self, market: &Market, now: DateTime<Utc>) -> DateTime<Utc> {
        feed_time(market, self.started, now)
    }

    /// One batch of ticks at wall time `now`.
    pub fn batch(&mut self, now: DateTime<Utc>) -> Vec<Tick> {
        let years_per_step = self.cfg.interval_secs / (365.0 * 86_400.0);
        let mut out = Vec::new();
        for i in 0..self.underlyings.len() {
            let z = self.normal();
            let (key, sim) = &mut self.underlyings[i];
            let (u, ts) = (key.clone(), feed_time(&sim.market, self.started, now));
            sim.spot *= (sim.vol * years_per_step.sqrt() * z).exp();
            let (spot, vol, q, rate, step) = (sim.spot, sim.vol, sim.div_yield, sim.rate, sim.step);
            let (futures, chain) = (sim.futures.clone(), sim.chain.clone());
            out.push(Tick {
                key: u.clone(),
                ts,
                last: Some((spot * 20.0).round() / 20.0),
                bid: None,
                ask: None,
                volume: None,
                oi: None,
            });
            for f in &futures {
                // Fair value at the market's rate, quoted two ticks wide around it.
                let t = ((f.expiry - ts).num_seconds().max(60) as f64) / (365.0 * 86_400.0);
                let fair = (spot * ((rate - q) * t).exp() / f.tick_size).round() * f.tick_size;
                let (traded, oi) = self.volumes.get(&f.key).copied().unwrap_or((0.0, 1.0e7));
                let lot = f64::from(f.lot_size.units());
                let traded = traded + (self.uniform() * 50.0).floor() * lot;
                self.volumes.insert(f.key.clone(), (traded, oi));
                out.push(Tick {
                    key: f.key.clone(),
                    ts,
                    last: Some(fair),
                    bid: Some(fair - f.tick_size),
                    ask: Some(fair + f.tick_size),
                    volume: Some(traded),
                    oi: Some(oi),
                });
            }
            let atm = (spot / step).round() * step;
            let width = step * self.cfg.strikes_each_side as f64;
            for c in chain
                .iter()
                .filter(|c| (c.strike.value() - atm).abs() <= width && c.expiry > ts)
            {
                let t = ((c.expiry - ts).num_seconds().max(60) as f64) / (365.0 * 86_400.0);
                let f = spot * ((rate - q) * t).exp();
                let m = (c.strike.value() / f).ln();
                let sigma = vol - 0.6 * m + 4.0 * m * m;
                let o = OptionInputs {
                    right: c.right,
                    underlying: f,
                    strike: c.strike.value(),
                    t_years: t,
                    rate,
                    div_yield: 0.0,
                    vol: sigma,
                };
                let Ok(v) = price_and_greeks(PricingModel::Black76, &o) else {
                    continue;
                };
                let mid = v.price.max(0.05);
                let half = (mid * 0.0025).max(0.05);
                let tick = |x: f64| ((x / 0.05).round() * 0.05).max(0.05);
                let noise = self.uniform() - 0.5;
                let (vol_traded, oi) = self
                    .volumes
                    .get(&c.key)
                    .copied()
                    .unwrap_or((0.0, 50_000.0 * (-m * m * 400.0).exp()));
                let lot = f64::from(c.lot_size.units());
                let traded = (self.uniform() * 20.0).floor() * lot;
                let oi = (oi + (self.uniform() - 0.45) * 10.0 * lot).max(0.0).round();
                self.volumes.insert(c.key.clone(), (vol_traded + traded, oi));
                let (bid, ask) = (tick(mid - half), tick(mid + half).max(tick(mid - half) + 0.05));
                let last = if c.right == OptionRight::Call {
                    tick(mid + noise * half)
                } else {
                    tick(mid - noise * half)
                };
                out.push(Tick {
                    key: c.key.clone(),
                    ts,
                    last: Some(last),
                    bid: Some(bid),
                    ask: Some(ask),
                    volume: Some(vol_traded + traded),
                    oi: Some(oi),
                });
            }
        }
        out
    }
}

/// Every simulated market's local date at `now`.
fn dates(underlyings: &[(InstrumentKey, Simulated)], now: DateTime<Utc>) -> Vec<NaiveDate> {
    underlyings.iter().map(|(_, s)| s.market.local_date(now)).collect()
}

/// `market`'s clock at `now`, or a loop through its latest session while it is closed.
fn feed_time(market: &Market, started: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    if market.session_containing(now).is_some() {
        return now;
    }
    let mut d = market.local_date(now);
    for _ in 0..30 {
        if let Some(s) = market.session_on(d).filter(|s| s.close <= now) {
            let len = (s.close - s.open).num_milliseconds().max(1);
            let into = (now - started).num_milliseconds().rem_euclid(len);
            return s.open + Duration::milliseconds(into);
        }
        d = d.pred_opt().unwrap_or(d);
    }
    now
}

/// Reads `u`'s futures and the contracts of its first `cfg.expiries` expiries still trading at
/// the feed's time for its market.
async fn load(
    source: &dyn InstrumentSource,
    u: &Underlying,
    sim: &mut Simulated,
    cfg: FeedConfig,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    // On a closed day the feed loops through the latest session: expiries from that day on.
    let ts = feed_time(&sim.market, now, now);
    sim.futures = source.futures(&u.key).await?;
    sim.chain.clear();
    let mut taken = 0;
    for e in source.expiries(&u.key).await? {
        if taken == cfg.expiries {
            break;
        }
        let chain = source.chain(&u.key, e).await?;
        // An AM series sharing a date with a PM one (SPX beside SPXW) is not the date's chain.
        let latest = chain.iter().map(|c| c.expiry).max();
        if latest.is_some_and(|l| l > ts) {
            sim.chain.extend(chain.into_iter().filter(|c| Some(c.expiry) == latest));
            taken += 1;
        }
    }
    Ok(())
}

/// Runs `feed` every `interval`, handing each batch to `sink` until the task is aborted.
pub async fn run<F, Fut>(
    mut feed: SimulatedFeed,
    interval: std::time::Duration,
    clock: Arc<dyn domain::ports::Clock>,
    mut sink: F,
) where
    F: FnMut(Vec<Tick>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut t = tokio::time::interval(interval);
    loop {
        t.tick().await;
        let now = clock.now();
        if let Err(e) = feed.refresh(now).await {
            tracing::warn!(error = %e, "simulated feed: the catalogue could not be read again; quoting the previous chains");
        }
        let batch = feed.batch(now);
        sink(batch).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::instruments::builtin::{builtin_products, generate_at};

    fn config() -> FeedConfig {
        FeedConfig {
            strikes_each_side: 5,
            expiries: 1,
            interval_secs: 1.0,
        }
    }

    #[tokio::test]
    async fn the_feed_quotes_valid_ticks_on_each_market_s_own_clock_at_any_hour() {
        // 23:00 in Mumbai (NSE closed) is 12:30 in New York (Cboe open).
        let night = DateTime::parse_from_rfc3339("2026-02-03T23:00:00+05:30")
            .unwrap()
            .with_timezone(&Utc);
        let cat = Arc::new(generate_at(&builtin_products(), night));
        let mut feed = SimulatedFeed::new(cat, &Markets::default(), config(), night)
            .await
            .unwrap();
        for s in 0..3 {
            let now = night + Duration::seconds(s);
            let batch = feed.batch(now);
            let (mut nse, mut cboe) = (0, 0);
            for t in &batch {
                let market = Market::by_code(t.key.as_str().split(':').next().unwrap()).unwrap();
                t.validate(now, &market).unwrap_or_else(|e| panic!("{}: {e}", t.key));
                if market.code() == "CBOE" {
                    // New York is open: Cboe's ticks carry the wall clock.
                    assert_eq!(t.ts, now, "{}", t.key);
                    cboe += 1;
                } else {
                    // Mumbai is closed: a loop through the day's session, 09:15-15:30 IST.
                    assert!(market.session_containing(t.ts).is_some(), "{}: {}", t.key, t.ts);
                    nse += 1;
                }
            }
            // Two NSE underlyings with futures and 11 strikes a side; SPX with 11 strikes.
            assert!(nse > 2 * 2 * 11 && cboe > 2 * 11, "nse {nse}, cboe {cboe}");
        }
    }

    #[tokio::test]
    async fn spx_is_quoted_on_the_live_spxw_expiry_and_moves_on_after_its_close() {
        // Tuesday 2026-02-03 15:59 New York: today's SPXW is live; at 16:05 it has settled.
        let before = DateTime::parse_from_rfc3339("2026-02-03T15:59:00-05:00")
            .unwrap()
            .with_timezone(&Utc);
        let cat = Arc::new(generate_at(&builtin_products(), before));
        let mut feed = SimulatedFeed::new(cat, &Markets::default(), config(), before)
            .await
            .unwrap();
        let spxw = |batch: &[Tick]| -> std::collections::BTreeSet<String> {
            batch
                .iter()
                .filter(|t| t.key.as_str().starts_with("CBOE:SPXW-"))
                .map(|t| t.key.as_str()[10..18].to_owned())
                .collect()
        };
        assert_eq!(spxw(&feed.batch(before)), ["20260203".to_owned()].into());
        let after = before + Duration::minutes(6);
        let quoted = spxw(&feed.batch(after));
        assert!(quoted.is_empty(), "settled at 16:00, not quoted after: {quoted:?}");
        // The next expiry's chain is read once the quoted one has settled.
        feed.refresh(after).await.unwrap();
        assert_eq!(spxw(&feed.batch(after)), ["20260204".to_owned()].into());
    }
}
