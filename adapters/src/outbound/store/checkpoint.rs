//! SQLite checkpoints off the write path.
//!
//! In WAL mode every commit appends to the `-wal` file, and a checkpoint copies those pages
//! back into the database file (then `fsync`s it). By default the connection whose commit pushes
//! the WAL past 1 000 pages runs that checkpoint itself, inside its commit: the writer waits for
//! the copy and the `fsync`. On a replay that was about a sixth of the time (0.54–0.61 s with
//! writers checkpointing, 0.45–0.49 s without, `scripts/replay-vs-bulk-load.sh`), and in the live
//! feed it lands on whichever write happens to cross the line.
//!
//! Here one task per store runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection of its own
//! after commits, at most every [`CHECKPOINT_GAP`]: a passive checkpoint never blocks writers or
//! readers, so the copy runs on another thread while the writer goes on. Writers keep SQLite's
//! own automatic checkpoint as a safety net, raised to [`super::WAL_AUTOCHECKPOINT_PAGES`], for
//! the case where this task cannot keep up (or no tokio runtime was there to start it).
//!
//! The task ends when the last handle to the store is dropped.

use std::time::Duration;

use sea_orm::sqlx::{self, SqlitePool};
use tokio::sync::mpsc;

/// Shortest time between two checkpoints: commits in between are covered by the next one.
pub(super) const CHECKPOINT_GAP: Duration = Duration::from_millis(100);

/// Asks the checkpoint task for a checkpoint; cloned with the store.
#[derive(Debug, Clone)]
pub(super) struct Checkpoints {
    wake: mpsc::Sender<()>,
}

impl Checkpoints {
    /// Starts the checkpoint task for `pool`, or `None` outside a tokio runtime.
    pub(super) fn start(pool: &SqlitePool) -> Option<Self> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        // One slot: a request made while one is already waiting is the same request.
        let (wake, asked) = mpsc::channel(1);
        runtime.spawn(run(pool.clone(), asked));
        Some(Self { wake })
    }

    /// A commit happened: a checkpoint should follow.
    pub(super) fn after_commit(&self) {
        let _ = self.wake.try_send(());
    }
}

async fn run(pool: SqlitePool, mut asked: mpsc::Receiver<()>) {
    let mut failing = false;
    while asked.recv().await.is_some() {
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok((_, wal_pages, copied)) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("SQLite checkpoints run again");
                }
                tracing::trace!(wal_pages, copied, "SQLite checkpoint");
            }
            // A closed pool means the store is going away.
            Err(sqlx::Error::PoolClosed) => break,
            // The writers' own automatic checkpoint still bounds the WAL, and the next commit
            // asks again: logged once per run of failures.
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; writers checkpoint themselves until it works again");
                }
            }
        }
        tokio::time::sleep(CHECKPOINT_GAP).await;
    }
}
