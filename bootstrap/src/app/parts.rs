//! The pieces of the server built from one settings section each.

use std::sync::Arc;
use std::time::Duration;

use adapters::inbound::http::guard::{BodyLimits, Guard, RateLimits};
use adapters::inbound::http::websocket::WsLimits;
use adapters::inbound::streams::{StreamConsumer, StreamConsumerConfig};
use adapters::outbound::cache::{AggregateCacheConfig, MemoryAggregateCache};
use application::ingest::IngestTicks;

use crate::settings::Settings;

/// The WebSocket limits of `[subscriptions]`, the connection cap kept 512 descriptors under the
/// process's open-file limit (a full descriptor table would stall accepting, health checks and
/// the database pool alike).
pub(super) fn ws_limits(settings: &Settings) -> WsLimits {
    let s = &settings.subscriptions;
    let fd_room = open_file_limit().map_or(usize::MAX, |n| n.saturating_sub(512));
    let max_connections = s.max_connections.min(fd_room);
    if max_connections < s.max_connections {
        tracing::warn!(
            configured = s.max_connections,
            max_connections,
            "subscriptions.max_connections lowered below the open-file limit"
        );
    }
    let batch_ms = s
        .batch_ms
        .min(adapters::inbound::http::websocket::delivery::MAX_BATCH_MS);
    if batch_ms < s.batch_ms {
        tracing::warn!(
            configured = s.batch_ms,
            batch_ms,
            "subscriptions.batch_ms lowered to its bound"
        );
    }
    WsLimits {
        max_topics: s.max_topics,
        max_connections,
        max_connections_per_token: s.max_connections_per_token,
        batch_window: Duration::from_millis(batch_ms),
        reconnect_spread: Duration::from_millis(s.reconnect_spread_ms.max(1)),
        ..WsLimits::default()
    }
}

/// The request guard of `[server]` body limits, `[ingest]` keys and `[rate_limit]`.
pub(super) fn guard(settings: &Settings) -> Guard {
    let s = &settings.server;
    let r = &settings.rate_limit;
    Guard::new(
        BodyLimits {
            ingest: s.max_body_bytes_ingest,
            analytics: s.max_body_bytes_analytics,
            other: s.max_body_bytes_other,
            read_timeout: Duration::from_millis(s.body_read_timeout_ms.max(100)),
        },
        settings.ingest.api_keys.clone(),
        r.enabled.then_some(RateLimits {
            per_key: (r.per_key_per_second, r.per_key_burst),
            per_address: (r.per_address_per_second, r.per_address_burst),
            auth_failures_per_minute: r.auth_failures_per_minute,
        }),
    )
}

/// The soft open-file limit, from /proc/self/limits (Linux); `None` elsewhere.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The stream consumer named by `[streams]`.
pub(super) fn stream_consumer(
    settings: &Settings,
    ingest: Arc<IngestTicks>,
) -> Result<StreamConsumer, Box<dyn std::error::Error>> {
    let s = &settings.streams;
    if settings.redis.url.is_empty() {
        return Err("streams.enabled needs redis.url".into());
    }
    let consumer = if s.consumer.is_empty() {
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "signal-service".to_owned())
    } else {
        s.consumer.clone()
    };
    let cfg = StreamConsumerConfig {
        url: settings.redis.url.clone(),
        stream: s.stream.clone(),
        group: s.group.clone(),
        consumer,
        batch: s.batch.max(1),
        read_ahead: s.read_ahead.max(1),
        block: Duration::from_millis(s.block_ms),
        claim_idle: Duration::from_millis(s.claim_idle_ms),
        claim_every: Duration::from_millis(s.claim_every_ms.max(10)),
    };
    Ok(StreamConsumer::new(cfg, ingest)?)
}

/// The in-process aggregate cache of `[aggregate_cache]`, or none when its bound is 0.
pub(super) fn aggregate_cache(settings: &Settings) -> Option<Arc<dyn domain::ports::AggregateCache>> {
    let cfg = &settings.aggregate_cache;
    (cfg.max_bytes > 0).then(|| {
        Arc::new(MemoryAggregateCache::new(AggregateCacheConfig {
            max_bytes: cfg.max_bytes,
            time_to_live: Duration::from_secs(cfg.ttl_secs.max(1)),
        })) as Arc<dyn domain::ports::AggregateCache>
    })
}
