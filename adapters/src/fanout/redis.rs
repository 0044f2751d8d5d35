//! The Redis fan-out: numbering in Redis, delivery over pub/sub, so every instance delivers every
//! update to its own subscribers and a topic has one sequence across instances.
//!
//! Publishing runs one Lua script per batch (one round trip): it reads the epoch (creating it
//! from the caller's clock the first time), and for each update `INCR`s the topic's counter and
//! `PUBLISH`es `"{epoch} {seq} {json}"` on the updates channel. Redis runs a script atomically,
//! so numbering and publishing happen in one order for every instance. If Redis loses its data,
//! the epoch key goes with the counters: the next publish starts a new epoch and clients resume
//! with a snapshot.
//!
//! Receiving is one task per instance on a dedicated pub/sub connection, reconnecting with
//! back-off; updates published while it was away are lost to this instance's history (the hub
//! sees the hole and resuming clients get a snapshot).
//!
//! Keys (under the configured prefix): `{prefix}fanout:epoch`, `{prefix}fanout:seq:{topic}`;
//! channel `{prefix}fanout:updates`. The counters touch keys the script does not declare, so
//! this needs a standalone Redis (or a cluster with every key in one slot), as configured today.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bb8_redis::RedisConnectionManager;
use bb8_redis::redis::{self, Script};
use chrono::{DateTime, Utc};
use domain::ports::{Clock, Outgoing, PortError, SignalEvent, SignalPublisher, TopicUpdate, UpdateSink};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

const PUBLISH: &str = r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
for i = 4, #ARGV, 2 do
  local seq = redis.call('INCR', ARGV[3] .. ARGV[i])
  redis.call('PUBLISH', ARGV[2], epoch .. ' ' .. seq .. ' ' .. ARGV[i + 1])
end
return epoch
";

/// What goes over the channel after the epoch and the sequence number.
#[derive(Serialize, Deserialize)]
struct Wire {
    topic: String,
    source_ts: DateTime<Utc>,
    forming: bool,
    event: SignalEvent,
}

/// The Redis fan-out.
#[derive(Clone)]
pub struct RedisFanout {
    url: String,
    pool: bb8::Pool<RedisConnectionManager>,
    script: Arc<Script>,
    prefix: String,
    /// Names a new epoch (its time in epoch milliseconds).
    clock: Arc<dyn Clock>,
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
        let manager = RedisConnectionManager::new(url).map_err(|e| PortError::Invalid(format!("redis url: {e}")))?;
        let pool = bb8::Pool::builder()
            .max_size(4)
            .connection_timeout(Duration::from_secs(2))
            .build_unchecked(manager);
        Ok(Self {
            url: url.to_owned(),
            pool,
            script: Arc::new(Script::new(PUBLISH)),
            prefix: prefix.to_owned(),
            clock,
        })
    }

    fn channel(&self) -> String {
        format!("{}fanout:updates", self.prefix)
    }

    /// Delivers every update published by any instance to `sink`, until `shutdown` resolves;
    /// reconnects with back-off (up to 5 s) when Redis goes away.
    pub async fn receive(self, sink: Arc<dyn UpdateSink>, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut backoff = Duration::from_millis(100);
        loop {
            let run = self.receive_once(sink.as_ref(), &mut backoff);
            tokio::select! {
                () = &mut shutdown => return,
                r = run => if let Err(e) = r {
                    tracing::warn!(error = %e, "redis fan-out: subscription lost; reconnecting");
                },
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Subscribes, then delivers until the connection drops.
    ///
    /// # Errors
    /// The Redis error that ended it.
    async fn receive_once(&self, sink: &dyn UpdateSink, backoff: &mut Duration) -> Result<(), redis::RedisError> {
        let client = redis::Client::open(self.url.as_str())?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(self.channel()).await?;
        *backoff = Duration::from_millis(100);
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
        forming: wire.forming,
        event: wire.event,
    })
}

#[async_trait]
impl SignalPublisher for RedisFanout {
    async fn publish(&self, updates: Vec<Outgoing>) -> Result<(), PortError> {
        if updates.is_empty() {
            return Ok(());
        }
        let now_ms = self.clock.now().timestamp_millis();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{}fanout:epoch", self.prefix))
            .arg(now_ms)
            .arg(self.channel())
            .arg(format!("{}fanout:seq:", self.prefix));
        for o in updates {
            let json = serde_json::to_string(&Wire {
                topic: o.topic.clone(),
                source_ts: o.source_ts,
                forming: o.forming,
                event: o.event,
            })
            .map_err(|e| PortError::Other(format!("update of {}: {e}", o.topic)))?;
            invocation.arg(o.topic).arg(json);
        }
        let mut conn = self.pool.get().await.map_err(unavailable)?;
        let _epoch: String = invocation.invoke_async(&mut *conn).await.map_err(unavailable)?;
        Ok(())
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
        assert!(decode(b"x 1 {}").is_none());
        assert!(decode(b"1 2 not json").is_none());
    }
}
