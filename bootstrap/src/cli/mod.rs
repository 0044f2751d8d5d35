//! Command-line interface: `signal-service <command>`.

mod calc;
pub mod health;
mod history;
pub mod instruments;
mod migrate;
mod replay;
mod serve;

use clap::{Parser, Subcommand};

use crate::settings::Settings;

/// Listed-options analytics: implied volatility, Greeks, moneyness, candles and indicators.
#[derive(Debug, Parser)]
#[command(name = "signal-service", version = crate::logging::VERSION, about, long_about = None)]
pub struct Cli {
    /// A settings file layered over the built-in defaults (see docs/configuration.md).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Batch calculators: CSV on stdin, CSV on stdout, one output row per input row.
    #[command(subcommand)]
    Calc(calc::CalcCommand),
    /// The instrument catalogue as contract-master CSV.
    Instruments(instruments::InstrumentsArgs),
    /// Database schema: migrate up, down or status.
    Migrate(migrate::MigrateArgs),
    /// Runs the service: HTTP API, ingest, health checks.
    Serve(serve::ServeArgs),
    /// Replays a historical file through the ingest pipeline into the database.
    Replay(replay::ReplayArgs),
    /// Stored history: `upkeep` seals closed days into the compact layout (PostgreSQL), keeps
    /// partitions ahead and applies retention, as the service does on its interval.
    History(history::HistoryArgs),
    /// Asks a running instance on this host whether it is live (or `--ready`): exit 0 when it
    /// answers 200, else 1 (for container health checks).
    Health(health::HealthArgs),
    /// Prints the effective configuration as JSON (passwords in URLs masked).
    Config,
    /// Prints the OpenAPI 3 document of the REST API (JSON), as committed in
    /// `openapi/signal-service.json`.
    Openapi,
    /// Prints the AsyncAPI 3 document of the WebSocket subscriptions (JSON), as committed in
    /// `openapi/signal-service.asyncapi.json`.
    Asyncapi,
}

/// Runs the parsed command.
///
/// # Errors
/// The command's error, printed by `main` with exit code 2.
pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::load(cli.config.as_deref())?;
    crate::logging::init(&settings);
    match cli.command {
        Command::Calc(c) => calc::run(c, &settings),
        Command::Instruments(a) => runtime()?.block_on(instruments::run(a, &settings)),
        Command::Migrate(a) => runtime()?.block_on(migrate::run(a, &settings)),
        Command::Serve(a) => runtime()?.block_on(serve::run(a, settings)),
        Command::Replay(a) => runtime()?.block_on(replay::run(a, &settings)),
        Command::History(a) => runtime()?.block_on(history::run(a, &settings)),
        Command::Health(a) => health::run(&a, &settings),
        Command::Openapi => {
            println!("{}", adapters::inbound::http::openapi_json());
            Ok(())
        }
        Command::Asyncapi => {
            println!("{}", adapters::inbound::http::websocket::asyncapi::asyncapi_json());
            Ok(())
        }
        Command::Config => {
            println!("{}", serde_json::to_string_pretty(&settings.masked())?);
            Ok(())
        }
    }
}

/// A multi-threaded tokio runtime for commands that talk to ports.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}

/// Opens `path` for reading; a failure names the file (`data/x.csv: No such file or directory
/// (os error 2)`), where the bare I/O error would not.
///
/// # Errors
/// The I/O error, with the path.
pub(crate) fn open_file(path: impl AsRef<std::path::Path>) -> Result<std::fs::File, String> {
    let path = path.as_ref();
    std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))
}
