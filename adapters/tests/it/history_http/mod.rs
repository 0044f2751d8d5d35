//! The historical endpoints on SQLite and on PostgreSQL: a session of 1-minute bars and an hour of
//! Greeks snapshots are stored, then read back on several timeframes page by page (the pages
//! joined equal one big page), and every bad parameter is a 400 naming it.

use std::sync::Arc;

use adapters::outbound::store::SeaStore;
use chrono::{DateTime, Duration, Utc};
use domain::candles::Bar;
use domain::expiry::{ForwardSource, TimeBasis};
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::{LevelAggregate, MoneynessLevel};
use domain::ports::{GreeksRecord, InstrumentCandle, MoneynessRecord, SignalStore};
use domain::pricing::PricingModel;
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use serde_json::Value;

use adapters::outbound::cache::{AggregateCacheConfig, MemoryAggregateCache};

use crate::support::{CALL, metric, pipeline_with};

/// 09:15 IST on Friday 2026-01-30, the session open: the whole session lies before the clock
/// (Monday 2026-02-02 10:00 IST), as history does.
pub(super) fn open() -> DateTime<Utc> {
    "2026-01-30T03:45:00Z".parse().unwrap()
}

pub(super) struct Harness {
    _db: FreshDatabase,
    client: crate::support::App,
}

pub(super) async fn harness(db: FreshDatabase) -> Harness {
    let store = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
    let bars: Vec<InstrumentCandle> = (0..375)
        .map(|m| {
            let px = 26_000.0 + f64::from(m % 17) - f64::from(m % 5);
            InstrumentCandle {
                key: nifty.clone(),
                bar: Bar::ohlcv(
                    open() + Duration::minutes(m.into()),
                    px,
                    px + 3.0,
                    px - 2.0,
                    px + 1.0,
                    10.0,
                ),
            }
        })
        .collect();
    store.save_candles(&bars).await.unwrap();
    let greeks: Vec<GreeksRecord> = (0..60)
        .map(|m| GreeksRecord {
            key: InstrumentKey::parse(CALL).unwrap(),
            minute: open() + Duration::minutes(m),
            underlying_price: 26_000.0 + m as f64,
            forward: 26_010.0 + m as f64,
            forward_source: ForwardSource::PutCallParity,
            option_price: Some(100.0),
            price_source: None,
            iv: Some(0.10 + m as f64 * 1e-3),
            iv_error: None,
            greeks: None,
            model: PricingModel::Black76,
            rate: 0.065,
            time_basis: TimeBasis::Exact,
            t_years: 0.06,
        })
        .collect();
    store.save_greeks(&greeks).await.unwrap();
    let mut levels = Vec::new();
    for m in 0..60 {
        for (right, level) in [
            (OptionRight::Call, MoneynessLevel::Atm),
            (OptionRight::Put, MoneynessLevel::Atm),
            (OptionRight::Call, MoneynessLevel::ItmGroup),
        ] {
            levels.push(MoneynessRecord {
                underlying: nifty.clone(),
                expiry: "2026-02-24".parse().unwrap(),
                minute: open() + Duration::minutes(m),
                right,
                level,
                aggregate: LevelAggregate {
                    count: 1,
                    count_with_iv: 1,
                    mean_iv: Some(0.12),
                    total_oi: 1_000.0 + m as f64,
                    ..LevelAggregate::default()
                },
                atm_iv: Some(0.12 + m as f64 * 1e-4),
                chain: None,
            });
        }
    }
    store.save_moneyness(&levels).await.unwrap();
    // Every historical read here goes through the in-process aggregate cache, as when served.
    let memory = MemoryAggregateCache::new(AggregateCacheConfig::default());
    let state = pipeline_with(Arc::new(store.clone()), Some(Arc::new(memory))).app_state(Arc::new(store));
    Harness {
        _db: db,
        client: crate::support::app(state),
    }
}

impl Harness {
    async fn get(&self, path: &str) -> (u16, Value) {
        crate::support::get(&self.client, path).await
    }

    /// Every page of `path` (which has no cursor yet), joined; `field` holds the rows.
    async fn all_pages(&self, path: &str, field: &str) -> (Vec<Value>, usize) {
        let (mut rows, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}&cursor={c}"),
                None => path.to_owned(),
            };
            let (status, page) = self.get(&url).await;
            assert_eq!(status, 200, "{url}: {page}");
            rows.extend(page[field].as_array().unwrap().iter().cloned());
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return (rows, pages),
            }
        }
    }
}

pub(super) const DAY: &str = "from=2026-01-30T03:45:00Z&to=2026-01-30T10:00:00Z";

mod exports;
mod reads;

use exports::*;
use reads::*;

on_both_backends!(
    custom_timeframes_come_from_memory_until_a_late_bar_changes_their_day,
    candles_on_any_timeframe_page_by_page,
    greeks_per_minute_and_per_bucket,
    moneyness_levels_and_atm_iv_over_time,
    indicators_over_history_and_now,
    exports_stream_csv_and_ndjson_compressed_on_request,
    bad_parameters_are_400s_naming_them,
);
