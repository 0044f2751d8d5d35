//! Groups of batches whose bar writes have started and whose acknowledgement waits for them:
//! how a feed that reads ahead (the Redis Streams consumer) keeps ingesting while the database
//! writes.
//!
//! A feed closes a group by handing its batches' [`Durable`]s to [`InFlight::push`], with what
//! acknowledging it takes (its entry ids); `push` starts their write at once and gives
//! back, in order, every group already durable; only when more than `depth` groups are in flight
//! does it wait for the oldest. So a write that queues behind the minute's snapshot flush (one
//! database writer) does not stop the feed, and what is unacknowledged stays bounded: at most
//! `depth + 1` groups, the one being ingested included.

use std::collections::VecDeque;

use domain::ports::PortError;
use futures_util::FutureExt;

use super::commits::{Durable, GroupWait};

/// Started groups, oldest first, each with the caller's tag (see the module's documentation).
pub struct InFlight<T> {
    depth: usize,
    groups: VecDeque<(GroupWait, T)>,
}

impl<T> InFlight<T> {
    /// At most `depth` groups in flight (at least 1).
    #[must_use]
    pub fn new(depth: usize) -> Self {
        Self {
            depth: depth.max(1),
            groups: VecDeque::new(),
        }
    }

    /// Groups in flight.
    #[must_use]
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// No group in flight.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Starts the write of `batches` as one group tagged `tag`, then returns the tags of every
    /// group durable by now, oldest first; waits for the oldest while more than `depth` are in
    /// flight.
    ///
    /// # Errors
    /// The first failed write's [`PortError`]: its group and every later one stay unreturned
    /// (the caller acknowledges none of them, so their entries are delivered again).
    pub async fn push(&mut self, batches: Vec<Durable>, tag: T) -> Result<Vec<T>, PortError> {
        self.groups.push_back((Durable::wait_all(batches), tag));
        let mut done = Vec::new();
        loop {
            let beyond = self.groups.len() > self.depth;
            let Some((wait, _)) = self.groups.front_mut() else {
                break;
            };
            if beyond {
                wait.await?;
            } else {
                match wait.now_or_never() {
                    Some(outcome) => outcome?,
                    None => break,
                }
            }
            if let Some((_, tag)) = self.groups.pop_front() {
                done.push(tag);
            }
        }
        Ok(done)
    }

    /// Waits for every group in flight; their tags, oldest first.
    ///
    /// # Errors
    /// As [`Self::push`].
    pub async fn drain(&mut self) -> Result<Vec<T>, PortError> {
        let mut done = Vec::new();
        while let Some((wait, _)) = self.groups.front_mut() {
            wait.await?;
            if let Some((_, tag)) = self.groups.pop_front() {
                done.push(tag);
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests;
