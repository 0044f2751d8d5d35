//! The compaction job: folds each sealed series-day of the row tables into its pack.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, FromQueryResult, Statement, TransactionTrait,
    Value,
};

use super::CHAIN_PACKS;
use super::levels::Referred;
use super::packs::{Spec, candles_spec, greeks_spec, moneyness_spec};
use super::partitions::{self, Month};
use super::references::{self, Candidates};
use super::{DAY_MS, day_of};
use crate::outbound::store::db_error;
use domain::ports::{CompactionReport, PortError};

/// Folds the rows of every UTC day that ended at or before `sealed_before_ms` into packs, at
/// most `max_series_days` series-days per table in this call ([`CompactionReport::more`] says
/// whether some are left). PostgreSQL only.
///
/// # Errors
/// The database's failure; series-days already folded stay folded.
pub async fn compact(
    db: &DatabaseConnection,
    known: &partitions::Known,
    sealed_before_ms: i64,
    max_series_days: usize,
) -> Result<CompactionReport, PortError> {
    let sealed = day_of(sealed_before_ms);
    let mut report = CompactionReport::default();
    report += fold_table(db, known, &greeks_spec(), sealed, max_series_days).await?;
    report += fold_table(db, known, &candles_spec(), sealed, max_series_days).await?;
    // Levels are sealed once their options' Greeks are (they refer to them: `levels.rs`).
    if !report.more {
        report += fold_table(db, known, &moneyness_spec(), sealed, max_series_days).await?;
    }
    Ok(report)
}

/// The series-days of `relation`'s rows in `[$1, $2)`, oldest day first.
pub(crate) fn candidates_sql(relation: &str, keys: &[&str], time: &str, limit: usize) -> String {
    let keys = keys.join(", ");
    format!(
        "SELECT DISTINCT {keys}, ({time} / {DAY_MS}) * {DAY_MS} AS day_ms FROM \"{relation}\" \
         WHERE {time} >= $1 AND {time} < $2 ORDER BY day_ms, {keys} LIMIT {limit}"
    )
}

/// Where sealed rows may be, oldest first, each as (relation, from, to): the month partitions
/// that begin before `sealed`, cut at it, day by day (so a backlog of months is never scanned
/// whole in one statement); a table not partitioned, whole.
async fn scopes(db: &DatabaseConnection, rows: &str, sealed: i64) -> Result<Vec<(String, i64, i64)>, PortError> {
    let months = partitions::months(db, rows).await.map_err(db_error)?;
    if months.is_empty() {
        return Ok(vec![(rows.to_owned(), i64::MIN, sealed)]);
    }
    let mut out = Vec::new();
    for m in months.into_iter().filter(|m| m.start_ms() < sealed) {
        let (name, end) = (m.partition(rows), m.next().start_ms().min(sealed));
        if !partitions::has_rows(db, &name).await.map_err(db_error)? {
            continue; // wholly sealed, or never written
        }
        let mut day = m.start_ms();
        while day < end {
            out.push((name.clone(), day, (day + DAY_MS).min(end)));
            day += DAY_MS;
        }
    }
    Ok(out)
}

async fn fold_table<M>(
    db: &DatabaseConnection,
    known: &partitions::Known,
    spec: &Spec<M>,
    sealed: i64,
    max: usize,
) -> Result<CompactionReport, PortError>
where
    M: FromQueryResult + Clone + Send + Sync,
{
    let mut report = CompactionReport::default();
    let mut candidates = Candidates::default();
    let mut left = max;
    for (relation, from, to) in scopes(db, spec.rows, sealed).await? {
        let found = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                candidates_sql(&relation, spec.keys, spec.time, left + 1),
                [from.into(), to.into()],
            ))
            .await
            .map_err(db_error)?;
        if found.len() > left {
            report.more = true;
        }
        let take = left.min(found.len());
        left -= take;
        fold_found(db, known, spec, &found[..take], &mut candidates, &mut report).await?;
        if report.more {
            break;
        }
    }
    Ok(report)
}

/// Folds each series-day of `found` (candidate rows: the key columns and `day_ms`).
async fn fold_found<M>(
    db: &DatabaseConnection,
    known: &partitions::Known,
    spec: &Spec<M>,
    found: &[sea_orm::QueryResult],
    candidates: &mut Candidates,
    report: &mut CompactionReport,
) -> Result<(), PortError>
where
    M: FromQueryResult + Clone + Send + Sync,
{
    for r in found {
        let mut series = Vec::with_capacity(spec.keys.len());
        for k in spec.keys {
            series.push(r.try_get::<String>("", k).map_err(db_error)?);
        }
        let day: i64 = r.try_get("", "day_ms").map_err(db_error)?;
        partitions::ensure(db, known, spec.packs, Month::of_ms(day))
            .await
            .map_err(db_error)?;
        if spec.refers {
            partitions::ensure(db, known, CHAIN_PACKS, Month::of_ms(day))
                .await
                .map_err(db_error)?;
        }
        let tx = db.begin().await.map_err(db_error)?;
        match fold_one(&tx, spec, &series, day, candidates).await {
            Ok(Some(rows)) => {
                tx.commit().await.map_err(db_error)?;
                report.series_days += 1;
                report.rows_folded += rows;
            }
            Ok(None) => {
                tx.rollback().await.map_err(db_error)?;
                report.skipped_busy += 1;
            }
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        }
    }
    Ok(())
}

/// `k1 = $1 AND k2 = $2 …` of the series key columns.
fn series_filter(keys: &[&str]) -> String {
    let mut s = String::new();
    for (i, k) in keys.iter().enumerate() {
        let _ = write!(s, "{}{k} = ${}", if i == 0 { "" } else { " AND " }, i + 1);
    }
    s
}

/// Folds one series-day; `None` when another instance holds it.
async fn fold_one<M>(
    tx: &DatabaseTransaction,
    spec: &Spec<M>,
    series: &[String],
    day: i64,
    candidates: &mut Candidates,
) -> Result<Option<u64>, PortError>
where
    M: FromQueryResult + Clone + Send + Sync,
{
    let lock_key = format!("{}|{}|{day}", spec.rows, series.join("|"));
    let locked = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked",
            [lock_key.into()],
        ))
        .await
        .map_err(db_error)?
        .map(|r| r.try_get::<bool>("", "locked"))
        .transpose()
        .map_err(db_error)?
        .unwrap_or(false);
    if !locked {
        return Ok(None);
    }
    if spec.refers {
        references::lock(tx, &series[0], day).await?;
    }
    let n = spec.keys.len();
    let mut values: Vec<Value> = series.iter().map(|s| s.clone().into()).collect();
    values.push(day.into());
    values.push((day + DAY_MS).into());
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT * FROM {} WHERE {} AND {t} >= ${} AND {t} < ${} ORDER BY {t} FOR UPDATE",
                spec.rows,
                series_filter(spec.keys),
                n + 1,
                n + 2,
                t = spec.time
            ),
            values.clone(),
        ))
        .await
        .map_err(db_error)?;
    if rows.is_empty() {
        return Ok(Some(0));
    }
    let rows: Vec<M> = rows
        .iter()
        .map(|r| M::from_query_result(r, ""))
        .collect::<Result<_, _>>()
        .map_err(db_error)?;
    let mut key_values: Vec<Value> = series.iter().map(|s| s.clone().into()).collect();
    key_values.push(day.into());
    let existing = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT pack{} FROM {} WHERE {} AND day_ms = ${} FOR UPDATE",
                if spec.refers { ", refs" } else { "" },
                spec.packs,
                series_filter(spec.keys),
                n + 1
            ),
            key_values.clone(),
        ))
        .await
        .map_err(db_error)?;
    let existing_refs: Vec<String> = match &existing {
        Some(e) if spec.refers => e.try_get("", "refs").map_err(db_error)?,
        _ => Vec::new(),
    };
    let (offered, existing_referred) = if spec.refers {
        candidates.load(tx, series, day, &existing_refs).await?
    } else {
        (Referred::default(), Referred::default())
    };
    let mut merged: BTreeMap<i64, M> = BTreeMap::new();
    let mut old_pack: Option<Vec<u8>> = None;
    if let Some(e) = existing {
        let bytes: Vec<u8> = e.try_get("", "pack").map_err(db_error)?;
        for m in (spec.unpack)(series, &bytes, &existing_referred)
            .map_err(|e| PortError::Other(format!("{}: {e}", spec.packs)))?
        {
            merged.insert((spec.minute)(&m), m);
        }
        old_pack = Some(bytes);
    }
    let minutes: Vec<i64> = rows.iter().map(spec.minute).collect();
    for m in rows {
        merged.insert((spec.minute)(&m), m);
    }
    let merged: Vec<M> = merged.into_values().collect();
    let packed = (spec.pack)(&merged, &offered);
    let (first, last) = (
        merged.first().map_or(day, spec.minute),
        merged.last().map_or(day, spec.minute),
    );
    let keys = spec.keys.join(", ");
    let mut upsert = key_values;
    upsert.extend([
        first.into(),
        last.into(),
        i32::try_from(merged.len()).unwrap_or(i32::MAX).into(),
        packed.bytes.clone().into(),
    ]);
    let (refs_column, refs_set) = if spec.refers {
        upsert.push(references::texts(&packed.refs));
        (", refs", ", refs = excluded.refs")
    } else {
        ("", "")
    };
    let params = n + 5 + usize::from(spec.refers);
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "INSERT INTO {} ({keys}, day_ms, first_ms, last_ms, minutes, pack{refs_column}) VALUES ({}) \
             ON CONFLICT ({keys}, day_ms) DO UPDATE SET first_ms = excluded.first_ms, \
             last_ms = excluded.last_ms, minutes = excluded.minutes, pack = excluded.pack{refs_set}",
            spec.packs,
            (1..=params).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
        ),
        upsert,
    ))
    .await
    .map_err(db_error)?;
    if let (true, Some(old)) = (spec.referred, &old_pack) {
        // A sealed day's Greeks changed: the level packs pointing at them follow.
        if let Some(underlying) = references::underlying_of(tx, &series[0]).await? {
            references::lock(tx, &underlying, day).await?;
        }
        references::repack_dependents(tx, &series[0], day, old, &packed.bytes).await?;
    }
    // The exact minutes read and locked: a row inserted since is left for the next run.
    let list: Vec<String> = minutes.iter().map(i64::to_string).collect();
    let key_only: Vec<Value> = series.iter().map(|s| s.clone().into()).collect();
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "DELETE FROM {} WHERE {} AND {} IN ({})",
            spec.rows,
            series_filter(spec.keys),
            spec.time,
            list.join(", ")
        ),
        key_only,
    ))
    .await
    .map_err(db_error)?;
    Ok(Some(minutes.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_candidate_query_names_each_series_day_before_the_seal() {
        assert_eq!(
            candidates_sql("signal_greeks_y2026m10", &["instrument_key"], "minute_ms", 101),
            "SELECT DISTINCT instrument_key, (minute_ms / 86400000) * 86400000 AS day_ms FROM \"signal_greeks_y2026m10\" \
             WHERE minute_ms >= $1 AND minute_ms < $2 ORDER BY day_ms, instrument_key LIMIT 101"
        );
        assert_eq!(series_filter(&["a", "b"]), "a = $1 AND b = $2");
    }
}
