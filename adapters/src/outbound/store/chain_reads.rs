//! The reads behind the historical chain and IV rank: which expiries have moneyness history,
//! an expiry's last `ATM` row in a range (its ATM IV and what its chain was evaluated on), and
//! each option's latest Greeks before a minute. Each is an index walk on a primary key.

use chrono::NaiveDate;
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{GreeksRecord, MoneynessRecord, PortError, TimeRange};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};

use super::entities::{greeks, moneyness};
use super::{CHUNK, compact, convert, db_error};

/// The distinct expiries of `underlying` from `from` on: a recursive query that seeks the next
/// expiry in the primary key each step (a loose index scan; neither database does one for
/// `SELECT DISTINCT`), so its cost is the number of expiries, not of rows.
pub(super) async fn moneyness_expiries(
    db: &DatabaseConnection,
    underlying: &InstrumentKey,
    from: NaiveDate,
    packed: bool,
) -> Result<Vec<NaiveDate>, PortError> {
    let mut out = expiries_in(db, "signal_moneyness_greeks", underlying, from).await?;
    if packed {
        out.extend(expiries_in(db, "signal_moneyness_packs", underlying, from).await?);
        out.sort_unstable();
        out.dedup();
    }
    Ok(out)
}

/// [`moneyness_expiries`] of one table.
async fn expiries_in(
    db: &DatabaseConnection,
    table: &str,
    underlying: &InstrumentKey,
    from: NaiveDate,
) -> Result<Vec<NaiveDate>, PortError> {
    let backend = db.get_database_backend();
    let p = |n: u8| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    let sql = format!(
        "WITH RECURSIVE e(x) AS (\
           SELECT MIN(expiry) FROM {table} WHERE underlying = {u} AND expiry >= {f} \
           UNION ALL \
           SELECT (SELECT MIN(expiry) FROM {table} WHERE underlying = {u} AND expiry > e.x) \
           FROM e WHERE e.x IS NOT NULL\
         ) SELECT x FROM e WHERE x IS NOT NULL",
        u = p(1),
        f = p(2)
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [underlying.as_str().into(), convert::expiry_text(from).into()],
        ))
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get("", "x").map_err(db_error)?;
            NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map_err(|e| PortError::Invalid(format!("stored expiry {text}: {e}")))
        })
        .collect()
}

/// The last `ATM` call row of one expiry in `range` (in either layout when `packed`).
pub(super) async fn last_atm(
    db: &DatabaseConnection,
    underlying: &InstrumentKey,
    expiry: NaiveDate,
    range: TimeRange,
    packed: bool,
) -> Result<Option<MoneynessRecord>, PortError> {
    use moneyness::Column as C;
    let row = moneyness::Entity::find()
        .filter(C::Underlying.eq(underlying.as_str()))
        .filter(C::Expiry.eq(convert::expiry_text(expiry)))
        .filter(C::OptionRight.eq(OptionRight::Call.as_str()))
        .filter(C::Level.eq(MoneynessLevel::Atm.to_string()))
        .filter(C::MinuteMs.gte(range.from.timestamp_millis()))
        .filter(C::MinuteMs.lt(range.to.timestamp_millis()))
        .order_by_desc(C::MinuteMs)
        .limit(1)
        .one(db)
        .await
        .map_err(db_error)?;
    let row = if packed {
        let series = [
            underlying.as_str().to_owned(),
            convert::expiry_text(expiry),
            OptionRight::Call.as_str().to_owned(),
            MoneynessLevel::Atm.to_string(),
        ];
        let from_pack = compact::reads::newest(
            db,
            &compact::moneyness_spec(),
            &series,
            (range.from.timestamp_millis(), range.to.timestamp_millis()),
        )
        .await?;
        // A row wins over the pack's same minute (written after the seal).
        match (row, from_pack) {
            (Some(r), Some(p)) => Some(if p.minute_ms > r.minute_ms { p } else { r }),
            (r, p) => r.or(p),
        }
    } else {
        row
    };
    row.map(convert::moneyness_record).transpose()
}

/// The latest Greeks row of each key in `range`: the newest minute per key (grouped on the
/// primary key), then those rows, [`CHUNK`] keys a query; when `packed`, each key's newest
/// pack minute too, the newer of the two kept (a row on a tie).
pub(super) async fn latest_greeks(
    db: &DatabaseConnection,
    keys: &[InstrumentKey],
    range: TimeRange,
    packed: bool,
) -> Result<Vec<GreeksRecord>, PortError> {
    use greeks::Column as C;
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(CHUNK) {
        let names: Vec<&str> = chunk.iter().map(InstrumentKey::as_str).collect();
        let mut found: std::collections::BTreeMap<String, greeks::Model> = std::collections::BTreeMap::new();
        if packed {
            let ms = (range.from.timestamp_millis(), range.to.timestamp_millis());
            for m in compact::reads::newest_of_keys(db, &compact::greeks_spec(), &names, ms).await? {
                found.insert(m.instrument_key.clone(), m);
            }
        }
        let newest: Vec<(String, i64)> = greeks::Entity::find()
            .select_only()
            .column(C::InstrumentKey)
            .column_as(C::MinuteMs.max(), "minute_ms")
            .filter(C::InstrumentKey.is_in(names))
            .filter(C::MinuteMs.gte(range.from.timestamp_millis()))
            .filter(C::MinuteMs.lt(range.to.timestamp_millis()))
            .group_by(C::InstrumentKey)
            .into_tuple()
            .all(db)
            .await
            .map_err(db_error)?;
        if !newest.is_empty() {
            fetch_rows(db, &newest, &mut found).await?;
        }
        for r in found.into_values() {
            out.push(convert::greeks_record(r)?);
        }
    }
    Ok(out)
}

/// The Greeks rows at `newest` (key, minute) pairs, replacing what `found` holds for their key
/// unless it is newer.
async fn fetch_rows(
    db: &DatabaseConnection,
    newest: &[(String, i64)],
    found: &mut std::collections::BTreeMap<String, greeks::Model>,
) -> Result<(), PortError> {
    use greeks::Column as C;
    {
        let which = newest.iter().fold(Condition::any(), |any, (key, minute)| {
            any.add(
                Condition::all()
                    .add(C::InstrumentKey.eq(key.as_str()))
                    .add(C::MinuteMs.eq(*minute)),
            )
        });
        let rows = greeks::Entity::find().filter(which).all(db).await.map_err(db_error)?;
        for r in rows {
            if found.get(&r.instrument_key).is_none_or(|p| p.minute_ms <= r.minute_ms) {
                found.insert(r.instrument_key.clone(), r);
            }
        }
    }
    Ok(())
}
