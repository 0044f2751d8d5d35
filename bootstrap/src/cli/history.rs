//! `signal-service history upkeep`: one history upkeep run now, as the service runs it on its
//! interval (`[history]`): partitions ahead, every closed day sealed into the compact layout
//! (until none is left in row form), retention. For operators (after a backfill, before
//! measuring storage) and the storage benchmark (`scripts/history-bench.sh`).

use std::sync::Arc;

use adapters::outbound::store::SeaStore;
use application::upkeep::HistoryKeeper;
use clap::{Args, Subcommand};
use migration::{Migrator, MigratorTrait};

use super::migrate::DatabaseArgs;
use crate::settings::Settings;

/// History upkeep.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    action: HistoryAction,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
enum HistoryAction {
    /// Runs upkeep until every closed day is sealed: prints what it sealed and dropped.
    Upkeep {
        /// Minutes after a UTC day ends before it is sealed (default: `history.seal_after_minutes`).
        #[arg(long)]
        seal_after_minutes: Option<u64>,
    },
}

/// Runs the command.
///
/// # Errors
/// Connection, migration or upkeep errors.
pub async fn run(args: HistoryArgs, settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let HistoryAction::Upkeep { seal_after_minutes } = args.action;
    let db = args.db.connect(settings).await?;
    Migrator::up(&db, None).await?;
    let mut history = settings.history.clone();
    if let Some(m) = seal_after_minutes {
        history.seal_after_minutes = m;
    }
    let store = SeaStore::new(db);
    let keeper = HistoryKeeper::new(
        Arc::new(store.clone()),
        Arc::new(adapters::outbound::clock::SystemClock),
        history.policy(),
    );
    let started = std::time::Instant::now();
    let (mut series_days, mut rows, mut dropped) = (0, 0, Vec::new());
    loop {
        let r = keeper.cycle().await?;
        series_days += r.compaction.series_days;
        rows += r.compaction.rows_folded;
        dropped.extend(r.dropped);
        if !r.compaction.more {
            break;
        }
    }
    println!(
        "history upkeep: sealed {series_days} series-days ({rows} rows) in {:.3} s; dropped {}",
        started.elapsed().as_secs_f64(),
        if dropped.is_empty() {
            "nothing".to_owned()
        } else {
            dropped.join(", ")
        }
    );
    Ok(())
}
