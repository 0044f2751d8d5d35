//! Migrations up, down and status on a fresh SQLite file and a fresh PostgreSQL database.

use e2e_tests::FreshDatabase;
use migration::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

const TABLES: [&str; 6] = [
    "instruments",
    "candles_1m",
    "signal_greeks",
    "signal_moneyness_greeks",
    "signal_custom_timeframes",
    "signal_computation_metadata",
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
    assert_eq!(Migrator::get_pending_migrations(&db).await.unwrap().len(), 7);
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(tables(&db).await.len(), 6);
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
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.contains(&"candles_1m_start_ms_brin".to_owned()));
    }
    db.close().await.unwrap();
}
