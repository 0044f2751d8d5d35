//! `signal-service serve`.

use clap::Args;

use crate::app::Application;
use crate::settings::{Mode, Settings};

/// Runs the service.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen port (overrides `server.port`; 0 picks a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Database URL (overrides `database.url`).
    #[arg(long)]
    database_url: Option<String>,
}

/// Builds and runs the application.
///
/// # Errors
/// Anything that stops it from starting or from shutting down cleanly.
pub async fn run(args: ServeArgs, mut settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(p) = args.port {
        settings.server.port = p;
    }
    if let Some(u) = args.database_url {
        settings.database.url = u;
    }
    settings.check_for_serve()?;
    if settings.mode == Mode::Production && settings.ingest.api_keys.is_empty() {
        tracing::warn!(
            "ingest.api_keys is empty: anyone who reaches this port can write market data \
             (set SIGNAL__INGEST__API_KEYS=key1,key2)"
        );
    }
    let app = Application::build(&settings).await?;
    let s = &settings;
    let database = if s.database.url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgresql"
    };
    tracing::info!(
        version = crate::logging::VERSION,
        mode = ?s.mode,
        database,
        redis = !s.redis.url.is_empty(),
        streams = s.streams.enabled,
        port = app.port(),
        ingest_api_keys = s.ingest.api_keys.len(),
        max_connections = s.server.max_connections,
        header_read_timeout_ms = s.server.header_read_timeout_ms,
        body_read_timeout_ms = s.server.body_read_timeout_ms,
        max_body_bytes_ingest = s.server.max_body_bytes_ingest,
        max_body_bytes_analytics = s.server.max_body_bytes_analytics,
        max_body_bytes_other = s.server.max_body_bytes_other,
        db_acquire_timeout_ms = s.database.acquire_timeout_ms,
        db_statement_timeout_ms = s.database.statement_timeout_ms,
        max_pending_snapshots = s.ingest.max_pending_snapshots,
        rate_limit = s.rate_limit.enabled,
        "signal-service started"
    );
    println!("listening on http://{}:{}", settings.server.host, app.port());
    app.run_until_stopped().await
}
