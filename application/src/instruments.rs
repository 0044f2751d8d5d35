//! Instrument reads: the underlyings, expiries and option chains the service knows (the catalogue
//! plus contracts registered by replays), from the in-memory registry.
//!
//! Expiries are market-local dates. Which expiry when the caller names none: the nearest one not
//! yet past by the clock, else the latest one.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use domain::instrument::{FutureContract, InstrumentKey, OptionContract, OptionRight};
use domain::ports::Clock;

use crate::market::{InstrumentKind, InstrumentRegistry};
use crate::realtime::ReadError;

/// An underlying and what is listed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnderlyingSummary {
    /// The underlying's key.
    pub key: InstrumentKey,
    /// Its market code.
    pub market: String,
    /// Distinct option expiries.
    pub expiries: usize,
    /// Option contracts.
    pub options: usize,
    /// Futures contracts.
    pub futures: usize,
}

/// One expiry of an underlying.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpirySummary {
    /// Market-local expiry date.
    pub date: NaiveDate,
    /// The instant the options stop trading, UTC.
    pub expiry_time: DateTime<Utc>,
    /// Option contracts (both rights).
    pub options: usize,
    /// Distinct strikes.
    pub strikes: usize,
    /// The future expiring that day, when listed.
    pub future: Option<InstrumentKey>,
}

/// The contracts of one expiry, ascending by strike, calls before puts.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedChain {
    /// The underlying.
    pub underlying: InstrumentKey,
    /// Market-local expiry date.
    pub expiry: NaiveDate,
    /// Option contracts.
    pub options: Vec<OptionContract>,
    /// The same-expiry future, when listed.
    pub future: Option<FutureContract>,
}

/// The instrument read use cases.
pub struct InstrumentReads {
    registry: Arc<InstrumentRegistry>,
    clock: Arc<dyn Clock>,
}

fn not_found(field: &'static str, message: String) -> ReadError {
    ReadError::NotFound { field, message }
}

impl InstrumentReads {
    /// Reads `registry`; `clock` picks the default expiry.
    #[must_use]
    pub fn new(registry: Arc<InstrumentRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self { registry, clock }
    }

    /// Every underlying, ascending by key.
    #[must_use]
    pub fn underlyings(&self) -> Vec<UnderlyingSummary> {
        let all = self.registry.all();
        let mut out: BTreeMap<InstrumentKey, UnderlyingSummary> = all
            .iter()
            .filter(|(_, r)| r.kind == InstrumentKind::Underlying)
            .map(|(k, r)| {
                (
                    k.clone(),
                    UnderlyingSummary {
                        key: k.clone(),
                        market: r.market_code().to_owned(),
                        expiries: 0,
                        options: 0,
                        futures: 0,
                    },
                )
            })
            .collect();
        let mut dates: BTreeMap<InstrumentKey, std::collections::BTreeSet<NaiveDate>> = BTreeMap::new();
        for (_, r) in &all {
            match &r.kind {
                InstrumentKind::Option(c) => {
                    if let Some(u) = out.get_mut(&c.underlying) {
                        u.options += 1;
                        let date = r.market().local_date(c.expiry);
                        dates.entry(c.underlying.clone()).or_default().insert(date);
                    }
                }
                InstrumentKind::Future(f) => {
                    if let Some(u) = out.get_mut(&f.underlying) {
                        u.futures += 1;
                    }
                }
                InstrumentKind::Underlying => {}
            }
        }
        for (k, d) in dates {
            if let Some(u) = out.get_mut(&k) {
                u.expiries = d.len();
            }
        }
        out.into_values().collect()
    }

    fn contracts_of(&self, underlying: &InstrumentKey) -> Result<Vec<(NaiveDate, InstrumentKind)>, ReadError> {
        let all = self.registry.all();
        if !all
            .iter()
            .any(|(k, r)| k == underlying && r.kind == InstrumentKind::Underlying)
        {
            return Err(not_found("underlying", format!("unknown underlying {underlying}")));
        }
        Ok(all
            .into_iter()
            .filter_map(|(_, r)| {
                let market = r.market();
                match &r.kind {
                    InstrumentKind::Option(c) if &c.underlying == underlying => {
                        Some((market.local_date(c.expiry), r.kind.clone()))
                    }
                    InstrumentKind::Future(f) if &f.underlying == underlying => {
                        Some((market.local_date(f.expiry), r.kind.clone()))
                    }
                    _ => None,
                }
            })
            .collect())
    }

    /// The option expiries of `underlying`, ascending.
    ///
    /// # Errors
    /// [`ReadError::NotFound`] for an unknown underlying.
    pub fn expiries(&self, underlying: &InstrumentKey) -> Result<Vec<ExpirySummary>, ReadError> {
        let mut by_date: BTreeMap<NaiveDate, ExpirySummary> = BTreeMap::new();
        let mut strikes: BTreeMap<NaiveDate, std::collections::BTreeSet<u64>> = BTreeMap::new();
        let mut futures: BTreeMap<NaiveDate, InstrumentKey> = BTreeMap::new();
        for (date, kind) in self.contracts_of(underlying)? {
            match kind {
                InstrumentKind::Option(c) => {
                    let e = by_date.entry(date).or_insert_with(|| ExpirySummary {
                        date,
                        expiry_time: c.expiry,
                        options: 0,
                        strikes: 0,
                        future: None,
                    });
                    e.options += 1;
                    strikes.entry(date).or_default().insert(c.strike.value().to_bits());
                }
                InstrumentKind::Future(f) => {
                    futures.insert(date, f.key);
                }
                InstrumentKind::Underlying => {}
            }
        }
        for (date, e) in &mut by_date {
            e.strikes = strikes.get(date).map_or(0, std::collections::BTreeSet::len);
            e.future = futures.remove(date);
        }
        Ok(by_date.into_values().collect())
    }

    /// The listed contracts of one expiry (or the nearest one, see the module docs).
    ///
    /// # Errors
    /// [`ReadError::NotFound`] for an unknown underlying or an expiry without options.
    pub fn chain(&self, underlying: &InstrumentKey, expiry: Option<NaiveDate>) -> Result<ListedChain, ReadError> {
        let contracts = self.contracts_of(underlying)?;
        let mut dates: Vec<NaiveDate> = contracts
            .iter()
            .filter(|(_, k)| matches!(k, InstrumentKind::Option(_)))
            .map(|(d, _)| *d)
            .collect();
        dates.sort_unstable();
        dates.dedup();
        let today = self.clock.now().date_naive();
        let expiry = match expiry {
            Some(e) => e,
            None => *dates
                .iter()
                .find(|d| **d >= today)
                .or(dates.last())
                .ok_or_else(|| not_found("underlying", format!("{underlying} has no options listed")))?,
        };
        let mut options = Vec::new();
        let mut future = None;
        for (_, kind) in contracts.into_iter().filter(|(d, _)| *d == expiry) {
            match kind {
                InstrumentKind::Option(c) => options.push(c),
                InstrumentKind::Future(f) => future = Some(f),
                InstrumentKind::Underlying => {}
            }
        }
        if options.is_empty() {
            return Err(not_found(
                "expiry",
                format!("{underlying} has no options expiring {expiry}"),
            ));
        }
        options.sort_by(|a, b| {
            a.strike
                .value()
                .total_cmp(&b.strike.value())
                .then((a.right == OptionRight::Put).cmp(&(b.right == OptionRight::Put)))
        });
        Ok(ListedChain {
            underlying: underlying.clone(),
            expiry,
            options,
            future,
        })
    }
}
