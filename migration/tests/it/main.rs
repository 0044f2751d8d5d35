//! Migrations up, down and status on a fresh SQLite file and a fresh PostgreSQL database.

use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

const TABLES: [&str; 9] = [
    "instruments",
    "candles_1m",
    "signal_greeks",
    "signal_moneyness_greeks",
    "signal_custom_timeframes",
    "signal_computation_metadata",
    "signal_greeks_packs",
    "candles_1m_packs",
    "signal_moneyness_packs",
];

async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .filter(|n| TABLES.contains(&n.as_str()))
        .collect()
}

async fn round_trip(url: &str) -> DatabaseConnection {
    let db = Database::connect(url).await.unwrap();
    assert_eq!(
        Migrator::get_pending_migrations(&db).await.unwrap().len(),
        Migrator::migrations().len()
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(tables(&db).await.len(), TABLES.len());
    assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());
    Migrator::up(&db, None).await.unwrap(); // idempotent
    Migrator::down(&db, None).await.unwrap();
    assert!(tables(&db).await.is_empty(), "down removes every table");
    Migrator::up(&db, None).await.unwrap();
    db
}

#[tokio::test]
async fn migrations_run_up_and_down_on_sqlite() {
    let fresh = FreshDatabase::sqlite();
    round_trip(&fresh.url).await;
}

#[tokio::test]
async fn migrations_run_up_and_down_on_postgres_with_brin_time_indexes() {
    let fresh = FreshDatabase::postgres().await;
    let db = round_trip(&fresh.url).await;
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING brin%' ORDER BY 1",
        ))
        .await
        .unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "indexname").unwrap())
        .collect();
    let timescale = migration::m20261124_000006_time_series::timescale_available(&db)
        .await
        .unwrap();
    if !timescale {
        // Each time-series table is partitioned by month, its BRIN index on the parent (and so
        // on every partition).
        for (table, col) in migration::m20261124_000006_time_series::TIME_SERIES {
            assert!(names.contains(&format!("{table}_{col}_brin")), "{table}: {names:?}");
            assert_eq!(relkind(&db, table).await, "p", "{table} partitioned");
        }
    }
    db.close().await.unwrap();
}

async fn relkind(db: &DatabaseConnection, table: &str) -> String {
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT relkind::text AS k FROM pg_class WHERE oid = to_regclass('{table}')"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<String>("", "k")
    .unwrap()
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT count(*) AS n FROM {table}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

/// An existing database's rows survive the partitioning migration (each in its month's
/// partition, 2019 ones included) and its rollback.
#[tokio::test]
async fn the_partitioning_migration_keeps_existing_rows_and_rolls_back() {
    let fresh = FreshDatabase::postgres().await;
    let db = Database::connect(&fresh.url).await.unwrap();
    if migration::m20261124_000006_time_series::timescale_available(&db)
        .await
        .unwrap()
    {
        return; // hypertables instead: the migration leaves them alone
    }
    let before = Migrator::migrations().len() - 3; // up to the packs, before partitioning
    Migrator::up(&db, Some(u32::try_from(before).unwrap())).await.unwrap();
    assert_eq!(relkind(&db, "signal_greeks").await, "r");
    db.execute_unprepared(
        "INSERT INTO candles_1m (instrument_key, start_ms, open, high, low, close, volume, updated_at_ms) VALUES \
         ('NSE:NIFTY', 1558000740000, 1, 2, 0.5, 1.5, 10, 0), ('NSE:NIFTY', 1558000800000, 1, 2, 0.5, 1.5, 10, 0), \
         ('NSE:NIFTY', 1767225600000, 1, 2, 0.5, 1.5, 10, 0)",
    )
    .await
    .unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(relkind(&db, "candles_1m").await, "p");
    assert_eq!(count(&db, "candles_1m").await, 3);
    assert_eq!(count(&db, "candles_1m_y2019m05").await, 2, "May 2019 has its partition");
    assert_eq!(count(&db, "candles_1m_y2026m01").await, 1);
    Migrator::down(&db, Some(3)).await.unwrap();
    assert_eq!(relkind(&db, "candles_1m").await, "r", "plain again");
    assert_eq!(count(&db, "candles_1m").await, 3);
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(count(&db, "candles_1m").await, 3);
    db.close().await.unwrap();
}

#[tokio::test]
async fn level_packs_of_this_layout_refuse_the_rollback_of_what_they_refer_to() {
    let fresh = FreshDatabase::postgres().await;
    let db = Database::connect(&fresh.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS signal_moneyness_packs_y2026m01 PARTITION OF signal_moneyness_packs \
         FOR VALUES FROM (1767225600000) TO (1769904000000); \
         INSERT INTO signal_moneyness_packs (underlying, expiry, option_right, level, day_ms, first_ms, last_ms, \
         minutes, pack, refs) VALUES ('NSE:NIFTY', '2026-01-27', 'call', 'ATM', 1767225600000, 1767225600000, \
         1767225600000, 1, '\\x02', '{NSE:NIFTY-20260127-25000-CE}')",
    )
    .await
    .unwrap();
    let e = Migrator::down(&db, Some(1)).await.unwrap_err().to_string();
    assert!(e.contains("holds 1 level packs sealed by this release"), "{e}");
    assert_eq!(count(&db, "signal_moneyness_packs").await, 1, "nothing lost");
    // Packs of the layout before (version 1) do not hold it back.
    db.execute_unprepared("UPDATE signal_moneyness_packs SET pack = '\\x01', refs = '{}'")
        .await
        .unwrap();
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(count(&db, "signal_moneyness_packs").await, 1);
    Migrator::up(&db, None).await.unwrap();
    db.close().await.unwrap();
}
