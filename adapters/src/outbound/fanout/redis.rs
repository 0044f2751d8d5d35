//! The Redis fan-out: numbering in Redis, delivery over pub/sub, so every instance delivers every
//! update to its own subscribers and a topic has one sequence across instances, and one resume
//! history across instances.
//!
//! Publishing runs one Lua script per batch (one round trip): it reads the epoch (creating it
//! from the caller's clock the first time), and for each update `INCRBY`s the topic's counter
//! (by 1, or by 2 to leave a hole, below), `PUBLISH`es `"{epoch} {seq} {json}"` on the updates
//! channel, and appends the same message to the topic's shared history (a list trimmed to the
//! last `history_per_topic` messages, expiring [`HISTORY_TTL`] after the topic's last update).
//! Redis runs a script atomically, so numbering, publishing and history happen in one order for
//! every instance. If Redis loses its data, the epoch key goes with the counters and the
//! histories: the next publish starts a new epoch and clients resume with a snapshot.
//!
//! Receiving is one task per instance on a dedicated pub/sub connection, reconnecting with
//! back-off (up to 1 s). Each time it has subscribed, it loads every topic's shared history
//! into the sink before it reads the channel (what is published meanwhile waits in the
//! connection's buffer, and the hub ignores what it already holds): a starting instance holds
//! the same recent updates as the running ones, so a client resumes on any instance with exactly
//! the updates it missed ([`RedisFanout::history_loaded`] tells a starting instance when), and
//! after a lost subscription the updates published meanwhile reach this instance's subscribers
//! in order. An update older than the history is lost to this instance's history: the hub sees
//! the hole and sends the topic's subscribers a `resync`.
//!
//! Redis is never on the ingest path's latency: once [`RedisFanout::start`] ran, `publish`
//! only queues the batch (bounded), and one worker runs the script. While Redis does not answer
//! (a failed or slow script, or this instance's subscription down), the worker numbers the
//! batches itself under an epoch of its own and hands them straight to this instance's sink, so
//! local subscribers keep receiving; the first update through Redis again starts its epoch
//! anew for them. Each topic published locally during the outage skips one number on its first
//! update through Redis afterwards, so every other instance sees a hole there: all send their
//! subscribers a `resync`, and nobody sees a silent gap. Each outage is logged
//! once when it starts and once when it ends.
//!
//! Keys (under the configured prefix): `{prefix}fanout:epoch`, `{prefix}fanout:seq:{topic}`,
//! `{prefix}fanout:history:{topic}`; channel `{prefix}fanout:updates`. The counters and
//! histories are keys the script does not declare, so this needs a standalone Redis (or a
//! cluster with every key in one slot), as configured today.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bb8_redis::RedisConnectionManager;
use bb8_redis::redis::{self, AsyncCommands, Script};
use chrono::{DateTime, Utc};
use domain::ports::{Clock, Outgoing, PortError, SignalEvent, SignalPublisher, TopicUpdate, UpdateSink};
use futures_util::StreamExt;

use super::InProcessFanout;
use serde::{Deserialize, Serialize};

const PUBLISH: &str = r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local keep = tonumber(ARGV[5])
for i = 7, #ARGV, 3 do
  local seq = redis.call('INCRBY', ARGV[3] .. ARGV[i], ARGV[i + 2])
  local message = epoch .. ' ' .. seq .. ' ' .. ARGV[i + 1]
  redis.call('PUBLISH', ARGV[2], message)
  if keep > 0 then
    local history = ARGV[4] .. ARGV[i]
    redis.call('RPUSH', history, message)
    redis.call('LTRIM', history, -keep, -1)
    redis.call('PEXPIRE', history, ARGV[6])
  end
end
return epoch
";

/// What goes over the channel after the epoch and the sequence number.
#[derive(Serialize, Deserialize)]
struct Wire {
    topic: String,
    source_ts: DateTime<Utc>,
    /// Absent from an instance that predates it.
    #[serde(default)]
    received: Option<DateTime<Utc>>,
    forming: bool,
    event: SignalEvent,
}

/// The same, borrowed, for publishing without a copy.
#[derive(Serialize)]
struct WireRef<'a> {
    topic: &'a str,
    source_ts: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received: Option<DateTime<Utc>>,
    forming: bool,
    event: &'a SignalEvent,
}

/// Batches waiting for the publishing worker, at most.
pub const QUEUE_BATCHES: usize = 4096;
/// Longest one script may take before the batch goes to local subscribers only.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(250);
/// How long after start an absent subscription is not yet an outage.
const STARTUP_GRACE: Duration = Duration::from_secs(3);
/// How long a topic's shared history is kept after its last update (an expired option's topics
/// leave Redis a day after their last quote).
pub const HISTORY_TTL: Duration = Duration::from_secs(24 * 3600);
/// Topics whose histories one pipelined read fetches while loading.
const LOAD_PAGE: usize = 200;
/// After a failed script, how long the worker serves local subscribers only before trying
/// Redis again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);

/// The Redis fan-out.
#[derive(Clone)]
pub struct RedisFanout {
    url: String,
    pool: bb8::Pool<RedisConnectionManager>,
    script: Arc<Script>,
    prefix: String,
    /// Names a new epoch (its time in epoch milliseconds).
    clock: Arc<dyn Clock>,
    /// Updates kept per topic in the shared history (0: none).
    history_per_topic: usize,
    shared: Arc<Shared>,
}

/// What the publishing side and the receiving side share.
#[derive(Default)]
struct Shared {
    /// The worker's queue, once started.
    queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<Vec<Outgoing>>>,
    /// This instance's subscription is up: what goes through Redis comes back here.
    subscribed: std::sync::atomic::AtomicBool,
    /// Batches delivered to local subscribers only (Redis down or slow).
    local_only: std::sync::atomic::AtomicU64,
    /// Times the receiving subscription was lost after being up.
    losses: std::sync::atomic::AtomicU64,
    /// Times it was set up again after a loss.
    reconnects: std::sync::atomic::AtomicU64,
    /// Publishing scripts that failed or timed out.
    publish_errors: std::sync::atomic::AtomicU64,
    /// The shared history was loaded (or could not be) after the first subscription.
    loaded: std::sync::atomic::AtomicBool,
    loaded_changed: tokio::sync::Notify,
}

/// What loading the shared history brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryLoad {
    /// Topics with a history.
    pub topics: usize,
    /// Updates delivered to the sink (the hub ignores those it already held).
    pub updates: usize,
    /// Their size on the wire.
    pub bytes: usize,
}

impl std::fmt::Debug for RedisFanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFanout")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> PortError {
    PortError::Unavailable(format!("redis fan-out: {e}"))
}

impl RedisFanout {
    /// A fan-out over Redis at `url`, its keys and channel under `prefix` (e.g. `signal:`); a
    /// new epoch is named by `clock`'s time.
    ///
    /// # Errors
    /// [`PortError::Invalid`] for a bad URL.
    pub fn new(url: &str, prefix: &str, clock: Arc<dyn Clock>) -> Result<Self, PortError> {
        let pool = crate::outbound::redis_conn::small_pool(url)?;
        Ok(Self {
            url: url.to_owned(),
            pool,
            script: Arc::new(Script::new(PUBLISH)),
            prefix: prefix.to_owned(),
            clock,
            history_per_topic: application::subscriptions::DEFAULT_HISTORY_PER_TOPIC,
            shared: Arc::default(),
        })
    }

    /// Keeps `per_topic` updates of each topic in the shared history (0: none; resumes then
    /// work only on an instance that was running when the missed updates went out).
    #[must_use]
    pub fn with_history(mut self, per_topic: usize) -> Self {
        self.history_per_topic = per_topic;
        self
    }

    /// Waits up to `within` for the receiving task's first subscription and history load (see
    /// the module's doc); false when it did not happen in time (Redis away: this instance's
    /// history fills from the live updates).
    pub async fn history_loaded(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.shared.loaded_changed.notified();
            if self.shared.loaded.load(std::sync::atomic::Ordering::Acquire) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }

    /// Starts the publishing worker (see the module's doc): from now on `publish` queues, and
    /// batches Redis does not take reach `local` (this instance's sink) directly.
    pub fn start(&self, local: Arc<dyn UpdateSink>) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Outgoing>>(QUEUE_BATCHES);
        if self.shared.queue.set(tx).is_err() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            // An outage's own numbering: an epoch of its own, one sequence per topic.
            let mut local_numbering: Option<InProcessFanout> = None;
            let mut down_since: Option<std::time::Instant> = None;
            let mut next_try = tokio::time::Instant::now();
            let started = std::time::Instant::now();
            // Topics delivered here only since their last update through Redis.
            let mut missed: std::collections::HashSet<String> = std::collections::HashSet::new();
            while let Some(batch) = rx.recv().await {
                let subscribed = this.shared.subscribed.load(std::sync::atomic::Ordering::Acquire);
                if !subscribed && down_since.is_none() && started.elapsed() < STARTUP_GRACE {
                    // The subscription is still being set up: local subscribers get the batch,
                    // with no warning yet.
                    missed.extend(batch.iter().map(|o| o.topic.clone()));
                    let numbering = local_numbering.get_or_insert_with(|| InProcessFanout::starting_now(local.clone()));
                    let _ = numbering.publish(batch).await;
                    continue;
                }
                // `None`: not tried (subscription down, or waiting after a failure).
                let attempt: Option<Result<(), String>> = if !subscribed || tokio::time::Instant::now() < next_try {
                    None
                } else {
                    Some(
                        match tokio::time::timeout(PUBLISH_TIMEOUT, this.publish_skipping(&batch, &missed)).await {
                            Ok(Ok(())) => Ok(()),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err(format!("no answer within {} ms", PUBLISH_TIMEOUT.as_millis())),
                        },
                    )
                };
                match attempt {
                    Some(Ok(())) => {
                        local_numbering = None;
                        for o in &batch {
                            missed.remove(&o.topic);
                        }
                        if let Some(since) = down_since.take() {
                            tracing::info!(
                                down_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                                "redis fan-out recovered; subscribers of changed topics were sent a resync"
                            );
                        }
                    }
                    failed => {
                        if let Some(Err(_)) = &failed {
                            next_try = tokio::time::Instant::now() + RETRY_AFTER_FAILURE;
                            this.shared
                                .publish_errors
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        if down_since.is_none() {
                            down_since = Some(std::time::Instant::now());
                            let why = match failed {
                                Some(Err(e)) => e,
                                _ => "this instance's subscription is down".to_owned(),
                            };
                            tracing::warn!(
                                error = %why,
                                "redis fan-out unavailable; updates reach this instance's subscribers only"
                            );
                        }
                        this.shared
                            .local_only
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        missed.extend(batch.iter().map(|o| o.topic.clone()));
                        let numbering =
                            local_numbering.get_or_insert_with(|| InProcessFanout::starting_now(local.clone()));
                        let _ = numbering.publish(batch).await;
                    }
                }
            }
        });
    }

    /// Batches delivered to this instance's subscribers only, Redis being unavailable.
    #[must_use]
    pub fn local_only_batches(&self) -> u64 {
        self.shared.local_only.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs the publishing script on `updates` (one round trip).
    async fn publish_now(&self, updates: &[Outgoing]) -> Result<(), PortError> {
        self.publish_skipping(updates, &std::collections::HashSet::new()).await
    }

    /// As [`Self::publish_now`], leaving a hole in the numbering of each topic of `skip`.
    async fn publish_skipping(
        &self,
        updates: &[Outgoing],
        skip: &std::collections::HashSet<String>,
    ) -> Result<(), PortError> {
        let mut skipped: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let now_ms = self.clock.now().timestamp_millis();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{}fanout:epoch", self.prefix))
            .arg(now_ms)
            .arg(self.channel())
            .arg(format!("{}fanout:seq:", self.prefix))
            .arg(self.history_prefix())
            .arg(self.history_per_topic)
            .arg(u64::try_from(HISTORY_TTL.as_millis()).unwrap_or(u64::MAX));
        for o in updates {
            let json = serde_json::to_string(&WireRef {
                topic: &o.topic,
                source_ts: o.source_ts,
                received: o.received,
                forming: o.forming,
                event: &o.event,
            })
            .map_err(|e| PortError::Other(format!("update of {}: {e}", o.topic)))?;
            let step = if skip.contains(&o.topic) && skipped.insert(&o.topic) {
                2
            } else {
                1
            };
            invocation.arg(&o.topic).arg(json).arg(step);
        }
        let mut conn = self.pool.get().await.map_err(unavailable)?;
        let _epoch: String = invocation.invoke_async(&mut *conn).await.map_err(unavailable)?;
        Ok(())
    }

    fn channel(&self) -> String {
        format!("{}fanout:updates", self.prefix)
    }

    fn history_prefix(&self) -> String {
        format!("{}fanout:history:", self.prefix)
    }

    /// Delivers every topic's shared history to `sink`, oldest first per topic.
    ///
    /// # Errors
    /// The Redis error that stopped it (what was delivered before stays delivered).
    pub async fn load_history(&self, sink: &dyn UpdateSink) -> Result<HistoryLoad, PortError> {
        let mut load = HistoryLoad::default();
        if self.history_per_topic == 0 {
            return Ok(load);
        }
        let mut conn = self.pool.get().await.map_err(unavailable)?;
        let pattern = format!("{}*", glob_escape(&self.history_prefix()));
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter = (*conn)
                .scan_options::<String>(redis::ScanOptions::default().with_pattern(pattern).with_count(1000))
                .await
                .map_err(unavailable)?;
            while let Some(key) = iter.next_item().await {
                keys.push(key.map_err(unavailable)?);
            }
        }
        for page in keys.chunks(LOAD_PAGE) {
            let mut pipe = redis::pipe();
            for key in page {
                pipe.lrange(key, 0, -1);
            }
            let lists: Vec<Vec<Vec<u8>>> = pipe.query_async(&mut *conn).await.map_err(unavailable)?;
            for list in lists.into_iter().filter(|l| !l.is_empty()) {
                load.topics += 1;
                for message in list {
                    load.bytes += message.len();
                    match decode(&message) {
                        Some(update) => {
                            sink.deliver(update);
                            load.updates += 1;
                        }
                        None => tracing::warn!("redis fan-out: an undecodable history entry was skipped"),
                    }
                }
            }
        }
        Ok(load)
    }

    /// Delivers every update published by any instance to `sink`, until `shutdown` resolves;
    /// reconnects with back-off (up to 1 s) when Redis goes away.
    pub async fn receive(self, sink: Arc<dyn UpdateSink>, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        loop {
            let run = self.receive_once(sink.as_ref(), &mut backoff);
            tokio::select! {
                () = &mut shutdown => return,
                r = run => {
                    let was_up = self.shared.subscribed.swap(false, std::sync::atomic::Ordering::AcqRel);
                    if let Err(e) = r
                        && was_up
                    {
                        self.shared.losses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(error = %e, "redis fan-out: subscription lost; reconnecting");
                    }
                },
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Subscribes, then delivers until the connection drops.
    ///
    /// # Errors
    /// The Redis error that ended it.
    async fn receive_once(&self, sink: &dyn UpdateSink, backoff: &mut Duration) -> Result<(), redis::RedisError> {
        let client = redis::Client::open(crate::outbound::redis_conn::connection_info(&self.url)?)?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(self.channel()).await?;
        *backoff = Duration::from_millis(100);
        if !self.shared.subscribed.swap(true, std::sync::atomic::Ordering::AcqRel) {
            if self.shared.losses.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                self.shared
                    .reconnects
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            tracing::info!("redis fan-out: subscribed");
        }
        // What is published from now on waits in the subscription's buffer while the history
        // loads; the hub ignores the updates it then sees twice.
        let started = std::time::Instant::now();
        match self.load_history(sink).await {
            Ok(load) => tracing::info!(
                topics = load.topics,
                updates = load.updates,
                bytes = load.bytes,
                took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "redis fan-out: resume history loaded"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                "redis fan-out: resume history not loaded; clients resuming here get a snapshot for updates this instance did not see"
            ),
        }
        if !self.shared.loaded.swap(true, std::sync::atomic::Ordering::AcqRel) {
            self.shared.loaded_changed.notify_waiters();
        }
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            let payload: Vec<u8> = msg.get_payload()?;
            match decode(&payload) {
                Some(update) => sink.deliver(update),
                None => tracing::warn!("redis fan-out: an undecodable message was skipped"),
            }
        }
        Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "pub/sub connection closed",
        )))
    }
}

/// `text` with Redis glob characters escaped, for `SCAN … MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `"{epoch} {seq} {json}"` → the update.
fn decode(payload: &[u8]) -> Option<TopicUpdate> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut parts = text.splitn(3, ' ');
    let epoch = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let wire: Wire = serde_json::from_str(parts.next()?).ok()?;
    Some(TopicUpdate {
        topic: wire.topic,
        epoch,
        seq,
        source_ts: wire.source_ts,
        received: wire.received,
        forming: wire.forming,
        event: wire.event,
    })
}

#[async_trait]
impl SignalPublisher for RedisFanout {
    /// Queues the batch for the worker once [`RedisFanout::start`] ran (never waiting on
    /// Redis); before that, publishes it at once.
    async fn publish(&self, updates: Vec<Outgoing>) -> Result<(), PortError> {
        if updates.is_empty() {
            return Ok(());
        }
        match self.shared.queue.get() {
            Some(queue) => match queue.try_send(updates) {
                Ok(()) => Ok(()),
                Err(tokio::sync::mpsc::error::TrySendError::Full(updates)) => {
                    tracing::warn!(batches = QUEUE_BATCHES, "redis fan-out queue full; ingest waits for it");
                    queue
                        .send(updates)
                        .await
                        .map_err(|_| PortError::Unavailable("redis fan-out stopped".into()))
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                    Err(PortError::Unavailable("redis fan-out stopped".into()))
                }
            },
            None => self.publish_now(&updates).await,
        }
    }
}

impl crate::metrics::Source for RedisFanout {
    fn read_into(&self, reading: &mut crate::metrics::StateReading) {
        use std::sync::atomic::Ordering::Relaxed;
        reading.fanout = Some(crate::metrics::FanoutStats {
            local_only_batches: self.shared.local_only.load(Relaxed),
            publish_errors: self.shared.publish_errors.load(Relaxed),
            subscription_losses: self.shared.losses.load(Relaxed),
            reconnects: self.shared.reconnects.load(Relaxed),
            subscribed: self.shared.subscribed.load(Relaxed),
        });
        reading
            .redis_pools
            .push(("fanout", self.pool.state().statistics.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_decode_and_junk_does_not() {
        let u = TopicUpdate::example("greeks:NSE:X", 1, 1);
        let wire = serde_json::to_string(&Wire {
            topic: u.topic.clone(),
            source_ts: u.source_ts,
            received: Some(u.source_ts),
            forming: u.forming,
            event: u.event.clone(),
        })
        .unwrap();
        let back = decode(format!("1700000000000 17 {wire}").as_bytes()).unwrap();
        assert_eq!(
            (back.epoch, back.seq, back.topic.as_str()),
            (1_700_000_000_000, 17, "greeks:NSE:X")
        );
        assert_eq!(back.event, u.event);
        assert_eq!(back.received, Some(u.source_ts), "the arrival crosses instances");
        // From an instance that predates `received`: still an update, arrival unknown.
        let old = wire.replacen(r#""received":"#, r#""ignored":"#, 1);
        let back = decode(format!("1 2 {old}").as_bytes()).unwrap();
        assert_eq!((back.seq, back.received), (2, None));
        assert!(decode(b"x 1 {}").is_none());
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert!(decode(b"1 2 not json").is_none());
    }
}
