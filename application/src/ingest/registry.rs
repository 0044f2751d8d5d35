//! The instruments ingest accepts: underlyings, futures and option contracts, by key.

use std::collections::HashMap;
use std::sync::RwLock;

use domain::instrument::{FutureContract, InstrumentKey, Market, OptionContract};
use domain::ports::{InstrumentSource, PortError};

/// What an instrument is.
#[derive(Debug, Clone, PartialEq)]
pub enum InstrumentKind {
    /// An underlying (index or stock): its ticks give the spot.
    Underlying,
    /// An option contract.
    Option(OptionContract),
    /// A futures contract: its price is the forward of the options expiring with it.
    Future(FutureContract),
}

/// A known instrument and its market.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredInstrument {
    /// What it is.
    pub kind: InstrumentKind,
    /// Market code.
    pub market: String,
}

/// Known instruments; filled from the catalogue and by replays that meet new contracts.
#[derive(Debug, Default)]
pub struct InstrumentRegistry {
    by_key: RwLock<HashMap<InstrumentKey, RegisteredInstrument>>,
}

impl InstrumentRegistry {
    /// Loads every underlying and every listed contract of `source`.
    ///
    /// # Errors
    /// The source's error.
    pub async fn load(source: &dyn InstrumentSource) -> Result<Self, PortError> {
        let reg = Self::default();
        for u in source.underlyings().await? {
            reg.register_underlying(u.key.clone(), &u.market);
            for f in source.futures(&u.key).await? {
                reg.register_future(f, &u.market);
            }
            for e in source.expiries(&u.key).await? {
                for c in source.chain(&u.key, e).await? {
                    reg.register_option(c, &u.market);
                }
            }
        }
        Ok(reg)
    }

    /// Adds an underlying.
    pub fn register_underlying(&self, key: InstrumentKey, market: &str) {
        let mut g = self.by_key.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.insert(
            key,
            RegisteredInstrument {
                kind: InstrumentKind::Underlying,
                market: market.to_owned(),
            },
        );
    }

    /// Adds an option contract.
    pub fn register_option(&self, contract: OptionContract, market: &str) {
        let mut g = self.by_key.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.insert(
            contract.key.clone(),
            RegisteredInstrument {
                kind: InstrumentKind::Option(contract),
                market: market.to_owned(),
            },
        );
    }

    /// Adds a futures contract.
    pub fn register_future(&self, contract: FutureContract, market: &str) {
        let mut g = self.by_key.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.insert(
            contract.key.clone(),
            RegisteredInstrument {
                kind: InstrumentKind::Future(contract),
                market: market.to_owned(),
            },
        );
    }

    /// Looks an instrument up.
    #[must_use]
    pub fn get(&self, key: &InstrumentKey) -> Option<RegisteredInstrument> {
        self.by_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// A copy of every instrument with its key (for listings; not for the ingest hot path).
    #[must_use]
    pub fn all(&self) -> Vec<(InstrumentKey, RegisteredInstrument)> {
        self.by_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect()
    }

    /// The market of an instrument (NSE when the code is unknown).
    #[must_use]
    pub fn market_of(r: &RegisteredInstrument) -> Market {
        Market::by_code(&r.market).unwrap_or_else(Market::nse)
    }

    /// The market of `key`: from the registry, else from the key's exchange prefix (contracts
    /// met only in replayed files are not in the registry after a restart).
    #[must_use]
    pub fn market_for(&self, key: &InstrumentKey) -> Option<Market> {
        if let Some(r) = self.get(key) {
            return Some(Self::market_of(&r));
        }
        key.as_str().split(':').next().and_then(Market::by_code)
    }

    /// Number of instruments.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
