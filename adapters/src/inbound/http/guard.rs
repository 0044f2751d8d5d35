//! The front door of every request, before any handler runs: rate limits, the ingest API key,
//! and the request body's size and read time. Hostile input is refused here, cheaply: nothing
//! is parsed, and no more of a body is read than its limit.
//!
//! In order:
//! 1. **Failed authentications** (`rate_limit.auth_failures_per_minute` per client address): an
//!    address whose requests were answered 401 that often is refused 429 for a while on every
//!    request that carries credentials (`X-API-Key`, `Authorization`, `?token=`).
//! 2. **Request rates** (governor's GCRA, keyed): per client address on every route but
//!    `/health/*` and `/metrics`, and per API key on requests carrying a configured one. Over a
//!    limit: 429 with `Retry-After`.
//! 3. **The ingest API key** (when keys are configured) is checked before the body is read: a
//!    wrong or missing key is 401 whatever the body.
//! 4. **The body**: a `Content-Length` over the route group's limit is 413 at once; a body is
//!    read up to its limit (413 past it) within `server.body_read_timeout_ms` (408 past it, and
//!    a declared length the client never sends ends there too), then handed on whole.
//!
//! Every refusal is the JSON error body with the field to blame, and closes the connection
//! when the body was left unread.

use application::sync::LockOrRecover;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Largest body per route group, bytes, and how long a body may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// `POST /api/v2/ingest/…`.
    pub ingest: u64,
    /// `POST /api/v2/analytics/…`.
    pub analytics: u64,
    /// Everything else.
    pub other: u64,
    /// How long the whole body may take to arrive.
    pub read_timeout: Duration,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            ingest: 16 << 20,
            analytics: 8 << 20,
            other: 64 << 10,
            read_timeout: Duration::from_secs(10),
        }
    }
}

/// Request rates (`[rate_limit]`).
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Sustained requests per second per API key, and the burst above it.
    pub per_key: (u32, u32),
    /// Sustained requests per second per client address, and the burst above it.
    pub per_address: (u32, u32),
    /// 401 answers per minute per address before its credentialed requests are refused.
    pub auth_failures_per_minute: u32,
}

/// The guard's settings and state.
pub struct Guard {
    body: BodyLimits,
    api_keys: Vec<String>,
    rates: Option<Rates>,
}

struct Rates {
    per_key: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    auth_failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses refused for failed authentications, until when.
    blocked: Mutex<std::collections::HashMap<IpAddr, Instant>>,
    /// Requests seen, to prune the limiters' memory now and then.
    seen: AtomicU64,
}

/// Prune idle limiter entries every this many requests.
const PRUNE_EVERY: u64 = 8192;
/// Addresses remembered as blocked at most (oldest pruned first when over).
const MAX_BLOCKED: usize = 100_000;

fn quota(per_second: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(per_second).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl Default for Guard {
    fn default() -> Self {
        Self::new(BodyLimits::default(), Vec::new(), None)
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("body", &self.body)
            .field("api_keys", &self.api_keys.len())
            .field("rate_limited", &self.rates.is_some())
            .finish()
    }
}

impl Guard {
    /// A guard with these limits; `api_keys` empty means ingest needs no key; `rates` `None`
    /// turns rate limiting off.
    #[must_use]
    pub fn new(body: BodyLimits, api_keys: Vec<String>, rates: Option<RateLimits>) -> Self {
        let rates = rates.map(|r| {
            let per_minute = NonZeroU32::new(r.auth_failures_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
            Rates {
                per_key: RateLimiter::keyed(quota(r.per_key.0, r.per_key.1)),
                per_address: RateLimiter::keyed(quota(r.per_address.0, r.per_address.1)),
                auth_failures: RateLimiter::keyed(Quota::per_minute(per_minute)),
                blocked: Mutex::default(),
                seen: AtomicU64::new(0),
            }
        });
        Self { body, api_keys, rates }
    }

    /// The API keys ingest accepts (empty: none needed).
    #[must_use]
    pub fn api_keys(&self) -> &[String] {
        &self.api_keys
    }

    /// Whether `key` is one of the configured ingest keys (always, when none are configured).
    #[must_use]
    pub fn key_ok(&self, key: Option<&str>) -> bool {
        self.api_keys.is_empty() || key.is_some_and(|k| self.api_keys.iter().any(|x| x == k))
    }

    fn body_limit(&self, path: &str) -> (u64, &'static str) {
        if path.starts_with("/api/v2/ingest/") {
            (self.body.ingest, "server.max_body_bytes_ingest")
        } else if path.starts_with("/api/v2/analytics/") {
            (self.body.analytics, "server.max_body_bytes_analytics")
        } else {
            (self.body.other, "server.max_body_bytes_other")
        }
    }
}

/// The middleware over a shared [`Guard`].
#[derive(Debug, Clone)]
pub struct GuardLayer(pub std::sync::Arc<Guard>);

impl<E: Endpoint> Middleware<E> for GuardLayer {
    type Output = GuardEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        GuardEndpoint {
            inner: ep,
            guard: self.0.clone(),
        }
    }
}

/// An endpoint behind the guard.
pub struct GuardEndpoint<E> {
    inner: E,
    guard: std::sync::Arc<Guard>,
}

/// A JSON error answer.
fn refuse(status: StatusCode, code: &str, message: String, field: Option<&str>) -> Response {
    let mut json = serde_json::json!({"code": code, "message": message});
    if let Some(f) = field {
        json["field"] = serde_json::Value::String(f.to_owned());
    }
    poem::web::Json(json).with_status(status).into_response()
}

/// A refusal that leaves the body unread: the connection cannot carry another request.
fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn too_many(wait: Duration, what: &str) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut resp = refuse(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!("{what}; retry in {secs} s"),
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn has_credentials(req: &Request) -> bool {
    req.headers().contains_key("x-api-key")
        || req.headers().contains_key(header::AUTHORIZATION)
        || req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("token=")))
}

impl Rates {
    /// 429 when `ip` or `key` is over its rate, or `ip` is blocked for failed authentications.
    fn check(&self, req: &Request, ip: Option<IpAddr>, key: Option<&str>, exempt: bool) -> Option<Response> {
        if self.seen.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.per_key.retain_recent();
            self.per_address.retain_recent();
            self.auth_failures.retain_recent();
            let now = Instant::now();
            self.blocked.lock_or_recover().retain(|_, until| *until > now);
        }
        if let Some(ip) = ip
            && has_credentials(req)
        {
            let until = self.blocked.lock_or_recover().get(&ip).copied();
            if let Some(until) = until.filter(|u| *u > Instant::now()) {
                return Some(too_many(
                    until - Instant::now(),
                    "too many failed authentications from this address",
                ));
            }
        }
        if exempt {
            return None;
        }
        let clock = DefaultClock::default();
        if let Some(ip) = ip
            && let Err(not_until) = self.per_address.check_key(&ip)
        {
            return Some(too_many(
                not_until.wait_time_from(clock.now()),
                "too many requests from this address (rate_limit.per_address_per_second)",
            ));
        }
        if let Some(key) = key
            && let Err(not_until) = self.per_key.check_key(&key.to_owned())
        {
            return Some(too_many(
                not_until.wait_time_from(clock.now()),
                "too many requests with this API key (rate_limit.per_key_per_second)",
            ));
        }
        None
    }

    /// Counts a 401 against `ip`; past the quota the address is blocked until the quota allows
    /// one more.
    fn failed_auth(&self, ip: IpAddr) {
        if let Err(not_until) = self.auth_failures.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut blocked = self.blocked.lock_or_recover();
            if blocked.len() >= MAX_BLOCKED {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            if blocked.len() < MAX_BLOCKED {
                let first = blocked.insert(ip, Instant::now() + wait).is_none();
                if first {
                    tracing::warn!(client = %ip, "client address blocked after repeated failed authentications");
                }
            }
        }
    }
}

impl<E: Endpoint> Endpoint for GuardEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let g = &self.guard;
        let path = req.uri().path();
        let ingest = path.starts_with("/api/v2/ingest/");
        let exempt = path.starts_with("/health/") || path == "/metrics";
        // A peer with no IP address (a test client, a Unix socket) shares one bucket.
        let ip = Some(
            req.remote_addr()
                .as_socket_addr()
                .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), std::net::SocketAddr::ip),
        );
        let presented_key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok());
        if let Some(rates) = &g.rates {
            // Only configured keys get a bucket: made-up keys must not grow the limiter.
            let known_key = presented_key.filter(|k| g.api_keys.iter().any(|x| x == k));
            if let Some(refusal) = rates.check(&req, ip, known_key, exempt) {
                return Ok(closing_if_body(&req, refusal));
            }
        }
        if ingest && !g.key_ok(presented_key) {
            let resp = refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid X-API-Key header is required".to_owned(),
                Some("X-API-Key"),
            );
            if let (Some(rates), Some(ip)) = (&g.rates, ip) {
                rates.failed_auth(ip);
            }
            return Ok(closing_if_body(&req, resp));
        }
        if let Some(refusal) = read_body(&mut req, g).await {
            return Ok(refusal);
        }
        let resp = self.inner.call(req).await?.into_response();
        if resp.status() == StatusCode::UNAUTHORIZED
            && let (Some(rates), Some(ip)) = (&g.rates, ip)
        {
            rates.failed_auth(ip);
        }
        Ok(resp)
    }
}

/// Whether the request announces a body.
fn announces_body(req: &Request) -> bool {
    req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

fn closing_if_body(req: &Request, resp: Response) -> Response {
    if announces_body(req) { closing(resp) } else { resp }
}

/// Reads the body within its limit and time; `Some` refusal when it cannot be.
async fn read_body(req: &mut Request, g: &Guard) -> Option<Response> {
    if !announces_body(req) {
        return None;
    }
    let (limit, setting) = g.body_limit(req.uri().path());
    let too_large = |what: String| {
        closing(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("{what}; this endpoint takes at most {limit} bytes ({setting})"),
            Some("body"),
        ))
    };
    let declared = match req.headers().get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(n) => Some(n),
            None => {
                return Some(closing(refuse(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "Content-Length is not a number of bytes".to_owned(),
                    Some("Content-Length"),
                )));
            }
        },
    };
    if let Some(n) = declared.filter(|n| *n > limit) {
        return Some(too_large(format!("the body is {n} bytes")));
    }
    let deadline = tokio::time::Instant::now() + g.body.read_timeout;
    let mut stream = req.take_body().into_bytes_stream();
    let mut buf = bytes::BytesMut::with_capacity(usize::try_from(declared.unwrap_or(0)).unwrap_or(0));
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                return Some(closing(refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the body did not arrive within {} ms (server.body_read_timeout_ms): {} of {} bytes read",
                        g.body.read_timeout.as_millis(),
                        buf.len(),
                        declared.map_or_else(|| "?".to_owned(), |n| n.to_string()),
                    ),
                    Some("body"),
                )));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Some(closing(refuse(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("the body could not be read: {e}"),
                    Some("body"),
                )));
            }
            Ok(Some(Ok(chunk))) => {
                if buf.len() as u64 + chunk.len() as u64 > limit {
                    return Some(too_large("the body is longer".to_owned()));
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
    req.set_body(Body::from(buf.freeze()));
    None
}

#[cfg(test)]
mod tests;
