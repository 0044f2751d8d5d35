//! L2: mappings in Redis as JSON under `<prefix>mapping:<underlying>:<expiry>`, with `PX` TTLs.
//!
//! Every command is bounded by `command_timeout`; a pool checkout by `connect_timeout`. When Redis
//! is down calls fail fast with [`PortError::Unavailable`] and the pool reconnects by itself once
//! it is back (bb8 pings each connection on checkout).

use std::time::Duration;

use async_trait::async_trait;
use bb8_redis::RedisConnectionManager;
use bb8_redis::redis::{self, AsyncCommands};
use chrono::NaiveDate;
use domain::instrument::InstrumentKey;
use domain::moneyness::MoneynessMapping;
use domain::ports::{PortError, SignalCache};

/// Connection settings of the Redis cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisCacheConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Prepended to every key, e.g. `signal:` (tests use one prefix each).
    pub key_prefix: String,
    /// Pool size.
    pub max_connections: u32,
    /// Bound on getting a connection.
    pub connect_timeout: Duration,
    /// Bound on one command.
    pub command_timeout: Duration,
}

impl Default for RedisCacheConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379/0".into(),
            key_prefix: "signal:".into(),
            max_connections: 8,
            connect_timeout: Duration::from_millis(250),
            command_timeout: Duration::from_millis(250),
        }
    }
}

/// Redis-backed mapping cache.
#[derive(Debug, Clone)]
pub struct RedisMappingCache {
    pool: bb8::Pool<RedisConnectionManager>,
    cfg: RedisCacheConfig,
}

fn unavailable(e: impl std::fmt::Display) -> PortError {
    PortError::Unavailable(format!("redis: {e}"))
}

impl RedisMappingCache {
    /// Builds the pool without connecting (connections are made on first use, so the service can
    /// start while Redis is down).
    ///
    /// # Errors
    /// [`PortError::Invalid`] for a malformed URL.
    pub fn new(cfg: RedisCacheConfig) -> Result<Self, PortError> {
        let manager = crate::outbound::redis_conn::connection_info(&cfg.url)
            .and_then(RedisConnectionManager::new)
            .map_err(|e| PortError::Invalid(e.to_string()))?;
        let pool = bb8::Pool::builder()
            .max_size(cfg.max_connections)
            .min_idle(Some(0))
            .connection_timeout(cfg.connect_timeout)
            .retry_connection(false)
            .build_unchecked(manager);
        Ok(Self { pool, cfg })
    }

    fn key(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> String {
        format!("{}mapping:{underlying}:{expiry}", self.cfg.key_prefix)
    }

    async fn run<T, F>(&self, f: F) -> Result<T, PortError>
    where
        F: AsyncFnOnce(&mut redis::aio::MultiplexedConnection) -> redis::RedisResult<T>,
    {
        let work = async {
            let mut conn = self.pool.get().await.map_err(unavailable)?;
            f(&mut conn).await.map_err(unavailable)
        };
        tokio::time::timeout(self.cfg.connect_timeout + self.cfg.command_timeout, work)
            .await
            .map_err(|_| unavailable("timed out"))?
    }

    /// Pings Redis (readiness checks).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when Redis does not answer.
    pub async fn ping(&self) -> Result<(), PortError> {
        self.run(async |c| redis::cmd("PING").query_async::<String>(c).await)
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl domain::ports::HealthProbe for RedisMappingCache {
    async fn ping(&self) -> Result<(), PortError> {
        RedisMappingCache::ping(self).await
    }
}

#[async_trait]
impl SignalCache for RedisMappingCache {
    async fn mapping(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
    ) -> Result<Option<MoneynessMapping>, PortError> {
        let key = self.key(underlying, expiry);
        let raw: Option<String> = self.run(async |c| c.get(&key).await).await?;
        raw.map(|s| serde_json::from_str(&s).map_err(|e| PortError::Invalid(format!("cached mapping {key}: {e}"))))
            .transpose()
    }

    async fn put_mapping(&self, mapping: &MoneynessMapping, ttl: Duration) -> Result<(), PortError> {
        let key = self.key(&mapping.underlying, mapping.expiry);
        let json = serde_json::to_string(mapping).map_err(|e| PortError::Other(e.to_string()))?;
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.run(async |c| c.pset_ex::<_, _, ()>(&key, json, ms).await).await
    }
}

impl crate::metrics::Source for RedisMappingCache {
    fn read_into(&self, reading: &mut crate::metrics::StateReading) {
        reading
            .redis_pools
            .push(("mapping_cache", self.pool.state().statistics.into()));
    }
}
