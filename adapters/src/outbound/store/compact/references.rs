//! What sealing does to keep the moneyness packs' references to options' Greeks exact
//! (`levels.rs`).
//!
//! - **One lock per underlying and day** ([`lock`], a transaction-scoped advisory lock that
//!   waits): taken by every fold of a level series-day and by every rewrite of an existing
//!   Greeks pack, before either reads the other's packs. So a level pack is always packed
//!   against the Greeks packs as committed, and a Greeks rewrite sees every level pack that
//!   could point at it.
//! - **Candidates** ([`Candidates`]): the sealed Greeks of the options registered with the
//!   level's underlying, right and an expiry within a day of the level's, plus whatever the
//!   level's existing pack refers to. Kept between the folds of one sealing call (the levels of
//!   an expiry-day come one after another), checked under the lock by each pack row's `xmin`
//!   (a rewrite makes a new row version), reloaded where it changed.
//! - **Re-packing** ([`repack_dependents`]): a rewritten Greeks pack (a late bar sealed into a
//!   day already sealed) unpacks each level pack of the day that points at it with the option's
//!   Greeks as they were, and packs it again against them as they are now.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, Value};

use super::DAY_MS;
use super::levels::{ChainDay, LevelSeries, OptionDay, Referred, pack_moneyness, unpack_moneyness};
use super::packs::unpack_greeks;
use crate::outbound::store::db_error;
use domain::ports::PortError;

fn codec_error(table: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Other(format!("{table}: {e}"))
}

/// Waits for the lock of `underlying`'s packs of `day` (until the transaction ends).
///
/// # Errors
/// The database's failure.
pub(super) async fn lock(tx: &DatabaseTransaction, underlying: &str, day: i64) -> Result<(), PortError> {
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [format!("levels|{underlying}|{day}").into()],
    ))
    .await
    .map_err(db_error)?;
    Ok(())
}

/// `values` as a PostgreSQL `text[]` parameter.
pub(super) fn texts(values: &[String]) -> Value {
    Value::Array(
        sea_orm::sea_query::ArrayType::String,
        Some(Box::new(values.iter().map(|s| Value::from(s.clone())).collect())),
    )
}

/// The sealed Greeks of `keys` on `day`, by key.
async fn option_days(
    tx: &DatabaseTransaction,
    day: i64,
    keys: &[String],
) -> Result<BTreeMap<String, OptionDay>, PortError> {
    if keys.is_empty() {
        return Ok(BTreeMap::new());
    }
    let found = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT instrument_key, pack FROM signal_greeks_packs WHERE day_ms = $1 AND instrument_key = ANY($2)",
            [day.into(), texts(keys)],
        ))
        .await
        .map_err(db_error)?;
    let mut out = BTreeMap::new();
    for r in &found {
        let key: String = r.try_get("", "instrument_key").map_err(db_error)?;
        let pack: Vec<u8> = r.try_get("", "pack").map_err(db_error)?;
        let rows = unpack_greeks(&key, &pack).map_err(|e| codec_error("signal_greeks_packs", e))?;
        out.insert(
            key.clone(),
            OptionDay {
                key,
                rows: Arc::new(rows),
            },
        );
    }
    Ok(out)
}

/// `keys` in order, each with its Greeks from `days` (none when it has no pack: a reference to
/// it is then an error when read, never a wrong value).
fn in_order(keys: &[String], days: &BTreeMap<String, OptionDay>) -> Vec<OptionDay> {
    keys.iter()
        .map(|k| {
            days.get(k).cloned().unwrap_or_else(|| OptionDay {
                key: k.clone(),
                rows: Arc::default(),
            })
        })
        .collect()
}

/// The candidate options of the level series being sealed, kept across one sealing call.
#[derive(Default)]
pub(super) struct Candidates {
    scope: Option<(String, String, String, i64)>,
    /// Key → (`xmin` of its pack row, its Greeks).
    days: BTreeMap<String, (String, OptionDay)>,
}

impl Candidates {
    /// Under [`lock`]: the candidates of `series` (underlying, expiry, right, level) on `day`,
    /// and the options `existing` (the level's pack's `refs`) in that order, each with the
    /// expiry's chain day.
    ///
    /// # Errors
    /// The database's failure or a corrupt Greeks pack.
    pub(super) async fn load(
        &mut self,
        tx: &DatabaseTransaction,
        series: &[String],
        day: i64,
        existing: &[String],
    ) -> Result<(Referred, Referred), PortError> {
        let scope = (series[0].clone(), series[1].clone(), series[2].clone(), day);
        if self.scope.as_ref() != Some(&scope) {
            self.days.clear();
            self.scope = Some(scope);
        }
        let (from, to) = NaiveDate::parse_from_str(&series[1], "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or((0, 0), |t| {
                let ms = t.and_utc().timestamp_millis();
                (ms - DAY_MS, ms + 2 * DAY_MS)
            });
        let versions = tx
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT instrument_key, xmin::text AS version FROM signal_greeks_packs WHERE day_ms = $1 AND \
                 (instrument_key IN (SELECT key FROM instruments WHERE underlying = $2 AND option_right = $3 \
                 AND expiry_ms >= $4 AND expiry_ms < $5) OR instrument_key = ANY($6))",
                [
                    day.into(),
                    series[0].clone().into(),
                    series[2].clone().into(),
                    from.into(),
                    to.into(),
                    texts(existing),
                ],
            ))
            .await
            .map_err(db_error)?;
        let mut now: BTreeMap<String, String> = BTreeMap::new();
        for r in &versions {
            now.insert(
                r.try_get("", "instrument_key").map_err(db_error)?,
                r.try_get("", "version").map_err(db_error)?,
            );
        }
        self.days.retain(|k, (v, _)| now.get(k) == Some(v));
        let stale: Vec<String> = now.keys().filter(|k| !self.days.contains_key(*k)).cloned().collect();
        for (k, d) in option_days(tx, day, &stale).await? {
            let v = now.get(&k).cloned().unwrap_or_default();
            self.days.insert(k, (v, d));
        }
        let days: BTreeMap<String, OptionDay> = self.days.iter().map(|(k, (_, d))| (k.clone(), d.clone())).collect();
        let chain = chain_day(tx, &series[0], &series[1], day, true).await?;
        Ok((
            Referred {
                options: days.values().cloned().collect(),
                chain: chain.clone(),
            },
            Referred {
                options: in_order(existing, &days),
                chain,
            },
        ))
    }
}

/// Under [`lock`], with `key`'s Greeks pack of `day` rewritten from `old` to `new` in this
/// transaction: every level pack of the day pointing at `key` unpacked against `old` and packed
/// again against `new`. Returns how many were re-packed.
///
/// # Errors
/// The database's failure, or a pack that does not read.
pub(super) async fn repack_dependents(
    tx: &DatabaseTransaction,
    key: &str,
    day: i64,
    old: &[u8],
    new: &[u8],
) -> Result<usize, PortError> {
    let dependents = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT underlying, expiry, option_right, level, refs, pack FROM signal_moneyness_packs \
             WHERE day_ms = $1 AND $2 = ANY(refs) FOR UPDATE",
            [day.into(), key.into()],
        ))
        .await
        .map_err(db_error)?;
    if dependents.is_empty() {
        return Ok(0);
    }
    let old = OptionDay {
        key: key.to_owned(),
        rows: Arc::new(unpack_greeks(key, old).map_err(|e| codec_error("signal_greeks_packs", e))?),
    };
    let new = OptionDay {
        key: key.to_owned(),
        rows: Arc::new(unpack_greeks(key, new).map_err(|e| codec_error("signal_greeks_packs", e))?),
    };
    let mut others: BTreeSet<String> = BTreeSet::new();
    let mut parsed = Vec::with_capacity(dependents.len());
    for r in &dependents {
        let series = LevelSeries {
            underlying: r.try_get("", "underlying").map_err(db_error)?,
            expiry: r.try_get("", "expiry").map_err(db_error)?,
            option_right: r.try_get("", "option_right").map_err(db_error)?,
            level: r.try_get("", "level").map_err(db_error)?,
        };
        let refs: Vec<String> = r.try_get("", "refs").map_err(db_error)?;
        let pack: Vec<u8> = r.try_get("", "pack").map_err(db_error)?;
        others.extend(refs.iter().filter(|k| *k != key).cloned());
        parsed.push((series, refs, pack));
    }
    let mut days = option_days(tx, day, &others.into_iter().collect::<Vec<_>>()).await?;
    for (series, refs, pack) in &parsed {
        let chain = chain_day(tx, &series.underlying, &series.expiry, day, false).await?;
        days.insert(key.to_owned(), old.clone());
        let before = Referred {
            options: in_order(refs, &days),
            chain,
        };
        let rows = unpack_moneyness(series, pack, &before).map_err(|e| codec_error("signal_moneyness_packs", e))?;
        days.insert(key.to_owned(), new.clone());
        let packed = pack_moneyness(
            &rows,
            &Referred {
                options: in_order(refs, &days),
                chain: before.chain,
            },
        );
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE signal_moneyness_packs SET pack = $1, refs = $2 WHERE underlying = $3 AND expiry = $4 \
             AND option_right = $5 AND level = $6 AND day_ms = $7",
            [
                packed.bytes.into(),
                texts(&packed.refs),
                series.underlying.clone().into(),
                series.expiry.clone().into(),
                series.option_right.clone().into(),
                series.level.clone().into(),
                day.into(),
            ],
        ))
        .await
        .map_err(db_error)?;
    }
    Ok(parsed.len())
}

/// The underlying `key` is registered with, for [`lock`] (none for an unregistered key, which
/// no level pack can refer to: candidates are registered options).
///
/// # Errors
/// The database's failure.
pub(super) async fn underlying_of(tx: &DatabaseTransaction, key: &str) -> Result<Option<String>, PortError> {
    tx.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT underlying FROM instruments WHERE key = $1",
        [key.into()],
    ))
    .await
    .map_err(db_error)?
    .map(|r| r.try_get::<String>("", "underlying"))
    .transpose()
    .map_err(db_error)
}

/// Under [`lock`]: the chain day of `underlying`'s `expiry` on `day`; with `make`, made from
/// the level rows of that expiry-day when there is none yet (each minute's ATM IV from its
/// first row by right and level), then kept as it is (a level whose ATM IV differs keeps its
/// own). Without `make` (re-packing: the packs it unpacks were packed against whatever chain
/// day there was), an empty one when there is none.
///
/// # Errors
/// The database's failure or a corrupt chain pack.
pub(super) async fn chain_day(
    tx: &DatabaseTransaction,
    underlying: &str,
    expiry: &str,
    day: i64,
    make: bool,
) -> Result<ChainDay, PortError> {
    let found = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pack FROM signal_chain_packs WHERE underlying = $1 AND expiry = $2 AND day_ms = $3",
            [underlying.into(), expiry.into(), day.into()],
        ))
        .await
        .map_err(db_error)?;
    if let Some(r) = found {
        let pack: Vec<u8> = r.try_get("", "pack").map_err(db_error)?;
        return ChainDay::unpack(&pack).map_err(|e| codec_error("signal_chain_packs", e));
    }
    if !make {
        return Ok(ChainDay::default());
    }
    let rows = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT DISTINCT ON (minute_ms) minute_ms, atm_iv FROM signal_moneyness_greeks WHERE underlying = $1 \
             AND expiry = $2 AND minute_ms >= $3 AND minute_ms < $4 ORDER BY minute_ms, option_right, level",
            [underlying.into(), expiry.into(), day.into(), (day + DAY_MS).into()],
        ))
        .await
        .map_err(db_error)?;
    let mut chain = ChainDay::default();
    for r in &rows {
        chain.atm_iv.push((
            r.try_get("", "minute_ms").map_err(db_error)?,
            r.try_get("", "atm_iv").map_err(db_error)?,
        ));
    }
    let (Some(first), Some(last)) = (chain.atm_iv.first(), chain.atm_iv.last()) else {
        return Ok(chain);
    };
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO signal_chain_packs (underlying, expiry, day_ms, first_ms, last_ms, minutes, pack) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            underlying.into(),
            expiry.into(),
            day.into(),
            first.0.into(),
            last.0.into(),
            i32::try_from(chain.atm_iv.len()).unwrap_or(i32::MAX).into(),
            chain.pack().into(),
        ],
    ))
    .await
    .map_err(db_error)?;
    Ok(chain)
}
