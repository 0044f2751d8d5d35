//! The built-in catalogue of the embedded default: contracts generated from listing rules
//! (`builtin_products.csv`, embedded) for the current date, rolling forward as the clock moves.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use domain::instrument::{
    FutureContract, InstrumentKey, Market, OptionContract, ProductSpec, Settlement, Underlying, UnderlyingKind,
};
use domain::ports::{Clock, InstrumentSource, PortError};

use super::Catalogue;

const PRODUCTS: &str = include_str!("builtin_products.csv");

fn weekday(s: &str) -> Option<Weekday> {
    s.parse().ok()
}

/// The optional column `i` of `f`: `Some(None)` when empty or absent, `None` when malformed.
fn optional<T: std::str::FromStr>(f: &[&str], i: usize) -> Option<Option<T>> {
    f.get(i)
        .copied()
        .filter(|v| !v.is_empty())
        .map(str::parse)
        .transpose()
        .ok()
}

/// Parses the embedded listing rules.
///
/// # Panics
/// Never for the shipped file (a unit test parses it); a malformed line is skipped.
#[must_use]
pub fn builtin_products() -> Vec<ProductSpec> {
    parse_products(PRODUCTS)
}

/// Parses listing rules in the layout of `builtin_products.csv`; malformed lines are skipped.
fn parse_products(text: &str) -> Vec<ProductSpec> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            // Columns after the eleventh are optional: empty or absent means the NSE-style rule.
            let opt = |i: usize| f.get(i).copied().filter(|v| !v.is_empty());
            Some(ProductSpec {
                symbol: (*f.first()?).to_owned(),
                market: (*f.get(1)?).to_owned(),
                strike_step: f.get(2)?.parse().ok()?,
                lot_size: f.get(3)?.parse().ok()?,
                tick_size: f.get(4)?.parse().ok()?,
                weekly: weekday(f.get(5)?),
                monthly: weekday(f.get(6)?)?,
                weeklies: f.get(7)?.parse().ok()?,
                monthlies: f.get(8)?.parse().ok()?,
                reference_price: f.get(9)?.parse().ok()?,
                strikes_each_side: f.get(10)?.parse().ok()?,
                underlying: opt(11).map(str::to_owned),
                monthly_nth: optional(&f, 12)?,
                dailies: optional(&f, 13)?.unwrap_or(0),
                settlement: match opt(14) {
                    None | Some("pm") => Settlement::Pm,
                    Some("am") => Settlement::Am,
                    Some(_) => return None,
                },
                futures: opt(15) != Some("no"),
                wide: optional(&f, 16)?.zip(optional(&f, 17)?),
                settles_before_close_minutes: optional(&f, 18)?.unwrap_or(0),
            })
        })
        .collect()
}

/// Generates the catalogue of `products` as listed on `today` (the same date on every market).
#[must_use]
pub fn generate(products: &[ProductSpec], today: NaiveDate) -> Catalogue {
    build(products, |_| today)
}

/// Generates the catalogue of `products` as listed at `now`: each market on its own local date
/// (at 03:00 in Mumbai it is still the previous day in New York).
#[must_use]
pub fn generate_at(products: &[ProductSpec], now: DateTime<Utc>) -> Catalogue {
    build(products, |m| m.local_date(now))
}

fn build(products: &[ProductSpec], today: impl Fn(&Market) -> NaiveDate) -> Catalogue {
    let mut underlyings: BTreeMap<InstrumentKey, Underlying> = BTreeMap::new();
    let mut contracts: Vec<OptionContract> = Vec::new();
    let mut futures = Vec::new();
    for p in products {
        let (Some(market), Some(key)) = (Market::by_code(&p.market), p.underlying_key()) else {
            continue;
        };
        // Products on one underlying (SPX and SPXW) share it: its symbol is the key's, its
        // strike step the finest of theirs.
        let symbol = p.underlying.clone().unwrap_or_else(|| p.symbol.clone());
        let u = underlyings.entry(key.clone()).or_insert_with(|| Underlying {
            key,
            symbol,
            market: p.market.clone(),
            kind: UnderlyingKind::Index,
            strike_step: p.strike_step,
        });
        u.strike_step = u.strike_step.min(p.strike_step);
        let day = today(&market);
        contracts.extend(p.contracts(&market, day));
        futures.extend(p.futures(&market, day));
    }
    Catalogue::new(underlyings.into_values().collect(), contracts).with_futures(futures)
}

/// The local date of every shipped market at `now`: the catalogue is regenerated when any moves.
type ListingDates = Vec<NaiveDate>;

/// The generated catalogue, regenerated when an exchange-local date moves on.
pub struct BuiltinCatalogue {
    products: Vec<ProductSpec>,
    clock: Arc<dyn Clock>,
    current: RwLock<Arc<(ListingDates, Catalogue)>>,
}

impl BuiltinCatalogue {
    /// The built-in products on `clock`'s date.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_products(builtin_products(), clock)
    }

    /// Any products on `clock`'s date.
    #[must_use]
    pub fn with_products(products: Vec<ProductSpec>, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        let current = RwLock::new(Arc::new((Self::dates(now), generate_at(&products, now))));
        Self {
            products,
            clock,
            current,
        }
    }

    fn dates(now: DateTime<Utc>) -> ListingDates {
        Market::SHIPPED
            .iter()
            .filter_map(|c| Market::by_code(c))
            .map(|m| m.local_date(now))
            .collect()
    }

    /// The catalogue for today's dates, regenerating it after a date change.
    pub fn snapshot(&self) -> Arc<(ListingDates, Catalogue)> {
        let now = self.clock.now();
        let dates = Self::dates(now);
        let cur = self
            .current
            .read()
            .map(|g| Arc::clone(&g))
            .unwrap_or_else(|e| Arc::clone(&e.into_inner()));
        if cur.0 == dates {
            return cur;
        }
        let fresh = Arc::new((dates, generate_at(&self.products, now)));
        if let Ok(mut g) = self.current.write() {
            *g = Arc::clone(&fresh);
        }
        fresh
    }
}

#[async_trait]
impl InstrumentSource for BuiltinCatalogue {
    async fn underlyings(&self) -> Result<Vec<Underlying>, PortError> {
        self.snapshot().1.underlyings().await
    }

    async fn expiries(&self, underlying: &InstrumentKey) -> Result<Vec<NaiveDate>, PortError> {
        self.snapshot().1.expiries(underlying).await
    }

    async fn chain(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> Result<Vec<OptionContract>, PortError> {
        self.snapshot().1.chain(underlying, expiry).await
    }

    async fn contract(&self, key: &InstrumentKey) -> Result<OptionContract, PortError> {
        self.snapshot().1.contract(key).await
    }

    async fn futures(&self, underlying: &InstrumentKey) -> Result<Vec<FutureContract>, PortError> {
        self.snapshot().1.futures(underlying).await
    }
}

#[cfg(test)]
mod listing_rules {
    use super::*;

    #[test]
    fn the_optional_columns_carry_the_cboe_rules_and_default_to_nse_s() {
        let p = parse_products(
            "# SPX and SPXW\n\
             SPX,CBOE,5,100,0.05,,Fri,0,3,6000,40,,3,,am,no,25,20,0\n\
             SPXW,CBOE,5,100,0.05,,Fri,0,3,6000,40,SPX,3,10,pm,no,25,20,15\n\
             NIFTY,NSE,50,65,0.05,Tue,Tue,4,3,26000,40\n\
             BAD,CBOE,5,100,0.05,,Fri,0,3,6000,40,,third\n",
        );
        assert_eq!(p.len(), 3, "the malformed line is skipped");
        let (spx, spxw, nifty) = (&p[0], &p[1], &p[2]);
        assert_eq!(
            (spx.monthly_nth, spx.settlement, spx.futures),
            (Some(3), Settlement::Am, false)
        );
        assert_eq!((spx.wide, spx.dailies), (Some((25.0, 20)), 0));
        assert_eq!(spxw.underlying_key().unwrap().as_str(), "CBOE:SPX");
        assert_eq!(
            (spxw.dailies, spxw.settlement, spxw.settles_before_close_minutes),
            (10, Settlement::Pm, 15)
        );
        assert_eq!(
            (
                nifty.monthly_nth,
                nifty.dailies,
                nifty.settlement,
                nifty.futures,
                nifty.wide
            ),
            (None, 0, Settlement::Pm, true, None)
        );
        let shipped: Vec<String> = builtin_products().into_iter().map(|p| p.symbol).collect();
        assert_eq!(shipped, ["NIFTY", "BANKNIFTY", "SPX", "SPXW"], "the shipped file");
    }
}
