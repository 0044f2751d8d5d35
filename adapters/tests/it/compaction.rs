//! The compact layout of sealed history on PostgreSQL: every read answers the same to the bit
//! before and after sealing, late bars land and are sealed again, two instances sealing at once
//! lose nothing, and retention drops whole months while the rest reads intact.

use std::sync::Arc;

use adapters::outbound::store::SeaStore;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::candles::Bar;
use domain::chain::QuotePrice;
use domain::expiry::{Forward, ForwardSource, TimeBasis};
use domain::instrument::{InstrumentKey, LotSize, OptionContract, OptionRight, Strike};
use domain::moneyness::{LevelAggregate, MoneynessLevel};
use domain::ports::{
    ChainInputs, CompactionReport, GreeksRecord, HistoryTable, HistoryUpkeep, InstrumentCandle, MoneynessRecord,
    SignalStore, TimeRange,
};
use domain::pricing::{Greeks, IvError, PricingModel};
use e2e_tests::FreshDatabase;
use sea_orm::{ConnectionTrait, Statement};

pub(super) async fn store(db: &FreshDatabase) -> SeaStore {
    crate::support::migrated_store(db).await
}

pub(super) fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub(super) fn key(s: &str) -> InstrumentKey {
    InstrumentKey::parse(s).unwrap()
}

pub(super) async fn count(s: &SeaStore, table: &str) -> i64 {
    let db = s.connection();
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT count(*) AS n FROM {table}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

/// Heap pages of `table`.
async fn relation_pages(s: &SeaStore, table: &str) -> i64 {
    let db = s.connection();
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT pg_relation_size('{table}') / 8192 AS n"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

/// The sessions written: the last of January, the first of February (sealed by the runs
/// below), and 3 February, still open.
const DAYS: [&str; 3] = ["2026-01-30", "2026-02-02", "2026-02-03"];
const MINUTES: i64 = 30;
pub(super) const OPTIONS: [&str; 2] = ["NSE:NIFTY-20260224-25000-CE", "NSE:NIFTY-20260224-25000-PE"];

/// Doubles whose bits are the hard cases.
const HARD: [f64; 8] = [0.1 + 0.2, 5e-324, -0.0, 1.0 / 3.0, 1e300, -2.5e-8, 123_456.789, 0.0];

pub(super) fn minute(day: &str, i: i64) -> DateTime<Utc> {
    t(&format!("{day}T03:45:00Z")) + Duration::minutes(i)
}

pub(super) fn greeks(k: &str, day: &str, i: i64) -> GreeksRecord {
    let x = i as f64;
    let h = HARD[usize::try_from(i).unwrap() % HARD.len()];
    let with_iv = i % 7 != 3;
    GreeksRecord {
        key: key(k),
        minute: minute(day, i),
        underlying_price: 25_000.05 + x * 0.35,
        forward: 25_040.0 + x * 0.351_234_567,
        forward_source: if i % 11 == 0 {
            ForwardSource::Future
        } else {
            ForwardSource::PutCallParity
        },
        option_price: (i % 13 != 5).then_some(95.5 + x * 0.05),
        price_source: (i % 13 != 5).then_some(if i % 2 == 0 { QuotePrice::Mid } else { QuotePrice::Last }),
        iv: with_iv.then_some(0.12 + h.abs().min(1.0) * 1e-3),
        iv_error: (!with_iv).then_some(IvError::BelowIntrinsic),
        greeks: with_iv.then_some(Greeks {
            delta: 0.51 - x * 1e-3,
            gamma: 0.0012 + h.min(1.0) * 1e-9,
            theta_per_year: -9000.0 - x.sqrt(),
            vega_per_unit: 800.0 + x / 3.0,
            rho_per_unit: h,
            vanna: 0.01,
            volga: 3.0 + x,
            charm_per_year: -0.5,
            speed: -1e-7 * x,
        }),
        model: PricingModel::Black76,
        rate: 0.065,
        time_basis: TimeBasis::Exact,
        t_years: 0.0027 - x * 1.9e-6,
    }
}

pub(super) fn candle(k: &str, day: &str, i: i64) -> InstrumentCandle {
    let p = 100.0 + (i % 9) as f64 * 0.05;
    InstrumentCandle {
        key: key(k),
        bar: Bar {
            oi: (i % 4 != 0).then_some(75.0 * (1000 + i) as f64),
            vwap: Some(p + 1.0 / 3.0),
            ..Bar::ohlcv(minute(day, i), p, p + 0.5, p - 0.25, p + 0.1, 75.0 * i as f64)
        },
    }
}

/// A level's row at minute `i`: `ITM1` holds the first option alone, its aggregates computed
/// by the domain from that option's Greeks (as the service does: sealing refers to them, see
/// `store/compact/levels.rs`), open interest 0 some minutes; the other levels made-up values.
pub(super) fn level(day: &str, i: i64, level: MoneynessLevel) -> MoneynessRecord {
    let x = i as f64;
    if level == MoneynessLevel::Itm(1) {
        let g = greeks(OPTIONS[0], day, i);
        let point = domain::moneyness::OptionPoint {
            strike: 25_000.0,
            right: OptionRight::Call,
            iv: g.iv,
            greeks: g.greeks,
            oi: if i % 6 == 1 { 0.0 } else { 75.0 * (1000.0 + x) },
            volume: 75.0 * x,
        };
        let aggregate = domain::moneyness::aggregate_by_level(&[point], 25_000.0, 50.0)[0].aggregate;
        return MoneynessRecord {
            underlying: key("NSE:NIFTY"),
            expiry: NaiveDate::from_ymd_opt(2026, 2, 24).unwrap(),
            minute: minute(day, i),
            right: OptionRight::Call,
            level,
            aggregate,
            atm_iv: Some(0.12 + x * 1e-4),
            chain: None,
        };
    }
    MoneynessRecord {
        underlying: key("NSE:NIFTY"),
        expiry: NaiveDate::from_ymd_opt(2026, 2, 24).unwrap(),
        minute: minute(day, i),
        right: OptionRight::Call,
        level,
        aggregate: LevelAggregate {
            count: 1 + u32::try_from(i % 3).unwrap(),
            count_with_iv: 1,
            mean_iv: (i % 5 != 0).then_some(0.13 + x * 1e-5),
            greeks_oi_weighted: Greeks {
                delta: 0.5 + x / 7.0,
                rho_per_unit: HARD[usize::try_from(i).unwrap() % HARD.len()],
                ..Greeks::default()
            },
            total_volume: 75.0 * x,
            total_oi: 1e5 + x,
        },
        atm_iv: Some(0.12 + x * 1e-4),
        chain: (level == MoneynessLevel::Atm).then_some(ChainInputs {
            forward: Forward {
                value: 25_040.0 + x / 3.0,
                source: ForwardSource::PutCallParity,
            },
            t_years: 0.05 - x * 1.9e-6,
            spot: (i % 2 == 0).then_some(25_000.0 + x),
        }),
    }
}

async fn write_all(s: &SeaStore) {
    write_days(s, &DAYS).await;
}

/// Each day's `MINUTES` minutes of the Greeks and bars of `OPTIONS`, NIFTY's bars and three
/// moneyness levels.
pub(super) async fn write_days(s: &SeaStore, days: &[&str]) {
    let contracts: Vec<OptionContract> = OPTIONS
        .iter()
        .zip([OptionRight::Call, OptionRight::Put])
        .map(|(k, right)| OptionContract {
            key: key(k),
            underlying: key("NSE:NIFTY"),
            expiry: t("2026-02-24T10:00:00Z"),
            strike: Strike::new(25_000.0).unwrap(),
            right,
            lot_size: LotSize::new(75).unwrap(),
            tick_size: 0.05,
        })
        .collect();
    s.register_contracts(&contracts, "NSE").await.unwrap();
    for &day in days {
        let mut g = Vec::new();
        let mut c = Vec::new();
        let mut m = Vec::new();
        for i in 0..MINUTES {
            for k in OPTIONS {
                g.push(greeks(k, day, i));
                c.push(candle(k, day, i));
            }
            c.push(candle("NSE:NIFTY", day, i));
            for l in [MoneynessLevel::Atm, MoneynessLevel::Itm(1), MoneynessLevel::OtmGroup] {
                m.push(level(day, i, l));
            }
        }
        s.save_history(&c, &m, &g).await.unwrap();
    }
}

pub(super) fn range(from: &str, to: &str) -> TimeRange {
    TimeRange {
        from: t(from),
        to: t(to),
    }
}

/// Every read the store serves history through, as text (`Debug` tells `-0.0` from `0.0`).
async fn every_read(s: &SeaStore) -> Vec<String> {
    let all = range("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z");
    let mid = range("2026-01-30T04:00:00Z", "2026-02-02T03:50:00Z");
    let expiry = NaiveDate::from_ymd_opt(2026, 2, 24).unwrap();
    let mut out = Vec::new();
    for k in OPTIONS {
        out.push(format!("{:?}", s.greeks(&key(k), all, usize::MAX).await.unwrap()));
        out.push(format!("{:?}", s.greeks(&key(k), mid, usize::MAX).await.unwrap()));
        out.push(format!("{:?}", s.greeks(&key(k), all, 45).await.unwrap()));
        out.push(format!("{:?}", s.candles(&key(k), mid).await.unwrap()));
    }
    let keys: Vec<InstrumentKey> = OPTIONS.iter().chain(&["NSE:NIFTY"]).map(|k| key(k)).collect();
    out.push(format!("{:?}", s.candles_of(&keys, all).await.unwrap()));
    out.push(format!("{:?}", s.candles_of(&keys, mid).await.unwrap()));
    for l in [MoneynessLevel::Atm, MoneynessLevel::Itm(1), MoneynessLevel::OtmGroup] {
        for r in [all, mid] {
            out.push(format!(
                "{:?}",
                s.moneyness(&key("NSE:NIFTY"), expiry, OptionRight::Call, l, r, usize::MAX)
                    .await
                    .unwrap()
            ));
        }
    }
    for r in [all, mid, range("2026-02-01T00:00:00Z", "2026-02-02T03:50:00Z")] {
        out.push(format!("{:?}", s.last_atm(&key("NSE:NIFTY"), expiry, r).await.unwrap()));
        let mut latest = s.latest_greeks(&keys, r).await.unwrap();
        latest.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        out.push(format!("{latest:?}"));
    }
    out.push(format!(
        "{:?}",
        s.moneyness_expiries(&key("NSE:NIFTY"), NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
            .await
            .unwrap()
    ));
    out
}

#[tokio::test]
async fn sealed_days_read_the_same_to_the_bit_and_sealing_again_changes_nothing() {
    let db = FreshDatabase::postgres().await;
    let s = store(&db).await;
    write_all(&s).await;
    let before = every_read(&s).await;
    assert!(before.iter().all(|r| r != "[]"), "every read finds something");

    // 3 February is still open at 01:00 on the 3rd with an hour's seal: two days are sealed.
    let report = s.compact(t("2026-02-03T01:00:00Z"), 1_000).await.unwrap();
    let per_day = 2 + 3 + 3; // Greeks of 2 options, bars of 3 instruments, 3 levels
    assert_eq!(
        report,
        CompactionReport {
            series_days: 2 * per_day,
            rows_folded: 2 * per_day * MINUTES as u64,
            skipped_busy: 0,
            more: false
        }
    );
    assert_eq!(count(&s, "signal_greeks").await, 2 * MINUTES, "the open day stays rows");
    assert_eq!(count(&s, "candles_1m").await, 3 * MINUTES);
    assert_eq!(count(&s, "signal_moneyness_greeks").await, 3 * MINUTES);
    assert_eq!(count(&s, "signal_greeks_packs").await, 4);
    assert_eq!(
        count(&s, "signal_greeks_packs_y2026m01").await,
        2,
        "partitioned by month"
    );
    assert_eq!(every_read(&s).await, before, "the same answers, to the bit");

    // One chain day per expiry and day, which every level's ATM IV refers to.
    assert_eq!(count(&s, "signal_chain_packs").await, 2);
    // The level of one option refers to its Greeks; the others keep their values.
    assert_eq!(
        refs_of(&s).await,
        [
            ("ATM".to_owned(), "{}".to_owned()),
            ("ATM".to_owned(), "{}".to_owned()),
            ("ITM1".to_owned(), format!("{{{}}}", OPTIONS[0])),
            ("ITM1".to_owned(), format!("{{{}}}", OPTIONS[0])),
            ("OTM".to_owned(), "{}".to_owned()),
            ("OTM".to_owned(), "{}".to_owned()),
        ]
    );

    let again = s.compact(t("2026-02-03T01:00:00Z"), 1_000).await.unwrap();
    assert_eq!(again, CompactionReport::default(), "idempotent");
    assert_eq!(every_read(&s).await, before);
}

/// (level, `refs`) of every level pack, by level and day.
async fn refs_of(s: &SeaStore) -> Vec<(String, String)> {
    let db = s.connection();
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT level, refs::text AS refs FROM signal_moneyness_packs ORDER BY level, day_ms".to_owned(),
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| (r.try_get("", "level").unwrap(), r.try_get("", "refs").unwrap()))
    .collect()
}

#[tokio::test]
async fn a_late_correction_of_greeks_a_level_refers_to_keeps_the_level_as_it_was() {
    let db = FreshDatabase::postgres().await;
    let s = store(&db).await;
    write_all(&s).await;
    s.compact(t("2026-02-03T01:00:00Z"), 1_000).await.unwrap();
    let before = every_read(&s).await;
    // Minutes 5 and 6 of 2 February recomputed: new Greeks for the option ITM1 refers to (the
    // level rows themselves are not rewritten).
    let late: Vec<GreeksRecord> = [5, 6]
        .iter()
        .map(|&i| {
            let mut g = greeks(OPTIONS[0], "2026-02-02", i);
            g.greeks = g.greeks.map(|g| Greeks {
                delta: g.delta + 0.125,
                ..g
            });
            g
        })
        .collect();
    s.save_greeks(&late).await.unwrap();
    let expiry = NaiveDate::from_ymd_opt(2026, 2, 24).unwrap();
    let feb2 = range("2026-02-02T00:00:00Z", "2026-02-03T00:00:00Z");
    let nifty = key("NSE:NIFTY");
    let itm1 = || {
        s.moneyness(
            &nifty,
            expiry,
            OptionRight::Call,
            MoneynessLevel::Itm(1),
            feb2,
            usize::MAX,
        )
    };
    let levels = itm1().await.unwrap();
    let report = s.compact(t("2026-02-03T01:00:00Z"), 1_000).await.unwrap();
    assert_eq!(report.series_days, 1, "{report:?}");
    assert_eq!(
        itm1().await.unwrap(),
        levels,
        "the level pack re-packed against the new Greeks"
    );
    let read = s.greeks(&key(OPTIONS[0]), feb2, usize::MAX).await.unwrap();
    assert_eq!(read[5].greeks.unwrap().delta, late[0].greeks.unwrap().delta);
    // Everything else as before.
    let after = every_read(&s).await;
    let changed: Vec<usize> = (0..before.len()).filter(|&i| before[i] != after[i]).collect();
    assert!(
        !changed.is_empty() && changed.iter().all(|&i| after[i].contains("0.6")),
        "{changed:?}"
    );
    assert_eq!(refs_of(&s).await[3], ("ITM1".to_owned(), format!("{{{}}}", OPTIONS[0])));
}

#[tokio::test]
async fn a_run_is_bounded_and_the_next_one_goes_on() {
    let db = FreshDatabase::postgres().await;
    let s = store(&db).await;
    write_all(&s).await;
    let before = every_read(&s).await;
    let first = s.compact(t("2026-02-04T01:00:00Z"), 2).await.unwrap();
    assert!(first.more, "{first:?}");
    assert_eq!(
        first.series_days, 4,
        "two of the Greeks, two of the bars; the levels wait for their options' Greeks"
    );
    let mut total = first;
    while total.more {
        total = s.compact(t("2026-02-04T01:00:00Z"), 2).await.unwrap();
        assert_eq!(every_read(&s).await, before, "half sealed reads the same");
    }
    assert_eq!(count(&s, "signal_greeks").await, 0);
    assert_eq!(every_read(&s).await, before);
}

#[tokio::test]
async fn a_late_bar_for_a_sealed_day_lands_drops_its_cached_buckets_and_is_sealed_again() {
    use application::candles::TimeframeBars;
    use domain::instrument::Market;
    use domain::ports::ManualClock;
    let db = FreshDatabase::postgres().await;
    let s = store(&db).await;
    write_all(&s).await;
    s.compact(t("2026-02-03T01:00:00Z"), 1_000).await.unwrap();
    let nifty = key("NSE:NIFTY");
    let day = range("2026-02-02T03:45:00Z", "2026-02-02T04:15:00Z");
    let uc = TimeframeBars::new(
        Arc::new(s.clone()),
        Arc::new(ManualClock::new(t("2026-02-03T12:00:00Z"))),
    );
    let tf = "5m".parse().unwrap();
    let (first, _) = uc.bars(&nifty, &Market::nse(), tf, day).await.unwrap();
    assert_eq!(first.len(), 6);
    assert_eq!(count(&s, "signal_custom_timeframes").await, 6, "closed buckets cached");

    // A correction of 09:17 IST (a new high) and a minute the day did not have (09:45).
    let mut corrected = candle("NSE:NIFTY", "2026-02-02", 2);
    corrected.bar.high = 150.0;
    let new_minute = candle("NSE:NIFTY", "2026-02-02", MINUTES);
    s.save_candles(&[corrected.clone(), new_minute.clone()]).await.unwrap();
    assert!(
        count(&s, "signal_custom_timeframes").await < 6,
        "the buckets the late bars fall in are dropped"
    );
    let (after, _) = uc.bars(&nifty, &Market::nse(), tf, day).await.unwrap();
    assert_eq!(after[0].high, 150.0, "the correction is read over the pack");
    let bars = s
        .candles(&nifty, range("2026-02-02T00:00:00Z", "2026-02-03T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(bars.len(), usize::try_from(MINUTES).unwrap() + 1);
    assert_eq!(bars[2], corrected);
    assert_eq!(bars.last(), Some(&new_minute));

    let report = s.compact(t("2026-02-03T01:00:00Z"), 1_000).await.unwrap();
    assert_eq!((report.series_days, report.rows_folded), (1, 2), "only that series-day");
    let sealed_again = s
        .candles(&nifty, range("2026-02-02T00:00:00Z", "2026-02-03T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(sealed_again, bars);
    assert_eq!(
        count(&s, "candles_1m").await,
        3 * MINUTES,
        "only the open day's rows left"
    );
}

#[tokio::test]
async fn two_instances_sealing_at_once_lose_nothing() {
    let db = FreshDatabase::postgres().await;
    let a = store(&db).await;
    let b = SeaStore::connect(&db.url).await.unwrap();
    write_all(&a).await;
    let before = every_read(&a).await;
    let cut = t("2026-02-04T01:00:00Z");
    let (ra, rb) = tokio::join!(a.compact(cut, 1_000), b.compact(cut, 1_000));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let total = (MINUTES as u64) * 3 * (2 + 3 + 3);
    assert_eq!(ra.rows_folded + rb.rows_folded, total, "{ra:?} {rb:?}");
    // Whatever one skipped while the other held it, a further run finds nothing left.
    let rest = a.compact(cut, 1_000).await.unwrap();
    assert_eq!(rest.rows_folded, 0);
    assert_eq!(count(&a, "signal_greeks").await, 0);
    assert_eq!(every_read(&a).await, before);
}

#[tokio::test]
async fn retention_drops_whole_months_and_the_rest_reads_intact() {
    let db = FreshDatabase::postgres().await;
    let s = store(&db).await;
    write_all(&s).await;
    s.prepare_partitions(t("2026-01-15T00:00:00Z"), t("2026-04-01T00:00:00Z"))
        .await
        .unwrap();
    s.compact(t("2026-02-04T01:00:00Z"), 1_000).await.unwrap();
    // January is wholly sealed: its row partitions gave their pages back.
    for table in [
        "signal_greeks_y2026m01",
        "candles_1m_y2026m01",
        "signal_moneyness_greeks_y2026m01",
    ] {
        assert_eq!(relation_pages(&s, table).await, 0, "{table} truncated");
    }
    assert!(
        relation_pages(&s, "signal_greeks_y2026m02").await > 0,
        "February still has rows"
    );
    let feb = range("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
    let k = key(OPTIONS[0]);
    let february = s.greeks(&k, feb, usize::MAX).await.unwrap();
    assert_eq!(february.len(), 2 * usize::try_from(MINUTES).unwrap());

    // Mid-February: January has ended, February has not. January's level packs refer to its
    // Greeks packs: those stay until the levels go.
    let expiry = NaiveDate::from_ymd_opt(2026, 2, 24).unwrap();
    let jan = range("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
    let nifty = key("NSE:NIFTY");
    let itm1 = |r| s.moneyness(&nifty, expiry, OptionRight::Call, MoneynessLevel::Itm(1), r, usize::MAX);
    let january_levels = itm1(jan).await.unwrap();
    assert_eq!(january_levels.len(), usize::try_from(MINUTES).unwrap());
    let dropped = s
        .drop_months_before(HistoryTable::Greeks, t("2026-02-15T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(dropped, vec!["signal_greeks_y2026m01"]);
    assert_eq!(itm1(jan).await.unwrap(), january_levels, "January's levels read whole");
    let dropped = s
        .drop_months_before(HistoryTable::Moneyness, t("2026-02-15T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        dropped,
        vec![
            "signal_moneyness_packs_y2026m01",
            "signal_chain_packs_y2026m01",
            "signal_moneyness_greeks_y2026m01"
        ]
    );
    let dropped = s
        .drop_months_before(HistoryTable::Greeks, t("2026-02-15T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(dropped, vec!["signal_greeks_packs_y2026m01"]);
    let all = range("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z");
    assert_eq!(
        s.greeks(&k, all, usize::MAX).await.unwrap(),
        february,
        "January gone, February whole"
    );
    assert_eq!(
        s.candles(&k, all).await.unwrap().len(),
        3 * usize::try_from(MINUTES).unwrap(),
        "other tables keep their own retention"
    );
    assert!(
        s.drop_months_before(HistoryTable::Greeks, t("2026-02-15T00:00:00Z"))
            .await
            .unwrap()
            .is_empty(),
        "nothing more to drop"
    );
    // A month prepared ahead takes the rows sealed into it.
    assert_eq!(count(&s, "signal_greeks_packs_y2026m03").await, 0);
}

#[tokio::test]
async fn sqlite_keeps_its_rows_and_upkeep_does_nothing() {
    let db = FreshDatabase::sqlite();
    let s = store(&db).await;
    write_all(&s).await;
    let before = every_read(&s).await;
    assert_eq!(
        s.compact(t("2026-02-04T01:00:00Z"), 1_000).await.unwrap(),
        CompactionReport::default()
    );
    s.prepare_partitions(t("2026-01-01T00:00:00Z"), t("2026-03-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        s.drop_months_before(HistoryTable::Greeks, t("2026-12-01T00:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(count(&s, "signal_greeks").await, 3 * 2 * MINUTES);
    assert_eq!(every_read(&s).await, before);
}

/// A month another instance's retention dropped is made again when a late write needs it,
/// though this instance had seen it: the write goes straight into the month's partition, finds
/// it gone, and retries once after making it.
#[tokio::test]
async fn a_write_into_a_month_another_instance_dropped_makes_it_again() {
    let db = FreshDatabase::postgres().await;
    let a = store(&db).await;
    let b = SeaStore::connect(&db.url).await.unwrap();
    a.save_greeks(&[greeks(OPTIONS[0], "2026-01-30", 0)]).await.unwrap();
    let dropped = b
        .drop_months_before(HistoryTable::Greeks, t("2026-02-15T00:00:00Z"))
        .await
        .unwrap();
    assert!(dropped.contains(&"signal_greeks_y2026m01".to_owned()), "{dropped:?}");
    let late = greeks(OPTIONS[0], "2026-01-30", 1);
    a.save_greeks(std::slice::from_ref(&late)).await.unwrap();
    let got = a
        .greeks(
            &key(OPTIONS[0]),
            range("2026-01-30T00:00:00Z", "2026-01-31T00:00:00Z"),
            10,
        )
        .await
        .unwrap();
    assert_eq!(got, vec![late]);
    assert_eq!(
        count(&a, "signal_greeks_y2026m01").await,
        1,
        "written into its partition"
    );
}
