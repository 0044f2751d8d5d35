//! The latest state, in memory, for realtime reads and for pricing.

use crate::fast_map::FastMap;
use crate::sync::RwLockOrRecover;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use domain::chain::ChainAnalytics;
use domain::expiry::Forward;
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::{LevelAggregate, MappingBasis, MoneynessLevel, MoneynessMapping, level_of};
use domain::ports::{GreeksRecord, SignalEvent};

/// The latest quote of one option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuoteState {
    /// Exchange time of the latest tick.
    pub ts: DateTime<Utc>,
    /// Last traded price.
    pub last: Option<f64>,
    /// Best bid.
    pub bid: Option<f64>,
    /// Best ask.
    pub ask: Option<f64>,
    /// Session volume so far, units.
    pub volume: f64,
    /// Open interest, units.
    pub oi: f64,
}

/// One expiry's options: (strike bits, right) → key and quote.
#[derive(Debug, Clone, Default)]
pub struct ExpiryState {
    /// Quotes by strike then right.
    pub quotes: BTreeMap<(u64, OptionRight), (InstrumentKey, f64, QuoteState)>,
    /// The latest price of the future expiring with these options, and its exchange time.
    pub future: Option<(DateTime<Utc>, f64)>,
}

/// (underlying, expiry date).
pub type ExpiryKey = (InstrumentKey, NaiveDate);

/// One expiry's chain as last evaluated: the analytics and the market state they were computed on.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSnapshot {
    /// The minute (UTC start) whose quotes were evaluated.
    pub minute: DateTime<Utc>,
    /// The expiry's forward used.
    pub forward: Forward,
    /// Time to expiry used, years.
    pub t_years: f64,
    /// The underlying's spot then, when known.
    pub spot: Option<f64>,
    /// IV, Greeks and every chain statistic.
    pub analytics: ChainAnalytics,
    /// The instrument service's mapping the levels were grouped by; `None`: the local strike
    /// ladder around the chain's ATM strike.
    pub mapping: Option<Arc<MoneynessMapping>>,
    /// Per right and level (groups included): the aggregates of the snapshot, by that mapping.
    pub levels: Vec<(OptionRight, MoneynessLevel, LevelAggregate)>,
}

impl ChainSnapshot {
    /// What decided the levels: the instrument service's mapping or the local strike ladder.
    #[must_use]
    pub fn mapping_source(&self) -> MappingBasis {
        self.mapping.as_ref().map_or(MappingBasis::LocalLadder, |m| m.basis)
    }

    /// When that mapping was made (the ladder's: the snapshot's minute).
    #[must_use]
    pub fn mapping_as_of(&self) -> DateTime<Utc> {
        self.mapping.as_ref().map_or(self.minute, |m| m.as_of)
    }

    /// The level of `strike` for `right` in this snapshot: the mapping's single level that
    /// lists it, else (no mapping) its place on the ladder; `None` when neither places it.
    #[must_use]
    pub fn level_of(&self, strike: f64, right: OptionRight) -> Option<MoneynessLevel> {
        match &self.mapping {
            // The mapping lists call levels; a put's level is the mirror of the call's.
            Some(m) => m
                .levels
                .iter()
                .find(|(l, strikes)| !l.is_group() && strikes.contains(&strike))
                .map(|(l, _)| if right == OptionRight::Call { *l } else { l.mirrored() }),
            None => {
                let a = &self.analytics;
                a.atm_strike
                    .zip(a.strike_step)
                    .map(|(atm, step)| level_of(strike, right, atm, step))
            }
        }
    }

    /// The snapshot as the `chain:{underlying}:{expiry}` topic carries it.
    #[must_use]
    pub fn event(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> SignalEvent {
        let a = &self.analytics;
        SignalEvent::Chain {
            underlying: underlying.clone(),
            expiry,
            minute: self.minute,
            spot: self.spot,
            forward: self.forward,
            t_years: self.t_years,
            atm_strike: a.atm_strike,
            atm_iv: a.atm_iv,
            wing_25: a.wing_25,
            pcr: a.pcr,
            max_pain: a.max_pain,
            strikes: a.skew.clone(),
            options_without_iv: a.iv_failures.len(),
        }
    }
}

/// Everything the service knows now.
#[derive(Debug, Default)]
pub struct RealtimeState {
    spot: RwLock<FastMap<InstrumentKey, (DateTime<Utc>, f64)>>,
    expiries: RwLock<FastMap<(InstrumentKey, NaiveDate), ExpiryState>>,
    greeks: RwLock<FastMap<InstrumentKey, GreeksRecord>>,
    chains: RwLock<FastMap<ExpiryKey, ChainSnapshot>>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read_or_recover()
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write_or_recover()
}

impl RealtimeState {
    /// Records an underlying price if it is not older than the one held.
    pub fn set_spot(&self, key: &InstrumentKey, ts: DateTime<Utc>, price: f64) {
        let mut g = write(&self.spot);
        if g.get(key).is_none_or(|(t, _)| ts >= *t) {
            g.insert(key.clone(), (ts, price));
        }
    }

    /// The latest spot of an underlying.
    #[must_use]
    pub fn spot(&self, key: &InstrumentKey) -> Option<(DateTime<Utc>, f64)> {
        read(&self.spot).get(key).copied()
    }

    /// Records an option quote if it is not older than the one held.
    pub fn set_quote(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        key: &InstrumentKey,
        strike: f64,
        right: OptionRight,
        q: QuoteState,
    ) {
        let mut g = write(&self.expiries);
        let e = g.entry((underlying.clone(), expiry)).or_default();
        let slot = (strike.to_bits(), right);
        if e.quotes.get(&slot).is_none_or(|(_, _, old)| q.ts >= old.ts) {
            e.quotes.insert(slot, (key.clone(), strike, q));
        }
    }

    /// Records the price of the future expiring on `expiry` if it is not older than the one held.
    pub fn set_future(&self, underlying: &InstrumentKey, expiry: NaiveDate, ts: DateTime<Utc>, price: f64) {
        let mut g = write(&self.expiries);
        let e = g.entry((underlying.clone(), expiry)).or_default();
        if e.future.is_none_or(|(t, _)| ts >= t) {
            e.future = Some((ts, price));
        }
    }

    /// A copy of one expiry's quotes.
    #[must_use]
    pub fn expiry(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> ExpiryState {
        read(&self.expiries)
            .get(&(underlying.clone(), expiry))
            .cloned()
            .unwrap_or_default()
    }

    /// Every (underlying, expiry) with quotes.
    #[must_use]
    pub fn expiry_keys(&self) -> Vec<(InstrumentKey, NaiveDate)> {
        read(&self.expiries).keys().cloned().collect()
    }

    /// Records the latest Greeks of an option.
    pub fn set_greeks(&self, r: GreeksRecord) {
        let mut g = write(&self.greeks);
        if g.get(&r.key).is_none_or(|old| r.minute >= old.minute) {
            g.insert(r.key.clone(), r);
        }
    }

    /// Records the latest evaluation of one expiry's chain.
    pub fn set_chain(&self, underlying: &InstrumentKey, expiry: NaiveDate, snapshot: ChainSnapshot) {
        write(&self.chains).insert((underlying.clone(), expiry), snapshot);
    }

    /// The latest evaluation of one expiry's chain.
    #[must_use]
    pub fn chain(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> Option<ChainSnapshot> {
        read(&self.chains).get(&(underlying.clone(), expiry)).cloned()
    }

    /// Every evaluated expiry with the forward it was last evaluated at.
    #[must_use]
    pub fn evaluated(&self) -> Vec<(InstrumentKey, NaiveDate, f64)> {
        read(&self.chains)
            .iter()
            .map(|((u, e), c)| (u.clone(), *e, c.forward.value))
            .collect()
    }

    /// The expiries of `underlying` with an evaluated chain, ascending.
    #[must_use]
    pub fn chain_expiries(&self, underlying: &InstrumentKey) -> Vec<NaiveDate> {
        let mut v: Vec<NaiveDate> = read(&self.chains)
            .keys()
            .filter(|(u, _)| u == underlying)
            .map(|(_, e)| *e)
            .collect();
        v.sort_unstable();
        v
    }

    /// The expiry a read or a topic naming none means: the nearest evaluated one not yet past on
    /// `today`, else the latest one evaluated.
    #[must_use]
    pub fn nearest_expiry(&self, underlying: &InstrumentKey, today: NaiveDate) -> Option<NaiveDate> {
        let known = self.chain_expiries(underlying);
        known.iter().find(|e| **e >= today).or(known.last()).copied()
    }

    /// The latest Greeks of an option.
    #[must_use]
    pub fn greeks(&self, key: &InstrumentKey) -> Option<GreeksRecord> {
        read(&self.greeks).get(key).cloned()
    }
}
