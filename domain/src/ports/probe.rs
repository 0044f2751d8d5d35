//! A dependency readiness asks whether it answers (the database, Redis).

use async_trait::async_trait;

use super::PortError;

/// Something the service depends on, asked by readiness whether it answers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// One cheap round trip.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the dependency does not answer.
    async fn ping(&self) -> Result<(), PortError>;
}
