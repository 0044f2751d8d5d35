//! Subscriptions: the topics a client can follow, and the rules that make a feed resumable.
//!
//! The WebSocket adapter speaks the wire protocol; the application keeps each topic's sequence,
//! history and latest state; this module holds what both must agree on.

mod history;
mod topic;

pub use history::{Recorded, Resume, TopicHistory};
pub use topic::{MAX_TOPIC_LEN, Topic, TopicError, TopicKind};
