//! `GET /metrics`: the service's counters in the Prometheus text exposition format (0.0.4).
//!
//! For now the in-process aggregate cache's counters (`signal_aggregate_cache_*`); every
//! counter is cumulative since the process started, every gauge is read at scrape time. Not part
//! of the OpenAPI document: it is for scrapers, not SDKs.

use std::fmt::Write as _;

use domain::ports::AggregateCacheStats;
use poem::http::header::CONTENT_TYPE;
use poem::web::Data;
use poem::{IntoResponse, Response, handler};

use super::AppState;

/// The exposition format's media type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders `stats` as Prometheus metrics.
#[must_use]
pub fn render_aggregate_cache(stats: &AggregateCacheStats) -> String {
    let rows: [(&str, &str, &str, u64); 10] = [
        (
            "hits_total",
            "counter",
            "Closed-day lookups answered from the in-process aggregate cache.",
            stats.hits,
        ),
        (
            "misses_total",
            "counter",
            "Closed-day lookups that read the store.",
            stats.misses,
        ),
        ("inserts_total", "counter", "Closed days stored.", stats.inserts),
        (
            "stale_fills_total",
            "counter",
            "Fills refused because a late bar was written while they read the store.",
            stats.stale_fills,
        ),
        (
            "invalidations_total",
            "counter",
            "Closed days dropped because a late 1-minute bar was written into them.",
            stats.invalidations,
        ),
        (
            "evictions_total",
            "counter",
            "Closed days dropped to stay within the memory bound.",
            stats.evictions,
        ),
        (
            "expirations_total",
            "counter",
            "Closed days dropped at the end of their time-to-live.",
            stats.expirations,
        ),
        ("entries", "gauge", "Instrument days held.", stats.entries),
        ("bytes", "gauge", "Estimated memory held, bytes.", stats.weighted_bytes),
        (
            "capacity_bytes",
            "gauge",
            "The memory bound, bytes.",
            stats.capacity_bytes,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in rows {
        let _ = writeln!(out, "# HELP signal_aggregate_cache_{name} {help}");
        let _ = writeln!(out, "# TYPE signal_aggregate_cache_{name} {kind}");
        let _ = writeln!(out, "signal_aggregate_cache_{name} {value}");
    }
    out
}

/// The scrape.
#[handler]
pub fn metrics(state: Data<&AppState>) -> Response {
    let body = state
        .aggregate_cache
        .as_ref()
        .map(|c| render_aggregate_cache(&c.stats()))
        .unwrap_or_default();
    body.with_header(CONTENT_TYPE, TEXT_FORMAT).into_response()
}
