//! `signal-service health`: asks a running instance on this host whether it is live (or ready),
//! for container health checks where no curl exists (the distroless image). Exit 0 when it
//! answers 200, 1 otherwise (what Docker's `HEALTHCHECK` and exec probes read), with the reason
//! on stderr.

use std::time::Duration;

use crate::settings::Settings;

/// `health` arguments.
#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// Ask `/health/ready` (serving and its dependencies up) instead of `/health/live`.
    #[arg(long)]
    ready: bool,
    /// The instance's base URL (default `http://127.0.0.1:{server.port}`).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// How long to wait for the answer, in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    timeout_ms: u64,
}

/// The URL asked.
fn target(args: &HealthArgs, settings: &Settings) -> String {
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", settings.server.port));
    let path = if args.ready { "ready" } else { "live" };
    format!("{}/health/{path}", base.trim_end_matches('/'))
}

/// Asks once; `Err` says why the instance is not healthy.
///
/// # Errors
/// No answer in time, a connection error, or a status other than 200.
pub async fn check(args: &HealthArgs, settings: &Settings) -> Result<String, String> {
    let url = target(args, settings);
    let ask = async {
        let mut resp = surf::get(&url).await.map_err(|e| format!("{url}: {e}"))?;
        let body = resp.body_string().await.unwrap_or_default();
        match resp.status() {
            surf::StatusCode::Ok => Ok(format!("{url}: 200 {body}")),
            s => Err(format!("{url}: {} {body}", u16::from(s))),
        }
    };
    tokio::time::timeout(Duration::from_millis(args.timeout_ms), ask)
        .await
        .unwrap_or_else(|_| Err(format!("{url}: no answer within {} ms", args.timeout_ms)))
}

/// Runs the check and exits 0 (healthy) or 1 (not), as health checks expect.
pub fn run(args: &HealthArgs, settings: &Settings) -> ! {
    let outcome = super::runtime()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(check(args, settings)));
    match outcome {
        Ok(line) => {
            println!("{line}");
            std::process::exit(0)
        }
        Err(why) => {
            eprintln!("unhealthy: {why}");
            std::process::exit(1)
        }
    }
}
