//! `signal-service migrate up|down|status`.

use clap::{Args, Subcommand};
use migration::{Migrator, MigratorTrait};
use sea_orm::Database;

use crate::settings::Settings;

/// Database selection shared by commands that touch storage.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Database URL (`sqlite://path?mode=rwc` or `postgres://user@host:port/db`); overrides
    /// `database.url` of the configuration.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    /// Connects to the flag's URL or the configured one, creating a SQLite file's folder first.
    ///
    /// # Errors
    /// The connection error.
    pub async fn connect(
        &self,
        settings: &Settings,
    ) -> Result<sea_orm::DatabaseConnection, Box<dyn std::error::Error>> {
        let url = self.database_url.as_deref().unwrap_or(&settings.database.url);
        if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(file)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)?;
            }
        }
        // Which host failed and why, within the configured wait, instead of the driver's
        // `pool timed out` after 30 s.
        let wait = std::time::Duration::from_millis(settings.database.acquire_timeout_ms.max(1));
        let masked = crate::settings::mask_password(url);
        adapters::outbound::store::reachable(url, wait)
            .await
            .map_err(|why| format!("database {masked}: {why}"))?;
        let mut options = adapters::outbound::store::connect_options(url);
        options.acquire_timeout(wait).connect_timeout(wait);
        Ok(Database::connect(options)
            .await
            .map_err(|e| format!("database {masked}: {e}"))?)
    }
}

/// Applies or rolls back the schema.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    action: MigrateAction,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Applies pending migrations (all, or `--steps N`).
    Up {
        /// How many to apply.
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Rolls back the last migration (or `--steps N`, or `--all`).
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1, conflicts_with = "all")]
        steps: u32,
        /// Roll back everything.
        #[arg(long)]
        all: bool,
    },
    /// Lists every migration as applied or pending.
    Status,
}

/// Runs the command.
///
/// # Errors
/// Connection or migration errors.
pub async fn run(args: MigrateArgs, settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let db = args.db.connect(settings).await?;
    match args.action {
        MigrateAction::Up { steps } => Migrator::up(&db, steps).await?,
        MigrateAction::Down { steps, all } => Migrator::down(&db, (!all).then_some(steps)).await?,
        MigrateAction::Status => {}
    }
    for m in Migrator::get_migration_with_status(&db).await? {
        println!("{}\t{}", m.name(), format!("{:?}", m.status()).to_lowercase());
    }
    db.close().await?;
    Ok(())
}
