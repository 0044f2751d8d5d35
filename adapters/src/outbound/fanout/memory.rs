//! The in-process fan-out: one instance, so numbering and delivery happen in the call.
//!
//! The epoch is the process's start time in epoch milliseconds: a restarted service numbers
//! from 1 again under a new epoch, and a client resuming with the old one gets a snapshot.

use application::fast_map::FastMap;
use application::sync::LockOrRecover;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::ports::{Outgoing, PortError, SignalPublisher, TopicUpdate, UpdateSink};

/// Numbers updates per topic and hands them to the local hub, in order.
pub struct InProcessFanout {
    epoch: u64,
    /// The last sequence number of each topic; held while delivering, so concurrent publishers
    /// cannot interleave a topic's updates out of order.
    seqs: Mutex<FastMap<String, u64>>,
    sink: Arc<dyn UpdateSink>,
}

impl std::fmt::Debug for InProcessFanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessFanout")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl InProcessFanout {
    /// Delivers to `sink`, numbering under `epoch`.
    #[must_use]
    pub fn new(epoch: u64, sink: Arc<dyn UpdateSink>) -> Self {
        Self {
            epoch,
            seqs: Mutex::default(),
            sink,
        }
    }

    /// Delivers to `sink`, the epoch being now in epoch milliseconds.
    #[must_use]
    pub fn starting_now(sink: Arc<dyn UpdateSink>) -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self::new(now_ms, sink)
    }

    /// The epoch.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

#[async_trait]
impl SignalPublisher for InProcessFanout {
    async fn publish(&self, updates: Vec<Outgoing>) -> Result<(), PortError> {
        let mut seqs = self.seqs.lock_or_recover();
        for o in updates {
            // Looked up before the entry API, which would copy the topic for every update.
            let seq = match seqs.get_mut(&o.topic) {
                Some(seq) => {
                    *seq += 1;
                    *seq
                }
                None => {
                    seqs.insert(o.topic.clone(), 1);
                    1
                }
            };
            self.sink.deliver(TopicUpdate {
                topic: o.topic,
                epoch: self.epoch,
                seq,
                source_ts: o.source_ts,
                received: o.received,
                forming: o.forming,
                event: o.event,
            });
        }
        Ok(())
    }
}
