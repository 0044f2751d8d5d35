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

pub mod delivery;
mod gate;
mod outbox;
pub mod protocol;
mod upgrade;

use application::sync::LockOrRecover;
use std::collections::{HashMap, HashSet};
use std::future::{Future, poll_fn};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use application::subscriptions::derived::is_derived;
use application::subscriptions::{DerivedFeeds, Opening, SnapshotSource, Subscriber, SubscriptionHub};
use domain::subscriptions::Topic;
use futures_util::{SinkExt, StreamExt};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, handler};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

pub use outbox::Outbox;

use super::error::ErrorBody;
use delivery::Delivery;
use gate::Gate;
use protocol::{Encoded, ErrorCode, FrameKind, Refusal, Request, ServerFrame, read_request};

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
    /// Accepted tokens; empty: anonymous.
    tokens: Arc<HashSet<String>>,
    /// Open connections, in all and per token.
    open: Arc<Mutex<(usize, HashMap<String, usize>)>>,
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
            tokens: Arc::default(),
            open: Arc::default(),
        }
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
                    return Err(refuse(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "unknown token".into(),
                        Some("token"),
                    ));
                }
                None => {
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
        Err(refusal) => return *refusal,
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

/// A token bucket over inbound messages.
struct Bucket {
    tokens: f64,
    per_second: f64,
    at: Instant,
}

impl Bucket {
    fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Self {
            tokens: 2.0 * per_second,
            per_second,
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.per_second).min(2.0 * self.per_second);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One connection, on one task: it reads requests, writes what its [`Outbox`] holds, pings,
/// and closes the connection when its client falls too far behind or the service stops.
struct Connection {
    ctx: WsContext,
    outbox: Arc<Outbox>,
    delivery: Delivery,
    followed: HashMap<String, Topic>,
    bucket: Bucket,
    /// When the unanswered ping went out.
    pinged: Option<Instant>,
    /// When the last pong came.
    pong: Instant,
}

/// A policy close (code 1008) with `reason`.
fn policy_close(reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Policy,
        reason: reason.into(),
    }))
}

async fn serve(ctx: WsContext, mut socket: WebSocketStream, delivery: Delivery) {
    let id = ctx.next_id.fetch_add(1, Ordering::Relaxed);
    let mut closing = ctx.closing.subscribe();
    let mut conn = Connection {
        outbox: Outbox::encoding(id, ctx.limits.queue_bytes, delivery.encoding),
        bucket: Bucket::new(ctx.limits.max_inbound_per_second),
        ctx,
        delivery,
        followed: HashMap::new(),
        pinged: None,
        pong: Instant::now(),
    };
    if *closing.borrow_and_update() {
        let _ = socket.send(going_away()).await;
    } else {
        conn.run(&mut socket, &mut closing).await;
    }
    conn.ctx.hub.forget(id);
    if let Some(derived) = &conn.ctx.derived {
        for topic in conn.followed.values().filter(|t| is_derived(t)) {
            derived.unfollow(topic);
        }
    }
    conn.outbox.close();
}

/// The close every client gets when the service stops.
fn going_away() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: SHUTDOWN_REASON.into(),
    }))
}

impl Connection {
    async fn run(&mut self, socket: &mut WebSocketStream, closing: &mut tokio::sync::watch::Receiver<bool>) {
        let limits = self.ctx.limits;
        let mut ping = tokio::time::interval(limits.ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut pong_due = Box::pin(tokio::time::sleep(limits.pong_deadline));
        let mut closed = Box::pin(closing.changed());
        // Every branch but the queue is gated: this task wakes for each update it is offered.
        let (read_gate, ping_gate, pong_gate, closed_gate) = (Gate::new(), Gate::new(), Gate::new(), Gate::new());
        loop {
            tokio::select! {
                biased;
                ready = self.outbox.ready() => {
                    if !ready || !self.write(socket).await {
                        return;
                    }
                }
                msg = poll_fn(|cx| read_gate.poll(cx, |cx| socket.poll_next_unpin(cx))) => {
                    if !self.read(msg).await {
                        return;
                    }
                }
                _ = poll_fn(|cx| closed_gate.poll(cx, |cx| closed.as_mut().poll(cx))) => {
                    let _ = socket.send(going_away()).await;
                    return;
                }
                _ = poll_fn(|cx| ping_gate.poll(cx, |cx| ping.poll_tick(cx))) => {
                    let now = Instant::now();
                    self.pinged = Some(now);
                    pong_due.as_mut().reset(tokio::time::Instant::from_std(now + limits.pong_deadline));
                    pong_gate.open();
                    if socket.send(Message::Ping(Default::default())).await.is_err() {
                        return;
                    }
                }
                () = poll_fn(|cx| pong_gate.poll(cx, |cx| pong_due.as_mut().poll(cx))), if self.pinged.is_some() => {
                    if self.pinged.is_some_and(|at| self.pong < at) {
                        let reason = format!("no pong within {} s of a ping", limits.pong_deadline.as_secs());
                        let _ = socket.send(policy_close(reason)).await;
                        return;
                    }
                    self.pinged = None;
                }
            }
            let lag = self.outbox.lag();
            if lag > limits.max_lag {
                let reason = format!("slow consumer: updates {} s behind", lag.as_secs());
                let _ = socket.send(policy_close(reason)).await;
                return;
            }
        }
    }

    /// Sends what the queue holds (after the batching window, if any); false when the
    /// connection is done: the socket failed, or stayed full for the whole lag bound (then it
    /// is closed with a reason).
    async fn write(&mut self, socket: &mut WebSocketStream) -> bool {
        if self.delivery.batching() {
            tokio::time::sleep(self.delivery.batch).await;
        }
        let messages = self.delivery.messages(self.outbox.take(self.delivery.batching()));
        let send = async {
            for message in messages {
                socket
                    .feed(match message {
                        Encoded::Text(t) => Message::Text(t),
                        Encoded::Binary(b) => Message::Binary(b),
                    })
                    .await?;
            }
            socket.flush().await
        };
        match tokio::time::timeout(self.ctx.limits.max_lag, send).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                // The socket stayed full for the whole bound: the client is not reading.
                let reason = format!(
                    "slow consumer: a write blocked over {} s",
                    self.ctx.limits.max_lag.as_secs()
                );
                let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(policy_close(reason))).await;
                false
            }
        }
    }

    /// Takes one inbound message; false when the connection is done.
    async fn read(&mut self, msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> bool {
        let limits = self.ctx.limits;
        match msg {
            Some(Ok(Message::Text(text))) => {
                if !self.bucket.take() {
                    self.outbox.send(&ServerFrame::error(
                        None,
                        ErrorCode::RateLimited,
                        format!(
                            "over {} messages per second: this one was dropped",
                            limits.max_inbound_per_second
                        ),
                    ));
                } else if text.len() > limits.max_inbound_frame_bytes {
                    self.outbox.send(&ServerFrame::error(
                        None,
                        ErrorCode::FrameTooLarge,
                        format!(
                            "{} bytes; at most {} are accepted",
                            text.len(),
                            limits.max_inbound_frame_bytes
                        ),
                    ));
                } else {
                    match read_request(&text) {
                        // Boxed: the warm-up of a derived feed is a large future, and this one
                        // lives in every connection's task.
                        Ok(request) => {
                            Box::pin(handle(&self.ctx, &self.outbox, &mut self.followed, request)).await;
                        }
                        Err(frame) => self.outbox.send(&frame),
                    }
                }
            }
            Some(Ok(Message::Binary(_))) => self.outbox.send(&ServerFrame::error(
                None,
                ErrorCode::BinaryNotAccepted,
                "requests are JSON text frames",
            )),
            Some(Ok(Message::Pong(_))) => self.pong = Instant::now(),
            Some(Ok(Message::Ping(_))) => {}  // tungstenite answers pings itself
            Some(Ok(Message::Frame(_))) => {} // raw frames are never produced when reading
            Some(Ok(Message::Close(_)) | Err(_)) | None => return false,
        }
        true
    }
}

async fn handle(ctx: &WsContext, outbox: &Arc<Outbox>, followed: &mut HashMap<String, Topic>, request: Request) {
    match request {
        Request::Subscribe { id, topics, resume } => {
            let mut accepted = Vec::new();
            let mut refused = Vec::new();
            for raw in topics {
                let t = match raw.parse::<Topic>() {
                    Ok(t) => t,
                    Err(e) => {
                        refused.push(Refusal {
                            topic: raw,
                            reason: e.reason,
                        });
                        continue;
                    }
                };
                let canonical = t.to_string();
                let again = followed.contains_key(&canonical);
                if !again && followed.len() >= ctx.limits.max_topics {
                    refused.push(Refusal {
                        topic: raw,
                        reason: format!("at most {} topics per connection", ctx.limits.max_topics),
                    });
                    continue;
                }
                if !again && is_derived(&t) {
                    let started = match &ctx.derived {
                        Some(d) => d.follow(&t).await.map_err(|e| e.to_string()),
                        None => Err("candles above 1m and indicators are not served by this instance".into()),
                    };
                    if let Err(reason) = started {
                        refused.push(Refusal { topic: raw, reason });
                        continue;
                    }
                }
                followed.insert(canonical.clone(), t.clone());
                accepted.push((canonical, t));
            }
            outbox.send(&ServerFrame::Ack {
                id,
                action: "subscribe".into(),
                accepted: accepted.iter().map(|(c, _)| c.clone()).collect(),
                refused,
            });
            for (topic, parsed) in accepted {
                let position = resume.get(&topic).map(|p| (p.epoch, p.seq));
                let who: Arc<dyn Subscriber> = outbox.clone();
                ctx.hub.subscribe_then(&topic, who, position, |opening| match opening {
                    Opening::Snapshot(Some(u)) => outbox.send(&ServerFrame::data(FrameKind::Snapshot, u)),
                    Opening::Snapshot(None) => outbox.send(&match ctx.state(&parsed) {
                        Some(state) => ServerFrame::state_snapshot(topic.clone(), state),
                        None => ServerFrame::empty_snapshot(topic.clone()),
                    }),
                    Opening::Missed(updates) => {
                        for u in updates {
                            outbox.send(&ServerFrame::data(FrameKind::Update, u));
                        }
                    }
                    Opening::UpToDate => {}
                });
            }
        }
        Request::Unsubscribe { id, topics } => {
            let mut accepted = Vec::new();
            let mut refused = Vec::new();
            for raw in topics {
                let canonical = raw.parse::<Topic>().map(|t| t.to_string());
                match canonical {
                    Ok(c) if followed.contains_key(&c) => {
                        ctx.hub.unsubscribe(&c, outbox.id());
                        if let (Some(t), Some(d)) = (followed.remove(&c), &ctx.derived)
                            && is_derived(&t)
                        {
                            d.unfollow(&t);
                        }
                        accepted.push(c);
                    }
                    Ok(_) => refused.push(Refusal {
                        topic: raw,
                        reason: "not subscribed".into(),
                    }),
                    Err(e) => refused.push(Refusal {
                        topic: raw,
                        reason: e.reason,
                    }),
                }
            }
            outbox.send(&ServerFrame::Ack {
                id,
                action: "unsubscribe".into(),
                accepted,
                refused,
            });
        }
    }
}
