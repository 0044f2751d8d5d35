//! One WebSocket connection's loop: reading requests (subscribe, unsubscribe, resume, ping),
//! writing what its outbox holds, the ping and pong timers, the per-connection request budget,
//! and the close on shutdown or policy.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use application::subscriptions::derived::is_derived;
use application::subscriptions::{Opening, Subscriber};
use domain::subscriptions::Topic;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::delivery::Delivery;
use super::gate::Gate;
use super::protocol::{Encoded, ErrorCode, FrameKind, Refusal, Request, ServerFrame, read_request};

use super::*;

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

pub(super) async fn serve(ctx: WsContext, mut socket: WebSocketStream, delivery: Delivery) {
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
        let _ = socket.send(going_away(id, conn.ctx.limits.reconnect_spread)).await;
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

/// The close every client gets when the service stops: 1001, [`SHUTDOWN_REASON`] and a
/// reconnect hint, `; reconnect_after_ms=N`, N spread evenly over `spread` by the connection's id
/// (a Fibonacci hash: neighbouring ids land far apart), so the clients of a stopping instance do
/// not all reconnect in the same instant.
fn going_away(id: u64, spread: Duration) -> Message {
    let spread_ms = u64::try_from(spread.as_millis()).unwrap_or(u64::MAX).max(1);
    let after_ms = (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % spread_ms;
    Message::Close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: format!("{SHUTDOWN_REASON}; reconnect_after_ms={after_ms}").into(),
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
                    let _ = socket.send(going_away(self.outbox.id(), self.ctx.limits.reconnect_spread)).await;
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
                        self.closed("no_pong");
                        let reason = format!("no pong within {} s of a ping", limits.pong_deadline.as_secs());
                        let _ = socket.send(policy_close(reason)).await;
                        return;
                    }
                    self.pinged = None;
                }
            }
            let lag = self.outbox.lag();
            if lag > limits.max_lag {
                self.closed("behind");
                let reason = format!("slow consumer: updates {} s behind", lag.as_secs());
                let _ = socket.send(policy_close(reason)).await;
                return;
            }
        }
    }

    /// Counts a close by the server.
    fn closed(&self, reason: &'static str) {
        self.ctx
            .metrics
            .ws_closed
            .get_or_create(&crate::metrics::ReasonLabels { reason })
            .inc();
    }

    /// Sends what the queue holds (after the batching window, if any); false when the
    /// connection is done: the socket failed, or stayed full for the whole lag bound (then it
    /// is closed with a reason).
    async fn write(&mut self, socket: &mut WebSocketStream) -> bool {
        if self.delivery.batching() {
            tokio::time::sleep(self.delivery.batch).await;
        }
        let metrics = &self.ctx.metrics;
        metrics.ws_send_lag.observe(self.outbox.lag().as_secs_f64());
        let (frames, taken) = self.outbox.take_counted(self.delivery.batching());
        let messages = self.delivery.messages(frames);
        metrics.ws_messages_sent.inc_by(messages.len() as u64);
        metrics.ws_updates_sent.inc_by(taken.updates as u64);
        metrics.ws_bytes_sent.inc_by(
            messages
                .iter()
                .map(|m| match m {
                    Encoded::Text(t) => t.len() as u64,
                    Encoded::Binary(b) => b.len() as u64,
                })
                .sum(),
        );
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
            Ok(Ok(())) => {
                if let Some(received) = taken.oldest_received {
                    // Ingest's wall clock, possibly another instance's: a skewed clock reads as
                    // no lag rather than a negative one.
                    let lag = (self.ctx.clock.now() - received).to_std().unwrap_or_default();
                    metrics.ws_delivery_lag.observe(lag.as_secs_f64());
                }
                true
            }
            Ok(Err(_)) => false,
            Err(_) => {
                // The socket stayed full for the whole bound: the client is not reading.
                self.closed("slow_write");
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
                    self.ctx.metrics.ws_refused(ErrorCode::RateLimited.as_str());
                    self.outbox.send(&ServerFrame::error(
                        None,
                        ErrorCode::RateLimited,
                        format!(
                            "over {} messages per second: this one was dropped",
                            limits.max_inbound_per_second
                        ),
                    ));
                } else if text.len() > limits.max_inbound_frame_bytes {
                    self.ctx.metrics.ws_refused(ErrorCode::FrameTooLarge.as_str());
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
                        Err(frame) => {
                            if let ServerFrame::Error { code, .. } = frame.as_ref() {
                                self.ctx.metrics.ws_refused(code.as_str());
                            }
                            self.outbox.send(&frame);
                        }
                    }
                }
            }
            Some(Ok(Message::Binary(_))) => {
                self.ctx.metrics.ws_refused(ErrorCode::BinaryNotAccepted.as_str());
                self.outbox.send(&ServerFrame::error(
                    None,
                    ErrorCode::BinaryNotAccepted,
                    "requests are JSON text frames",
                ));
            }
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
                        ctx.metrics.ws_refused("topic_invalid");
                        refused.push(Refusal {
                            topic: raw,
                            reason: e.reason,
                        });
                        continue;
                    }
                };
                if let Some(Err(reason)) = ctx.listing.as_ref().map(|l| l.check(&t)) {
                    ctx.metrics.ws_refused("topic_unknown");
                    refused.push(Refusal { topic: raw, reason });
                    continue;
                }
                let canonical = t.to_string();
                // The same topic twice in one request (`rsi` and `rsi:14` are one): listed once.
                if accepted.iter().any(|(c, _)| *c == canonical) {
                    continue;
                }
                let again = followed.contains_key(&canonical);
                if !again && followed.len() >= ctx.limits.max_topics {
                    ctx.metrics.ws_refused("topic_limit");
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
                        ctx.metrics.ws_refused("topic_not_served");
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
                let opened = |reason: &'static str| {
                    ctx.metrics
                        .ws_openings
                        .get_or_create(&crate::metrics::ReasonLabels { reason })
                        .inc();
                };
                ctx.hub.subscribe_then(&topic, who, position, |opening| match opening {
                    Opening::Snapshot(Some(u)) => {
                        opened("snapshot");
                        outbox.send(&ServerFrame::data(FrameKind::Snapshot, u));
                    }
                    Opening::Snapshot(None) => outbox.send(&match ctx.state(&parsed) {
                        Some(state) => {
                            opened("state");
                            ServerFrame::state_snapshot(topic.clone(), state)
                        }
                        None => {
                            opened("empty");
                            ServerFrame::empty_snapshot(topic.clone())
                        }
                    }),
                    Opening::Missed(updates) => {
                        opened("missed");
                        for u in updates {
                            outbox.send(&ServerFrame::data(FrameKind::Update, u));
                        }
                    }
                    Opening::UpToDate => opened("up_to_date"),
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
