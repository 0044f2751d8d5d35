//! Stage 3, pricing: the accepted rows' quotes go into the realtime state (spot, futures, option
//! quotes), then every option the batch quoted is priced against the state after the whole batch
//! (so a snapshot's put–call parity sees all its quotes): its price by the conventions' source,
//! the expiry's forward (a fresh same-expiry future, else parity, else spot carried), time to
//! expiry by the conventions' basis, then IV and Greeks. Each instrument is priced by its own
//! market's conventions. The expiries priced are remembered with their forward, time to expiry
//! and minute until their minute snapshot is taken (`snapshot.rs`).

use crate::fast_map::{FastMap, FastSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use domain::chain::{Conventions, select_price};
use domain::expiry::{Forward, ParityQuote, resolve_forward, time_to_expiry};
use domain::instrument::{InstrumentKey, Market, OptionContract, OptionRight};
use domain::market_data::Tick;
use domain::ports::GreeksRecord;
use domain::pricing::{OptionInputs, PricingModel, implied_volatility, price_and_greeks};

use super::validate::Row;
use crate::market::{ExpiryKey, ExpiryState, InstrumentKind, InstrumentRegistry, QuoteState, RealtimeState};
use crate::sync::LockOrRecover;

/// An expiry's minute still open: its forward, time to expiry (years) and the minute.
pub(super) type OpenMinute = (Forward, f64, DateTime<Utc>);

/// What a batch quoted: indexes of its option rows, and the (underlying, expiry) pairs touched.
pub(super) type Quoted = (Vec<usize>, FastSet<(InstrumentKey, NaiveDate)>);

/// Whose batch is priced: this instance's own ingest, or another instance's followed here
/// (`IngestTicks::follow`). Each keeps its own open minutes, so the snapshots of a followed
/// batch only update the state: the instance that took it in stores and publishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Own,
    Followed,
}

/// The pricing stage.
pub(super) struct Pricing {
    registry: Arc<InstrumentRegistry>,
    state: Arc<RealtimeState>,
    /// Expiries priced since their last snapshot, by this instance's own ingest.
    dirty: Mutex<FastMap<ExpiryKey, OpenMinute>>,
    /// The same for followed batches.
    followed: Mutex<FastMap<ExpiryKey, OpenMinute>>,
}

fn quote_of(t: &Tick) -> QuoteState {
    QuoteState {
        ts: t.ts,
        last: t.last,
        bid: t.bid,
        ask: t.ask,
        volume: t.volume.unwrap_or(0.0),
        oi: t.oi.unwrap_or(0.0),
    }
}

impl Pricing {
    pub(super) fn new(registry: Arc<InstrumentRegistry>, state: Arc<RealtimeState>) -> Self {
        Self {
            registry,
            state,
            dirty: Mutex::default(),
            followed: Mutex::default(),
        }
    }

    /// Puts the accepted rows' prices into the realtime state: an underlying's last (or mid) is
    /// its spot, a future's its expiry's futures price, an option's its quote.
    pub(super) fn record(&self, ticks: &[Tick], rows: &[Row]) -> Quoted {
        let mut priced = Vec::new();
        let mut touched = FastSet::default();
        for (i, reg) in rows {
            let t = &ticks[*i];
            let mid_or_last = || t.last.or_else(|| t.bid.zip(t.ask).map(|(b, a)| 0.5 * (b + a)));
            match &reg.kind {
                InstrumentKind::Underlying => {
                    if let Some(px) = mid_or_last() {
                        self.state.set_spot(&t.key, t.ts, px);
                    }
                }
                InstrumentKind::Future(f) => {
                    if let (Some(px), Some(expiry)) = (mid_or_last(), reg.expiry_date()) {
                        self.state.set_future(&f.underlying, expiry, t.ts, px);
                        touched.insert((f.underlying.clone(), expiry));
                    }
                }
                InstrumentKind::Option(c) => {
                    let Some(expiry) = reg.expiry_date() else { continue };
                    // An option outside its date's chain (AM beside a PM series) is priced on
                    // that chain's forward but never joins its quotes.
                    if reg.chain_date().is_some() {
                        self.state
                            .set_quote(&c.underlying, expiry, &c.key, c.strike.value(), c.right, quote_of(t));
                    }
                    touched.insert((c.underlying.clone(), expiry));
                    priced.push(*i);
                }
            }
        }
        (priced, touched)
    }

    /// Prices the options at `priced` of `ticks` on the forwards of the expiries `touched`;
    /// the records are also the state's latest Greeks. Also returns how many could not be
    /// priced (neither a spot nor a forward known for their underlying).
    pub(super) fn price(&self, ticks: &[Tick], (priced, touched): &Quoted, role: Role) -> (Vec<GreeksRecord>, usize) {
        let mut forwards = FastMap::default();
        for (u, e) in touched {
            // The underlying's market decides how its expiries are priced.
            let Some(c) = self.registry.get(u).map(|r| *r.conventions()) else {
                continue;
            };
            let spot = self.state.spot(u).map(|(_, s)| s);
            let st = self.state.expiry(u, *e);
            let latest = st.quotes.values().max_by_key(|(_, _, q)| q.ts);
            let t = match latest.and_then(|(k, _, q)| Some((self.registry.get(k)?, q))) {
                Some((reg, q)) => match &reg.kind {
                    InstrumentKind::Option(oc) => time_to_expiry(c.time_basis, q.ts, oc.expiry, reg.market()),
                    InstrumentKind::Underlying | InstrumentKind::Future(_) => 0.0,
                },
                None => 0.0,
            };
            let fwd = expiry_forward(&c, &st, spot, t);
            if let (Some(f), Some((_, _, q))) = (fwd, latest) {
                self.open(role)
                    .lock_or_recover()
                    .insert((u.clone(), *e), (f, t, minute_of(q.ts)));
            }
            forwards.insert((u.clone(), *e), fwd);
        }
        let mut out = Vec::with_capacity(priced.len());
        let mut unpriced = 0;
        for &i in priced {
            let t = &ticks[i];
            let Some(reg) = self.registry.get(&t.key) else { continue };
            let InstrumentKind::Option(contract) = &reg.kind else {
                continue;
            };
            let market = reg.market();
            let Some(expiry) = reg.expiry_date() else { continue };
            let spot = self.state.spot(&contract.underlying).map(|(_, s)| s);
            let forward = forwards.get(&(contract.underlying.clone(), expiry)).copied().flatten();
            match price_option(reg.conventions(), contract, market, t.ts, spot, forward, &quote_of(t)) {
                Some(r) => out.push(r),
                None => unpriced += 1,
            }
        }
        for r in &out {
            self.state.set_greeks(r.clone());
        }
        (out, unpriced)
    }

    /// The expiries a batch moves into a later minute, taken out of the open set: their
    /// previous minute is to be snapshotted before the batch changes the state.
    pub(super) fn closing(&self, ticks: &[Tick], role: Role) -> Vec<(ExpiryKey, OpenMinute)> {
        let mut first_minute: FastMap<ExpiryKey, DateTime<Utc>> = FastMap::default();
        for t in ticks {
            let Some(reg) = self.registry.get(&t.key) else { continue };
            let InstrumentKind::Option(c) = &reg.kind else { continue };
            let Some(e) = reg.expiry_date() else { continue };
            let m = minute_of(t.ts);
            first_minute
                .entry((c.underlying.clone(), e))
                .and_modify(|x| *x = (*x).min(m))
                .or_insert(m);
        }
        let mut dirty = self.open(role).lock_or_recover();
        first_minute
            .iter()
            .filter_map(|(k, m)| match dirty.get(k) {
                Some((_, _, old)) if old < m => dirty.remove(k).map(|v| (k.clone(), v)),
                _ => None,
            })
            .collect()
    }

    /// Every expiry priced since its last snapshot, taken out of the open set.
    pub(super) fn take_open(&self, role: Role) -> Vec<(ExpiryKey, OpenMinute)> {
        std::mem::take(&mut *self.open(role).lock_or_recover())
            .into_iter()
            .collect()
    }

    /// The open minutes of `role`'s batches.
    fn open(&self, role: Role) -> &Mutex<FastMap<ExpiryKey, OpenMinute>> {
        match role {
            Role::Own => &self.dirty,
            Role::Followed => &self.followed,
        }
    }
}

/// Start of the minute containing `t`.
pub(crate) fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let ms = t.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(60_000)).unwrap_or(t)
}

/// How much older than the expiry's latest option quote a futures price may be and still be
/// the forward (a future that stopped trading must not pin the forward).
pub const FUTURE_MAX_AGE_SECS: i64 = 60;

/// The forward of an expiry at `t`: the same-expiry future's price when it is fresh (see
/// [`FUTURE_MAX_AGE_SECS`]), else put–call parity over its quotes, else spot carried.
pub(super) fn expiry_forward(c: &Conventions, e: &ExpiryState, spot: Option<f64>, t_years: f64) -> Option<Forward> {
    let latest_quote = e.quotes.values().map(|(_, _, q)| q.ts).max();
    let future = e
        .future
        .filter(|(ts, _)| latest_quote.is_none_or(|q| (q - *ts).num_seconds() <= FUTURE_MAX_AGE_SECS))
        .map(|(_, price)| price);
    let mut pairs: Vec<ParityQuote> = Vec::new();
    let mut it = e.quotes.iter().peekable();
    while let Some(((bits, right), (_, strike, q))) = it.next() {
        if *right != OptionRight::Call {
            continue;
        }
        let Some(((pbits, OptionRight::Put), (_, _, pq))) = it.peek() else {
            continue;
        };
        if pbits != bits {
            continue;
        }
        let price = |q: &QuoteState| select_price(c.price_source, q.bid, q.ask, q.last).map(|(p, _)| p);
        if let (Some(call), Some(put)) = (price(q), price(pq)) {
            pairs.push(ParityQuote {
                strike: *strike,
                call,
                put,
            });
        }
    }
    resolve_forward(future, &pairs, spot, c.rate, c.div_yield, t_years).ok()
}

/// Prices `contract` at `ts`; `None` when neither a spot nor a forward is known.
pub(super) fn price_option(
    c: &Conventions,
    contract: &OptionContract,
    market: &Market,
    ts: DateTime<Utc>,
    spot: Option<f64>,
    forward: Option<Forward>,
    quote: &QuoteState,
) -> Option<GreeksRecord> {
    let t = time_to_expiry(c.time_basis, ts, contract.expiry, market);
    let forward = forward.or_else(|| expiry_forward(c, &ExpiryState::default(), spot, t))?;
    let underlying = match c.model {
        PricingModel::Black76 => forward.value,
        PricingModel::Bsm => spot.unwrap_or_else(|| forward.value * (-(c.rate - c.div_yield) * t).exp()),
    };
    let chosen = select_price(c.price_source, quote.bid, quote.ask, quote.last);
    let mut inputs = OptionInputs {
        right: contract.right,
        underlying,
        strike: contract.strike.value(),
        t_years: t,
        rate: c.rate,
        div_yield: c.div_yield,
        vol: 0.0,
    };
    let (iv, iv_error, greeks) = match chosen.map(|(p, _)| implied_volatility(c.model, &inputs, p)) {
        Some(Ok(iv)) => {
            inputs.vol = iv;
            (
                Some(iv),
                None,
                price_and_greeks(c.model, &inputs).ok().map(|v| v.greeks),
            )
        }
        Some(Err(e)) => (None, Some(e), None),
        None => (None, None, None),
    };
    Some(GreeksRecord {
        key: contract.key.clone(),
        minute: minute_of(ts),
        underlying_price: spot.unwrap_or(underlying),
        forward: forward.value,
        forward_source: forward.source,
        option_price: chosen.map(|(p, _)| p),
        price_source: chosen.map(|(_, s)| s),
        iv,
        iv_error,
        greeks,
        model: c.model,
        rate: c.rate,
        time_basis: c.time_basis,
        t_years: t,
    })
}
