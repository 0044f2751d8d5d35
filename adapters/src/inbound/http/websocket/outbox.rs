//! A connection's outgoing queue: bounded in bytes, coalescing per topic when over its bound.
//!
//! The hub offers updates from its delivery task; offering never waits. Each update becomes its
//! JSON frame here and joins the queue. While the queue holds more than `max_bytes`, only the
//! newest queued update of each topic is kept (older ones are dropped; the client sees the
//! sequence jump, and the newest value is never lost). Acks, errors and snapshots are never
//! dropped. The writer drains the queue in order; how long the oldest frame has waited is the
//! connection's lag, which the writer compares with its bound.

use application::sync::LockOrRecover;
use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use application::subscriptions::Subscriber;
use chrono::{DateTime, Utc};
use domain::ports::TopicUpdate;
use futures_util::task::AtomicWaker;

use super::protocol::{Encoded, Encoding, FrameKind, ServerFrame};

struct Queued {
    /// The update of an update frame (the ones that may be coalesced), for its topic.
    update: Option<Arc<TopicUpdate>>,
    frame: Encoded,
    at: Instant,
}

impl Queued {
    fn topic(&self) -> Option<&str> {
        self.update.as_deref().map(|u| u.topic.as_str())
    }
}

/// What a [`Outbox::take_counted`] took besides its frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taken {
    /// Update frames (the others are acks, errors and snapshots).
    pub updates: usize,
    /// When the oldest of those updates' batches was taken in by ingest, when known.
    pub oldest_received: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Queued>,
    bytes: usize,
    coalesced: u64,
    closed: bool,
}

/// The queue of one connection.
pub struct Outbox {
    id: u64,
    encoding: Encoding,
    max_bytes: usize,
    state: Mutex<State>,
    /// The connection's task, waiting for frames (one consumer: an atomic waker, cheaper than
    /// a `Notify` on a path taken once per delivery).
    waker: AtomicWaker,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Outbox {
    /// An empty queue for connection `id`, coalescing above `max_bytes`.
    #[must_use]
    pub fn new(id: u64, max_bytes: usize) -> Arc<Self> {
        Self::encoding(id, max_bytes, Encoding::Json)
    }

    /// [`Self::new`], frames encoded with `encoding`.
    #[must_use]
    pub fn encoding(id: u64, max_bytes: usize, encoding: Encoding) -> Arc<Self> {
        Arc::new(Self {
            id,
            encoding,
            max_bytes,
            state: Mutex::default(),
            waker: AtomicWaker::new(),
        })
    }

    fn push(&self, update: Option<Arc<TopicUpdate>>, frame: Encoded) {
        let mut s = self.state.lock_or_recover();
        if s.closed {
            return;
        }
        s.bytes += frame.len();
        s.queue.push_back(Queued {
            update,
            frame,
            at: Instant::now(),
        });
        if s.bytes > self.max_bytes {
            coalesce(&mut s);
        }
        drop(s);
        self.waker.wake();
    }

    /// Queues a frame that is never dropped (ack, error, snapshot).
    pub fn send(&self, frame: &ServerFrame) {
        self.push(None, self.encoding.encode(frame));
    }

    /// Waits until something is queued: true then, false once closed.
    pub async fn ready(&self) -> bool {
        std::future::poll_fn(|cx| {
            self.waker.register(cx.waker());
            let s = self.state.lock_or_recover();
            if s.closed {
                Poll::Ready(false)
            } else if s.queue.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(true)
            }
        })
        .await
    }

    /// Takes everything queued, oldest first; with `conflate`, only the newest update of each
    /// topic (and every other frame).
    pub fn take(&self, conflate: bool) -> Vec<Encoded> {
        self.take_counted(conflate).0
    }

    /// [`Self::take`], with what the frames hold: see [`Taken`].
    pub fn take_counted(&self, conflate: bool) -> (Vec<Encoded>, Taken) {
        let mut s = self.state.lock_or_recover();
        if conflate {
            coalesce(&mut s);
        }
        s.bytes = 0;
        let mut taken = Taken::default();
        let frames = s
            .queue
            .drain(..)
            .map(|q| {
                if let Some(u) = &q.update {
                    taken.updates += 1;
                    if let Some(r) = u.received {
                        taken.oldest_received = Some(taken.oldest_received.map_or(r, |o: DateTime<Utc>| o.min(r)));
                    }
                }
                q.frame
            })
            .collect();
        (frames, taken)
    }

    /// Takes everything queued, oldest first; waits while the queue is empty. `None` once closed.
    #[cfg(test)]
    async fn drain(&self) -> Option<Vec<Encoded>> {
        self.ready().await.then(|| self.take(false))
    }

    /// How long the oldest queued frame has waited.
    #[must_use]
    pub fn lag(&self) -> Duration {
        let s = self.state.lock_or_recover();
        s.queue.front().map_or(Duration::ZERO, |q| q.at.elapsed())
    }

    /// Updates dropped by coalescing so far.
    #[must_use]
    pub fn coalesced(&self) -> u64 {
        self.state.lock_or_recover().coalesced
    }

    /// Stops the queue: nothing more is taken, and [`Self::ready`] answers false.
    pub fn close(&self) {
        self.state.lock_or_recover().closed = true;
        self.waker.wake();
    }
}

/// Keeps only the newest update frame of each topic (and every other frame), in order.
fn coalesce(s: &mut State) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut kept: VecDeque<Queued> = VecDeque::with_capacity(s.queue.len());
    let before = s.queue.len();
    for q in s.queue.drain(..).rev() {
        match q.topic() {
            Some(t) if !seen.insert(t.to_owned()) => {}
            _ => kept.push_front(q),
        }
    }
    s.coalesced += (before - kept.len()) as u64;
    s.bytes = kept.iter().map(|q| q.frame.len()).sum();
    s.queue = kept;
}

thread_local! {
    /// The update last encoded on this thread, per encoding. The hub offers one update to every
    /// subscriber of its topic in a row, so it is serialized once per delivery rather than once
    /// per connection. The cache holds the update itself (compared by pointer), so its address
    /// cannot be reused by another update while it is cached.
    static LAST_ENCODED: RefCell<Vec<(Arc<TopicUpdate>, Encoding, Encoded)>> = const { RefCell::new(Vec::new()) };
}

/// `update` as an update frame in `encoding`, from the cache when it was just encoded.
fn encode_update(update: &Arc<TopicUpdate>, encoding: Encoding) -> Encoded {
    LAST_ENCODED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, _, frame)) = cache.iter().find(|(u, e, _)| Arc::ptr_eq(u, update) && *e == encoding) {
            return frame.clone();
        }
        let frame = encoding.encode(&ServerFrame::data(FrameKind::Update, update));
        cache.retain(|(_, e, _)| *e != encoding);
        cache.push((Arc::clone(update), encoding, frame.clone()));
        frame
    })
}

impl Subscriber for Outbox {
    fn id(&self) -> u64 {
        self.id
    }

    fn offer(&self, update: Arc<TopicUpdate>) {
        let frame = encode_update(&update, self.encoding);
        self.push(Some(update), frame);
    }

    fn resync(&self, update: Arc<TopicUpdate>) {
        self.send(&ServerFrame::data(FrameKind::Resync, &update));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(topic: &str, seq: u64) -> Arc<TopicUpdate> {
        Arc::new(TopicUpdate::example(topic, 1, seq))
    }

    fn seqs(frames: &[Encoded]) -> Vec<(String, u64)> {
        frames
            .iter()
            .map(|f| {
                let Encoded::Text(t) = f else { panic!("JSON frames") };
                let v: serde_json::Value = serde_json::from_str(t).unwrap();
                (
                    v["topic"].as_str().unwrap_or("-").to_owned(),
                    v["seq"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn under_its_bound_every_update_goes_out_in_order() {
        let o = Outbox::new(1, 1 << 20);
        for s in 1..=3 {
            o.offer(update("a", s));
        }
        assert_eq!(
            seqs(&o.drain().await.unwrap()),
            vec![("a".into(), 1), ("a".into(), 2), ("a".into(), 3)]
        );
        assert_eq!(o.coalesced(), 0);
    }

    #[tokio::test]
    async fn over_its_bound_it_keeps_the_newest_of_each_topic_and_every_ack() {
        let one = ServerFrame::data(FrameKind::Update, &update("a", 1)).to_json().len();
        let o = Outbox::new(1, one * 3);
        o.offer(update("a", 1));
        o.send(&ServerFrame::empty_snapshot("b".into()));
        o.offer(update("b", 1));
        o.offer(update("a", 2));
        o.offer(update("b", 2));
        o.offer(update("a", 3));
        let out = seqs(&o.drain().await.unwrap());
        assert_eq!(out, vec![("b".into(), 0), ("b".into(), 2), ("a".into(), 3)]);
        assert!(o.coalesced() >= 3, "{}", o.coalesced());
        o.close();
        assert!(o.drain().await.is_none());
    }
}
