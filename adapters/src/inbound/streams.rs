//! The Redis Streams way in (production): a consumer in a consumer group on one stream, feeding
//! the same ingest use cases as `POST /api/v2/ingest/…`.
//!
//! Entry format: one field, `ticks` or `candles`, whose value is a JSON object or array of
//! objects in exactly the REST shape ([`TickIn`], [`CandleIn`]). Producers write with e.g.
//! `XADD signal:ingest * ticks '{"key":"NSE:NIFTY","ts":"…","last":24000.5}'`.
//!
//! Delivery guarantees:
//! - an entry is acknowledged (`XACK`) only after its rows are durable in the store, so a crash
//!   between read and store leaves it pending;
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

use std::sync::Arc;
use std::time::Duration;

use application::ingest::IngestTicks;
use domain::instrument::InstrumentKey;
use domain::market_data::Tick;
use domain::ports::{InstrumentCandle, PortError};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, AsyncConnectionConfig, Client, RedisError};

use crate::inbound::rows::{CandleIn, TickIn};

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

/// Rows read from a batch of entries, each row tagged with its entry's id.
#[derive(Debug, Default)]
struct Decoded {
    ticks: Vec<Tick>,
    /// Entry id and row index within the entry of each tick.
    tick_origin: Vec<(String, usize)>,
    candles: Vec<InstrumentCandle>,
    /// Entry id and row index within the entry of each candle.
    candle_origin: Vec<(String, usize)>,
    /// Entry id, row index within the entry, field, reason.
    dead: Vec<(String, usize, String, String)>,
}

/// One entry's rows, as JSON values.
fn rows_of(entry: &StreamId, field: &str) -> Option<Result<Vec<serde_json::Value>, String>> {
    let raw: String = entry.get(field)?;
    Some(match serde_json::from_str::<serde_json::Value>(&raw) {
        Ok(serde_json::Value::Array(rows)) => Ok(rows),
        Ok(v @ serde_json::Value::Object(_)) => Ok(vec![v]),
        Ok(_) => Err(format!("`{field}` must hold a JSON object or array")),
        Err(e) => Err(format!("`{field}` is not valid JSON: {e}")),
    })
}

fn decode(entries: &[StreamId]) -> Decoded {
    let mut d = Decoded::default();
    for entry in entries {
        if entry.map.contains_key("ticks") {
            decode_rows(
                entry,
                "ticks",
                &mut d.ticks,
                &mut d.tick_origin,
                &mut d.dead,
                TickIn::into_tick,
            );
        } else if entry.map.contains_key("candles") {
            decode_rows(
                entry,
                "candles",
                &mut d.candles,
                &mut d.candle_origin,
                &mut d.dead,
                CandleIn::into_candle,
            );
        } else {
            d.dead.push((
                entry.id.clone(),
                0,
                "entry".into(),
                "no `ticks` or `candles` field".into(),
            ));
        }
    }
    d
}

/// Reads the rows of `entry`'s `field` as `T`, converted by `into` into `out` (with their
/// origin); an unreadable field or row goes to `dead`.
fn decode_rows<T: serde::de::DeserializeOwned + Keyed, R>(
    entry: &StreamId,
    field: &str,
    out: &mut Vec<R>,
    origin: &mut Vec<(String, usize)>,
    dead: &mut Vec<(String, usize, String, String)>,
    into: impl Fn(T, InstrumentKey) -> R,
) {
    let id = &entry.id;
    match rows_of(entry, field) {
        Some(Ok(rows)) => {
            for (i, v) in rows.into_iter().enumerate() {
                match parse_row::<T>(v) {
                    Ok((key, row)) => {
                        out.push(into(row, key));
                        origin.push((id.clone(), i));
                    }
                    Err((f, reason)) => dead.push((id.clone(), i, f, reason)),
                }
            }
        }
        Some(Err(reason)) => dead.push((id.clone(), 0, field.to_owned(), reason)),
        None => dead.push((id.clone(), 0, field.to_owned(), "is not a string".into())),
    }
}

/// Rows that carry a `key`.
trait Keyed {
    fn key(&self) -> &str;
}
impl Keyed for TickIn {
    fn key(&self) -> &str {
        &self.key
    }
}
impl Keyed for CandleIn {
    fn key(&self) -> &str {
        &self.key
    }
}

fn parse_row<T: serde::de::DeserializeOwned + Keyed>(
    v: serde_json::Value,
) -> Result<(InstrumentKey, T), (String, String)> {
    let row: T = serde_json::from_value(v).map_err(|e| ("row".to_owned(), e.to_string()))?;
    let key = InstrumentKey::parse(row.key()).map_err(|e| ("key".to_owned(), e.to_string()))?;
    Ok((key, row))
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
}

impl StreamConsumer {
    /// A consumer feeding `ingest` (connects lazily, in [`Self::run`]).
    ///
    /// # Errors
    /// [`PortError::Invalid`] for a malformed URL.
    pub fn new(cfg: StreamConsumerConfig, ingest: Arc<IngestTicks>) -> Result<Self, PortError> {
        let client = Client::open(cfg.url.as_str()).map_err(|e| PortError::Invalid(format!("redis url: {e}")))?;
        Ok(Self { cfg, client, ingest })
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
    async fn consume(&self, conn: &mut MultiplexedConnection, backoff: &mut Duration) -> Result<(), BatchError> {
        let mut own_backlog = true;
        let mut last_claim = tokio::time::Instant::now() - self.cfg.claim_every;
        loop {
            if last_claim.elapsed() >= self.cfg.claim_every {
                self.claim(conn).await?;
                last_claim = tokio::time::Instant::now();
            }
            let id = if own_backlog { "0" } else { ">" };
            let block_ms = usize::try_from(self.cfg.block.as_millis()).unwrap_or(usize::MAX);
            let opts = StreamReadOptions::default()
                .group(&self.cfg.group, &self.cfg.consumer)
                .count(self.cfg.batch);
            let opts = if own_backlog { opts } else { opts.block(block_ms) };
            let reply: Option<StreamReadReply> = conn.xread_options(&[&self.cfg.stream], &[id], &opts).await?;
            let entries: Vec<StreamId> = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids).collect();
            if own_backlog && entries.is_empty() {
                own_backlog = false;
                continue;
            }
            // On failure nothing of this batch was acknowledged; the next session re-reads it
            // from this consumer's pending list.
            self.process(conn, &entries).await?;
            *backoff = Duration::from_millis(100);
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
                self.process(conn, &reply.claimed).await?;
            }
            if reply.next_stream_id == "0-0" {
                return Ok(());
            }
            start = reply.next_stream_id;
        }
    }

    /// Ingests a batch, dead-letters what cannot be ingested, then acknowledges every entry.
    async fn process(&self, conn: &mut MultiplexedConnection, entries: &[StreamId]) -> Result<(), BatchError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut d = decode(entries);
        if !d.ticks.is_empty() {
            let report = self.ingest.execute(&d.ticks).await.map_err(BatchError::Store)?;
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
            for r in report.rejected {
                let (id, row) = d.candle_origin[r.index].clone();
                d.dead.push((id, row, r.field, r.reason));
            }
        }
        if !d.dead.is_empty() {
            let mut pipe = redis::pipe();
            for (id, row, field, reason) in &d.dead {
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
            tracing::debug!(rows = d.dead.len(), "stream rows dead-lettered");
        }
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        let _: i64 = conn.xack(&self.cfg.stream, &self.cfg.group, &ids).await?;
        Ok(())
    }
}
