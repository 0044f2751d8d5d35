//! The error every port returns: typed variants callers branch on, and one opaque catch-all.

/// A port failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The backing service is down or timed out; retrying later may work.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The write conflicts with stored data.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backing service rejected or garbled the data.
    #[error("invalid data: {0}")]
    Invalid(String),
    /// The service is shedding load (a full write backlog); retrying after a pause will work.
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// Anything else; the message is for logs, not clients.
    #[error("internal: {0}")]
    Other(String),
}
