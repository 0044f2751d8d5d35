//! The instruments ingest accepts: underlyings, futures and option contracts, by key, each with
//! its market (calendar and conventions) from [`Markets`].

use crate::fast_map::FastMap;
use crate::sync::RwLockOrRecover;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use domain::chain::Conventions;
use domain::instrument::{FutureContract, InstrumentKey, Market, OptionContract};
use domain::ports::{InstrumentSource, PortError};

use super::markets::{MarketEntry, Markets};

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
    /// Its market: calendar and conventions (shared, never copied per tick).
    pub market: Arc<MarketEntry>,
    /// A contract's expiry date in its market's zone (the key of its expiry's chain), worked
    /// out once at registration rather than on every tick.
    expiry_date: Option<NaiveDate>,
    /// Whether an option joins its date's chain: false for an AM-settled contract whose date
    /// also has a series settling later that day (SPX's third-Friday monthlies beside SPXW's
    /// PM expiry): the date's chain is the later series, so one chain never mixes two expiry
    /// instants. Such a contract is still accepted, stored and priced on its own expiry.
    in_chain: bool,
}

impl RegisteredInstrument {
    /// The instrument's market calendar.
    #[must_use]
    pub fn market(&self) -> &Market {
        &self.market.market
    }

    /// The conventions its market prices options with.
    #[must_use]
    pub fn conventions(&self) -> &Conventions {
        &self.market.conventions
    }

    /// An option's or future's expiry date in its market's zone; `None` for an underlying.
    #[must_use]
    pub fn expiry_date(&self) -> Option<NaiveDate> {
        self.expiry_date
    }

    /// The market code.
    #[must_use]
    pub fn market_code(&self) -> &str {
        self.market.market.code()
    }

    /// The date of the chain an option's quotes join: its expiry date, or `None` when another
    /// series settles later that day (see the module docs); a future's expiry date.
    #[must_use]
    pub fn chain_date(&self) -> Option<NaiveDate> {
        self.expiry_date.filter(|_| self.in_chain)
    }
}

/// Per (underlying, expiry date): the latest expiry instant registered and the options on it.
type ChainDates = FastMap<(InstrumentKey, NaiveDate), (DateTime<Utc>, Vec<InstrumentKey>)>;

/// Known instruments; filled from the catalogue and by replays that meet new contracts.
#[derive(Debug, Default)]
pub struct InstrumentRegistry {
    markets: Markets,
    by_key: RwLock<FastMap<InstrumentKey, Arc<RegisteredInstrument>>>,
    chain_dates: RwLock<ChainDates>,
}

impl InstrumentRegistry {
    /// An empty registry over `markets`.
    #[must_use]
    pub fn new(markets: Markets) -> Self {
        Self {
            markets,
            by_key: RwLock::default(),
            chain_dates: RwLock::default(),
        }
    }

    /// Loads every underlying and every listed contract of `source`.
    ///
    /// # Errors
    /// The source's error; [`PortError::Invalid`] naming an underlying whose market is not
    /// in `markets`.
    pub async fn load(source: &dyn InstrumentSource, markets: Markets) -> Result<Self, PortError> {
        let reg = Self::new(markets);
        reg.extend_from(source).await?;
        Ok(reg)
    }

    /// Registers what `source` lists and this registry does not know yet (new expiries as the
    /// listing rolls forward: an SPXW expiry every day, a NIFTY weekly every week); known
    /// instruments are left as they are. Returns how many were added.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub async fn extend_from(&self, source: &dyn InstrumentSource) -> Result<usize, PortError> {
        let before = self.len();
        for u in source.underlyings().await? {
            if self.get(&u.key).is_none() {
                self.register_underlying(u.key.clone(), &u.market)
                    .map_err(|e| PortError::Invalid(format!("underlying {}: {e}", u.key)))?;
            }
            for f in source.futures(&u.key).await? {
                if self.get(&f.key).is_none() {
                    self.register_future(f, &u.market).map_err(PortError::Invalid)?;
                }
            }
            for e in source.expiries(&u.key).await? {
                for c in source.chain(&u.key, e).await? {
                    if self.get(&c.key).is_none() {
                        self.register_option(c, &u.market).map_err(PortError::Invalid)?;
                    }
                }
            }
        }
        Ok(self.len() - before)
    }

    /// The markets instruments may belong to.
    #[must_use]
    pub fn markets(&self) -> &Markets {
        &self.markets
    }

    fn insert(&self, key: InstrumentKey, kind: InstrumentKind, market: &str) -> Result<(), String> {
        let market = self.markets.require(market)?.clone();
        let mut g = self.by_key.write_or_recover();
        let expiry_date = match &kind {
            InstrumentKind::Underlying => None,
            InstrumentKind::Option(c) => Some(market.market.local_date(c.expiry)),
            InstrumentKind::Future(f) => Some(market.market.local_date(f.expiry)),
        };
        let mut in_chain = true;
        if let (InstrumentKind::Option(c), Some(date)) = (&kind, expiry_date) {
            // The latest series of a date is its chain; an earlier one (AM) steps out of it,
            // whichever was registered first.
            let mut dates = self.chain_dates.write_or_recover();
            let (latest, keys) = dates
                .entry((c.underlying.clone(), date))
                .or_insert_with(|| (c.expiry, Vec::new()));
            if c.expiry > *latest {
                for k in keys.drain(..) {
                    if let Some(old) = g.get(&k).filter(|o| o.in_chain) {
                        let out = RegisteredInstrument {
                            in_chain: false,
                            ..RegisteredInstrument::clone(old)
                        };
                        g.insert(k, Arc::new(out));
                    }
                }
                *latest = c.expiry;
            }
            in_chain = c.expiry == *latest;
            if in_chain {
                keys.push(key.clone());
            }
        }
        g.insert(
            key,
            Arc::new(RegisteredInstrument {
                kind,
                market,
                expiry_date,
                in_chain,
            }),
        );
        Ok(())
    }

    /// Adds an underlying.
    ///
    /// # Errors
    /// The market code is not configured.
    pub fn register_underlying(&self, key: InstrumentKey, market: &str) -> Result<(), String> {
        self.insert(key, InstrumentKind::Underlying, market)
    }

    /// Adds an option contract.
    ///
    /// # Errors
    /// The market code is not configured.
    pub fn register_option(&self, contract: OptionContract, market: &str) -> Result<(), String> {
        self.insert(contract.key.clone(), InstrumentKind::Option(contract), market)
    }

    /// Adds a futures contract.
    ///
    /// # Errors
    /// The market code is not configured.
    pub fn register_future(&self, contract: FutureContract, market: &str) -> Result<(), String> {
        self.insert(contract.key.clone(), InstrumentKind::Future(contract), market)
    }

    /// Looks an instrument up (shared: the ingest path looks every tick's instrument up).
    #[must_use]
    pub fn get(&self, key: &InstrumentKey) -> Option<Arc<RegisteredInstrument>> {
        self.by_key.read_or_recover().get(key).cloned()
    }

    /// A copy of every instrument with its key (for listings; not for the ingest hot path).
    #[must_use]
    pub fn all(&self) -> Vec<(InstrumentKey, Arc<RegisteredInstrument>)> {
        self.by_key
            .read_or_recover()
            .iter()
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect()
    }

    /// The market of `key`: from the registry, else from the key's exchange prefix (contracts
    /// met only in replayed files are not in the registry after a restart); `None` when neither
    /// names a configured market.
    #[must_use]
    pub fn market_for(&self, key: &InstrumentKey) -> Option<Market> {
        if let Some(r) = self.get(key) {
            return Some(r.market().clone());
        }
        let code = key.as_str().split(':').next()?;
        self.markets.get(code).map(|e| e.market.clone())
    }

    /// Number of instruments.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_key.read_or_recover().len()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use domain::instrument::{Underlying, UnderlyingKind};
    use domain::ports::MockInstrumentSource;

    use super::*;

    #[tokio::test]
    async fn an_underlying_on_an_unconfigured_market_stops_the_load_naming_it() {
        let mut source = MockInstrumentSource::new();
        source.expect_underlyings().returning(|| {
            Ok(vec![Underlying {
                key: InstrumentKey::parse("XNAS:NDX").unwrap(),
                symbol: "NDX".into(),
                market: "XNAS".into(),
                kind: UnderlyingKind::Index,
                strike_step: 25.0,
            }])
        });
        let err = InstrumentRegistry::load(&source, Markets::default()).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("XNAS:NDX") && text.contains("'XNAS' is not configured"),
            "{text}"
        );
    }

    #[test]
    fn an_instrument_knows_its_market_and_conventions() {
        let reg = InstrumentRegistry::default();
        let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
        reg.register_underlying(nifty.clone(), "nse").unwrap();
        let r = reg.get(&nifty).unwrap();
        assert_eq!((r.market_code(), r.conventions().rate), ("NSE", 0.065));
        assert!(reg.register_underlying(nifty, "XNAS").is_err());
        assert!(reg.market_for(&InstrumentKey::parse("XNAS:NDX").unwrap()).is_none());
    }

    #[test]
    fn an_am_series_steps_out_of_its_date_s_chain_when_a_pm_one_settles_that_day() {
        use domain::instrument::{LotSize, OptionRight, Strike};
        let option = |root: &str, hour: u32| OptionContract {
            key: InstrumentKey::parse(&format!("CBOE:{root}-20261218-6800-CE")).unwrap(),
            underlying: InstrumentKey::parse("CBOE:SPX").unwrap(),
            expiry: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 18, hour, 30, 0).unwrap(),
            strike: Strike::new(6800.0).unwrap(),
            right: OptionRight::Call,
            lot_size: LotSize::new(100).unwrap(),
            tick_size: 0.05,
        };
        // SPX AM (09:30 New York = 14:30 UTC) and SPXW PM (16:00 = 21:00 UTC), in both orders.
        for pm_first in [false, true] {
            let reg = InstrumentRegistry::default();
            let (am, pm) = (option("SPX", 14), option("SPXW", 20));
            let order = if pm_first { [&pm, &am] } else { [&am, &pm] };
            for c in order {
                reg.register_option(c.clone(), "CBOE").unwrap();
            }
            let date = NaiveDate::from_ymd_opt(2026, 12, 18);
            let (am, pm) = (reg.get(&am.key).unwrap(), reg.get(&pm.key).unwrap());
            assert_eq!(
                (pm.chain_date(), pm.expiry_date()),
                (date, date),
                "pm first: {pm_first}"
            );
            assert_eq!(
                (am.chain_date(), am.expiry_date()),
                (None, date),
                "pm first: {pm_first}"
            );
        }
        // Alone, the AM series is its date's chain.
        let reg = InstrumentRegistry::default();
        let am = option("SPX", 14);
        reg.register_option(am.clone(), "CBOE").unwrap();
        assert!(reg.get(&am.key).unwrap().chain_date().is_some());
    }

    #[tokio::test]
    async fn extending_from_the_listing_adds_only_what_is_new() {
        use domain::instrument::{LotSize, OptionRight, Strike};
        let spx = InstrumentKey::parse("CBOE:SPX").unwrap();
        let spxw = |day: u32| OptionContract {
            key: InstrumentKey::parse(&format!("CBOE:SPXW-202612{day:02}-6800-CE")).unwrap(),
            underlying: InstrumentKey::parse("CBOE:SPX").unwrap(),
            expiry: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, day, 21, 0, 0).unwrap(),
            strike: Strike::new(6800.0).unwrap(),
            right: OptionRight::Call,
            lot_size: LotSize::new(100).unwrap(),
            tick_size: 0.05,
        };
        let listing = |days: Vec<u32>| {
            let mut source = MockInstrumentSource::new();
            let u = spx.clone();
            source.expect_underlyings().returning(move || {
                Ok(vec![Underlying {
                    key: u.clone(),
                    symbol: "SPX".into(),
                    market: "CBOE".into(),
                    kind: UnderlyingKind::Index,
                    strike_step: 5.0,
                }])
            });
            source.expect_futures().returning(|_| Ok(Vec::new()));
            let dates: Vec<NaiveDate> = days
                .iter()
                .map(|d| NaiveDate::from_ymd_opt(2026, 12, *d).unwrap())
                .collect();
            source.expect_expiries().returning(move |_| Ok(dates.clone()));
            source
                .expect_chain()
                .returning(move |_, e| Ok(vec![spxw(chrono::Datelike::day(&e))]));
            source
        };
        let reg = InstrumentRegistry::load(&listing(vec![7, 8]), Markets::default())
            .await
            .unwrap();
        assert_eq!(reg.len(), 3, "SPX and two SPXW contracts");
        let before = reg.get(&spxw(8).key).unwrap();
        // The next day: the 7th has settled, the 9th is listed.
        let added = reg.extend_from(&listing(vec![8, 9])).await.unwrap();
        assert_eq!((added, reg.len()), (1, 4));
        assert!(
            Arc::ptr_eq(&before, &reg.get(&spxw(8).key).unwrap()),
            "known ones untouched"
        );
        assert!(reg.get(&spxw(9).key).is_some());
    }
}
