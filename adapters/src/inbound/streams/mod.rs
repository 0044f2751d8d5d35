//! The Redis Streams way in (production): a consumer in a consumer group on one stream, feeding
//! the same ingest use cases as `POST /api/v2/ingest/…`.
//!
//! Entry format: one field, `ticks` or `candles`, whose value is a JSON object or array of
//! objects in exactly the REST shape ([`TickIn`], [`CandleIn`]). Producers write with e.g.
//! `XADD signal:ingest * ticks '{"key":"NSE:NIFTY","ts":"…","last":24000.5}'`.
//!
//! Delivery guarantees:
//! - an entry is acknowledged (`XACK`) only after its rows are durable in the store, so a crash
//!   between read and store leaves it pending; while reads come back full (a backlog), up to
//!   `read_ahead` of them are ingested before their acknowledgement, and their bars are written
//!   by one write of the group commit (`application::ingest`'s `commits.rs`); that write starts
//!   when the group closes and runs while the next groups are read and ingested, up to
//!   [`GROUPS_IN_FLIGHT`] of them (`application::ingest::InFlight`);
//! - on start the consumer first re-reads its own pending entries (`XREADGROUP … 0`), then new
//!   ones (`>`); every `claim_every` it also takes over entries another consumer has left pending
//!   for longer than `claim_idle` (`XAUTOCLAIM`), which is how a crashed instance's work is
//!   finished by a live one;
//! - ingest is idempotent, so an entry stored but not acknowledged before a crash is harmless
//!   when it is delivered again;
//! - an entry that cannot be read, and every row the use case rejects, goes to the dead-letter
//!   stream `<stream>:rejected` with the entry id, row index, field and reason, and is
//!   acknowledged: bad data is never retried forever, and never silently dropped.
//!
//! When the store fails nothing is acknowledged; the consumer backs off and re-reads its pending
//! entries. When Redis is down it reconnects with backoff.

mod decode;

use std::sync::Arc;
use std::time::Duration;

use application::ingest::{Durable, InFlight, IngestTicks};
use domain::ports::PortError;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, AsyncConnectionConfig, Client, RedisError};

use decode::decode;

/// Closed groups whose writes may be in flight at once before the consumer waits for the
/// oldest: enough to ride out a minute's snapshot flush holding the database's one writer.
/// Unacknowledged entries stay under `(GROUPS_IN_FLIGHT + 1) × read_ahead × batch`.
pub const GROUPS_IN_FLIGHT: usize = 4;

/// Settings of the stream consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConsumerConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// The stream to read, e.g. `signal:ingest`.
    pub stream: String,
    /// The consumer group (created at the start of the stream when missing).
    pub group: String,
    /// This consumer's name; stable across restarts so that its own pending entries are re-read.
    pub consumer: String,
    /// Entries per read.
    pub batch: usize,
    /// Full reads whose entries are acknowledged together (their bars written by one write):
    /// see [`StreamConsumer`]'s `consume`. 1 acknowledges every read on its own.
    pub read_ahead: usize,
    /// How long one read blocks waiting for entries.
    pub block: Duration,
    /// Entries pending longer than this with another consumer are claimed.
    pub claim_idle: Duration,
    /// How often to look for such entries.
    pub claim_every: Duration,
}

impl StreamConsumerConfig {
    /// The dead-letter stream: `<stream>:rejected`.
    #[must_use]
    pub fn dead_letter(&self) -> String {
        format!("{}:rejected", self.stream)
    }
}

/// Why a batch was not acknowledged.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error("store: {0}")]
    Store(PortError),
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
}

/// The consumer. [`StreamConsumer::run`] loops until its shutdown future completes.
pub struct StreamConsumer {
    cfg: StreamConsumerConfig,
    client: Client,
    ingest: Arc<IngestTicks>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl StreamConsumer {
    /// A consumer feeding `ingest` (connects lazily, in [`Self::run`]).
    ///
    /// # Errors
    /// [`PortError::Invalid`] for a malformed URL.
    pub fn new(cfg: StreamConsumerConfig, ingest: Arc<IngestTicks>) -> Result<Self, PortError> {
        let client = crate::outbound::redis_conn::connection_info(&cfg.url)
            .and_then(Client::open)
            .map_err(|e| PortError::Invalid(format!("redis url: {e}")))?;
        Ok(Self {
            cfg,
            client,
            ingest,
            metrics: Arc::default(),
        })
    }

    /// Counts its rows (way `stream`) in `metrics` (the served `/metrics`).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    async fn connect(&self) -> Result<MultiplexedConnection, RedisError> {
        // A read blocks for `block`; the response timeout must outlast it.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(self.cfg.block + Duration::from_secs(5)));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        // Create the group at the stream's start ("0"), so a backlog written before the first
        // consumer existed is consumed too; an existing group is left as it is.
        let created: Result<(), RedisError> = conn
            .xgroup_create_mkstream(&self.cfg.stream, &self.cfg.group, "0")
            .await;
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(e),
            _ => Ok(conn),
        }
    }

    /// Consumes until `shutdown` completes. Never returns early: Redis and store failures are
    /// logged and retried with backoff.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        loop {
            let session = async {
                let mut conn = self.connect().await.map_err(BatchError::from)?;
                tracing::info!(stream = %self.cfg.stream, group = %self.cfg.group, consumer = %self.cfg.consumer, "stream consumer connected");
                self.consume(&mut conn, &mut backoff).await
            };
            tokio::select! {
                () = &mut shutdown => return,
                r = session => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "stream consumer paused");
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One connection's life: own pending entries first, then new ones, claiming idle entries
    /// of other consumers on the way. Returns on the first error (the caller backs off).
    ///
    /// Reads that come back full (a backlog) are acknowledged together, up to `read_ahead` of
    /// them: their bars share one write of the group commit. A read that is not full (the
    /// consumer has caught up) acknowledges at once what it and the reads before it hold.
    async fn consume(&self, conn: &mut MultiplexedConnection, backoff: &mut Duration) -> Result<(), BatchError> {
        let mut own_backlog = true;
        let mut last_claim = tokio::time::Instant::now() - self.cfg.claim_every;
        let mut group = Unacked::default();
        // Closed groups: their writes started, their acknowledgements waiting for them.
        let mut in_flight = InFlight::new(GROUPS_IN_FLIGHT);
        loop {
            if last_claim.elapsed() >= self.cfg.claim_every {
                self.close(conn, &mut in_flight, std::mem::take(&mut group), true)
                    .await?;
                self.claim(conn).await?;
                self.observe_group(conn).await;
                last_claim = tokio::time::Instant::now();
            }
            let id = if own_backlog { "0" } else { ">" };
            let block_ms = usize::try_from(self.cfg.block.as_millis()).unwrap_or(usize::MAX);
            let opts = StreamReadOptions::default()
                .group(&self.cfg.group, &self.cfg.consumer)
                .count(self.cfg.batch);
            // While reads are grouped or a group's write is in flight, the next read does not
            // block: an empty one closes the group and acknowledges every group in flight.
            let opts = if own_backlog || group.reads > 0 || !in_flight.is_empty() {
                opts
            } else {
                opts.block(block_ms)
            };
            let reply: Option<StreamReadReply> = conn.xread_options(&[&self.cfg.stream], &[id], &opts).await?;
            let entries: Vec<StreamId> = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids).collect();
            if own_backlog && entries.is_empty() {
                own_backlog = false;
                continue;
            }
            let full = entries.len() >= self.cfg.batch;
            // On failure nothing of this group was acknowledged; the next session re-reads it
            // from this consumer's pending list.
            self.ingest_entries(&entries, &mut group).await?;
            if !full || group.reads >= self.cfg.read_ahead.max(1) {
                // This group's write starts now; groups already durable are acknowledged. A
                // backlog goes on with it in flight; a consumer that has caught up waits for all.
                self.close(conn, &mut in_flight, std::mem::take(&mut group), !full)
                    .await?;
            }
            *backoff = Duration::from_millis(100);
        }
    }

    /// Reads the group's pending entries and lag (`XINFO GROUPS`) into the metrics; a failure
    /// leaves them as they were (the next read's error, if any, is handled by the loop).
    async fn observe_group(&self, conn: &mut MultiplexedConnection) {
        let info: Result<redis::streams::StreamInfoGroupsReply, RedisError> = conn.xinfo_groups(&self.cfg.stream).await;
        match info {
            Ok(reply) => {
                if let Some(g) = reply.groups.iter().find(|g| g.name == self.cfg.group) {
                    self.metrics
                        .stream_pending
                        .set(i64::try_from(g.pending).unwrap_or(i64::MAX));
                    if let Some(lag) = g.lag {
                        self.metrics.stream_lag.set(i64::try_from(lag).unwrap_or(i64::MAX));
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "XINFO GROUPS failed"),
        }
    }

    /// Takes over entries idle for `claim_idle` in other consumers' pending lists, and ingests them.
    async fn claim(&self, conn: &mut MultiplexedConnection) -> Result<(), BatchError> {
        let idle_ms = u64::try_from(self.cfg.claim_idle.as_millis()).unwrap_or(u64::MAX);
        let mut start = "0-0".to_owned();
        loop {
            let reply: StreamAutoClaimReply = conn
                .xautoclaim_options(
                    &self.cfg.stream,
                    &self.cfg.group,
                    &self.cfg.consumer,
                    idle_ms,
                    &start,
                    StreamAutoClaimOptions::default().count(self.cfg.batch),
                )
                .await?;
            if !reply.claimed.is_empty() {
                tracing::info!(entries = reply.claimed.len(), "claimed pending stream entries");
                let mut group = Unacked::default();
                self.ingest_entries(&reply.claimed, &mut group).await?;
                self.close(conn, &mut InFlight::new(1), group, true).await?;
            }
            if reply.next_stream_id == "0-0" {
                return Ok(());
            }
            start = reply.next_stream_id;
        }
    }

    /// Ingests one read's entries into `group`: their ticks accepted (their bars staged), their
    /// candles stored, and what cannot be ingested kept for the dead-letter stream.
    async fn ingest_entries(&self, entries: &[StreamId], group: &mut Unacked) -> Result<(), BatchError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut d = decode(entries);
        let started = std::time::Instant::now();
        if !d.ticks.is_empty() {
            let (report, durable) = self.ingest.accept(&d.ticks).await.map_err(BatchError::Store)?;
            group.durables.push(durable);
            let fields = report.rejected.iter().map(|r| r.field.as_str());
            self.metrics
                .count_ingest("stream", report.accepted, fields, started.elapsed());
            for r in report.rejected {
                let (id, row) = d.tick_origin[r.index].clone();
                d.dead.push((id, row, r.field, r.reason));
            }
        }
        if !d.candles.is_empty() {
            let report = self
                .ingest
                .execute_candles(&d.candles)
                .await
                .map_err(BatchError::Store)?;
            let fields = report.rejected.iter().map(|r| r.field.as_str());
            self.metrics
                .count_ingest("stream", report.accepted, fields, started.elapsed());
            for r in report.rejected {
                let (id, row) = d.candle_origin[r.index].clone();
                d.dead.push((id, row, r.field, r.reason));
            }
        }
        group.reads += 1;
        group.dead.append(&mut d.dead);
        group.ids.extend(entries.iter().map(|e| e.id.clone()));
        Ok(())
    }

    /// Closes `group`: starts the write of its bars, then acknowledges every group of
    /// `in_flight` that is durable by now (all of them with `wait_all`).
    async fn close(
        &self,
        conn: &mut MultiplexedConnection,
        in_flight: &mut InFlight<Acks>,
        group: Unacked,
        wait_all: bool,
    ) -> Result<(), BatchError> {
        let acks = Acks {
            ids: group.ids,
            dead: group.dead,
        };
        let mut done = in_flight.push(group.durables, acks).await.map_err(BatchError::Store)?;
        if wait_all {
            done.extend(in_flight.drain().await.map_err(BatchError::Store)?);
        }
        for acks in done {
            self.acknowledge(conn, acks).await?;
        }
        Ok(())
    }

    /// Dead-letters what the group could not ingest, then acknowledges every entry of it (its
    /// bars are durable).
    async fn acknowledge(&self, conn: &mut MultiplexedConnection, group: Acks) -> Result<(), BatchError> {
        if group.ids.is_empty() {
            return Ok(());
        }
        if !group.dead.is_empty() {
            let mut pipe = redis::pipe();
            for (id, row, field, reason) in &group.dead {
                pipe.xadd(
                    self.cfg.dead_letter(),
                    "*",
                    &[
                        ("entry", id.as_str()),
                        ("row", &row.to_string()),
                        ("field", field.as_str()),
                        ("reason", reason.as_str()),
                    ],
                )
                .ignore();
            }
            pipe.exec_async(conn).await?;
            tracing::debug!(rows = group.dead.len(), "stream rows dead-lettered");
        }
        let ids: Vec<&str> = group.ids.iter().map(String::as_str).collect();
        let _: i64 = conn.xack(&self.cfg.stream, &self.cfg.group, &ids).await?;
        Ok(())
    }
}

/// Entries ingested and not yet acknowledged.
#[derive(Debug, Default)]
struct Unacked {
    /// Reads they came from.
    reads: usize,
    ids: Vec<String>,
    /// Entry id, row index, field, reason of each row that goes to the dead-letter stream.
    dead: Vec<(String, usize, String, String)>,
    /// The staged bars of their ticks.
    durables: Vec<Durable>,
}

/// What acknowledging a closed group takes.
struct Acks {
    ids: Vec<String>,
    dead: Vec<(String, usize, String, String)>,
}
