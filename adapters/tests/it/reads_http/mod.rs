//! The read endpoints in process (poem's test client): instruments, and the realtime chain and
//! moneyness. A five-strike NIFTY chain priced at one volatility is ingested and flushed, then
//! every endpoint is read and checked against what the chain must give, and every kind of bad or
//! unknown selector is answered with the JSON error naming its field.

use std::sync::Arc;

use adapters::inbound::http::AppState;
use adapters::outbound::store::SeaStore;
use application::ingest::IngestTicks;
use application::market::{InstrumentRegistry, RealtimeState};
use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::chain::Conventions;
use domain::instrument::{FutureContract, InstrumentKey, LotSize, OptionContract, OptionRight, Strike};
use domain::market_data::Tick;
use domain::ports::{Clock, ManualClock};
use domain::pricing::{OptionInputs, PricingModel, price_and_greeks};
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use serde_json::Value;

use crate::support::now;

pub(super) const STRIKES: [f64; 5] = [25_800.0, 25_900.0, 26_000.0, 26_100.0, 26_200.0];
pub(super) const FORWARD: f64 = 25_990.0;
pub(super) const VOL: f64 = 0.15;

pub(super) fn expiry() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 24, 10, 0, 0).unwrap()
}

pub(super) fn key(strike: f64, right: OptionRight) -> InstrumentKey {
    let suffix = if right == OptionRight::Call { "CE" } else { "PE" };
    InstrumentKey::parse(&format!("NSE:NIFTY-20260224-{strike}-{suffix}")).unwrap()
}

/// OI grows with the strike for puts and falls for calls, so the ratios are not trivially 1.
pub(super) fn oi(strike: f64, right: OptionRight) -> f64 {
    let i = (strike - 25_800.0) / 100.0;
    match right {
        OptionRight::Call => 1_000.0 * (5.0 - i),
        OptionRight::Put => 2_000.0 * (1.0 + i),
    }
}

/// Registers a NIFTY call and put at each of [`STRIKES`] expiring at `expiry`.
pub(super) fn register_strikes(
    registry: &InstrumentRegistry,
    expiry: DateTime<Utc>,
    key: &dyn Fn(f64, OptionRight) -> InstrumentKey,
) {
    let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
    for k in STRIKES {
        for right in [OptionRight::Call, OptionRight::Put] {
            let contract = OptionContract {
                key: key(k, right),
                underlying: nifty.clone(),
                expiry,
                strike: Strike::new(k).unwrap(),
                right,
                lot_size: LotSize::new(65).unwrap(),
                tick_size: 0.05,
            };
            registry.register_option(contract, "NSE").unwrap();
        }
    }
}

pub(super) struct Harness {
    _db: FreshDatabase,
    clock: Arc<ManualClock>,
    registry: Arc<InstrumentRegistry>,
    store: SeaStore,
    ingest: Arc<IngestTicks>,
    client: crate::support::App,
}

pub(super) async fn harness(db: FreshDatabase) -> Harness {
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let registry = InstrumentRegistry::default();
    let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
    registry.register_underlying(nifty.clone(), "NSE").unwrap();
    register_strikes(&registry, expiry(), &key);
    // A later monthly expiry with one strike and its future, never quoted.
    let march = Utc.with_ymd_and_hms(2026, 3, 31, 10, 0, 0).unwrap();
    registry
        .register_option(
            OptionContract {
                key: InstrumentKey::parse("NSE:NIFTY-20260331-27000-CE").unwrap(),
                underlying: nifty.clone(),
                expiry: march,
                strike: Strike::new(27_000.0).unwrap(),
                right: OptionRight::Call,
                lot_size: LotSize::new(65).unwrap(),
                tick_size: 0.05,
            },
            "NSE",
        )
        .unwrap();
    registry
        .register_future(
            FutureContract {
                key: InstrumentKey::parse("NSE:NIFTY-20260331-FUT").unwrap(),
                underlying: nifty.clone(),
                expiry: march,
                lot_size: LotSize::new(65).unwrap(),
                tick_size: 0.1,
            },
            "NSE",
        )
        .unwrap();
    let manual = Arc::new(ManualClock::new(now()));
    let clock: Arc<dyn Clock> = manual.clone();
    let registry = Arc::new(registry);
    let registry_for_mappings = registry.clone();
    let realtime = Arc::new(RealtimeState::default());
    let ingest = Arc::new(IngestTicks::new(
        registry.clone(),
        realtime.clone(),
        Arc::new(store.clone()),
        clock.clone(),
    ));
    let state = AppState::new(adapters::inbound::http::UseCaseParts {
        ingest: ingest.clone(),
        state: realtime,
        registry: registry.clone(),
        store: Arc::new(store.clone()),
        aggregate_cache: None,
        database: Arc::new(store.clone()),
        redis: None,
        mappings: crate::support::ladder_mappings(&registry_for_mappings, &clock),
        clock,
    });
    Harness {
        _db: db,
        clock: manual,
        registry,
        store,
        ingest,
        client: crate::support::app(state),
    }
}

/// One expiry's chain as quoted in a test.
pub(super) struct Quoting<'a> {
    /// The expiry instant.
    pub expiry: DateTime<Utc>,
    /// Each option's key.
    pub key: &'a dyn Fn(f64, OptionRight) -> InstrumentKey,
    /// Each option's open interest.
    pub oi: &'a dyn Fn(f64, OptionRight) -> f64,
    /// The forward and the one volatility every option is priced at.
    pub forward: f64,
    pub vol: f64,
    /// The session's cumulative volume of each option.
    pub volume: f64,
}

impl Quoting<'_> {
    /// A tick of every option of [`STRIKES`] at `ts`: last at the Black-76 price, bid and ask
    /// half a point around it.
    pub(super) fn ticks(&self, ts: DateTime<Utc>) -> Vec<Tick> {
        let t_years = (self.expiry - ts).num_seconds() as f64 / (365.0 * 86_400.0);
        let mut ticks = vec![];
        for k in STRIKES {
            for right in [OptionRight::Call, OptionRight::Put] {
                let inputs = OptionInputs {
                    right,
                    underlying: self.forward,
                    strike: k,
                    t_years,
                    rate: Conventions::DEFAULT.rate,
                    div_yield: 0.0,
                    vol: self.vol,
                };
                let p = price_and_greeks(PricingModel::Black76, &inputs).unwrap().price;
                ticks.push(Tick {
                    key: (self.key)(k, right),
                    ts,
                    last: Some(p),
                    bid: Some(p - 0.5),
                    ask: Some(p + 0.5),
                    volume: Some(self.volume),
                    oi: Some((self.oi)(k, right)),
                });
            }
        }
        ticks
    }
}

/// The February chain at [`VOL`] on [`FORWARD`].
pub(super) fn february() -> Quoting<'static> {
    Quoting {
        expiry: expiry(),
        key: &key,
        oi: &oi,
        forward: FORWARD,
        vol: VOL,
        volume: 10.0,
    }
}

/// Ingests `ticks` (all accepted) and flushes.
pub(super) async fn ingest_all(h: &Harness, ticks: &[Tick]) {
    let report = h.ingest.execute(ticks).await.unwrap();
    assert_eq!(report.accepted, ticks.len(), "{report:?}");
    h.ingest.flush().await.unwrap();
}

/// One minute before the clock: the index and every option quoted at [`VOL`] on [`FORWARD`].
pub(super) async fn ingest_chain(h: &Harness) {
    let ts = now() - Duration::minutes(1);
    let mut ticks = vec![Tick {
        key: InstrumentKey::parse("NSE:NIFTY").unwrap(),
        ts,
        last: Some(25_950.0),
        bid: None,
        ask: None,
        volume: None,
        oi: None,
    }];
    ticks.extend(february().ticks(ts));
    ingest_all(h, &ticks).await;
}

impl Harness {
    async fn get(&self, path: &str) -> (u16, Value) {
        crate::support::get(&self.client, path).await
    }
}

pub(super) fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

mod chain;
mod selectors;
mod views;

use chain::*;
use selectors::*;
use views::*;

on_both_backends!(
    realtime_greeks_of_one_option_with_conventions_and_freshness,
    the_chain_answers_every_strike_with_both_rights_at_the_quoted_volatility,
    chain_stats_give_the_ratios_max_pain_and_every_level_with_the_groups,
    moneyness_level_greeks_atm_iv_and_skew,
    bad_and_unknown_selectors_are_json_errors_naming_the_field,
    instruments_list_underlyings_expiries_and_listed_chains,
    the_surface_gives_each_expiry_s_smile_and_the_30_day_iv_in_total_variance,
    gex_per_strike_is_oi_times_gamma_times_spot_squared_and_the_flip_re_prices,
    a_historical_chain_equals_what_the_realtime_chain_said_at_that_minute,
    iv_rank_ranks_today_s_30_day_iv_against_each_stored_day,
    changes_are_against_the_previous_session_s_close,
);
