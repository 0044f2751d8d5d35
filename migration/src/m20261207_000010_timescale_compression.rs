//! With TimescaleDB: native compression of the hypertables (made by
//! [`super::m20261124_000006_time_series`]), segmented by series and ordered by time, and a
//! policy compressing each chunk (a day) once it is a day old. The read path is unchanged:
//! TimescaleDB decompresses transparently, and the service's own compaction into packs
//! (`store/compact`) stands aside on hypertables. Retention then drops whole chunks
//! (`drop_chunks`).
//!
//! The time columns are epoch milliseconds (`BIGINT`), so TimescaleDB is told how to read "now"
//! in that unit (`signal_now_ms()`, `set_integer_now_func`) before a policy can use it.
//!
//! Without the extension (the project machine, SQLite) nothing runs; [`statements`] is what
//! would, and its test checks it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

/// (table, time column, segment-by columns) of every hypertable.
pub const COMPRESSED: [(&str, &str, &str); 4] = [
    ("candles_1m", "start_ms", "instrument_key"),
    ("signal_greeks", "minute_ms", "instrument_key"),
    (
        "signal_moneyness_greeks",
        "minute_ms",
        "underlying, expiry, option_right, level",
    ),
    (
        "signal_custom_timeframes",
        "bucket_start_ms",
        "instrument_key, timeframe",
    ),
];

/// A chunk is compressed once it is this old (milliseconds): one day.
pub const COMPRESS_AFTER_MS: i64 = 86_400_000;

/// The statements that turn compression on, in order.
#[must_use]
pub fn statements() -> Vec<String> {
    let mut out = vec![
        "CREATE OR REPLACE FUNCTION signal_now_ms() RETURNS BIGINT LANGUAGE SQL STABLE AS \
         $$ SELECT (extract(epoch FROM now()) * 1000)::bigint $$"
            .to_owned(),
    ];
    for (table, time, segment_by) in COMPRESSED {
        out.push(format!(
            "ALTER TABLE {table} SET (timescaledb.compress, timescaledb.compress_segmentby = '{segment_by}', \
             timescaledb.compress_orderby = '{time}')"
        ));
        out.push(format!(
            "SELECT set_integer_now_func('{table}', 'signal_now_ms', replace_if_exists => TRUE)"
        ));
        out.push(format!(
            "SELECT add_compression_policy('{table}', compress_after => {COMPRESS_AFTER_MS}::bigint, if_not_exists => TRUE)"
        ));
    }
    out
}

/// The statements that turn it off again.
#[must_use]
pub fn undo_statements() -> Vec<String> {
    COMPRESSED
        .iter()
        .map(|(table, _, _)| format!("SELECT remove_compression_policy('{table}', if_exists => TRUE)"))
        .collect()
}

/// Drops `table`'s chunks wholly older than `before_ms` (retention on a hypertable).
#[must_use]
pub fn drop_chunks_sql(table: &str, before_ms: i64) -> String {
    format!("SELECT drop_chunks('{table}', older_than => {before_ms}::bigint)")
}

/// Whether the `timescaledb` extension is installed in this database.
///
/// # Errors
/// The query's error.
pub async fn timescale_installed(conn: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_extension WHERE extname = 'timescaledb'",
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n").unwrap_or(0) > 0).unwrap_or(false))
}

/// The compression migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres
            || !timescale_installed(manager.get_connection()).await?
        {
            return Ok(());
        }
        for sql in statements() {
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres
            || !timescale_installed(manager.get_connection()).await?
        {
            return Ok(());
        }
        for sql in undo_statements() {
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_segmented_by_series_ordered_by_time_and_policed_after_a_day() {
        let s = statements();
        assert_eq!(s.len(), 1 + 3 * COMPRESSED.len());
        assert!(s[0].starts_with("CREATE OR REPLACE FUNCTION signal_now_ms() RETURNS BIGINT"));
        assert_eq!(
            s[1],
            "ALTER TABLE candles_1m SET (timescaledb.compress, timescaledb.compress_segmentby = 'instrument_key', \
             timescaledb.compress_orderby = 'start_ms')"
        );
        assert_eq!(
            s[2],
            "SELECT set_integer_now_func('candles_1m', 'signal_now_ms', replace_if_exists => TRUE)"
        );
        assert_eq!(
            s[3],
            "SELECT add_compression_policy('candles_1m', compress_after => 86400000::bigint, if_not_exists => TRUE)"
        );
        assert_eq!(
            s[7],
            "ALTER TABLE signal_moneyness_greeks SET (timescaledb.compress, timescaledb.compress_segmentby = \
             'underlying, expiry, option_right, level', timescaledb.compress_orderby = 'minute_ms')"
        );
        // Every hypertable gets its three statements.
        for (table, _, _) in COMPRESSED {
            assert_eq!(
                s.iter()
                    .filter(|x| x.contains(&format!("'{table}'")) || x.contains(&format!("TABLE {table} ")))
                    .count(),
                3,
                "{table}"
            );
        }
        assert_eq!(
            undo_statements()[1],
            "SELECT remove_compression_policy('signal_greeks', if_exists => TRUE)"
        );
        assert_eq!(
            drop_chunks_sql("signal_greeks", 1_767_225_600_000),
            "SELECT drop_chunks('signal_greeks', older_than => 1767225600000::bigint)"
        );
    }
}
