//! Multi-row upserts written as one SQL statement per chunk, straight from the models.
//!
//! sea-orm's `insert_many` turns every cell into an expression tree and clones its value twice on
//! the way to sqlx: for the snapshot tables (tens of thousands of rows per flush) that was the
//! largest block of the ingest's CPU in perf. Here each chunk is
//! `INSERT INTO t (…) VALUES (…),(…) ON CONFLICT (keys) DO UPDATE SET c = excluded.c, …`, which
//! SQLite (3.24+) and PostgreSQL both read, with every cell bound as a parameter.

use std::fmt::Write as _;

use sea_orm::sea_query::Iden;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Iterable, ModelTrait, Statement};

use super::db_error;
use domain::ports::PortError;

/// Bound parameters per statement: under SQLite's limit (32 766) and PostgreSQL's (65 535).
const MAX_PARAMS: usize = 30_000;

/// Upserts `models` on the primary key `keys`, updating `updates` on conflict.
///
/// # Errors
/// The database's failure, as a [`PortError`].
pub(super) async fn upsert<E, C>(
    db: &C,
    models: &[E::Model],
    keys: &[E::Column],
    updates: &[E::Column],
) -> Result<(), PortError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    if models.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let columns: Vec<E::Column> = E::Column::iter().collect();
    let quoted = |c: &E::Column| format!("\"{}\"", c.to_string());
    let names: Vec<String> = columns.iter().map(quoted).collect();
    let mut tail = format!(
        " ON CONFLICT ({}) DO UPDATE SET ",
        keys.iter().map(quoted).collect::<Vec<_>>().join(", ")
    );
    for (i, c) in updates.iter().enumerate() {
        let name = quoted(c);
        let _ = write!(tail, "{}{name} = excluded.{name}", if i == 0 { "" } else { ", " });
    }
    let head = format!(
        "INSERT INTO \"{}\" ({}) VALUES ",
        E::default().table_name(),
        names.join(", ")
    );
    let per_statement = (MAX_PARAMS / columns.len()).max(1);
    for chunk in models.chunks(per_statement) {
        let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * columns.len() * 6);
        sql.push_str(&head);
        let mut values = Vec::with_capacity(chunk.len() * columns.len());
        for (r, model) in chunk.iter().enumerate() {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                values.push(model.get(*c));
                match backend {
                    DbBackend::Postgres => {
                        let _ = write!(sql, "${}", values.len());
                    }
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        sql.push_str(&tail);
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .map_err(db_error)?;
    }
    Ok(())
}
