//! Monthly partitions of the partitioned tables (PostgreSQL declarative partitioning by range of
//! an epoch-millisecond column): created ahead of the rows they take, dropped whole by retention.
//!
//! A partition is named `<table>_yYYYYmMM` and holds `[first of the month, first of the next)`
//! UTC. Creating one takes an `ACCESS EXCLUSIVE` lock on the parent for an instant, so it is
//! done once per month and table (remembered in this process), outside the write transactions,
//! under an advisory lock so two instances do not race on the catalogue.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

/// Partitions known to exist in one database (a store's; clones share it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Known(Arc<Mutex<HashSet<String>>>);

impl Known {
    fn has(&self, name: &str) -> bool {
        self.0.lock().is_ok_and(|k| k.contains(name))
    }

    /// Forgets every partition (another instance's retention may have dropped some).
    pub(crate) fn forget(&self) {
        if let Ok(mut k) = self.0.lock() {
            k.clear();
        }
    }

    fn set(&self, name: String, exists: bool) {
        if let Ok(mut k) = self.0.lock() {
            if exists {
                k.insert(name);
            } else {
                k.remove(&name);
            }
        }
    }
}

/// A calendar month (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Month {
    /// Year.
    pub(crate) year: i32,
    /// Month, 1–12.
    pub(crate) month: u32,
}

impl Month {
    /// The month holding the instant `ms`.
    pub(crate) fn of_ms(ms: i64) -> Self {
        let t = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
        Self {
            year: t.year(),
            month: t.month(),
        }
    }

    /// The next month.
    pub(crate) fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its first instant, epoch milliseconds.
    pub(crate) fn start_ms(self) -> i64 {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(0, |t| t.and_utc().timestamp_millis())
    }

    /// The partition of `table` for this month.
    pub(crate) fn partition(self, table: &str) -> String {
        format!("{table}_y{:04}m{:02}", self.year, self.month)
    }

    /// The month a partition name of `table` stands for.
    pub(crate) fn parse(table: &str, partition: &str) -> Option<Self> {
        let rest = partition.strip_prefix(table)?.strip_prefix("_y")?;
        let (year, month) = rest.split_once('m')?;
        let (year, month) = (year.parse().ok()?, month.parse().ok()?);
        (1..=12).contains(&month).then_some(Self { year, month })
    }
}

/// The statement creating `table`'s partition for `month`.
pub(crate) fn create_sql(table: &str, month: Month) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS \"{}\" PARTITION OF \"{table}\" FOR VALUES FROM ({}) TO ({})",
        month.partition(table),
        month.start_ms(),
        month.next().start_ms()
    )
}

/// Makes sure `table` has its partition for `month`.
///
/// # Errors
/// The database's.
pub(crate) async fn ensure(
    db: &DatabaseConnection,
    known: &Known,
    table: &str,
    month: Month,
) -> Result<(), sea_orm::DbErr> {
    let name = month.partition(table);
    if known.has(&name) {
        return Ok(());
    }
    let tx = db.begin().await?;
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        ["signal-service partitions".into()],
    ))
    .await?;
    tx.execute_unprepared(&create_sql(table, month)).await?;
    tx.commit().await?;
    known.set(name, true);
    Ok(())
}

/// The months `table` has partitions for, oldest first.
///
/// # Errors
/// The database's.
pub(crate) async fn months(db: &DatabaseConnection, table: &str) -> Result<Vec<Month>, sea_orm::DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = to_regclass($1)",
            [table.into()],
        ))
        .await?;
    let mut out: Vec<Month> = rows
        .iter()
        .filter_map(|r| r.try_get::<String>("", "name").ok())
        .filter_map(|n| Month::parse(table, &n))
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// Drops `table`'s partitions whose whole month ends at or before `before_ms`; returns their
/// names.
///
/// # Errors
/// The database's.
pub(crate) async fn drop_before(
    db: &DatabaseConnection,
    known: &Known,
    table: &str,
    before_ms: i64,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let mut dropped = Vec::new();
    for month in months(db, table).await? {
        if month.next().start_ms() > before_ms {
            break;
        }
        let name = month.partition(table);
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS \"{name}\""))
            .await?;
        known.set(name.clone(), false);
        dropped.push(name);
    }
    Ok(dropped)
}

/// Whether the relation `name` holds any row (an error reading it counts as yes).
///
/// # Errors
/// The database's.
pub(crate) async fn has_rows(conn: &impl ConnectionTrait, name: &str) -> Result<bool, sea_orm::DbErr> {
    Ok(conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT EXISTS (SELECT 1 FROM \"{name}\") AS any"),
        ))
        .await?
        .is_some_and(|r| r.try_get::<bool>("", "any").unwrap_or(true)))
}

/// Index bytes under which a partition without heap pages is left alone (an empty one's
/// indexes take 56 KiB on PostgreSQL 15; a little bloat is not worth a lock).
const SMALL_INDEX_BYTES: i64 = 128 * 1024;

/// Gives back the space of `table`'s partitions of months that end at or before `sealed_ms`
/// and hold no rows any more (every day sealed into packs): `TRUNCATE`, which also empties
/// their indexes (plain `VACUUM` leaves index pages allocated). Each under an exclusive lock
/// taken without waiting (a busy partition waits for the next cycle) and checked empty under
/// it, so a row written meanwhile is never lost. Returns the partitions emptied.
///
/// # Errors
/// The database's.
pub(crate) async fn truncate_sealed(
    db: &DatabaseConnection,
    table: &str,
    sealed_ms: i64,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let mut emptied = Vec::new();
    for month in months(db, table).await? {
        if month.next().start_ms() > sealed_ms {
            break;
        }
        let name = month.partition(table);
        let worth = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_relation_size(to_regclass($1)) > 0 OR pg_indexes_size(to_regclass($1)) > $2 AS worth",
                [name.clone().into(), SMALL_INDEX_BYTES.into()],
            ))
            .await?
            .is_some_and(|r| r.try_get::<bool>("", "worth").unwrap_or(false));
        if !worth {
            continue;
        }
        let tx = db.begin().await?;
        if tx
            .execute_unprepared(&format!("LOCK TABLE \"{name}\" IN ACCESS EXCLUSIVE MODE NOWAIT"))
            .await
            .is_err()
        {
            tx.rollback().await?;
            continue;
        }
        if has_rows(&tx, &name).await? {
            tx.rollback().await?;
            continue;
        }
        tx.execute_unprepared(&format!("TRUNCATE \"{name}\"")).await?;
        tx.commit().await?;
        emptied.push(name);
    }
    Ok(emptied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_name_their_partitions_and_bound_them_at_utc_midnight() {
        let m = Month::of_ms(1_765_000_000_000); // 2025-12-06
        assert_eq!(m, Month { year: 2025, month: 12 });
        assert_eq!(m.partition("candles_1m_packs"), "candles_1m_packs_y2025m12");
        assert_eq!(m.next(), Month { year: 2026, month: 1 });
        assert_eq!(m.start_ms(), 1_764_547_200_000);
        assert_eq!(
            create_sql("t", m),
            "CREATE TABLE IF NOT EXISTS \"t_y2025m12\" PARTITION OF \"t\" FOR VALUES FROM (1764547200000) TO (1767225600000)"
        );
        assert_eq!(Month::parse("t", "t_y2025m12"), Some(m));
        assert_eq!(Month::parse("t", "t_y2025m13"), None);
        assert_eq!(Month::parse("t", "u_y2025m12"), None);
        assert_eq!(Month::parse("t", "t_default"), None);
    }
}
