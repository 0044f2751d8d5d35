//! Stage 5, publishing: a batch's updates (Greeks, forming and closed 1-minute bars, the chain
//! updates of minutes that closed) go to the fan-out before the batch's bars are written, so no
//! subscriber waits for the disk. A fan-out failure is logged, not fatal: the data is stored,
//! and subscribers see a hole they resume across with a snapshot.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use domain::ports::{GreeksRecord, Outgoing, SignalEvent, SignalPublisher};
use domain::subscriptions::Topic;

use crate::sync::LockOrRecover;

/// The publishing stage.
#[derive(Default)]
pub(super) struct Publishing {
    publisher: Option<Arc<dyn SignalPublisher>>,
    /// Chain updates (ATM IV, moneyness) of minutes closed, waiting for the next publish.
    queued: Mutex<Vec<Outgoing>>,
}

impl Publishing {
    pub(super) fn new(publisher: Option<Arc<dyn SignalPublisher>>) -> Self {
        Self {
            publisher,
            queued: Mutex::default(),
        }
    }

    /// True when there is a fan-out (else no update is even built).
    pub(super) fn is_on(&self) -> bool {
        self.publisher.is_some()
    }

    /// Queues updates for the next publish.
    pub(super) fn queue(&self, updates: Vec<Outgoing>) {
        if !updates.is_empty() {
            self.queued.lock_or_recover().extend(updates);
        }
    }

    /// Takes the queued updates.
    pub(super) fn take_queued(&self) -> Vec<Outgoing> {
        std::mem::take(&mut *self.queued.lock_or_recover())
    }

    /// The `greeks:{key}` updates of `records`.
    pub(super) fn greeks_updates(records: &[GreeksRecord]) -> Vec<Outgoing> {
        records
            .iter()
            .map(|r| Outgoing {
                topic: Topic::greeks_text(&r.key),
                source_ts: r.minute,
                received: None,
                forming: false,
                event: SignalEvent::Greeks(r.clone()),
            })
            .collect()
    }

    /// Hands `updates` to the fan-out, when there is one, each stamped with the time its batch
    /// was `received` (unless it carries one already).
    pub(super) async fn publish(&self, mut updates: Vec<Outgoing>, received: DateTime<Utc>) {
        for u in &mut updates {
            u.received.get_or_insert(received);
        }
        if let (Some(p), false) = (&self.publisher, updates.is_empty())
            && let Err(e) = p.publish(updates).await
        {
            tracing::warn!(error = %e, "updates not published to subscribers");
        }
    }
}
