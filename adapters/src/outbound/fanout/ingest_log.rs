//! The Redis ingest log ([`domain::ports::IngestLog`]): every instance appends the rows it
//! accepted to one stream, `{prefix}ingest:log` (`XADD … MAXLEN ~ N`, then `XTRIM … MINID ~` the
//! configured window before the newest entry; fields `origin` and `ticks`, the rows as JSON), and follows it: the other instances' batches go through
//! `IngestTicks::follow`, so each instance's realtime state reflects all ingest. A starting
//! instance first applies the retained window ([`RedisIngestLog::catch_up`]), then follows from
//! where that ended ([`RedisIngestLog::follow`]): a stream, not pub/sub, so nothing falls in the
//! gap between the two. Its own batches (same `origin`) are skipped.
//!
//! The window is bounded; the instruments are not. So the same script that appends a batch
//! also records each instrument's newest row in the hash `{prefix}ingest:latest` (field: the
//! instrument key; value: `"{stream id} {row}"`; the hash expires [`LATEST_TTL`] after the last
//! append). Catching up, an instance first applies the newest row of every instrument whose row
//! is older than the window (an option quoted once early in the session and not since), oldest
//! first, each option's IV and Greeks then read from the store's minute snapshot of that row
//! (what the instance that priced it computed; `IngestTicks::restore`), and then the window:
//! its realtime state holds every instrument the running instances hold. Rows older than
//! [`LATEST_TTL`] before the newest are dropped from the hash then.
//!
//! Redis is never on the ingest path's latency: once [`RedisIngestLog::start`] ran, `append`
//! only queues the rows (bounded, [`QUEUE_BATCHES`]) and one worker writes them, each write given
//! [`APPEND_TIMEOUT`]. While Redis does not answer, or the queue is full, batches are dropped from
//! the log (logged once per outage): this instance stores and publishes them as always; only the
//! other instances' realtime state misses them until the same options are quoted again.

use std::sync::Arc;
use std::time::Duration;

use application::ingest::IngestTicks;
use async_trait::async_trait;
use bb8_redis::RedisConnectionManager;
use bb8_redis::redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use bb8_redis::redis::{self, AsyncCommands};
use domain::market_data::Tick;
use domain::ports::{IngestLog, PortError};

/// Batches waiting for the appending worker, at most.
pub const QUEUE_BATCHES: usize = 4096;
/// Longest one append may take before its batch is dropped from the log.
pub const APPEND_TIMEOUT: Duration = Duration::from_millis(250);

/// How long the newest-row hash outlives the last append, and how much older than the newest
/// row a row may be before catching up drops it (an expired option's rows leave after a week).
pub const LATEST_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// One append: the batch to the stream, each instrument's newest row to the hash; one round
/// trip, atomic, so a hash entry's stream id orders it against every batch.
const APPEND: &str = r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'origin', ARGV[2], 'ticks', ARGV[3])
local window = tonumber(ARGV[5])
if window > 0 then
  local ms = tonumber(string.match(id, '^(%d+)'))
  redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%.0f', ms - window))
end
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], id .. ' ' .. ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return id
";

/// Rows of the newest-row hash applied per `follow` call while catching up.
const LATEST_CHUNK: usize = 500;

/// Entries read per call.
const PAGE: usize = 500;
/// How long one follow read blocks.
const BLOCK: Duration = Duration::from_secs(1);

/// The Redis ingest log.
#[derive(Clone)]
pub struct RedisIngestLog {
    url: String,
    pool: bb8::Pool<RedisConnectionManager>,
    key: String,
    /// The newest row of each instrument: `{prefix}ingest:latest`.
    latest_key: String,
    script: Arc<redis::Script>,
    origin: String,
    max_len: usize,
    /// Entries older than this before the newest are trimmed too (zero: by count only).
    window: Duration,
    /// The worker's queue, once started.
    queue: Arc<std::sync::OnceLock<tokio::sync::mpsc::Sender<Vec<Tick>>>>,
}

impl std::fmt::Debug for RedisIngestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisIngestLog")
            .field("key", &self.key)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> PortError {
    PortError::Unavailable(format!("redis ingest log: {e}"))
}

fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::Other(format!("ingest log: {e}")))
}

/// What catching up applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchUp {
    /// Newest rows of instruments older than the window.
    pub older_rows: usize,
    /// Options among them whose Greeks came from the store's snapshot.
    pub greeks_from_store: usize,
    /// The other instances' batches in the window.
    pub batches: usize,
    /// The stream id to follow from.
    pub from: String,
}

/// A stream entry id, `{ms}-{seq}`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StreamPosition {
    ms: u64,
    seq: u64,
}

impl StreamPosition {
    fn parse(id: &str) -> Option<Self> {
        let (ms, seq) = id.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// The entry's origin and rows; `None` for an entry that cannot be read.
fn decode(entry: &StreamId) -> Option<(String, Vec<Tick>)> {
    let origin: String = entry.get("origin")?;
    let ticks: String = entry.get("ticks")?;
    Some((origin, serde_json::from_str(&ticks).ok()?))
}

impl RedisIngestLog {
    /// The log at `url` under `prefix`, written as `origin` (unique per running instance), keeping
    /// about `max_len` batches.
    ///
    /// # Errors
    /// [`PortError::Invalid`] for a bad URL.
    pub fn new(url: &str, prefix: &str, origin: &str, max_len: usize) -> Result<Self, PortError> {
        let pool = crate::outbound::redis_conn::small_pool(url)?;
        Ok(Self {
            url: url.to_owned(),
            pool,
            key: format!("{prefix}ingest:log"),
            latest_key: format!("{prefix}ingest:latest"),
            script: Arc::new(redis::Script::new(APPEND)),
            origin: origin.to_owned(),
            max_len: max_len.max(1),
            window: Duration::ZERO,
            queue: Arc::default(),
        })
    }

    /// Also trims entries appended more than `window` before the newest (by Redis's clock: the
    /// entry ids), so the stream holds about the last `window` of ingest at any feed rate, up
    /// to `max_len` batches. The window must cover the minute still open (its bars are rebuilt
    /// from its ticks); older instruments come from the newest-row hash.
    #[must_use]
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Starts the appending worker (see the module's doc): from now on `append` only queues.
    pub fn start(&self) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Tick>>(QUEUE_BATCHES);
        if self.queue.set(tx).is_err() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut down = false;
            while let Some(rows) = rx.recv().await {
                let result = match tokio::time::timeout(APPEND_TIMEOUT, this.write(&rows)).await {
                    Ok(r) => r,
                    Err(_) => Err(unavailable(format!(
                        "no answer within {} ms",
                        APPEND_TIMEOUT.as_millis()
                    ))),
                };
                match result {
                    Ok(()) if down => {
                        down = false;
                        tracing::info!("redis ingest log: appending again");
                    }
                    Ok(()) => {}
                    Err(e) if !down => {
                        down = true;
                        tracing::warn!(error = %e, "redis ingest log unavailable: accepted batches are not shared with the other instances until it is back");
                    }
                    Err(_) => {}
                }
            }
        });
    }

    /// One append of `rows` (see [`APPEND`]).
    async fn write(&self, rows: &[Tick]) -> Result<(), PortError> {
        let json = encode(rows)?;
        // Each instrument's last row in the batch.
        let mut seen = std::collections::HashSet::with_capacity(rows.len());
        let newest: Vec<&Tick> = rows.iter().rev().filter(|t| seen.insert(&t.key)).collect();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(&self.key)
            .key(&self.latest_key)
            .arg(self.max_len)
            .arg(&self.origin)
            .arg(json)
            .arg(u64::try_from(LATEST_TTL.as_millis()).unwrap_or(u64::MAX))
            .arg(u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX));
        for row in newest {
            invocation.arg(row.key.to_string()).arg(encode(row)?);
        }
        let mut conn = self.pool.get().await.map_err(unavailable)?;
        let _id: String = invocation.invoke_async(&mut *conn).await.map_err(unavailable)?;
        Ok(())
    }

    /// Applies the newest row of each instrument older than the window (whose first entry is
    /// `window_from`, none: an empty window), oldest first, and drops rows older than
    /// [`LATEST_TTL`] before the newest from the hash (`IngestTicks::restore`: options take
    /// their Greeks from the store's snapshot). Returns the rows applied, and the options whose
    /// Greeks came from the store.
    async fn apply_latest(
        &self,
        conn: &mut bb8::PooledConnection<'_, RedisConnectionManager>,
        window_from: Option<StreamPosition>,
        ingest: &IngestTicks,
    ) -> Result<(usize, usize), PortError> {
        let entries: std::collections::HashMap<String, String> =
            conn.hgetall(&self.latest_key).await.map_err(unavailable)?;
        let mut rows: Vec<(StreamPosition, &str, Tick)> = Vec::new();
        for (field, value) in &entries {
            let parsed = value
                .split_once(' ')
                .and_then(|(id, row)| Some((StreamPosition::parse(id)?, serde_json::from_str::<Tick>(row).ok()?)));
            match parsed {
                Some((id, tick)) => rows.push((id, field, tick)),
                None => tracing::warn!(instrument = %field, "redis ingest log: an unreadable newest row was skipped"),
            }
        }
        let newest = rows.iter().map(|(id, _, _)| id.ms).max().unwrap_or(0);
        let horizon = newest.saturating_sub(u64::try_from(LATEST_TTL.as_millis()).unwrap_or(u64::MAX));
        let expired: Vec<&str> = rows
            .iter()
            .filter(|(id, _, _)| id.ms < horizon)
            .map(|(_, field, _)| *field)
            .collect();
        if !expired.is_empty() {
            let _: usize = conn.hdel(&self.latest_key, &expired).await.map_err(unavailable)?;
        }
        let mut older: Vec<(StreamPosition, Tick)> = rows
            .into_iter()
            .filter(|(id, _, _)| id.ms >= horizon && window_from.is_none_or(|from| *id < from))
            .map(|(id, _, tick)| (id, tick))
            .collect();
        older.sort_by_key(|(id, _)| *id);
        let ticks: Vec<Tick> = older.into_iter().map(|(_, t)| t).collect();
        let mut from_store = 0;
        for chunk in ticks.chunks(LATEST_CHUNK) {
            from_store += ingest.restore(chunk).await?.1;
        }
        Ok((ticks.len(), from_store))
    }

    /// Catches `ingest` up on the other instances' ingest: first the newest row of each
    /// instrument older than the retained window, then the window's batches, oldest first (see
    /// the module's doc).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when Redis does not answer; the store's error from `follow`.
    pub async fn catch_up(&self, ingest: &IngestTicks) -> Result<CatchUp, PortError> {
        let mut conn = self.pool.get().await.map_err(unavailable)?;
        let first: StreamRangeReply = conn.xrange_count(&self.key, "-", "+", 1).await.map_err(unavailable)?;
        let window_from = first.ids.first().and_then(|e| StreamPosition::parse(&e.id));
        let (older_rows, greeks_from_store) = self.apply_latest(&mut conn, window_from, ingest).await?;
        let mut done = CatchUp {
            older_rows,
            greeks_from_store,
            batches: 0,
            from: "0-0".to_owned(),
        };
        loop {
            let start = format!("({}", done.from);
            let page: StreamRangeReply = conn
                .xrange_count(&self.key, if done.from == "0-0" { "-" } else { &start }, "+", PAGE)
                .await
                .map_err(unavailable)?;
            let Some(end) = page.ids.last().map(|e| e.id.clone()) else {
                return Ok(done);
            };
            done.batches += self.apply(&page.ids, ingest).await?;
            done.from = end;
        }
    }

    /// Applies the other instances' batches among `entries`; the number applied.
    async fn apply(&self, entries: &[StreamId], ingest: &IngestTicks) -> Result<usize, PortError> {
        let mut applied = 0;
        for entry in entries {
            match decode(entry) {
                Some((origin, _)) if origin == self.origin => {}
                Some((_, ticks)) => {
                    ingest.follow(&ticks).await?;
                    applied += 1;
                }
                None => tracing::warn!(id = %entry.id, "redis ingest log: an unreadable entry was skipped"),
            }
        }
        Ok(applied)
    }

    /// Follows the log from `from` (exclusive) until `shutdown`, applying the other instances'
    /// batches to `ingest`; reconnects with back-off (up to 1 s) when Redis goes away.
    pub async fn follow(self, ingest: Arc<IngestTicks>, from: String, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut last = from;
        let mut backoff = Duration::from_millis(100);
        loop {
            let run = self.follow_once(&ingest, &mut last, &mut backoff);
            tokio::select! {
                () = &mut shutdown => return,
                r = run => if let Err(e) = r {
                    tracing::warn!(error = %e, "redis ingest log: following stopped; reconnecting");
                },
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Reads and applies until an error.
    async fn follow_once(
        &self,
        ingest: &IngestTicks,
        last: &mut String,
        backoff: &mut Duration,
    ) -> Result<(), PortError> {
        let client = redis::Client::open(crate::outbound::redis_conn::connection_info(&self.url).map_err(unavailable)?)
            .map_err(unavailable)?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(BLOCK + Duration::from_secs(5)));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(unavailable)?;
        *backoff = Duration::from_millis(100);
        let block_ms = usize::try_from(BLOCK.as_millis()).unwrap_or(usize::MAX);
        loop {
            let opts = StreamReadOptions::default().count(PAGE).block(block_ms);
            let reply: Option<StreamReadReply> = conn
                .xread_options(&[&self.key], &[last.as_str()], &opts)
                .await
                .map_err(unavailable)?;
            let entries: Vec<StreamId> = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids).collect();
            if let Some(end) = entries.last() {
                *last = end.id.clone();
            }
            if let Err(e) = self.apply(&entries, ingest).await {
                // The store failed reading a new instrument's bars: that batch is missed here
                // (its instance stores and publishes it); the next ones are applied.
                tracing::warn!(error = %e, "redis ingest log: a followed batch was not applied");
            }
        }
    }
}

#[async_trait]
impl IngestLog for RedisIngestLog {
    /// Queues the rows for the worker once [`RedisIngestLog::start`] ran (never waiting on
    /// Redis; a full queue drops the batch from the log); before that, writes them at once.
    async fn append(&self, ticks: &[Tick]) -> Result<(), PortError> {
        match self.queue.get() {
            Some(queue) => match queue.try_send(ticks.to_vec()) {
                Ok(()) => Ok(()),
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Err(PortError::Overloaded(
                    "redis ingest log queue full: batch not shared".into(),
                )),
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                    Err(PortError::Unavailable("redis ingest log stopped".into()))
                }
            },
            None => self.write(ticks).await,
        }
    }
}
