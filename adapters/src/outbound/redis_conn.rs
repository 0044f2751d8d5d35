//! How every Redis connection of the service is opened: from its URL, with `TCP_NODELAY` set.
//!
//! redis-rs leaves Nagle's algorithm on by default; a request/response protocol wants it off, so
//! that a command written in more than one segment never waits for the server's delayed ACK.
//! Measured on this machine (docs/benchmarks.md, "WebSocket through the Redis fan-out"), the
//! setting made no difference the run-to-run spread could show: the fan-out's cost is elsewhere.

use bb8_redis::RedisConnectionManager;
use bb8_redis::redis::{ConnectionInfo, IntoConnectionInfo, RedisResult};
use domain::ports::PortError;

/// The connection settings of `url`, with `TCP_NODELAY`.
///
/// # Errors
/// The URL's error (not a `redis://`/`rediss://`/`unix://` URL, a bad port…).
pub fn connection_info(url: &str) -> RedisResult<ConnectionInfo> {
    let info = url.into_connection_info()?;
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    Ok(info.set_tcp_settings(tcp))
}

/// A pool of up to 4 connections to `url` (2 s to connect), opened on first use: the fan-out's
/// and the ingest log's.
///
/// # Errors
/// [`PortError::Invalid`] for a bad URL.
pub fn small_pool(url: &str) -> Result<bb8::Pool<RedisConnectionManager>, PortError> {
    let manager = connection_info(url)
        .and_then(RedisConnectionManager::new)
        .map_err(|e| PortError::Invalid(format!("redis url: {e}")))?;
    Ok(bb8::Pool::builder()
        .max_size(4)
        .connection_timeout(std::time::Duration::from_secs(2))
        .build_unchecked(manager))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodelay_is_set_and_the_rest_kept() {
        let info = connection_info("redis://127.0.0.1:6380/2").unwrap();
        assert!(info.tcp_settings().nodelay());
        assert_eq!(info.redis_settings().db(), 2);
        assert!(connection_info("http://x").is_err());
    }
}
