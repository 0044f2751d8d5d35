//! An in-memory catalogue: the contracts of one or more underlyings, indexed for the port's reads.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::instrument::{FutureContract, InstrumentKey, Market, OptionContract, Underlying};
use domain::ports::{InstrumentSource, PortError};

/// Contracts indexed by key and by (underlying, local expiry date).
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    underlyings: BTreeMap<InstrumentKey, Underlying>,
    contracts: BTreeMap<InstrumentKey, OptionContract>,
    chains: BTreeMap<(InstrumentKey, NaiveDate), Vec<InstrumentKey>>,
    futures: BTreeMap<InstrumentKey, Vec<FutureContract>>,
}

impl Catalogue {
    /// Builds a catalogue; each contract's expiry date is taken in its underlying's market zone.
    /// Contracts of unknown underlyings are skipped.
    #[must_use]
    pub fn new(underlyings: Vec<Underlying>, contracts: Vec<OptionContract>) -> Self {
        let underlyings: BTreeMap<_, _> = underlyings.into_iter().map(|u| (u.key.clone(), u)).collect();
        let mut chains: BTreeMap<(InstrumentKey, NaiveDate), Vec<OptionContract>> = BTreeMap::new();
        let mut by_key = BTreeMap::new();
        for c in contracts {
            let Some(u) = underlyings.get(&c.underlying) else {
                continue;
            };
            let market = Market::by_code(&u.market).unwrap_or_else(Market::nse);
            chains
                .entry((c.underlying.clone(), market.local_date(c.expiry)))
                .or_default()
                .push(c.clone());
            by_key.insert(c.key.clone(), c);
        }
        let chains = chains
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by(|a, b| {
                    a.strike
                        .value()
                        .total_cmp(&b.strike.value())
                        .then(a.right.cmp(&b.right))
                });
                (k, v.into_iter().map(|c| c.key).collect())
            })
            .collect();
        Self {
            underlyings,
            contracts: by_key,
            chains,
            futures: BTreeMap::new(),
        }
    }

    /// Adds futures contracts (those of unknown underlyings are skipped), ascending by expiry.
    #[must_use]
    pub fn with_futures(mut self, futures: Vec<FutureContract>) -> Self {
        for f in futures {
            if self.underlyings.contains_key(&f.underlying) {
                self.futures.entry(f.underlying.clone()).or_default().push(f);
            }
        }
        for v in self.futures.values_mut() {
            v.sort_by_key(|f| f.expiry);
        }
        self
    }

    /// Every futures contract, ascending by underlying then expiry.
    #[must_use]
    pub fn all_futures(&self) -> Vec<&FutureContract> {
        self.futures.values().flatten().collect()
    }

    /// Every contract, ascending by underlying, expiry, strike, right.
    #[must_use]
    pub fn all_contracts(&self) -> Vec<&OptionContract> {
        self.chains
            .values()
            .flatten()
            .filter_map(|k| self.contracts.get(k))
            .collect()
    }

    /// Number of contracts.
    #[must_use]
    pub fn len(&self) -> usize {
        self.contracts.len()
    }

    /// True when there are no contracts.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.contracts.is_empty()
    }

    fn underlying(&self, key: &InstrumentKey) -> Result<&Underlying, PortError> {
        self.underlyings
            .get(key)
            .ok_or_else(|| PortError::NotFound(format!("underlying {key}")))
    }
}

#[async_trait]
impl InstrumentSource for Catalogue {
    async fn underlyings(&self) -> Result<Vec<Underlying>, PortError> {
        Ok(self.underlyings.values().cloned().collect())
    }

    async fn expiries(&self, underlying: &InstrumentKey) -> Result<Vec<NaiveDate>, PortError> {
        self.underlying(underlying)?;
        Ok(self
            .chains
            .keys()
            .filter(|(u, _)| u == underlying)
            .map(|(_, d)| *d)
            .collect())
    }

    async fn chain(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> Result<Vec<OptionContract>, PortError> {
        self.underlying(underlying)?;
        let keys = self
            .chains
            .get(&(underlying.clone(), expiry))
            .ok_or_else(|| PortError::NotFound(format!("{underlying} has no expiry {expiry}")))?;
        Ok(keys.iter().filter_map(|k| self.contracts.get(k)).cloned().collect())
    }

    async fn contract(&self, key: &InstrumentKey) -> Result<OptionContract, PortError> {
        self.contracts
            .get(key)
            .cloned()
            .ok_or_else(|| PortError::NotFound(format!("contract {key}")))
    }

    async fn futures(&self, underlying: &InstrumentKey) -> Result<Vec<FutureContract>, PortError> {
        self.underlying(underlying)?;
        Ok(self.futures.get(underlying).cloned().unwrap_or_default())
    }
}
