//! PostgreSQL without TimescaleDB: the time-series row tables become partitioned by month
//! (declarative partitioning by range of their `*_ms` column), so a read of a range touches only
//! its months and retention drops whole months.
//!
//! Each table is rebuilt in this migration's transaction: a partitioned copy with the same
//! columns, primary key and BRIN index, one partition per month its rows span plus the current
//! month and the next two, the rows copied over, the old table dropped. The service creates
//! later months ahead of time (its upkeep cycle, and before any write into a month it has not
//! seen). A partition is named `<table>_yYYYYmMM` and holds `[first of the month, first of the
//! next)` UTC in epoch milliseconds.
//!
//! With TimescaleDB the tables are hypertables already (chunked by day, see
//! [`super::m20261124_000006_time_series`]); SQLite keeps plain tables. Both are left alone.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

use super::m20261124_000006_time_series::TIME_SERIES;

/// The partitioning migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The first instant of the month `months` after January 1970 (UTC), epoch milliseconds.
#[must_use]
pub fn month_start_ms(months: i64) -> i64 {
    let year = <i32 as TryFrom<i64>>::try_from(1970 + months.div_euclid(12)).unwrap_or(i32::MAX);
    let month = <u32 as TryFrom<i64>>::try_from(months.rem_euclid(12) + 1).unwrap_or(1);
    chrono::NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(i64::MAX, |t| t.and_utc().timestamp_millis())
}

/// The month index (months after January 1970) holding the instant `ms`.
#[must_use]
pub fn month_of_ms(ms: i64) -> i64 {
    use chrono::Datelike;
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    (i64::from(t.year()) - 1970) * 12 + i64::from(t.month0())
}

/// The partition of `table` for month index `m`.
#[must_use]
pub fn partition_name(table: &str, m: i64) -> String {
    format!("{table}_y{:04}m{:02}", 1970 + m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// The statement creating `table`'s partition for month index `m`.
#[must_use]
pub fn create_partition_sql(table: &str, m: i64) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS \"{}\" PARTITION OF \"{table}\" FOR VALUES FROM ({}) TO ({})",
        partition_name(table, m),
        month_start_ms(m),
        month_start_ms(m + 1)
    )
}

/// Whether `table` is partitioned already (or a hypertable, which this leaves alone).
async fn partitioned_or_hypertable(conn: &SchemaManagerConnection<'_>, table: &str) -> Result<bool, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT (c.relkind = 'p') OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid) AS done \
             FROM pg_class c WHERE c.oid = to_regclass($1)",
            [table.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<bool>("", "done").unwrap_or(false))
        .unwrap_or(false))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let conn = manager.get_connection();
        if super::m20261207_000010_timescale_compression::timescale_installed(conn).await? {
            // Hypertables already (chunked by day; compressed by the next migration).
            return Ok(());
        }
        let now_ms = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT (extract(epoch FROM now()) * 1000)::bigint AS now_ms",
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "now_ms"))
            .transpose()?
            .unwrap_or(0);
        for (table, col) in TIME_SERIES {
            if partitioned_or_hypertable(conn, table).await? {
                continue;
            }
            let old = format!("{table}_unpartitioned");
            conn.execute_unprepared(&format!("ALTER TABLE \"{table}\" RENAME TO \"{old}\""))
                .await?;
            conn.execute_unprepared(&format!(
                "ALTER INDEX IF EXISTS \"{table}_pkey\" RENAME TO \"{old}_pkey\""
            ))
            .await?;
            conn.execute_unprepared(&format!("DROP INDEX IF EXISTS \"{table}_{col}_brin\""))
                .await?;
            let key: String = conn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n) AS cols \
                     FROM pg_index x CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) \
                     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum \
                     WHERE x.indrelid = to_regclass($1) AND x.indisprimary",
                    [old.clone().into()],
                ))
                .await?
                .map(|r| r.try_get::<String>("", "cols"))
                .transpose()?
                .ok_or_else(|| DbErr::Migration(format!("{table} has no primary key")))?;
            conn.execute_unprepared(&format!(
                "CREATE TABLE \"{table}\" (LIKE \"{old}\" INCLUDING DEFAULTS INCLUDING CONSTRAINTS, \
                 PRIMARY KEY ({key})) PARTITION BY RANGE ({col})"
            ))
            .await?;
            conn.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS \"{table}_{col}_brin\" ON \"{table}\" USING BRIN ({col})"
            ))
            .await?;
            let span = conn
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT min({col}) AS lo, max({col}) AS hi FROM \"{old}\""),
                ))
                .await?;
            let (lo, hi) = span
                .map(|r| (r.try_get::<Option<i64>>("", "lo"), r.try_get::<Option<i64>>("", "hi")))
                .map(|(a, b)| (a.ok().flatten(), b.ok().flatten()))
                .unwrap_or((None, None));
            let now = month_of_ms(now_ms);
            let first = lo.map_or(now, |lo| Ord::min(month_of_ms(lo), now));
            let last = hi.map_or(now + 2, |hi| Ord::max(month_of_ms(hi), now + 2));
            for m in first..=last {
                conn.execute_unprepared(&create_partition_sql(table, m)).await?;
            }
            conn.execute_unprepared(&format!("INSERT INTO \"{table}\" SELECT * FROM \"{old}\""))
                .await?;
            conn.execute_unprepared(&format!("DROP TABLE \"{old}\"")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let conn = manager.get_connection();
        for (table, col) in TIME_SERIES {
            let is_partitioned = conn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT relkind = 'p' AS p FROM pg_class WHERE oid = to_regclass($1)",
                    [table.into()],
                ))
                .await?
                .map(|r| r.try_get::<bool>("", "p").unwrap_or(false))
                .unwrap_or(false);
            if !is_partitioned {
                continue;
            }
            let plain = format!("{table}_plain");
            conn.execute_unprepared(&format!(
                "CREATE TABLE \"{plain}\" (LIKE \"{table}\" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
            ))
            .await?;
            conn.execute_unprepared(&format!("INSERT INTO \"{plain}\" SELECT * FROM \"{table}\""))
                .await?;
            conn.execute_unprepared(&format!("DROP TABLE \"{table}\"")).await?;
            conn.execute_unprepared(&format!("ALTER TABLE \"{plain}\" RENAME TO \"{table}\""))
                .await?;
            conn.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS \"{table}_{col}_brin\" ON \"{table}\" USING BRIN ({col})"
            ))
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_counted_from_1970_and_bounded_at_utc_midnight() {
        assert_eq!(month_start_ms(0), 0);
        assert_eq!(month_start_ms(1), 31 * 86_400_000);
        // 2026-12-01T00:00:00Z.
        let dec_2026 = (2026 - 1970) * 12 + 11;
        assert_eq!(month_start_ms(dec_2026), 1_796_083_200_000);
        assert_eq!(month_of_ms(1_796_083_200_000), dec_2026);
        assert_eq!(month_of_ms(1_796_083_199_999), dec_2026 - 1);
        assert_eq!(partition_name("candles_1m", dec_2026), "candles_1m_y2026m12");
        // 2024 is a leap year: March starts 29 days after February.
        let feb_2024 = (2024 - 1970) * 12 + 1;
        assert_eq!(month_start_ms(feb_2024 + 1) - month_start_ms(feb_2024), 29 * 86_400_000);
        assert_eq!(
            create_partition_sql("t", dec_2026),
            "CREATE TABLE IF NOT EXISTS \"t_y2026m12\" PARTITION OF \"t\" FOR VALUES FROM (1796083200000) TO (1798761600000)"
        );
    }
}
