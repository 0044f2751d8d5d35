//! The SQL each database gets: SQLite multi-row upserts in power-of-two chunks (each statement
//! prepared once per connection), PostgreSQL one `INSERT … SELECT * FROM UNNEST(…)` per table.

use domain::ports::PortError;
use sea_orm::sqlx::{self, Postgres, Sqlite};
use std::sync::Arc;

use super::*;

pub(super) fn bind_sqlite<'q>(
    q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    c: &Cell<'_>,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    match c {
        Cell::Null => q.bind(None::<i64>),
        Cell::Text(s) => q.bind(s.to_string()),
        Cell::Shared(s) => q.bind(Arc::clone(s)),
        Cell::BigInt(v) => q.bind(*v),
        Cell::Int(v) => q.bind(*v),
        Cell::Double(v) => q.bind(*v),
        Cell::Bool(v) => q.bind(*v),
    }
}

/// Chunks of power-of-two row counts, largest first, within the bound-variable limit.
pub(super) fn pow2_chunks(mut rows: usize, width: usize) -> Vec<usize> {
    let cap = (SQLITE_MAX_PARAMS / width.max(1)).max(1);
    let largest = if cap.is_power_of_two() {
        cap
    } else {
        cap.next_power_of_two() / 2
    };
    let mut out = Vec::new();
    let mut size = largest;
    while rows > 0 {
        while size > rows {
            size /= 2;
        }
        out.push(size);
        rows -= size;
    }
    out
}

pub(super) async fn upsert_sqlite(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    rows: &Rows<'_, '_>,
) -> Result<(), PortError> {
    let width = rows.width();
    let chunks = pow2_chunks(rows.len(), width);
    let query = |at: usize, n: usize| {
        rows.cells[at * width..(at + n) * width]
            .iter()
            .fold(sqlx::query(rows.table.sqlite_statement(n)), bind_sqlite)
    };
    // Each chunk's values are bound while sqlx's worker thread runs the previous chunk.
    let Some(&first) = chunks.first() else {
        return Ok(());
    };
    let mut next = Some(query(0, first));
    let mut at = first;
    for &n in chunks.iter().skip(1).chain(std::iter::once(&0)) {
        let Some(q) = next.take() else { break };
        let run = q.execute(&mut **tx);
        let bind = async {
            if n > 0 {
                next = Some(query(at, n));
            }
        };
        let (done, ()) = futures_util::future::join(run, bind).await;
        done.map_err(sqlx_error)?;
        at += n;
    }
    Ok(())
}

/// Column `j` of `rows` as a PostgreSQL array: `pick` reads a non-null cell of the column's type.
pub(super) fn pg_array<'c, 'a, T>(
    rows: &'c Rows<'_, 'a>,
    j: usize,
    pick: impl Fn(&'c Cell<'a>) -> Option<T>,
) -> Result<Vec<Option<T>>, PortError> {
    rows.cells
        .iter()
        .skip(j)
        .step_by(rows.width())
        .map(|c| match c {
            Cell::Null => Ok(None),
            c => pick(c).map(Some).ok_or_else(|| {
                let (name, t) = &rows.table.columns[j];
                PortError::Other(format!("{}.{name}: {c:?} is not {t:?}", rows.table.name))
            }),
        })
        .collect()
}

pub(super) async fn upsert_postgres(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    rows: &Rows<'_, '_>,
    target: &Table,
) -> Result<(), PortError> {
    if rows.len() == 0 {
        return Ok(());
    }
    if rows.len() >= COPY_FROM_ROWS && copy_new_rows(tx, rows, target).await? {
        return Ok(());
    }
    let mut q = sqlx::query(target.postgres_statement());
    for (j, (_, t)) in rows.table.columns.iter().enumerate() {
        q = match t {
            SqlType::Text => q.bind(pg_array(rows, j, Cell::text)?),
            SqlType::BigInt => q.bind(pg_array(rows, j, |c| {
                if let Cell::BigInt(v) = c { Some(*v) } else { None }
            })?),
            SqlType::Int => q.bind(pg_array(
                rows,
                j,
                |c| if let Cell::Int(v) = c { Some(*v) } else { None },
            )?),
            SqlType::Double => q.bind(pg_array(rows, j, |c| {
                if let Cell::Double(v) = c { Some(*v) } else { None }
            })?),
            SqlType::Bool => q.bind(pg_array(
                rows,
                j,
                |c| if let Cell::Bool(v) = c { Some(*v) } else { None },
            )?),
        };
    }
    q.execute(&mut **tx).await.map_err(sqlx_error)?;
    Ok(())
}

/// `COPY`s `rows` in inside a savepoint. `Ok(false)` when a row's key already exists (nothing
/// of the `COPY` is left: the caller upserts instead).
async fn copy_new_rows(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    rows: &Rows<'_, '_>,
    target: &Table,
) -> Result<bool, PortError> {
    sqlx::query("SAVEPOINT bulk_copy")
        .execute(&mut **tx)
        .await
        .map_err(sqlx_error)?;
    let copied = async {
        let mut copy = tx.copy_in_raw(&target.copy_statement()).await?;
        // In pieces, so the server parses one while the next is written.
        for piece in rows.cells.chunks(rows.width() * COPY_PIECE_ROWS) {
            copy.send(csv(piece, rows.width())).await?;
        }
        copy.finish().await
    }
    .await;
    match copied {
        Ok(_) => {
            sqlx::query("RELEASE SAVEPOINT bulk_copy")
                .execute(&mut **tx)
                .await
                .map_err(sqlx_error)?;
            Ok(true)
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {
            sqlx::query("ROLLBACK TO SAVEPOINT bulk_copy")
                .execute(&mut **tx)
                .await
                .map_err(sqlx_error)?;
            Ok(false)
        }
        Err(e) => Err(sqlx_error(e)),
    }
}

/// Rows per piece of a `COPY`'s data.
const COPY_PIECE_ROWS: usize = 512;

/// `cells`, rows of `width` cells, as `COPY`'s CSV: `NULL` an unquoted empty field, every text quoted (so an empty text
/// stays a text), doubles in Rust's shortest round-trip form (PostgreSQL reads them back to the
/// same bits), `NaN` and the infinities spelled as PostgreSQL spells them.
pub(super) fn csv(cells: &[Cell<'_>], width: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(cells.len() * 12);
    for row in cells.chunks(width) {
        for (j, c) in row.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            // Writing into a Vec cannot fail.
            let _ = match c {
                Cell::Null => Ok(()),
                Cell::Text(_) | Cell::Shared(_) => {
                    out.push(b'"');
                    for b in c.text().unwrap_or_default().bytes() {
                        if b == b'"' {
                            out.push(b'"');
                        }
                        out.push(b);
                    }
                    out.push(b'"');
                    Ok(())
                }
                Cell::BigInt(v) => write!(out, "{v}"),
                Cell::Int(v) => write!(out, "{v}"),
                Cell::Double(v) if v.is_nan() => write!(out, "NaN"),
                Cell::Double(v) if v.is_infinite() => write!(out, "{}Infinity", if *v < 0.0 { "-" } else { "" }),
                Cell::Double(v) => write!(out, "{v:?}"),
                Cell::Bool(v) => write!(out, "{}", if *v { 't' } else { 'f' }),
            };
        }
        out.push(b'\n');
    }
    out
}
