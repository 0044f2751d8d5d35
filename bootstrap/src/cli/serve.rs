//! `signal-service serve`.

use clap::Args;

use crate::app::Application;
use crate::settings::Settings;

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
    let app = Application::build(&settings).await?;
    println!("listening on http://{}:{}", settings.server.host, app.port());
    app.run_until_stopped().await
}
