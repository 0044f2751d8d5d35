//! Logs: one `tracing` subscriber for the whole process, writing to stderr.
//!
//! `RUST_LOG` chooses what is logged (an `EnvFilter` directive list; default `info`, with the
//! HTTP server library's own per-connection lines at `warn`). `log.format` chooses the shape:
//! `json` (one object per line: `timestamp`, `level`, `target`, `fields`, the enclosing spans —
//! what a log pipeline ingests; the default in production mode) or `text` (for people; the
//! default otherwise). Secrets never reach a log: settings are logged through
//! [`crate::settings::Settings::masked`], and errors never carry a key or token.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::settings::{LogFormat, Mode, Settings};

/// The version and commit the binary was built from, e.g. `0.1.0 (3f2a9c1d0e4b)`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SIGNAL_GIT_HASH"), ")");

/// The default filter when `RUST_LOG` is unset or empty.
const DEFAULT_FILTER: &str = "info,poem::server=warn,hyper=warn,sqlx=warn,sea_orm=warn";

/// Installs the subscriber; a second call (tests) leaves the first in place.
pub fn init(settings: &Settings) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).unwrap_or_else(|e| {
            eprintln!("RUST_LOG: {e}; using {DEFAULT_FILTER}");
            EnvFilter::new(DEFAULT_FILTER)
        }),
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let json = match settings.log.format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => settings.mode == Mode::Production,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}

/// Every cause of an error, outermost first, joined with `: ` (what a warning or error logs).
#[must_use]
pub fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}
