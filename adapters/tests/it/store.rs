//! The sea-orm store on a fresh SQLite file and a fresh PostgreSQL database per test.

use std::sync::Arc;

use adapters::outbound::store::SeaStore;
use chrono::{DateTime, Duration, Utc};
use domain::candles::Bar;
use domain::chain::QuotePrice;
use domain::expiry::{ForwardSource, TimeBasis};
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::{LevelAggregate, MoneynessLevel};
use domain::ports::{GreeksRecord, InstrumentCandle, MoneynessRecord, SignalStore, TimeRange};
use domain::pricing::{Greeks, IvError, PricingModel};
use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

async fn store(db: &FreshDatabase) -> SeaStore {
    let s = SeaStore::connect(&db.url).await.unwrap();
    Migrator::up(s.connection(), None).await.unwrap();
    s
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn key(s: &str) -> InstrumentKey {
    InstrumentKey::parse(s).unwrap()
}

fn candles(n: i64, price: f64) -> Vec<InstrumentCandle> {
    (0..n)
        .map(|i| InstrumentCandle {
            key: key("NSE:NIFTY"),
            bar: Bar {
                oi: Some(1000.0 + i as f64),
                ..Bar::ohlcv(
                    t("2026-02-02T03:45:00Z") + Duration::minutes(i),
                    price,
                    price + 1.0,
                    price - 1.0,
                    price,
                    10.0,
                )
            },
        })
        .collect()
}

async fn count(s: &SeaStore, table: &str) -> i64 {
    let db = s.connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT count(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

fn day() -> TimeRange {
    TimeRange {
        from: t("2026-02-02T00:00:00Z"),
        to: t("2026-02-03T00:00:00Z"),
    }
}

async fn candle_upserts_are_idempotent_and_reads_are_ordered_and_half_open(db: FreshDatabase) {
    let s = store(&db).await;
    let batch = candles(1_200, 100.0); // three INSERT chunks
    s.save_candles(&batch).await.unwrap();
    s.save_candles(&batch).await.unwrap();
    assert_eq!(count(&s, "candles_1m").await, 1_200, "replaying changes nothing");
    s.save_candles(&candles(1, 105.0)).await.unwrap();
    let got = s.candles(&key("NSE:NIFTY"), day()).await.unwrap();
    assert_eq!(got.len(), 1_200);
    assert_eq!(got[0].bar.close, 105.0, "a corrected bar replaces the old one");
    assert_eq!(got[1], batch[1]);
    assert!(got.windows(2).all(|w| w[0].bar.start < w[1].bar.start));
    let range = TimeRange {
        from: batch[10].bar.start,
        to: batch[20].bar.start,
    };
    assert_eq!(
        s.candles(&key("NSE:NIFTY"), range).await.unwrap().len(),
        10,
        "[from, to)"
    );
    assert!(s.candles(&key("NSE:BANKNIFTY"), day()).await.unwrap().is_empty());
}

fn greeks_record(minute: &str, with_iv: bool) -> GreeksRecord {
    GreeksRecord {
        key: key("NSE:NIFTY-20260203-26000-CE"),
        minute: t(minute),
        underlying_price: 26_010.5,
        forward: 26_030.25,
        forward_source: ForwardSource::PutCallParity,
        option_price: Some(95.5),
        price_source: Some(QuotePrice::Mid),
        iv: with_iv.then_some(0.1234),
        iv_error: (!with_iv).then_some(IvError::BelowIntrinsic),
        greeks: with_iv.then_some(Greeks {
            delta: 0.51,
            gamma: 0.0012,
            theta_per_year: -9000.0,
            vega_per_unit: 800.0,
            rho_per_unit: -0.2,
            vanna: 0.01,
            volga: 3.0,
            charm_per_year: -0.5,
            speed: -1e-7,
        }),
        model: PricingModel::Black76,
        rate: 0.065,
        time_basis: TimeBasis::Exact,
        t_years: 0.0027,
    }
}

async fn greeks_round_trip_with_and_without_iv(db: FreshDatabase) {
    let s = store(&db).await;
    let recs = vec![
        greeks_record("2026-02-02T04:00:00Z", true),
        greeks_record("2026-02-02T04:01:00Z", false),
    ];
    s.save_greeks(&recs).await.unwrap();
    s.save_greeks(&recs).await.unwrap();
    let got = s.greeks(&recs[0].key, day(), 100).await.unwrap();
    assert_eq!(got, recs);
    assert_eq!(s.greeks(&recs[0].key, day(), 1).await.unwrap().len(), 1, "limit");
    assert_eq!(
        s.greeks(&recs[0].key, day(), usize::MAX).await.unwrap(),
        recs,
        "no limit"
    );
}

async fn moneyness_rows_are_upserted_per_level_and_minute(db: FreshDatabase) {
    let s = store(&db).await;
    let rec = |level, delta| MoneynessRecord {
        underlying: key("NSE:NIFTY"),
        expiry: chrono::NaiveDate::from_ymd_opt(2026, 2, 3).unwrap(),
        minute: t("2026-02-02T04:00:00Z"),
        right: OptionRight::Put,
        level,
        aggregate: LevelAggregate {
            count: 3,
            greeks_oi_weighted: Greeks {
                delta,
                ..Greeks::default()
            },
            ..LevelAggregate::default()
        },
        atm_iv: Some(0.12),
    };
    s.save_moneyness(&[rec(MoneynessLevel::Itm(1), -0.6), rec(MoneynessLevel::OtmGroup, -0.2)])
        .await
        .unwrap();
    s.save_moneyness(&[rec(MoneynessLevel::Itm(1), -0.61)]).await.unwrap();
    assert_eq!(count(&s, "signal_moneyness_greeks").await, 2);
}

/// 7-minute bars through the cache: the first read aggregates and caches the closed buckets,
/// the second is answered from the cache, and a late 1-minute bar drops exactly its bucket,
/// which the next read recomputes with the new data.
async fn custom_timeframes_are_cached_and_a_late_bar_invalidates_its_bucket(db: FreshDatabase) {
    use application::candles::TimeframeBars;
    use domain::instrument::Market;
    use domain::ports::ManualClock;
    let s = store(&db).await;
    // 60 one-minute bars from 09:15 IST; the clock stands at 10:16 IST, inside the last bucket.
    s.save_candles(&candles(60, 100.0)).await.unwrap();
    let clock = Arc::new(ManualClock::new(t("2026-02-02T04:46:00Z")));
    let uc = TimeframeBars::new(Arc::new(s.clone()), clock);
    let tf = "7m".parse().unwrap();
    let range = TimeRange {
        from: t("2026-02-02T03:45:00Z"),
        to: t("2026-02-02T05:00:00Z"),
    };
    let (first, stats) = uc.bars(&key("NSE:NIFTY"), &Market::nse(), tf, range).await.unwrap();
    // 60 minutes make 8 full 7-minute buckets and a ninth of 4 bars.
    assert_eq!(first.len(), 9);
    assert_eq!(
        (stats.cached, stats.computed, stats.stored),
        (0, 9, 8),
        "the open bucket is not cached"
    );
    assert_eq!(count(&s, "signal_custom_timeframes").await, 8);
    let (again, stats) = uc.bars(&key("NSE:NIFTY"), &Market::nse(), tf, range).await.unwrap();
    assert_eq!(again, first);
    assert_eq!((stats.cached, stats.computed), (8, 1), "{stats:?}");

    // A late correction of 09:30 (the third bucket, 09:29–09:36) with a new high.
    let mut late = candles(16, 100.0).pop().unwrap();
    late.bar.high = 150.0;
    s.save_candles(&[late]).await.unwrap();
    assert_eq!(
        count(&s, "signal_custom_timeframes").await,
        7,
        "only its bucket is dropped"
    );
    let (after, stats) = uc.bars(&key("NSE:NIFTY"), &Market::nse(), tf, range).await.unwrap();
    assert_eq!((stats.cached, stats.computed), (7, 2), "{stats:?}");
    assert_eq!(after[2].high, 150.0);
    assert_eq!(after[2].start, t("2026-02-02T03:59:00Z"));
    assert_eq!(
        after.iter().filter(|b| b.high == 150.0).count(),
        1,
        "the other buckets are untouched"
    );
}

/// The in-process cache in front of the table: a closed day is read whole once and then
/// answered from memory, the open day always through the table; a late bar of the closed day
/// (and only that) drops it from memory.
async fn closed_days_come_from_memory_and_the_open_day_from_the_table(db: FreshDatabase) {
    use adapters::outbound::cache::{AggregateCacheConfig, MemoryAggregateCache};
    use application::candles::{TimeframeBars, forget_rewritten_days};
    use domain::instrument::Market;
    use domain::ports::{AggregateCache, ManualClock};
    let s = store(&db).await;
    // 60 one-minute bars from 09:15 IST on Friday 2026-01-30 (closed) and on Monday 2026-02-02,
    // where the clock stands at 10:16 IST.
    let monday = candles(60, 100.0);
    let friday: Vec<_> = monday
        .iter()
        .map(|c| InstrumentCandle {
            key: c.key.clone(),
            bar: Bar {
                start: c.bar.start - Duration::days(3),
                ..c.bar
            },
        })
        .collect();
    s.save_candles(&friday).await.unwrap();
    s.save_candles(&monday).await.unwrap();
    let now = t("2026-02-02T04:46:00Z");
    let clock = Arc::new(ManualClock::new(now));
    let memory = Arc::new(MemoryAggregateCache::new(AggregateCacheConfig::default()));
    let uc = TimeframeBars::new(Arc::new(s.clone()), clock).with_memory(Some(memory.clone()));
    let tf = "7m".parse().unwrap();
    let range = TimeRange {
        from: t("2026-01-30T03:45:00Z"),
        to: t("2026-02-02T05:00:00Z"),
    };
    let nifty = key("NSE:NIFTY");
    let (first, stats) = uc.bars(&nifty, &Market::nse(), tf, range).await.unwrap();
    assert_eq!(first.len(), 18, "9 buckets a day");
    assert!(first.windows(2).all(|w| w[0].start < w[1].start), "ascending");
    assert_eq!((stats.memory, stats.computed, stats.stored), (0, 18, 17), "{stats:?}");
    let (again, stats) = uc.bars(&nifty, &Market::nse(), tf, range).await.unwrap();
    assert_eq!(again, first);
    assert_eq!((stats.memory, stats.cached, stats.computed), (9, 8, 1), "{stats:?}");
    // A range starting inside the cached day is cut from it.
    let later = TimeRange {
        from: t("2026-01-30T04:00:00Z"),
        ..range
    };
    let (cut, stats) = uc.bars(&nifty, &Market::nse(), tf, later).await.unwrap();
    assert_eq!(cut.as_slice(), &first[3..]);
    assert_eq!(stats.memory, 6);

    // A live Monday bar leaves memory alone; a late Friday bar drops Friday.
    let market_of = |_: &InstrumentKey| Some(Market::nse());
    forget_rewritten_days(memory.as_ref(), &monday[59..], market_of, now);
    assert_eq!(memory.stats().invalidations, 0);
    let mut late = vec![friday[16].clone()];
    late[0].bar.high = 150.0;
    s.save_candles(&late).await.unwrap();
    forget_rewritten_days(memory.as_ref(), &late, market_of, now);
    assert_eq!(memory.stats().invalidations, 1);
    let (after, stats) = uc.bars(&nifty, &Market::nse(), tf, range).await.unwrap();
    assert_eq!((stats.memory, stats.cached, stats.computed), (0, 16, 2), "{stats:?}");
    assert_eq!(after[2].high, 150.0);
    assert_eq!(after.iter().filter(|b| b.high == 150.0).count(), 1);
}

/// Enough rows for PostgreSQL's `COPY` path (the store's `COPY_FROM_ROWS`), carrying doubles
/// whose text forms are the hard cases: they come back with the same bits.
async fn many_rows_keep_every_double_exactly_and_a_second_write_upserts(db: FreshDatabase) {
    let s = store(&db).await;
    let hard = [
        0.1 + 0.2,
        1e-300,
        5e-324,
        f64::MAX,
        -f64::MIN_POSITIVE,
        1.0 / 3.0,
        123_456_789.012_345_67,
        -2.5e-8,
    ];
    let records: Vec<GreeksRecord> = (0..400)
        .map(|i| {
            let mut r = greeks_record("2026-02-02T04:00:00Z", true);
            r.minute += Duration::minutes(i);
            r.iv = Some(hard[i as usize % hard.len()]);
            r.underlying_price = 26_000.0 + hard[(i as usize + 3) % hard.len()].abs().min(1e6);
            r
        })
        .collect();
    s.save_greeks(&records).await.unwrap();
    let got = s.greeks(&records[0].key, day(), usize::MAX).await.unwrap();
    assert_eq!(got.len(), 400);
    for (g, r) in got.iter().zip(&records) {
        assert_eq!(g.iv.map(f64::to_bits), r.iv.map(f64::to_bits), "{:?}", r.iv);
        assert_eq!(g.underlying_price.to_bits(), r.underlying_price.to_bits());
    }
    // Half of them again with new values, half new minutes: every row is the latest.
    let again: Vec<GreeksRecord> = records[200..]
        .iter()
        .cloned()
        .chain(records[..200].iter().map(|r| {
            let mut r = r.clone();
            r.minute += Duration::minutes(400);
            r
        }))
        .map(|mut r| {
            r.option_price = Some(42.0);
            r
        })
        .collect();
    s.save_greeks(&again).await.unwrap();
    let got = s.greeks(&records[0].key, day(), usize::MAX).await.unwrap();
    assert_eq!(got.len(), 600);
    assert_eq!(got[..200], records[..200], "untouched");
    assert!(
        got[200..].iter().all(|g| g.option_price == Some(42.0)),
        "replaced or added"
    );
}

async fn candles_of_several_instruments_come_in_one_read_each_ascending(db: FreshDatabase) {
    let s = store(&db).await;
    let nifty = candles(5, 100.0);
    let bank: Vec<InstrumentCandle> = candles(3, 200.0)
        .into_iter()
        .map(|c| InstrumentCandle {
            key: key("NSE:BANKNIFTY"),
            ..c
        })
        .collect();
    s.save_candles(&[nifty.clone(), bank.clone()].concat()).await.unwrap();
    let range = TimeRange {
        from: nifty[1].bar.start,
        to: day().to,
    };
    let got = s
        .candles_of(&[key("NSE:NIFTY"), key("NSE:BANKNIFTY"), key("NSE:FINNIFTY")], range)
        .await
        .unwrap();
    let of = |k: &str| -> Vec<InstrumentCandle> { got.iter().filter(|c| c.key.as_str() == k).cloned().collect() };
    assert_eq!(of("NSE:NIFTY"), nifty[1..], "in range, ascending");
    assert_eq!(of("NSE:BANKNIFTY"), bank[1..]);
    assert_eq!(got.len(), 6, "nothing for an instrument without bars");
}

on_both_backends!(
    closed_days_come_from_memory_and_the_open_day_from_the_table,
    candle_upserts_are_idempotent_and_reads_are_ordered_and_half_open,
    greeks_round_trip_with_and_without_iv,
    many_rows_keep_every_double_exactly_and_a_second_write_upserts,
    candles_of_several_instruments_come_in_one_read_each_ascending,
    moneyness_rows_are_upserted_per_level_and_minute,
    custom_timeframes_are_cached_and_a_late_bar_invalidates_its_bucket,
);

#[tokio::test]
async fn a_failing_batch_leaves_nothing_behind() {
    // SQLite stores NaN as NULL, which the NOT NULL column refuses: the last chunk fails, and the
    // transaction takes the first two back with it.
    let db = FreshDatabase::sqlite();
    let s = store(&db).await;
    let mut batch = candles(1_200, 100.0);
    batch[1_100].bar.open = f64::NAN;
    assert!(s.save_candles(&batch).await.is_err());
    assert_eq!(count(&s, "candles_1m").await, 0);
}
