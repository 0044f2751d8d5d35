//! `GET /api/v2/subscriptions/websocket`: topic subscriptions over WebSocket.
//!
//! One task per connection reads requests, writes what the connection's [`Outbox`] holds (in
//! the delivery the client chose, see [`delivery`]), pings, and closes the connection when its
//! client falls too far behind. Every limit is a field of [`WsLimits`] (documented in
//! docs/websocket.md):
//!
//! - topics per connection, inbound messages per second (a token bucket; excess messages are
//!   answered `rate_limited` and dropped), inbound frame size (a larger text frame is answered
//!   `frame_too_large`; the connection stays up; tungstenite's own hard cap is 16× larger);
//! - the outgoing queue in bytes (coalescing to the newest update per topic above it) and the
//!   lag: a frame waiting longer than `max_lag`, or a write blocked that long, closes the
//!   connection with code 1008 and a reason;
//! - a ping every `ping_every`; no pong within `pong_deadline` after it closes the connection;
//! - a small read buffer per connection (tungstenite's default is 128 KiB).

pub mod asyncapi;
mod connection;
pub mod delivery;
mod gate;
mod outbox;
pub mod protocol;
mod upgrade;

use application::sync::LockOrRecover;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use application::subscriptions::derived::is_derived;
use application::subscriptions::{DerivedFeeds, SnapshotSource, SubscriptionHub, TopicListing};
use domain::subscriptions::Topic;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, handler};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

pub use outbox::Outbox;

use super::error::ErrorBody;
use connection::serve;
use delivery::Delivery;

/// One connection's WebSocket.
type WebSocketStream = tokio_tungstenite::WebSocketStream<poem::Upgraded>;

/// The limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// Topics one connection may follow at once.
    pub max_topics: usize,
    /// Inbound messages per second (sustained; bursts up to twice that).
    pub max_inbound_per_second: u32,
    /// Largest inbound text frame answered normally, in bytes.
    pub max_inbound_frame_bytes: usize,
    /// Outgoing queue size above which updates coalesce, in bytes.
    pub queue_bytes: usize,
    /// Longest a frame may wait (or a write may block) before the connection is closed.
    pub max_lag: Duration,
    /// Ping interval.
    pub ping_every: Duration,
    /// How long after a ping its pong may take.
    pub pong_deadline: Duration,
    /// Read buffer per connection, in bytes.
    pub read_buffer_bytes: usize,
    /// Connections at once, all tokens together.
    pub max_connections: usize,
    /// Connections at once per token (with tokens configured).
    pub max_connections_per_token: usize,
    /// Batching and conflation window of connections that do not choose one (`?batch_ms=`);
    /// zero sends each frame at once.
    pub batch_window: Duration,
    /// On shutdown, clients are told to wait up to this long before reconnecting (each its own
    /// share of it: the close reason's `reconnect_after_ms`).
    pub reconnect_spread: Duration,
}

impl Default for WsLimits {
    fn default() -> Self {
        Self {
            max_topics: 200,
            max_inbound_per_second: 20,
            max_inbound_frame_bytes: 64 * 1024,
            queue_bytes: 1024 * 1024,
            max_lag: Duration::from_secs(10),
            ping_every: Duration::from_secs(20),
            pong_deadline: Duration::from_secs(10),
            read_buffer_bytes: 4 * 1024,
            max_connections: 10_000,
            max_connections_per_token: 1_000,
            batch_window: Duration::ZERO,
            reconnect_spread: Duration::from_secs(1),
        }
    }
}

/// What the WebSocket endpoint shares.
#[derive(Clone)]
pub struct WsContext {
    /// The subscription hub.
    pub hub: Arc<SubscriptionHub>,
    /// The limits.
    pub limits: WsLimits,
    next_id: Arc<AtomicU64>,
    closing: Arc<tokio::sync::watch::Sender<bool>>,
    snapshots: Option<Arc<dyn SnapshotSource>>,
    /// Candles above 1 minute and indicators, derived here from the 1-minute candles.
    derived: Option<Arc<DerivedFeeds>>,
    /// What exists: topics naming anything else are refused in the ack.
    listing: Option<TopicListing>,
    /// Accepted tokens; empty: anonymous.
    tokens: Arc<HashSet<String>>,
    /// Open connections, in all and per token.
    open: Arc<Mutex<(usize, HashMap<String, usize>)>>,
    /// Where writes, closes and openings are counted (`/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The clock ingest stamps updates with, for their tick-to-send lag.
    pub clock: Arc<dyn domain::ports::Clock>,
}

/// One admitted connection's place in the counts, given back when dropped.
struct Admission {
    open: Arc<Mutex<(usize, HashMap<String, usize>)>>,
    token: Option<String>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut open = self.open.lock_or_recover();
        open.0 = open.0.saturating_sub(1);
        if let Some(t) = &self.token
            && let Some(n) = open.1.get_mut(t)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.1.remove(t);
            }
        }
    }
}

fn refuse(status: StatusCode, code: &str, message: String, field: Option<&str>) -> Box<Response> {
    let body = ErrorBody::new(code, message, field);
    let mut resp = Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(poem_openapi::types::ToJSON::to_json_string(&body));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert("retry-after", poem::http::HeaderValue::from_static("1"));
    }
    Box::new(resp)
}

impl std::fmt::Debug for WsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsContext")
            .field("limits", &self.limits)
            .field("snapshots", &self.snapshots.is_some())
            .finish_non_exhaustive()
    }
}

/// Frames buffered before tungstenite writes them to the socket: what one drain of the queue
/// holds, so a drain goes out in one write instead of one per frame.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// The close reason sent to every client when the service stops.
pub const SHUTDOWN_REASON: &str = "server shutting down; reconnect and resume";

impl WsContext {
    /// A context over `hub`.
    #[must_use]
    pub fn new(hub: Arc<SubscriptionHub>, limits: WsLimits) -> Self {
        Self {
            hub,
            limits,
            next_id: Arc::new(AtomicU64::new(1)),
            closing: Arc::new(tokio::sync::watch::channel(false).0),
            snapshots: None,
            derived: None,
            listing: None,
            tokens: Arc::default(),
            open: Arc::default(),
            metrics: Arc::default(),
            clock: Arc::new(crate::outbound::clock::SystemClock),
        }
    }

    /// Measures the tick-to-send lag on `clock` (the one ingest stamps updates with).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn domain::ports::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Counts into `metrics` (the served `/metrics`).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Requires one of `tokens` from every client; none: anonymous.
    #[must_use]
    pub fn with_tokens(mut self, tokens: &[String]) -> Self {
        self.tokens = Arc::new(tokens.iter().cloned().collect());
        self
    }

    /// Connections open now.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.open.lock_or_recover().0
    }

    /// Checks the token and the connection caps; the admission holds the connection's place.
    fn admit(&self, token: Option<&str>) -> Result<Admission, Box<Response>> {
        let token = if self.tokens.is_empty() {
            None
        } else {
            match token {
                Some(t) if self.tokens.contains(t) => Some(t.to_owned()),
                Some(_) => {
                    self.metrics.ws_refused("unauthorized");
                    return Err(refuse(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "unknown token".into(),
                        Some("token"),
                    ));
                }
                None => {
                    self.metrics.ws_refused("unauthorized");
                    return Err(refuse(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN".into(),
                        Some("token"),
                    ));
                }
            }
        };
        let mut open = self.open.lock_or_recover();
        if open.0 >= self.limits.max_connections {
            self.metrics.ws_refused("connection_limit");
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "{} WebSocket connections are open, the most this instance takes",
                    open.0
                ),
                None,
            ));
        }
        if let Some(t) = &token {
            let n = open.1.entry(t.clone()).or_default();
            if *n >= self.limits.max_connections_per_token {
                self.metrics.ws_refused("token_connection_limit");
                return Err(refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_connections",
                    format!("this token has {n} connections open, the most it may"),
                    Some("token"),
                ));
            }
            *n += 1;
        }
        open.0 += 1;
        Ok(Admission {
            open: self.open.clone(),
            token,
        })
    }

    /// Answers snapshots of topics the hub has no update of from `source` (the realtime state).
    #[must_use]
    pub fn with_snapshots(mut self, source: Option<Arc<dyn SnapshotSource>>) -> Self {
        self.snapshots = source;
        self
    }

    /// Refuses topics naming an instrument, underlying or expiry `listing` does not know, with
    /// the reason; without it every well-formed topic is accepted.
    #[must_use]
    pub fn with_listing(mut self, listing: Option<TopicListing>) -> Self {
        self.listing = listing;
        self
    }

    /// Serves the derived topics (candles above 1 minute, indicators) from `derived`; without
    /// it they are refused.
    #[must_use]
    pub fn with_derived(mut self, derived: Option<Arc<DerivedFeeds>>) -> Self {
        self.derived = derived;
        self
    }

    /// The topic's current state, outside the numbered updates.
    fn state(&self, topic: &Topic) -> Option<application::subscriptions::StateSnapshot> {
        if is_derived(topic) {
            self.derived.as_ref()?.snapshot(topic)
        } else {
            self.snapshots.as_ref()?.snapshot(topic)
        }
    }

    /// Closes every connection with code 1001 (going away) and [`SHUTDOWN_REASON`], so clients
    /// reconnect (to this instance once restarted, or another) and resume.
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }
}

/// The credentials of an `Authorization: Bearer TOKEN` value; the scheme's name is matched
/// case-insensitively (RFC 9110 §11.1), surrounding blanks ignored.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The token a request presents: `Authorization: Bearer …`, else the `token` query parameter.
fn presented_token(req: &poem::Request) -> Option<String> {
    let header = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .map(str::to_owned);
    header.or_else(|| {
        req.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "token")
                .map(|(_, v)| v.to_owned())
        })
    })
}

/// Upgrades to a WebSocket subscription connection, after the token and the connection caps.
#[handler]
pub fn subscriptions_websocket(req: &poem::Request, ctx: Data<&WsContext>) -> Response {
    let ctx = ctx.0.clone();
    let delivery = match Delivery::from_query(req.uri().query(), ctx.limits.batch_window) {
        Ok(d) => d,
        Err((field, reason)) => {
            ctx.metrics.ws_refused("bad_request");
            return *refuse(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("{field}: {reason}"),
                Some(field),
            );
        }
    };
    let admission = match ctx.admit(presented_token(req).as_deref()) {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let (switching, on_upgrade) = match upgrade::accept(req) {
        Ok(accepted) => accepted,
        Err(refusal) => {
            ctx.metrics.ws_refused("bad_request");
            return *refusal;
        }
    };
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = ctx.limits.read_buffer_bytes;
    // Frames drained together go out in one write (the buffer is flushed after each drain).
    config.write_buffer_size = WRITE_BUFFER_BYTES;
    config.max_message_size = Some(ctx.limits.max_inbound_frame_bytes * 16);
    config.max_frame_size = Some(ctx.limits.max_inbound_frame_bytes * 16);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let socket = WebSocketStream::from_raw_socket(upgraded, Role::Server, Some(config)).await;
            serve(ctx, socket, delivery).await;
        }
        drop(admission);
    });
    switching
}
