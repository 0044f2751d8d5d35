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
use sea_orm::{ConnectionTrait, Statement};

async fn store(db: &FreshDatabase) -> SeaStore {
    crate::support::migrated_store(db).await
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

/// The one row `sql` answers.
async fn one_row(s: &SeaStore, sql: String) -> sea_orm::QueryResult {
    let db = s.connection();
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
}

async fn count(s: &SeaStore, table: &str) -> i64 {
    let row = one_row(s, format!("SELECT count(*) AS n FROM {table}")).await;
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
        chain: None,
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

/// Enough rows for PostgreSQL's `COPY` path (the store's `COPY_FROM_ROWS`), sent in several
/// pieces, carrying doubles whose text forms are the hard cases: they come back with the same
/// bits.
async fn many_rows_keep_every_double_exactly_and_a_second_write_upserts(db: FreshDatabase) {
    const N: usize = 1_300;
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
    let minutes = |n: usize| Duration::minutes(i64::try_from(n).unwrap());
    let records: Vec<GreeksRecord> = (0..N)
        .map(|i| {
            let mut r = greeks_record("2026-02-02T04:00:00Z", true);
            r.minute += minutes(i);
            r.iv = Some(hard[i % hard.len()]);
            r.underlying_price = 26_000.0 + hard[(i + 3) % hard.len()].abs().min(1e6);
            r
        })
        .collect();
    let days = TimeRange {
        from: day().from,
        to: day().from + Duration::days(3),
    };
    s.save_greeks(&records).await.unwrap();
    let got = s.greeks(&records[0].key, days, usize::MAX).await.unwrap();
    assert_eq!(got.len(), N);
    for (g, r) in got.iter().zip(&records) {
        assert_eq!(g.iv.map(f64::to_bits), r.iv.map(f64::to_bits), "{:?}", r.iv);
        assert_eq!(g.underlying_price.to_bits(), r.underlying_price.to_bits());
    }
    // Half of them again with new values, half new minutes: every row is the latest.
    let again: Vec<GreeksRecord> = records[N / 2..]
        .iter()
        .cloned()
        .chain(records[..N / 2].iter().map(|r| {
            let mut r = r.clone();
            r.minute += minutes(N);
            r
        }))
        .map(|mut r| {
            r.option_price = Some(42.0);
            r
        })
        .collect();
    s.save_greeks(&again).await.unwrap();
    let got = s.greeks(&records[0].key, days, usize::MAX).await.unwrap();
    assert_eq!(got.len(), N + N / 2);
    assert_eq!(got[..N / 2], records[..N / 2], "untouched");
    assert!(
        got[N / 2..].iter().all(|g| g.option_price == Some(42.0)),
        "replaced or added"
    );
}

fn moneyness_record(level: MoneynessLevel, minute: &str) -> MoneynessRecord {
    MoneynessRecord {
        underlying: key("NSE:NIFTY"),
        expiry: chrono::NaiveDate::from_ymd_opt(2026, 2, 3).unwrap(),
        minute: t(minute),
        right: OptionRight::Call,
        level,
        aggregate: LevelAggregate {
            count: 2,
            ..LevelAggregate::default()
        },
        atm_iv: Some(0.12),
        chain: None,
    }
}

/// A bulk load's group: the three tables written by one call (on PostgreSQL at once, on three
/// connections), each with every row; the same group again leaves the same rows.
async fn a_history_group_stores_candles_moneyness_and_greeks(db: FreshDatabase) {
    let s = store(&db).await;
    let bars = candles(300, 100.0);
    let levels: Vec<MoneynessRecord> = (1..=300)
        .map(|n| moneyness_record(MoneynessLevel::Otm(n), "2026-02-02T04:00:00Z"))
        .collect();
    let greeks: Vec<GreeksRecord> = (0..300)
        .map(|i| {
            let mut r = greeks_record("2026-02-02T04:00:00Z", i % 2 == 0);
            r.minute += Duration::minutes(i);
            r
        })
        .collect();
    for _ in 0..2 {
        s.save_history(&bars, &levels, &greeks).await.unwrap();
        assert_eq!(count(&s, "candles_1m").await, 300);
        assert_eq!(count(&s, "signal_moneyness_greeks").await, 300);
        assert_eq!(count(&s, "signal_greeks").await, 300);
    }
    assert_eq!(s.candles(&key("NSE:NIFTY"), day()).await.unwrap(), bars);
    assert_eq!(s.greeks(&greeks[0].key, day(), usize::MAX).await.unwrap(), greeks);
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
    a_history_group_stores_candles_moneyness_and_greeks,
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

async fn pragma(s: &SeaStore, name: &str) -> String {
    let row = one_row(s, format!("PRAGMA {name}")).await;
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
        .unwrap()
}

/// The SQLite setup holds whichever way the store was opened: with the pool settings of
/// `[database]` (as `serve` opens it) as with the defaults.
#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_normal_sync_when_opened_with_pool_settings() {
    let db = FreshDatabase::sqlite();
    let pool = adapters::outbound::store::PoolOptions {
        max_connections: 3,
        acquire_timeout: std::time::Duration::from_secs(1),
        statement_timeout: std::time::Duration::from_millis(1_500),
    };
    let s = SeaStore::connect_with(&db.url, &pool).await.unwrap();
    assert_eq!(pragma(&s, "journal_mode").await, "wal");
    assert_eq!(pragma(&s, "synchronous").await, "1", "NORMAL");
    assert_eq!(pragma(&s, "busy_timeout").await, "1500");
    assert_eq!(pragma(&s, "wal_autocheckpoint").await, "16384");
}

/// SQLite's checkpoints run on the store's own task: after commits far below the writers'
/// automatic checkpoint (16 384 pages), the database file itself grows to hold the rows and the
/// WAL is copied back, without any writer checkpointing.
#[tokio::test]
async fn sqlite_checkpoints_copy_the_wal_into_the_database_file_off_the_write_path() {
    let db = FreshDatabase::sqlite();
    let s = store(&db).await;
    assert_eq!(pragma(&s, "journal_mode").await, "wal");
    let file = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://").trim_end_matches("?mode=rwc"));
    let before = std::fs::metadata(&file).unwrap().len();
    s.save_candles(&candles(1_000, 100.0)).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut after = before;
    while after < before + 64 * 1024 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        after = std::fs::metadata(&file).unwrap().len();
    }
    assert!(
        after >= before + 64 * 1024,
        "database file {before} → {after} bytes: the WAL was not checkpointed"
    );
    assert_eq!(count(&s, "candles_1m").await, 1_000);
}
