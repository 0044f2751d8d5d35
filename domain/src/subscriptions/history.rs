//! A topic's recent updates, so a reconnecting client can get exactly what it missed.
//!
//! Every update of a topic carries a sequence number, one per topic across every instance, and
//! the epoch of that numbering (a new epoch starts when the numbering restarts, e.g. the fan-out
//! backend lost its counters). A client resumes with the last `(epoch, seq)` it saw:
//!
//! - same epoch and nothing newer: up to date;
//! - same epoch and every later update still held, with no hole: those updates, in order;
//! - otherwise (another epoch, older than the history, or across a hole left by an update this
//!   instance never received): a fresh snapshot, which the client must take as a restart.
//!
//! The history is bounded by count; an update older than the newest is ignored (a duplicate
//! from a second delivery path), and a newer one past a hole drops what came before the hole.

use std::collections::VecDeque;

/// What recording an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Appended after its predecessor.
    Appended,
    /// Appended after a hole (updates this history never saw): what came before was dropped.
    AfterGap {
        /// The first sequence number missing.
        missing_from: u64,
    },
    /// The first update of a new epoch: what came before was dropped.
    NewEpoch,
    /// Not newer than the newest held: ignored.
    Stale,
}

/// How a client resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume<T> {
    /// Nothing newer than what the client has.
    UpToDate,
    /// The updates it missed, oldest first.
    Missed(Vec<T>),
    /// The gap cannot be bridged: send a fresh snapshot, flagged as such.
    Snapshot,
}

/// The last updates of one topic, with their sequence numbers, in one epoch.
#[derive(Debug, Clone)]
pub struct TopicHistory<T> {
    epoch: Option<u64>,
    entries: VecDeque<(u64, T)>,
    capacity: usize,
}

impl<T: Clone> TopicHistory<T> {
    /// An empty history holding at most `capacity` updates (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            epoch: None,
            entries: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The epoch and sequence number of the newest update held.
    #[must_use]
    pub fn newest(&self) -> Option<(u64, u64)> {
        Some((self.epoch?, self.entries.back()?.0))
    }

    /// The newest update held.
    #[must_use]
    pub fn latest(&self) -> Option<&T> {
        self.entries.back().map(|(_, item)| item)
    }

    /// Updates held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The updates held, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(_, item)| item)
    }

    /// True when nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records update `seq` of `epoch`.
    pub fn record(&mut self, epoch: u64, seq: u64, item: T) -> Recorded {
        let outcome = match (self.epoch, self.entries.back()) {
            (Some(e), _) if e != epoch => {
                self.entries.clear();
                Recorded::NewEpoch
            }
            (None, _) => Recorded::NewEpoch,
            (Some(_), Some(&(last, _))) if seq <= last => return Recorded::Stale,
            (Some(_), Some(&(last, _))) if seq > last + 1 => {
                self.entries.clear();
                Recorded::AfterGap { missing_from: last + 1 }
            }
            (Some(_), _) => Recorded::Appended,
        };
        self.epoch = Some(epoch);
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back((seq, item));
        outcome
    }

    /// What a client whose last update was `seq` of `epoch` needs.
    #[must_use]
    pub fn resume(&self, epoch: u64, seq: u64) -> Resume<T> {
        let (Some(held), Some(&(first, _)), Some(&(last, _))) = (self.epoch, self.entries.front(), self.entries.back())
        else {
            return Resume::Snapshot;
        };
        if held != epoch || seq > last {
            // Another numbering, or a number this topic never reached: the client's state is
            // not ours.
            return Resume::Snapshot;
        }
        if seq == last {
            return Resume::UpToDate;
        }
        if seq + 1 < first {
            return Resume::Snapshot;
        }
        Resume::Missed(
            self.entries
                .iter()
                .filter(|(s, _)| *s > seq)
                .map(|(_, item)| item.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(seqs: &[u64]) -> TopicHistory<u64> {
        let mut h = TopicHistory::new(4);
        for &s in seqs {
            h.record(7, s, s);
        }
        h
    }

    #[test]
    fn a_client_gets_what_it_missed_in_order() {
        let h = history(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(h.len(), 4);
        assert_eq!(h.newest(), Some((7, 6)));
        assert_eq!(h.latest(), Some(&6));
        assert_eq!(h.resume(7, 6), Resume::UpToDate);
        assert_eq!(h.resume(7, 4), Resume::Missed(vec![5, 6]));
        // The oldest held is 3: a client at 2 needs 3..6, all held.
        assert_eq!(h.resume(7, 2), Resume::Missed(vec![3, 4, 5, 6]));
    }

    #[test]
    fn a_gap_too_old_another_epoch_or_an_unknown_number_means_a_snapshot() {
        let h = history(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(h.resume(7, 1), Resume::Snapshot);
        assert_eq!(h.resume(8, 6), Resume::Snapshot);
        assert_eq!(h.resume(7, 9), Resume::Snapshot);
        assert_eq!(TopicHistory::<u64>::new(4).resume(7, 0), Resume::Snapshot);
    }

    #[test]
    fn duplicates_are_ignored_and_holes_cut_the_history() {
        let mut h = history(&[1, 2, 3]);
        assert_eq!(h.record(7, 3, 3), Recorded::Stale);
        assert_eq!(h.record(7, 2, 2), Recorded::Stale);
        assert_eq!(h.record(7, 4, 4), Recorded::Appended);
        assert_eq!(h.record(7, 6, 6), Recorded::AfterGap { missing_from: 5 });
        // A client at 4 missed 5, which nobody here has.
        assert_eq!(h.resume(7, 4), Resume::Snapshot);
        assert_eq!(h.resume(7, 5), Resume::Missed(vec![6]));
        assert_eq!(h.record(9, 1, 100), Recorded::NewEpoch);
        assert_eq!(h.newest(), Some((9, 1)));
        assert_eq!(h.resume(7, 6), Resume::Snapshot);
    }
}
