//! The sea-orm store: [`domain::ports::SignalStore`] on SQLite or PostgreSQL.
//!
//! Reads go through sea-orm. Writes are upserts on each table's primary key, bound straight
//! through sqlx (`bulk.rs`), one transaction per call: replaying the same batch leaves the same
//! rows, and a failing batch leaves nothing behind. Times are epoch milliseconds (see the
//! `migration` crate).
//!
//! On PostgreSQL the time-series tables are partitioned by month and closed days are sealed
//! into packs (`compact/`, run through [`domain::ports::HistoryUpkeep`] in `upkeep.rs`); every
//! read here merges a series' packs with its rows, and a write into a month makes its
//! partition first and goes straight into it.

mod bulk;
mod chain_reads;
mod checkpoint;
mod compact;
mod convert;
pub mod entities;
mod tables;
mod unconnected;
mod upkeep;

pub use unconnected::Unconnected;

use std::sync::Arc;

use async_trait::async_trait;
use domain::candles::{AggregatedBar, Timeframe};
use domain::instrument::{InstrumentKey, OptionContract};
use domain::ports::{
    ComputationRecord, GreeksRecord, InstrumentCandle, MoneynessRecord, PortError, SignalStore, TimeRange,
};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ColumnTrait, ConnectOptions, Database, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use bulk::{Cell, Plain, Rows, Step, Writer};
use entities::{candle, computation, custom_timeframe, greeks, moneyness};
use tables::Tables;

/// Instrument keys per `IN (…)` list when dropping cached aggregates (far under SQLite's bound
/// variable limit).
const CHUNK: usize = 500;

/// WAL pages past which a committing SQLite writer checkpoints by itself (SQLite's default is
/// 1 000): only when the checkpoint task (`checkpoint.rs`) falls behind. 16 384 pages of 4 KiB
/// bound the WAL at 64 MiB.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// The store.
#[derive(Debug, Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    writer: Writer,
    tables: Arc<Tables>,
    /// Whether history may be in the compact layout too (PostgreSQL; see `compact`).
    packed: bool,
    /// The partitions known to exist in this database.
    partitions: compact::partitions::Known,
    /// How the row tables are laid out (PostgreSQL), read at first use.
    layout: Arc<tokio::sync::OnceCell<Layout>>,
}

/// Calls that found no pooled connection within the acquire timeout, in this process (sqlx
/// counts no waits; saturation shows as in-use connections at the pool's bound, and these).
static ACQUIRE_TIMEOUTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts one acquire timeout (see [`ACQUIRE_TIMEOUTS`]).
pub(super) fn count_acquire_timeout() {
    ACQUIRE_TIMEOUTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

pub(crate) fn db_error(e: DbErr) -> PortError {
    if matches!(e, DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout)) {
        count_acquire_timeout();
    }
    match e {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => PortError::Unavailable(format!("database: {e}")),
        // A statement cancelled by `statement_timeout` (SQLSTATE 57014) or a connection lost
        // mid-query: the database is slow or gone, not the request wrong.
        ref other
            if {
                let s = other.to_string();
                s.contains("57014")
                    || s.contains("statement timeout")
                    || s.contains("connection")
                    || s.contains("database is locked")
            } =>
        {
            PortError::Unavailable(format!("database: {e}"))
        }
        other => PortError::Other(format!("database: {other}")),
    }
}

impl SeaStore {
    /// Wraps an open connection (migrations already applied).
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            writer: Writer::of(&db),
            packed: db.get_database_backend() == sea_orm::DbBackend::Postgres,
            db,
            tables: Arc::new(Tables::new()),
            partitions: compact::partitions::Known::default(),
            layout: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// Connects to `url` (`sqlite://…?mode=rwc` or `postgres://…`) with the default
    /// [`PoolOptions`].
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, PortError> {
        Self::connect_with(url, &PoolOptions::default()).await
    }

    /// Connects to `url` with `pool`'s size and timeouts.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the database cannot be reached.
    pub async fn connect_with(url: &str, pool: &PoolOptions) -> Result<Self, PortError> {
        reachable(url, pool.acquire_timeout)
            .await
            .map_err(PortError::Unavailable)?;
        let mut o = connect_options(url);
        pool.apply(&mut o);
        let db = Database::connect(o).await.map_err(|e| match e {
            DbErr::ConnectionAcquire(_) => PortError::Unavailable(format!(
                "no connection within {} ms ({e})",
                pool.acquire_timeout.as_millis()
            )),
            other => db_error(other),
        })?;
        Ok(Self::new(db))
    }

    /// The connection (for migrations and health checks).
    #[must_use]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The main pool's connections now (the SQLite writer's own connection is not counted).
    #[must_use]
    pub fn pool_stats(&self) -> crate::metrics::PoolStats {
        fn of<DB: sea_orm::sqlx::Database>(p: &sea_orm::sqlx::Pool<DB>) -> crate::metrics::PoolStats {
            crate::metrics::PoolStats {
                open: p.size(),
                idle: u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
                max: p.options().get_max_connections(),
                acquire_timeouts: ACQUIRE_TIMEOUTS.load(std::sync::atomic::Ordering::Relaxed),
            }
        }
        match self.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => of(self.db.get_postgres_connection_pool()),
            sea_orm::DbBackend::Sqlite => of(self.db.get_sqlite_connection_pool()),
            _ => crate::metrics::PoolStats::default(),
        }
    }

    /// The upsert of `candles` (the last of each instrument and minute), then the drop of the
    /// cached aggregates they change.
    fn candle_steps<'a>(&'a self, candles: &'a [InstrumentCandle]) -> Vec<Step<'a, 'a>> {
        let now_ms = convert::now_ms();
        let latest = last_per_minute(candles);
        let mut steps = vec![Step::Upsert(Rows::of(
            &self.tables.candles,
            latest.iter().copied(),
            |c, out| convert::candle_cells(c, now_ms, out),
        ))];
        steps.extend(invalidate_timeframes(&self.writer, &latest));
        steps
    }

    /// The upsert of Greeks snapshots, the last of each option and minute.
    fn greeks_step<'a>(&'a self, records: &'a [GreeksRecord]) -> Step<'a, 'a> {
        let latest = last_per_key(records, |r| (r.key.as_str(), r.minute));
        Step::Upsert(Rows::of(
            &self.tables.greeks,
            latest.iter().copied(),
            convert::greeks_cells,
        ))
    }

    /// The upsert of moneyness aggregates, the last of each level and minute.
    fn moneyness_step<'a>(&'a self, records: &'a [MoneynessRecord]) -> Step<'a, 'a> {
        let latest = last_per_key(records, |r| {
            (r.underlying.as_str(), r.expiry, r.right, r.level, r.minute)
        });
        Step::Upsert(Rows::of(
            &self.tables.moneyness,
            latest.iter().copied(),
            convert::moneyness_cells,
        ))
    }

    /// Makes sure `table` has the monthly partitions of every instant in `times` (epoch
    /// milliseconds) when the row tables are partitioned: a catalogue check for the first
    /// write into a month this process has not seen, nothing after.
    async fn partitions_for(&self, table: &str, months: &[compact::partitions::Month]) -> Result<(), PortError> {
        if !self.packed {
            return Ok(());
        }
        if self.layout().await? != Layout::Partitioned {
            return Ok(());
        }
        for m in months {
            compact::partitions::ensure(&self.db, &self.partitions, table, *m)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    /// How the row tables are laid out (read once: migrations have run by the first write).
    pub(crate) async fn layout(&self) -> Result<Layout, PortError> {
        if !self.packed {
            return Ok(Layout::Plain);
        }
        self.layout
            .get_or_try_init(|| async {
                let row = sea_orm::ConnectionTrait::query_one_raw(
                    &self.db,
                    sea_orm::Statement::from_string(
                        sea_orm::DbBackend::Postgres,
                        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS hyper, \
                         EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('signal_greeks') AND relkind = 'p') AS part",
                    ),
                )
                .await
                .map_err(db_error)?;
                let flag = |name: &str| row.as_ref().is_some_and(|r| r.try_get::<bool>("", name).unwrap_or(false));
                Ok::<Layout, PortError>(if flag("hyper") {
                    Layout::Hypertables
                } else if flag("part") {
                    Layout::Partitioned
                } else {
                    Layout::Plain
                })
            })
            .await
            .copied()
    }

    /// Runs `steps` once `table` has the partitions of every instant in `times` (epoch
    /// milliseconds); when the database says a partition is missing (another instance's
    /// retention dropped a month this process had seen), forgets what it knew, makes sure
    /// again and retries once.
    async fn write_into(
        &self,
        steps: &[Step<'_, '_>],
        table: &str,
        times: impl Iterator<Item = i64>,
    ) -> Result<(), PortError> {
        if self.layout().await? != Layout::Partitioned {
            return self.writer.write(steps).await;
        }
        // Distinct months, cheaply: a batch is nearly always inside one.
        let mut months: Vec<compact::partitions::Month> = Vec::new();
        let mut current = (i64::MAX, i64::MIN);
        for t in times {
            if !(current.0..current.1).contains(&t) {
                let m = compact::partitions::Month::of_ms(t);
                current = (m.start_ms(), m.next().start_ms());
                if !months.contains(&m) {
                    months.push(m);
                }
            }
        }
        self.partitions_for(table, &months).await?;
        // A batch inside one month goes straight into its partition: PostgreSQL then routes
        // no row (about 4 % of a replay's time, docs/benchmarks.md).
        let aimed = match months.as_slice() {
            [m] => self.tables.aimed(table, &m.partition(table)),
            _ => None,
        };
        let aim = aimed.as_deref().map(|t| (table, t));
        match self.writer.write_aimed(steps, aim).await {
            Err(PortError::Other(e)) if e.contains("no partition of relation") || e.contains("does not exist") => {
                self.partitions.forget();
                self.partitions_for(table, &months).await?;
                self.writer.write_aimed(steps, aim).await
            }
            other => other,
        }
    }

    /// `rows` of one series in `range` with its sealed minutes when history may be packed
    /// (see `compact::reads::merged`).
    async fn with_packs<M>(
        &self,
        spec: &compact::Spec<M>,
        series: &[String],
        range: TimeRange,
        limit: usize,
        rows: Vec<M>,
    ) -> Result<Vec<M>, PortError> {
        if !self.packed {
            return Ok(rows);
        }
        compact::reads::merged(&self.db, spec, series, ms_range(range), limit, rows).await
    }

    /// Checks the database answers.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<(), PortError> {
        self.db.ping().await.map_err(db_error)
    }
}

#[async_trait::async_trait]
impl domain::ports::HealthProbe for SeaStore {
    async fn ping(&self) -> Result<(), PortError> {
        SeaStore::ping(self).await
    }
}

/// How the time-series row tables are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Plain tables (SQLite; PostgreSQL before the partitioning migration).
    Plain,
    /// Partitioned by month (PostgreSQL); closed days sealed into packs.
    Partitioned,
    /// TimescaleDB hypertables, compressed natively: no packs.
    Hypertables,
}

/// Pool size and timeouts (`[database]` settings).
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Connections at most.
    pub max_connections: u32,
    /// Longest wait for a connection (and for a new connection to open); past it the call
    /// fails with [`PortError::Unavailable`] instead of hanging while the database is down.
    pub acquire_timeout: std::time::Duration,
    /// Longest a statement may run: PostgreSQL's `statement_timeout`, SQLite's busy timeout.
    pub statement_timeout: std::time::Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: std::time::Duration::from_secs(2),
            statement_timeout: std::time::Duration::from_secs(5),
        }
    }
}

impl PoolOptions {
    fn apply(&self, o: &mut ConnectOptions) {
        let statement = self.statement_timeout;
        o.max_connections(self.max_connections.max(1))
            .acquire_timeout(self.acquire_timeout)
            .connect_timeout(self.acquire_timeout)
            .statement_timeout(statement)
            // The whole SQLite setup again: sea-orm keeps one such function, the last set.
            .map_sqlx_sqlite_opts(move |opts| sqlite_options(opts, statement));
    }
}

/// Whether a PostgreSQL URL's server takes a TCP connection within `timeout`, or which host
/// failed and why (refused, no answer, a name that does not resolve; see
/// [`crate::outbound::reach`]). SQLite URLs and socket paths are not probed.
///
/// # Errors
/// `PostgreSQL at {host:port}: {why}`.
pub async fn reachable(url: &str, timeout: std::time::Duration) -> Result<(), String> {
    let Some(endpoint) = url
        .starts_with("postgres")
        .then(|| surf::Url::parse(url).ok())
        .flatten()
        .and_then(|u| crate::outbound::reach::endpoint(&u, 5432))
    else {
        return Ok(());
    };
    crate::outbound::reach::probe(&endpoint, timeout)
        .await
        .map_err(|why| format!("PostgreSQL at {why}"))
}

/// Connection options: SQLite as [`sqlite_options`] with a 5 s busy timeout, no
/// per-statement logs.
#[must_use]
pub fn connect_options(url: &str) -> ConnectOptions {
    let mut o = ConnectOptions::new(url.to_owned());
    o.sqlx_logging(false);
    o.map_sqlx_sqlite_opts(|opts| sqlite_options(opts, std::time::Duration::from_secs(5)));
    o
}

/// How every SQLite connection runs: WAL mode with `synchronous = NORMAL` (a committed
/// transaction survives a process crash; only an OS crash or power loss can lose the last
/// commits), `busy` as the busy timeout instead of instant "database is locked", temporary
/// storage in memory, and checkpoints left to the store's checkpoint task (`checkpoint.rs`).
fn sqlite_options(opts: SqliteConnectOptions, busy: std::time::Duration) -> SqliteConnectOptions {
    opts.journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(busy)
        // Statement journals of multi-row upserts stay in memory instead of a temp file per
        // transaction (one open, write and unlink each, seen with strace on replay).
        .pragma("temp_store", "memory")
        // A safety net: checkpoints normally run off the write path.
        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
}

/// Drops the cached aggregates (every timeframe) of the written instruments whose bucket spans
/// a minute between the batch's earliest and latest: one `DELETE` per chunk of keys, cheap when
/// nothing is cached (an index probe per key). A batch spanning a long time range
/// over-invalidates, which costs a recomputation, never a stale answer.
fn invalidate_timeframes<'a>(writer: &Writer, candles: &[&'a InstrumentCandle]) -> Vec<Step<'static, 'a>> {
    let (Some(lo), Some(hi)) = (
        candles.iter().map(|c| c.bar.start).min(),
        candles.iter().map(|c| c.bar.start).max(),
    ) else {
        return Vec::new();
    };
    let mut keys: Vec<&str> = candles.iter().map(|c| c.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.chunks(CHUNK)
        .map(|chunk| {
            let list: Vec<String> = (1..=chunk.len()).map(|n| writer.placeholder(n)).collect();
            let mut cells: Vec<Cell<'a>> = chunk.iter().map(|k| Cell::str(k)).collect();
            cells.push(Cell::BigInt(lo.timestamp_millis()));
            cells.push(Cell::BigInt(hi.timestamp_millis()));
            Step::Plain(Plain {
                sql: format!(
                    "DELETE FROM \"signal_custom_timeframes\" WHERE \"instrument_key\" IN ({}) \
                     AND \"bucket_end_ms\" > {} AND \"bucket_start_ms\" <= {}",
                    list.join(", "),
                    writer.placeholder(chunk.len() + 1),
                    writer.placeholder(chunk.len() + 2),
                ),
                cells,
            })
        })
        .collect()
}

/// One item per key, the last given of each, in the order first met: an upsert statement may
/// not touch a row twice on PostgreSQL ("ON CONFLICT DO UPDATE command cannot affect row a
/// second time"), and the last value given is the newest.
fn last_per_key<'a, T, K: std::hash::Hash + Eq>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let mut at: std::collections::HashMap<K, usize, foldhash::fast::RandomState> =
        std::collections::HashMap::with_capacity_and_hasher(items.len(), foldhash::fast::RandomState::default());
    let mut out: Vec<&T> = Vec::with_capacity(items.len());
    for item in items {
        match at.entry(key(item)) {
            std::collections::hash_map::Entry::Occupied(e) => out[*e.get()] = item,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(item);
            }
        }
    }
    out
}

/// One candle per instrument and minute (see [`last_per_key`]).
fn last_per_minute(candles: &[InstrumentCandle]) -> Vec<&InstrumentCandle> {
    last_per_key(candles, |c| (c.key.as_str(), c.bar.start.timestamp_millis()))
}

/// `range` as epoch milliseconds `[from, to)`.
fn ms_range(range: TimeRange) -> (i64, i64) {
    (range.from.timestamp_millis(), range.to.timestamp_millis())
}

/// A row limit for SQL: limits are signed 64-bit there, so anything larger means "all".
fn sql_limit(limit: usize) -> u64 {
    u64::try_from(limit).map_or(i64::MAX.unsigned_abs(), |l| l.min(i64::MAX.unsigned_abs()))
}

#[async_trait]
impl SignalStore for SeaStore {
    async fn save_candles(&self, candles: &[InstrumentCandle]) -> Result<(), PortError> {
        if candles.is_empty() {
            return Ok(());
        }
        self.write_into(
            &self.candle_steps(candles),
            "candles_1m",
            candles.iter().map(|c| c.bar.start.timestamp_millis()),
        )
        .await
    }

    async fn timeframe_bars(
        &self,
        key: &InstrumentKey,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<AggregatedBar>, PortError> {
        use custom_timeframe::Column as C;
        let rows = custom_timeframe::Entity::find()
            .filter(C::InstrumentKey.eq(key.as_str()))
            .filter(C::Timeframe.eq(timeframe.to_string()))
            .filter(C::BucketStartMs.gte(range.from.timestamp_millis()))
            .filter(C::BucketStartMs.lt(range.to.timestamp_millis()))
            .order_by_asc(C::BucketStartMs)
            .all(&self.db)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(convert::timeframe_record).collect()
    }

    async fn save_timeframe_bars(
        &self,
        key: &InstrumentKey,
        timeframe: Timeframe,
        bars: &[AggregatedBar],
    ) -> Result<(), PortError> {
        if bars.is_empty() {
            return Ok(());
        }
        let now_ms = convert::now_ms();
        let timeframe = timeframe.to_string();
        let rows = Rows::of(&self.tables.timeframes, bars, |b, out| {
            convert::timeframe_cells(key, &timeframe, b, now_ms, out);
        });
        self.write_into(
            &[Step::Upsert(rows)],
            "signal_custom_timeframes",
            bars.iter().map(|b| b.start.timestamp_millis()),
        )
        .await
    }

    async fn candles(&self, key: &InstrumentKey, range: TimeRange) -> Result<Vec<InstrumentCandle>, PortError> {
        use candle::Column as C;
        let rows = candle::Entity::find()
            .filter(C::InstrumentKey.eq(key.as_str()))
            .filter(C::StartMs.gte(range.from.timestamp_millis()))
            .filter(C::StartMs.lt(range.to.timestamp_millis()))
            .order_by_asc(C::StartMs)
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let rows = self
            .with_packs(
                &compact::candles_spec(),
                &[key.as_str().to_owned()],
                range,
                usize::MAX,
                rows,
            )
            .await?;
        rows.into_iter().map(convert::candle_record).collect()
    }

    async fn candles_of(&self, keys: &[InstrumentKey], range: TimeRange) -> Result<Vec<InstrumentCandle>, PortError> {
        use candle::Column as C;
        let mut out = Vec::new();
        // Bound variables stay far under SQLite's and PostgreSQL's limits.
        for chunk in keys.chunks(500) {
            let rows = candle::Entity::find()
                .filter(C::InstrumentKey.is_in(chunk.iter().map(InstrumentKey::as_str)))
                .filter(C::StartMs.gte(range.from.timestamp_millis()))
                .filter(C::StartMs.lt(range.to.timestamp_millis()))
                .order_by_asc(C::InstrumentKey)
                .order_by_asc(C::StartMs)
                .all(&self.db)
                .await
                .map_err(db_error)?;
            let rows = if self.packed {
                let names: Vec<&str> = chunk.iter().map(InstrumentKey::as_str).collect();
                let packed =
                    compact::reads::of_keys(&self.db, &compact::candles_spec(), &names, ms_range(range)).await?;
                if packed.is_empty() {
                    rows
                } else {
                    let mut all = std::collections::BTreeMap::new();
                    for r in packed.into_iter().chain(rows) {
                        all.insert((r.instrument_key.clone(), r.start_ms), r);
                    }
                    all.into_values().collect()
                }
            } else {
                rows
            };
            for r in rows {
                out.push(convert::candle_record(r)?);
            }
        }
        Ok(out)
    }

    async fn save_greeks(&self, records: &[GreeksRecord]) -> Result<(), PortError> {
        if records.is_empty() {
            return Ok(());
        }
        self.write_into(
            &[self.greeks_step(records)],
            "signal_greeks",
            records.iter().map(|r| r.minute.timestamp_millis()),
        )
        .await
    }

    async fn greeks(
        &self,
        key: &InstrumentKey,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<GreeksRecord>, PortError> {
        use greeks::Column as C;
        let rows = greeks::Entity::find()
            .filter(C::InstrumentKey.eq(key.as_str()))
            .filter(C::MinuteMs.gte(range.from.timestamp_millis()))
            .filter(C::MinuteMs.lt(range.to.timestamp_millis()))
            .order_by_asc(C::MinuteMs)
            .limit(sql_limit(limit))
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let rows = self
            .with_packs(&compact::greeks_spec(), &[key.as_str().to_owned()], range, limit, rows)
            .await?;
        rows.into_iter().map(convert::greeks_record).collect()
    }

    async fn register_contracts(&self, contracts: &[OptionContract], market: &str) -> Result<(), PortError> {
        if contracts.is_empty() {
            return Ok(());
        }
        let now_ms = convert::now_ms();
        let rows = Rows::of(&self.tables.instruments, contracts, |c, out| {
            convert::instrument_cells(c, market, now_ms, out);
        });
        self.writer.write(&[Step::Upsert(rows)]).await
    }

    async fn save_computation(&self, r: &ComputationRecord) -> Result<(), PortError> {
        use sea_orm::ActiveValue::{NotSet, Set};
        let to_i32 = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        let row = computation::ActiveModel {
            id: NotSet,
            computation: Set(r.computation.clone()),
            scope: Set(r.scope.clone()),
            input_from_ms: Set(r.input_from.timestamp_millis()),
            input_to_ms: Set(r.input_to.timestamp_millis()),
            started_at_ms: Set(r.started_at.timestamp_millis()),
            duration_us: Set(r.duration_us),
            rows: Set(to_i32(r.rows)),
            rows_without_iv: Set(to_i32(r.rows_without_iv)),
            iv_errors: Set(serde_json::to_string(&r.iv_errors).unwrap_or_default()),
            stale_inputs: Set(to_i32(r.stale_inputs)),
        };
        computation::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn save_moneyness(&self, records: &[MoneynessRecord]) -> Result<(), PortError> {
        if records.is_empty() {
            return Ok(());
        }
        self.write_into(
            &[self.moneyness_step(records)],
            "signal_moneyness_greeks",
            records.iter().map(|r| r.minute.timestamp_millis()),
        )
        .await
    }

    /// PostgreSQL: the three tables in three transactions at once, on three connections (the
    /// server works on one while this side encodes the next). SQLite, which has one writer:
    /// the three one after the other.
    async fn save_history(
        &self,
        candles: &[InstrumentCandle],
        moneyness: &[MoneynessRecord],
        greeks: &[GreeksRecord],
    ) -> Result<(), PortError> {
        if !matches!(self.writer, Writer::Postgres(_)) {
            self.save_candles(candles).await?;
            self.save_moneyness(moneyness).await?;
            return self.save_greeks(greeks).await;
        }
        let (c, m, g) = futures_util::future::join3(
            self.save_candles(candles),
            self.save_moneyness(moneyness),
            self.save_greeks(greeks),
        )
        .await;
        c.and(m).and(g)
    }

    async fn moneyness(
        &self,
        underlying: &InstrumentKey,
        expiry: chrono::NaiveDate,
        right: domain::instrument::OptionRight,
        level: domain::moneyness::MoneynessLevel,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<MoneynessRecord>, PortError> {
        use moneyness::Column as C;
        let rows = moneyness::Entity::find()
            .filter(C::Underlying.eq(underlying.as_str()))
            .filter(C::Expiry.eq(convert::expiry_text(expiry)))
            .filter(C::OptionRight.eq(right.as_str()))
            .filter(C::Level.eq(level.to_string()))
            .filter(C::MinuteMs.gte(range.from.timestamp_millis()))
            .filter(C::MinuteMs.lt(range.to.timestamp_millis()))
            .order_by_asc(C::MinuteMs)
            .limit(sql_limit(limit))
            .all(&self.db)
            .await
            .map_err(db_error)?;
        let series = [
            underlying.as_str().to_owned(),
            convert::expiry_text(expiry),
            right.as_str().to_owned(),
            level.to_string(),
        ];
        let rows = self
            .with_packs(&compact::moneyness_spec(), &series, range, limit, rows)
            .await?;
        rows.into_iter().map(convert::moneyness_record).collect()
    }

    async fn moneyness_expiries(
        &self,
        underlying: &InstrumentKey,
        from: chrono::NaiveDate,
    ) -> Result<Vec<chrono::NaiveDate>, PortError> {
        chain_reads::moneyness_expiries(&self.db, underlying, from, self.packed).await
    }

    async fn last_atm(
        &self,
        underlying: &InstrumentKey,
        expiry: chrono::NaiveDate,
        range: TimeRange,
    ) -> Result<Option<MoneynessRecord>, PortError> {
        chain_reads::last_atm(&self.db, underlying, expiry, range, self.packed).await
    }

    async fn latest_greeks(&self, keys: &[InstrumentKey], range: TimeRange) -> Result<Vec<GreeksRecord>, PortError> {
        chain_reads::latest_greeks(&self.db, keys, range, self.packed).await
    }
}

impl crate::metrics::Source for SeaStore {
    fn read_into(&self, reading: &mut crate::metrics::StateReading) {
        reading.pool = Some(self.pool_stats());
    }
}
