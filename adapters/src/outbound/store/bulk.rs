//! Bulk writes: multi-row upserts bound straight through sqlx, one transaction per call.
//!
//! The snapshot tables take tens of thousands of rows per flush. Going through sea-orm's values
//! cost an owned `String` per text cell for the model, a clone into a `sea_query::Value`, and
//! another on the way into sqlx's arguments: in perf that was the largest block of the ingest's
//! CPU outside the database. Here a row is a list of [`Cell`]s borrowed from the domain record,
//! and each backend gets the statement it runs fastest:
//!
//! - **SQLite**: `INSERT … VALUES (…),(…) ON CONFLICT (keys) DO UPDATE SET c = excluded.c, …` in
//!   chunks whose row counts are powers of two (1, 2, 4, … up to the bound-variable limit), so
//!   a table has at most a dozen distinct statements and sqlx's per-connection statement cache
//!   prepares each once instead of parsing a new remainder statement on every flush.
//! - **PostgreSQL**: one statement per table and call whatever the row count,
//!   `INSERT … SELECT * FROM UNNEST($1::text[], $2::float8[], …) ON CONFLICT …`, each column
//!   bound as one binary array: parsed and planned once per connection, and no parameter limit.
//!   From [`COPY_FROM_ROWS`] rows on (a replay's groups, the minute's snapshot flush) the rows
//!   first go in by `COPY … FROM STDIN (FORMAT csv)` inside a savepoint: new rows (the usual
//!   case) cost what the database's own bulk load costs, about half the upsert
//!   (`scripts/replay-vs-bulk-load.sh`). If any row's key already exists the `COPY` fails with a
//!   unique violation, the savepoint is rolled back and the same rows are upserted, so the
//!   outcome is the upsert's either way.
//!
//! Column names and SQL types come from the sea-orm entity ([`Table::of`]), so the entity stays
//! the single description of a table; a row's cells are in the entity's field order.
//!
//! An upsert may not touch one row twice in one statement on PostgreSQL: callers hand in rows
//! with distinct keys.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use sea_orm::sea_query::{ColumnType, Iden};
use sea_orm::sqlx::{self, AssertSqlSafe};
use sea_orm::{ColumnTrait, DatabaseConnection, DatabaseConnectionType, EntityTrait, Iterable};

use domain::instrument::InstrumentKey;

use super::checkpoint::Checkpoints;
use domain::ports::PortError;

/// Bound variables per SQLite statement: under its limit of 32 766.
const SQLITE_MAX_PARAMS: usize = 32_000;

/// Rows from which a PostgreSQL upsert tries `COPY` first (see the module's documentation):
/// below it, the savepoint's round trips cost more than `COPY` saves.
pub(super) const COPY_FROM_ROWS: usize = 256;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell<'a> {
    /// SQL `NULL`.
    Null,
    /// Text.
    Text(Cow<'a, str>),
    /// Shared text (an instrument key): bound to SQLite without a copy.
    Shared(&'a Arc<str>),
    /// 64-bit integer.
    BigInt(i64),
    /// 32-bit integer.
    Int(i32),
    /// Double.
    Double(f64),
    /// Boolean.
    Bool(bool),
}

impl<'a> Cell<'a> {
    /// A nullable double.
    pub(super) fn opt_f64(v: Option<f64>) -> Self {
        v.map_or(Self::Null, Self::Double)
    }

    /// A nullable borrowed text.
    pub(super) fn opt_str(v: Option<&'a str>) -> Self {
        v.map_or(Self::Null, |s| Self::Text(Cow::Borrowed(s)))
    }

    /// A borrowed text.
    pub(super) fn str(s: &'a str) -> Self {
        Self::Text(Cow::Borrowed(s))
    }

    /// An instrument key.
    pub(super) fn key(k: &'a InstrumentKey) -> Self {
        Self::Shared(k.shared())
    }

    fn text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            Self::Shared(s) => Some(s),
            _ => None,
        }
    }
}

/// The SQL type of a column, as far as binding goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SqlType {
    Text,
    BigInt,
    Int,
    Double,
    Bool,
}

impl SqlType {
    fn of(t: &ColumnType) -> Self {
        match t {
            ColumnType::BigInteger | ColumnType::BigUnsigned => Self::BigInt,
            ColumnType::Integer | ColumnType::Unsigned | ColumnType::SmallInteger | ColumnType::TinyInteger => {
                Self::Int
            }
            ColumnType::Double | ColumnType::Float | ColumnType::Decimal(_) => Self::Double,
            ColumnType::Boolean => Self::Bool,
            _ => Self::Text,
        }
    }

    fn pg_array(self) -> &'static str {
        match self {
            Self::Text => "text[]",
            Self::BigInt => "int8[]",
            Self::Int => "int4[]",
            Self::Double => "float8[]",
            Self::Bool => "bool[]",
        }
    }
}

/// An upsert target: a table, its columns and what a conflict on its key updates.
#[derive(Debug, Clone)]
pub(super) struct Table {
    name: String,
    columns: Vec<(String, SqlType)>,
    /// `ON CONFLICT (…) DO UPDATE SET …`.
    conflict: String,
    /// SQLite statements by log2 of their row count, built on first use.
    sqlite: [OnceLock<Arc<str>>; 16],
    /// The PostgreSQL statement, built on first use.
    postgres: OnceLock<Arc<str>>,
    /// The PostgreSQL `COPY … FROM STDIN` statement, built on first use.
    copy: OnceLock<Arc<str>>,
}

impl Table {
    /// The table of entity `E`, upserted on `keys`, updating `updates` on conflict.
    pub(super) fn of<E: EntityTrait>(keys: &[E::Column], updates: &[E::Column]) -> Self {
        let quoted = |c: &E::Column| format!("\"{}\"", c.to_string());
        let mut conflict = format!(
            " ON CONFLICT ({}) DO UPDATE SET ",
            keys.iter().map(quoted).collect::<Vec<_>>().join(", ")
        );
        for (i, c) in updates.iter().enumerate() {
            let name = quoted(c);
            let _ = write!(conflict, "{}{name} = excluded.{name}", if i == 0 { "" } else { ", " });
        }
        Self {
            name: E::default().table_name().to_owned(),
            columns: E::Column::iter()
                .map(|c| (c.to_string(), SqlType::of(c.def().get_column_type())))
                .collect(),
            conflict,
            sqlite: Default::default(),
            postgres: OnceLock::new(),
            copy: OnceLock::new(),
        }
    }

    /// The same upsert aimed at another relation with the same columns and key (a partition
    /// of this table: writing straight into it skips PostgreSQL's routing of each row).
    pub(super) fn aimed_at(&self, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            columns: self.columns.clone(),
            conflict: self.conflict.clone(),
            sqlite: Default::default(),
            postgres: OnceLock::new(),
            copy: OnceLock::new(),
        }
    }

    /// The relation's name.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    fn head(&self) -> String {
        let names: Vec<String> = self.columns.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        format!("INSERT INTO \"{}\" ({})", self.name, names.join(", "))
    }

    /// The SQLite statement for `rows` rows, a power of two.
    fn sqlite_statement(&self, rows: usize) -> AssertSqlSafe<Arc<str>> {
        let built = self.sqlite[rows.trailing_zeros() as usize].get_or_init(|| self.sqlite_sql(rows).into());
        // Only our own identifiers and placeholders: nothing from a request reaches the text.
        AssertSqlSafe(Arc::clone(built))
    }

    /// The PostgreSQL statement.
    fn postgres_statement(&self) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(Arc::clone(self.postgres.get_or_init(|| self.postgres_sql().into())))
    }

    /// The PostgreSQL `COPY` of every column, CSV.
    fn copy_statement(&self) -> Arc<str> {
        Arc::clone(self.copy.get_or_init(|| {
            let names: Vec<String> = self.columns.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            format!("COPY \"{}\" ({}) FROM STDIN (FORMAT csv)", self.name, names.join(", ")).into()
        }))
    }

    fn sqlite_sql(&self, rows: usize) -> String {
        let row = format!("({})", vec!["?"; self.columns.len()].join(","));
        let mut sql = self.head();
        sql.push_str(" VALUES ");
        for r in 0..rows {
            if r > 0 {
                sql.push(',');
            }
            sql.push_str(&row);
        }
        sql.push_str(&self.conflict);
        sql
    }

    fn postgres_sql(&self) -> String {
        let arrays: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, t))| format!("${}::{}", i + 1, t.pg_array()))
            .collect();
        format!(
            "{} SELECT * FROM UNNEST({}){}",
            self.head(),
            arrays.join(", "),
            self.conflict
        )
    }
}

/// Rows for one table: `cells` holds them one after the other, each in the entity's field order.
#[derive(Debug)]
pub(super) struct Rows<'t, 'a> {
    table: &'t Table,
    cells: Vec<Cell<'a>>,
}

impl<'t, 'a> Rows<'t, 'a> {
    /// Rows of `items`, each turned into cells by `row`.
    pub(super) fn of<T>(
        table: &'t Table,
        items: impl IntoIterator<Item = &'a T>,
        row: impl Fn(&'a T, &mut Vec<Cell<'a>>),
    ) -> Self
    where
        T: 'a,
    {
        let mut cells = Vec::new();
        for item in items {
            let before = cells.len();
            row(item, &mut cells);
            debug_assert_eq!(
                cells.len() - before,
                table.columns.len(),
                "cells of a {} row",
                table.name
            );
        }
        Self { table, cells }
    }

    fn width(&self) -> usize {
        self.table.columns.len()
    }

    fn len(&self) -> usize {
        self.cells.len() / self.width().max(1)
    }
}

/// A statement with its cells bound in order (e.g. a `DELETE` beside the upserts).
#[derive(Debug)]
pub(super) struct Plain<'a> {
    /// SQL with `?` placeholders on SQLite and `$n` on PostgreSQL (see [`Writer::placeholder`]);
    /// only our own identifiers and placeholders, every value bound.
    pub(super) sql: String,
    /// The bound values.
    pub(super) cells: Vec<Cell<'a>>,
}

/// One step of a write transaction.
#[derive(Debug)]
pub(super) enum Step<'t, 'a> {
    /// An upsert.
    Upsert(Rows<'t, 'a>),
    /// A plain statement.
    Plain(Plain<'a>),
}

/// The pool writes go through: sea-orm's own, seen as sqlx.
#[derive(Debug, Clone)]
pub(super) enum Writer {
    Sqlite(sqlx::SqlitePool, Option<Checkpoints>),
    Postgres(sqlx::PgPool),
    /// No database (a store that only renders the OpenAPI document): every write fails.
    Detached,
}

fn sqlx_error(e: sqlx::Error) -> PortError {
    if matches!(e, sqlx::Error::PoolTimedOut) {
        super::count_acquire_timeout();
    }
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => PortError::Unavailable(format!("database: {e}")),
        other => PortError::Other(format!("database: {other}")),
    }
}

impl Writer {
    /// The sqlx pool behind `db`.
    pub(super) fn of(db: &DatabaseConnection) -> Self {
        match &db.inner {
            DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
                Self::Postgres(db.get_postgres_connection_pool().clone())
            }
            DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
                let pool = db.get_sqlite_connection_pool().clone();
                let checkpoints = Checkpoints::start(&pool);
                Self::Sqlite(pool, checkpoints)
            }
            _ => Self::Detached,
        }
    }

    /// The placeholder of the `n`-th (1-based) bound value.
    pub(super) fn placeholder(&self, n: usize) -> String {
        match self {
            Self::Sqlite(..) | Self::Detached => "?".to_owned(),
            Self::Postgres(_) => format!("${n}"),
        }
    }

    /// Runs `steps` in one transaction: all or nothing.
    ///
    /// # Errors
    /// The database's failure, as a [`PortError`]; nothing is written then.
    pub(super) async fn write(&self, steps: &[Step<'_, '_>]) -> Result<(), PortError> {
        self.write_aimed(steps, None).await
    }

    /// [`Writer::write`], the upserts of the table named `aim.0` going into `aim.1` instead (on
    /// PostgreSQL: a partition every row of theirs belongs in).
    ///
    /// # Errors
    /// As [`Writer::write`].
    pub(super) async fn write_aimed(
        &self,
        steps: &[Step<'_, '_>],
        aim: Option<(&str, &Table)>,
    ) -> Result<(), PortError> {
        match self {
            Self::Sqlite(pool, checkpoints) => {
                let mut tx = pool.begin().await.map_err(sqlx_error)?;
                for step in steps {
                    match step {
                        Step::Upsert(rows) => upsert_sqlite(&mut tx, rows).await?,
                        Step::Plain(p) => {
                            let q = p
                                .cells
                                .iter()
                                .fold(sqlx::query(AssertSqlSafe(p.sql.as_str())), bind_sqlite);
                            q.execute(&mut *tx).await.map_err(sqlx_error)?;
                        }
                    }
                }
                tx.commit().await.map_err(sqlx_error)?;
                if let Some(c) = checkpoints {
                    c.after_commit();
                }
                Ok(())
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(sqlx_error)?;
                for step in steps {
                    match step {
                        Step::Upsert(rows) => {
                            let target = aim
                                .filter(|(base, _)| *base == rows.table.name)
                                .map_or(rows.table, |(_, t)| t);
                            upsert_postgres(&mut tx, rows, target).await?;
                        }
                        Step::Plain(p) => {
                            let q = p
                                .cells
                                .iter()
                                .fold(sqlx::query(AssertSqlSafe(p.sql.as_str())), |q, c| match c {
                                    Cell::Null => q.bind(None::<i64>),
                                    Cell::Text(s) => q.bind(s.as_ref()),
                                    Cell::Shared(s) => q.bind(s.as_ref()),
                                    Cell::BigInt(v) => q.bind(*v),
                                    Cell::Int(v) => q.bind(*v),
                                    Cell::Double(v) => q.bind(*v),
                                    Cell::Bool(v) => q.bind(*v),
                                });
                            q.execute(&mut *tx).await.map_err(sqlx_error)?;
                        }
                    }
                }
                tx.commit().await.map_err(sqlx_error)
            }
            Self::Detached => Err(PortError::Unavailable("database: not connected".into())),
        }
    }
}

mod dialects;
#[cfg(test)]
mod tests;

use dialects::{bind_sqlite, upsert_postgres, upsert_sqlite};
