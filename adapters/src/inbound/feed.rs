//! The built-in market feed of the embedded default: a simulated NIFTY and BANKNIFTY market.
//!
//! Every interval it moves each underlying by a small random step (a geometric random walk at
//! about 12–14 % a year), quotes its monthly futures at fair value (spot carried at 6.5 %), prices the nearest strikes of the first expiries off a smile with
//! Black-76 on the carried forward, quotes them with a spread of half a percent (at least one
//! tick), and adds volume and open interest; the ticks go through the same ingest path as any
//! other source. Timestamps are the exchange clock while the market is open; outside hours the
//! feed runs on the latest session's clock, looping through it, so a new user sees live numbers
//! at any hour (those values are marked stale by the realtime API, as they should be).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::instrument::{FutureContract, InstrumentKey, Market, OptionContract, OptionRight};
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

/// The simulated market.
pub struct SimulatedFeed {
    cfg: FeedConfig,
    market: Market,
    started: DateTime<Utc>,
    rng: u64,
    spots: HashMap<InstrumentKey, (f64, f64, f64)>, // (spot, atm vol, strike step)
    chains: HashMap<InstrumentKey, Vec<OptionContract>>,
    futures: HashMap<InstrumentKey, Vec<FutureContract>>,
    volumes: HashMap<InstrumentKey, (f64, f64)>,
}

impl SimulatedFeed {
    /// Loads the chains to quote from `source`.
    ///
    /// # Errors
    /// The source's error.
    pub async fn new(source: &dyn InstrumentSource, cfg: FeedConfig, now: DateTime<Utc>) -> Result<Self, PortError> {
        let mut spots = HashMap::new();
        let mut chains = HashMap::new();
        let mut futures = HashMap::new();
        for u in source.underlyings().await? {
            futures.insert(u.key.clone(), source.futures(&u.key).await?);
            let (spot, vol) = if u.symbol == "BANKNIFTY" {
                (59_000.0, 0.14)
            } else {
                (26_000.0, 0.12)
            };
            let mut contracts = Vec::new();
            for e in source.expiries(&u.key).await?.into_iter().take(cfg.expiries) {
                contracts.extend(source.chain(&u.key, e).await?);
            }
            spots.insert(u.key.clone(), (spot, vol, u.strike_step));
            chains.insert(u.key, contracts);
        }
        let seed = u64::try_from(now.timestamp_millis()).unwrap_or(1) | 1;
        Ok(Self {
            cfg,
            market: Market::nse(),
            started: now,
            rng: seed,
            spots,
            chains,
            futures,
            volumes: HashMap::new(),
        })
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

    /// The exchange time the feed stamps at wall time `now`.
    #[must_use]
    pub fn feed_time(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.market.session_containing(now).is_some() {
            return now;
        }
        let mut d = self.market.local_date(now);
        for _ in 0..30 {
            if let Some(s) = self.market.session_on(d).filter(|s| s.close <= now) {
                let len = (s.close - s.open).num_milliseconds().max(1);
                let into = (now - self.started).num_milliseconds().rem_euclid(len);
                return s.open + Duration::milliseconds(into);
            }
            d = d.pred_opt().unwrap_or(d);
        }
        now
    }

    /// One batch of ticks at wall time `now`.
    pub fn batch(&mut self, now: DateTime<Utc>) -> Vec<Tick> {
        let ts = self.feed_time(now);
        let years_per_step = self.cfg.interval_secs / (365.0 * 86_400.0);
        let keys: Vec<InstrumentKey> = self.spots.keys().cloned().collect();
        let mut out = Vec::new();
        for u in keys {
            let z = self.normal();
            let Some(&(spot, vol, step)) = self.spots.get(&u) else {
                continue;
            };
            let spot = spot * (vol * years_per_step.sqrt() * z).exp();
            self.spots.insert(u.clone(), (spot, vol, step));
            out.push(Tick {
                key: u.clone(),
                ts,
                last: Some((spot * 20.0).round() / 20.0),
                bid: None,
                ask: None,
                volume: None,
                oi: None,
            });
            let futures: Vec<FutureContract> = self.futures.get(&u).cloned().unwrap_or_default();
            for f in &futures {
                // Fair value at the feed's rate, quoted two ticks wide around it.
                let t = ((f.expiry - ts).num_seconds().max(60) as f64) / (365.0 * 86_400.0);
                let fair = (spot * (0.065 * t).exp() / f.tick_size).round() * f.tick_size;
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
            let chain: Vec<OptionContract> = self.chains.get(&u).cloned().unwrap_or_default();
            let atm = (spot / step).round() * step;
            let width = step * self.cfg.strikes_each_side as f64;
            for c in chain.iter().filter(|c| (c.strike.value() - atm).abs() <= width) {
                let t = ((c.expiry - ts).num_seconds().max(60) as f64) / (365.0 * 86_400.0);
                let f = spot * (0.065 * t).exp();
                let m = (c.strike.value() / f).ln();
                let sigma = vol - 0.6 * m + 4.0 * m * m;
                let o = OptionInputs {
                    right: c.right,
                    underlying: f,
                    strike: c.strike.value(),
                    t_years: t,
                    rate: 0.065,
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
        let batch = feed.batch(clock.now());
        sink(batch).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::instruments::builtin::{builtin_products, generate};

    #[tokio::test]
    async fn the_feed_quotes_valid_ticks_inside_a_session_at_any_hour() {
        let night = DateTime::parse_from_rfc3339("2026-02-03T23:00:00+05:30")
            .unwrap()
            .with_timezone(&Utc);
        let cat = generate(&builtin_products(), night.date_naive());
        let cfg = FeedConfig {
            strikes_each_side: 5,
            expiries: 1,
            interval_secs: 1.0,
        };
        let mut feed = SimulatedFeed::new(&cat, cfg, night).await.unwrap();
        let market = Market::nse();
        for s in 0..3 {
            let batch = feed.batch(night + Duration::seconds(s));
            assert!(batch.len() > 2 * 11, "underlyings and options: {}", batch.len());
            for t in &batch {
                t.validate(night + Duration::seconds(s), &market)
                    .unwrap_or_else(|e| panic!("{}: {e}", t.key));
            }
        }
    }
}
