//! Reads over both layouts: a series' pack minutes in a range, merged with its rows (a row wins
//! over the pack's minute it repeats), and the newest minute of a series in a range.
//!
//! Every query names the series and bounds `day_ms` on both sides, so PostgreSQL prunes the
//! months outside the range and walks the primary key inside them.

use std::collections::BTreeMap;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement, Value};

use super::codec::CodecError;
use super::levels::{ChainDay, OptionDay, Referred};
use super::packs::{Spec, unpack_greeks};
use super::{DAY_MS, day_of};
use crate::outbound::store::db_error;
use domain::ports::PortError;

/// Packs fetched per round trip when a read has a row limit.
const PAGE: usize = 16;

fn unpacked<M>(spec: &Spec<M>, series: &[String], row: &QueryResult) -> Result<Vec<M>, PortError> {
    let bytes: Vec<u8> = row.try_get("", "pack").map_err(db_error)?;
    let referred = if spec.refers {
        let refs: Vec<String> = row.try_get("", "refs").map_err(db_error)?;
        let keys: Vec<String> = row.try_get("", "ref_keys").map_err(db_error)?;
        let packs: Vec<Vec<u8>> = row.try_get("", "ref_packs").map_err(db_error)?;
        let chain: Option<Vec<u8>> = row.try_get("", "chain_pack").map_err(db_error)?;
        Referred {
            options: option_days(&refs, &keys, &packs)
                .map_err(|e| PortError::Other(format!("signal_greeks_packs: {e}")))?,
            chain: chain
                .map(|c| ChainDay::unpack(&c))
                .transpose()
                .map_err(|e| PortError::Other(format!("signal_chain_packs: {e}")))?
                .unwrap_or_default(),
        }
    } else {
        Referred::default()
    };
    (spec.unpack)(series, &bytes, &referred).map_err(|e| PortError::Other(format!("{}: {e}", spec.packs)))
}

/// For a table whose packs refer to options' Greeks (`spec.refers`), the columns that bring
/// them in the same statement (one snapshot: a Greeks pack rewritten meanwhile cannot be paired
/// with a level pack packed against the old one): the pack row's `refs`, the referred packs
/// with their keys, both in key order, and the chain day's pack. `lo` and `hi` bound their days (the read's range,
/// so that the plan looks into its months only). The pack table is aliased `p`.
fn refs_columns<M>(spec: &Spec<M>, lo: &str, hi: &str) -> String {
    if !spec.refers {
        return String::new();
    }
    let of = |column: &str| {
        format!(
            "ARRAY(SELECT g.{column} FROM signal_greeks_packs g WHERE g.instrument_key = ANY(p.refs) \
             AND g.day_ms = p.day_ms AND g.day_ms >= {lo} AND g.day_ms < {hi} ORDER BY g.instrument_key)"
        )
    };
    format!(
        ", p.refs, {} AS ref_keys, {} AS ref_packs, (SELECT c.pack FROM signal_chain_packs c \
         WHERE c.underlying = p.underlying AND c.expiry = p.expiry AND c.day_ms = p.day_ms \
         AND c.day_ms >= {lo} AND c.day_ms < {hi}) AS chain_pack",
        of("instrument_key"),
        of("pack")
    )
}

/// `refs` with their Greeks from the packs `packs` of `keys` (as [`refs_columns`] gave them).
fn option_days(refs: &[String], keys: &[String], packs: &[Vec<u8>]) -> Result<Vec<OptionDay>, CodecError> {
    refs.iter()
        .map(|k| {
            let rows = match keys.iter().position(|x| x == k) {
                Some(i) => unpack_greeks(k, packs.get(i).map_or(&[][..], Vec::as_slice))?,
                None => Vec::new(),
            };
            Ok(OptionDay {
                key: k.clone(),
                rows: Arc::new(rows),
            })
        })
        .collect()
}

fn filter(keys: &[&str]) -> String {
    keys.iter()
        .enumerate()
        .map(|(i, k)| format!("{k} = ${}", i + 1))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `rows` of one series in `[from, to)` (ascending, at most `limit`, as the row table gave
/// them) with its pack minutes in the same range: ascending, at most `limit`.
///
/// # Errors
/// The database's failure, or a corrupt pack.
pub(crate) async fn merged<M>(
    db: &DatabaseConnection,
    spec: &Spec<M>,
    series: &[String],
    (from, to): (i64, i64),
    limit: usize,
    rows: Vec<M>,
) -> Result<Vec<M>, PortError> {
    let n = spec.keys.len();
    let sql = format!(
        "SELECT p.day_ms, p.pack{} FROM {} p WHERE {} AND day_ms >= ${} AND day_ms < ${} AND last_ms >= ${} \
         ORDER BY day_ms LIMIT {PAGE}",
        refs_columns(spec, &format!("${}", n + 1), &format!("${}", n + 2)),
        spec.packs,
        filter(spec.keys),
        n + 1,
        n + 2,
        n + 3
    );
    let mut all: BTreeMap<i64, M> = BTreeMap::new();
    let mut next_day = day_of(from);
    loop {
        let mut values: Vec<Value> = series.iter().map(|s| s.clone().into()).collect();
        values.extend([next_day.into(), to.into(), from.into()]);
        let page = db
            .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql.clone(), values))
            .await
            .map_err(db_error)?;
        for p in &page {
            let day: i64 = p.try_get("", "day_ms").map_err(db_error)?;
            next_day = day + DAY_MS;
            for m in unpacked(spec, series, p)? {
                let t = (spec.minute)(&m);
                if (from..to).contains(&t) {
                    all.insert(t, m);
                }
            }
        }
        // Enough minutes before the next unread day: later packs cannot come first.
        let rows_before = rows.iter().filter(|r| (spec.minute)(r) < next_day).count();
        if page.len() < PAGE || all.len() + rows_before >= limit {
            break;
        }
    }
    if all.is_empty() {
        return Ok(rows);
    }
    for r in rows {
        all.insert((spec.minute)(&r), r);
    }
    Ok(all.into_values().take(limit).collect())
}

/// The pack minutes in `[from, to)` of each of `keys` (a table keyed by one column), ascending
/// per key, keys in the order the database sorts them.
///
/// # Errors
/// The database's failure, or a corrupt pack.
pub(crate) async fn of_keys<M>(
    db: &DatabaseConnection,
    spec: &Spec<M>,
    keys: &[&str],
    range: (i64, i64),
) -> Result<Vec<M>, PortError> {
    let packs = per_key(db, spec, keys, range, "", "ORDER BY {key}, day_ms").await?;
    Ok(packs.into_iter().flatten().collect())
}

/// The newest pack minute in `[from, to)` of each of `keys` (a table keyed by one column).
///
/// The newest pack that starts before `to` and ends at or after `from` decides: older packs
/// hold only earlier minutes.
///
/// # Errors
/// The database's failure, or a corrupt pack.
pub(crate) async fn newest_of_keys<M>(
    db: &DatabaseConnection,
    spec: &Spec<M>,
    keys: &[&str],
    range: (i64, i64),
) -> Result<Vec<M>, PortError> {
    let packs = per_key(
        db,
        spec,
        keys,
        range,
        "DISTINCT ON ({key})",
        "AND first_ms < $TO ORDER BY {key}, day_ms DESC",
    )
    .await?;
    Ok(packs.into_iter().filter_map(|p| p.into_iter().last()).collect())
}

/// The packs of `keys` overlapping `[from, to)`, each as its minutes in the range: `SELECT
/// {distinct} … WHERE key IN (…) AND day_ms in range AND last_ms >= from {tail}`, where `{key}`
/// stands for the key column and `$TO` for `to`.
async fn per_key<M>(
    db: &DatabaseConnection,
    spec: &Spec<M>,
    keys: &[&str],
    (from, to): (i64, i64),
    distinct: &str,
    tail: &str,
) -> Result<Vec<Vec<M>>, PortError> {
    let key = spec.keys[0];
    let k = keys.len();
    let list = (1..=k).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {distinct} {key}, day_ms, pack FROM {} WHERE {key} IN ({list}) AND day_ms >= ${} \
         AND day_ms < ${} AND last_ms >= ${} {tail}",
        spec.packs,
        k + 1,
        k + 2,
        k + 3,
    )
    .replace("{key}", key)
    .replace("$TO", &format!("${}", k + 2));
    let mut values: Vec<Value> = keys.iter().map(|s| (*s).into()).collect();
    values.extend([day_of(from).into(), to.into(), from.into()]);
    let found = db
        .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await
        .map_err(db_error)?;
    let mut out = Vec::with_capacity(found.len());
    for p in &found {
        let series: String = p.try_get("", key).map_err(db_error)?;
        out.push(
            unpacked(spec, &[series], p)?
                .into_iter()
                .filter(|m| (from..to).contains(&(spec.minute)(m)))
                .collect(),
        );
    }
    Ok(out)
}

/// The newest pack minute of one series in `[from, to)`.
///
/// # Errors
/// The database's failure, or a corrupt pack.
pub(crate) async fn newest<M>(
    db: &DatabaseConnection,
    spec: &Spec<M>,
    series: &[String],
    (from, to): (i64, i64),
) -> Result<Option<M>, PortError> {
    let n = spec.keys.len();
    let sql = format!(
        "SELECT p.day_ms, p.pack{} FROM {} p WHERE {} AND day_ms >= ${} AND day_ms < ${} AND first_ms < ${} \
         AND last_ms >= ${} ORDER BY day_ms DESC LIMIT 1",
        refs_columns(spec, &format!("${}", n + 1), &format!("${}", n + 2)),
        spec.packs,
        filter(spec.keys),
        n + 1,
        n + 2,
        n + 2,
        n + 3
    );
    let mut values: Vec<Value> = series.iter().map(|s| s.clone().into()).collect();
    values.extend([day_of(from).into(), to.into(), from.into()]);
    let Some(p) = db
        .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    Ok(unpacked(spec, series, &p)?
        .into_iter()
        .filter(|m| (from..to).contains(&(spec.minute)(m)))
        .last())
}
