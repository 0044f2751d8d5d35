//! A gate in front of one branch of a connection's loop: the branch is polled only after its
//! own waker fired (and once at first).
//!
//! A connection's task wakes for every update it is offered, and its `select!` would then poll
//! every branch again: the socket's read side (tungstenite clears its 4 KiB read chunk and tries
//! a read each time), the ping timer, the pong deadline, the shutdown signal. Profiled at 10,000
//! connections and 100,000 deliveries a second, those polls were an eighth of the server's CPU.
//! Behind a gate they cost an atomic load until their event really happens.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::{ArcWake, AtomicWaker, waker_ref};

struct Inner {
    /// The inner waker fired since the last poll (or nothing was polled yet).
    woken: AtomicBool,
    /// The connection's task.
    task: AtomicWaker,
}

impl ArcWake for Inner {
    fn wake_by_ref(arc: &Arc<Self>) {
        arc.woken.store(true, Ordering::Release);
        arc.task.wake();
    }
}

/// One gated branch.
pub(super) struct Gate(Arc<Inner>);

impl Gate {
    /// A gate that lets the first poll through.
    pub(super) fn new() -> Self {
        Self(Arc::new(Inner {
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        }))
    }

    /// Lets the next poll through (after the inner future was replaced or reset).
    pub(super) fn open(&self) {
        self.0.woken.store(true, Ordering::Release);
    }

    /// Polls `inner` if its waker fired since the last poll, with a waker that records that;
    /// otherwise pending. A ready result leaves the gate open: there may be more.
    pub(super) fn poll<T>(&self, cx: &mut Context<'_>, inner: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        self.0.task.register(cx.waker());
        if !self.0.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let waker = waker_ref(&self.0);
        let result = inner(&mut Context::from_waker(&waker));
        if result.is_ready() {
            self.open();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    #[tokio::test]
    async fn the_inner_future_is_polled_once_then_only_after_its_waker_fired() {
        let gate = Gate::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u8>();
        let polls = std::cell::Cell::new(0);
        async fn next(
            gate: &Gate,
            rx: &mut tokio::sync::mpsc::UnboundedReceiver<u8>,
            polls: &std::cell::Cell<u32>,
        ) -> Result<Option<u8>, tokio::time::error::Elapsed> {
            let recv = poll_fn(|cx| {
                gate.poll(cx, |cx| {
                    polls.set(polls.get() + 1);
                    rx.poll_recv(cx)
                })
            });
            tokio::time::timeout(std::time::Duration::from_millis(20), recv).await
        }
        assert!(next(&gate, &mut rx, &polls).await.is_err(), "nothing yet");
        assert!(next(&gate, &mut rx, &polls).await.is_err());
        assert_eq!(polls.get(), 1, "not polled again without a wake-up");
        tx.send(7).unwrap();
        assert_eq!(next(&gate, &mut rx, &polls).await.unwrap(), Some(7));
        tx.send(8).unwrap();
        assert_eq!(
            next(&gate, &mut rx, &polls).await.unwrap(),
            Some(8),
            "ready leaves the gate open"
        );
        assert_eq!(polls.get(), 3);
    }
}
