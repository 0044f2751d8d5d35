//! Readiness: can this instance do its work, and how well. Answers within a second in every
//! state: each dependency is asked at once, each with its own deadline, so a database that hangs
//! shows as `timed out` instead of holding the probe. Three states:
//! - `ready`: the database and Redis answer and snapshot writes keep up;
//! - `degraded` (`reasons` say why): serving, with something to look at — snapshot writes
//!   failing (the backlog, its oldest entry's age and the last error), or Redis down (this
//!   instance's subscribers are still served; other instances' are not);
//! - `not_ready`: the database does not answer, or the snapshot backlog is full (ingest is
//!   refused either way), or the instance is draining before it stops
//!   ([`Readiness::drain`]), so a load balancer should send work elsewhere.

use std::sync::Arc;
use std::time::Duration;

use domain::ports::{HealthProbe, PortError};

use crate::ingest::{BacklogStatus, IngestTicks};

/// How long one dependency check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(600);

/// The overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadinessState {
    /// Everything answers and keeps up.
    Ready,
    /// Serving, with something an operator should look at.
    Degraded,
    /// Not serving its work: send it elsewhere.
    NotReady,
}

impl ReadinessState {
    /// `ready`, `degraded` or `not_ready`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Degraded => "degraded",
            Self::NotReady => "not_ready",
        }
    }
}

/// One readiness check's findings.
#[derive(Debug, Clone)]
pub struct ReadinessReport {
    /// The overall state.
    pub state: ReadinessState,
    /// The database: `Ok` or what went wrong.
    pub database: Result<(), String>,
    /// Redis, when configured.
    pub redis: Option<Result<(), String>>,
    /// The snapshot backlog.
    pub snapshots: BacklogStatus,
    /// Why the state is not `ready`, one line each.
    pub reasons: Vec<String>,
}

/// The readiness use case.
pub struct Readiness {
    database: Arc<dyn HealthProbe>,
    redis: Option<Arc<dyn HealthProbe>>,
    ingest: Arc<IngestTicks>,
    /// Set on a stop signal: the instance still serves, but asks to get no new work.
    draining: std::sync::atomic::AtomicBool,
}

/// `ok`, or what went wrong, within [`CHECK_TIMEOUT`].
async fn check(probe: &dyn HealthProbe) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, probe.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timed out after {} ms", CHECK_TIMEOUT.as_millis())),
    }
}

impl Readiness {
    /// Checks `database`, `redis` (when configured) and `ingest`'s snapshot backlog.
    #[must_use]
    pub fn new(database: Arc<dyn HealthProbe>, redis: Option<Arc<dyn HealthProbe>>, ingest: Arc<IngestTicks>) -> Self {
        Self {
            database,
            redis,
            ingest,
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// From now on readiness answers `not_ready` (`draining`): the instance is about to stop,
    /// and load balancers should stop sending it work while it finishes what it has.
    pub fn drain(&self) {
        self.draining.store(true, std::sync::atomic::Ordering::Release);
    }

    /// True once [`Self::drain`] was called.
    #[must_use]
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Asks every dependency at once; answers within [`CHECK_TIMEOUT`] plus a little.
    pub async fn check(&self) -> ReadinessReport {
        let redis = async {
            match &self.redis {
                Some(r) => Some(check(r.as_ref()).await),
                None => None,
            }
        };
        let (database, redis) = tokio::join!(check(self.database.as_ref()), redis);
        let snapshots = self.ingest.backlog();
        let mut reasons: Vec<String> = Vec::new();
        let mut serving = true;
        if self.is_draining() {
            serving = false;
            reasons.push("draining: this instance is stopping; send work elsewhere".to_owned());
        }
        if let Err(e) = &database {
            serving = false;
            reasons.push(format!("database: {e}"));
        }
        if snapshots.pending() >= snapshots.limit {
            serving = false;
            reasons.push(format!(
                "snapshot backlog full ({} of {}): ingest is refused until it drains",
                snapshots.pending(),
                snapshots.limit
            ));
        }
        if let Some(failing) = snapshots.failing_for {
            reasons.push(format!(
                "snapshot writes failing for {} s: {}",
                failing.as_secs(),
                snapshots.last_error.as_deref().unwrap_or("unknown error")
            ));
        }
        if let Some(Err(e)) = &redis {
            reasons.push(format!("redis: {e} (updates reach this instance's subscribers only)"));
        }
        let state = match (serving, reasons.is_empty()) {
            (false, _) => ReadinessState::NotReady,
            (true, true) => ReadinessState::Ready,
            (true, false) => ReadinessState::Degraded,
        };
        ReadinessReport {
            state,
            database,
            redis,
            snapshots,
            reasons,
        }
    }
}

/// A probe that never answers: the dependency is not there (a detached state that only renders
/// the API document).
#[derive(Debug, Clone, Copy, Default)]
pub struct Absent;

#[async_trait::async_trait]
impl HealthProbe for Absent {
    async fn ping(&self) -> Result<(), PortError> {
        Err(PortError::Unavailable("not connected".into()))
    }
}
