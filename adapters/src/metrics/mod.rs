//! The service's metrics, through `prometheus-client` (no hand-written exposition text).
//!
//! Two kinds, one scrape:
//! - **events**, counted where they happen ([`Metrics`]: HTTP requests and their durations,
//!   ingest rows by way in and outcome, …), long-lived families shared by the code that records
//!   them;
//! - **state**, read at scrape time ([`state::StateReading`]: the snapshot backlog, the
//!   subscription hub, the aggregate cache, the process and the runtime), so nothing has to keep
//!   a gauge in step with the truth.
//!
//! [`render`] builds a registry of both for each scrape and encodes it as Prometheus text 0.0.4
//! (what Prometheus 2 and `promtool check metrics` read) or OpenMetrics 1.0 when the scraper
//! asks for it (`Accept: application/openmetrics-text`). Names follow Prometheus conventions:
//! the `signal_` prefix, base units in the name (`_seconds`, `_bytes`), `_total` on counters;
//! labels are bounded (route templates, never paths, keys, tokens or addresses).

mod http;
mod process;
mod sources;
pub mod state;
mod store;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

pub use http::{HttpMetrics, HttpMetricsEndpoint};

pub use sources::{FanoutStats, PoolStats, RedisPoolStats, Source, TierStats};
pub use state::StateReading;
pub use store::MeteredStore;

/// The OpenMetrics text format's media type.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The Prometheus text format's (0.0.4) media type.
pub const PROMETHEUS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// An HTTP request's labels: route template, method, status class (`2xx`…).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template (`/api/v2/realtime/greeks/:instrument_key`), `unmatched` when none.
    pub route: String,
    /// The HTTP method.
    pub method: String,
    /// `1xx` … `5xx`.
    pub status: String,
}

/// A route and method.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template.
    pub route: String,
    /// The HTTP method.
    pub method: String,
}

/// Ingested rows: which way in and what became of them.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    /// `rest`, `stream`, `replay` or `feed`.
    pub way: String,
    /// `accepted` or `rejected`.
    pub outcome: String,
}

/// Rejected rows: which way in and the field to blame (a bounded set: the row's columns).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectionLabels {
    /// `rest`, `stream`, `replay` or `feed`.
    pub way: String,
    /// The field the rejection names (`ts`, `key`, `last`, …).
    pub field: String,
}

/// Why, or how: a bounded set of words per metric.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The word.
    pub reason: &'static str,
}

/// A store operation (the `SignalStore` method's name).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// `save_candles`, `candles`, `greeks`, …
    pub operation: &'static str,
}

/// A way in.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WayLabels {
    /// `rest`, `stream`, `replay` or `feed`.
    pub way: String,
}

/// The fields an ingest rejection may name, as a label (the tick and candle columns).
const INGEST_FIELDS: [&str; 13] = [
    "key", "ts", "start", "last", "bid", "ask", "volume", "oi", "open", "high", "low", "close", "row",
];

/// Why the WebSocket refused something: a connection (`unauthorized`, `connection_limit`,
/// `token_connection_limit`, `bad_request`), a message (the error frame's code) or a topic in
/// an ack (`topic_invalid`, `topic_unknown`, `topic_limit`, `topic_not_served`).
pub const WS_REFUSALS: [&str; 13] = [
    "unauthorized",
    "connection_limit",
    "token_connection_limit",
    "bad_request",
    "malformed_json",
    "unknown_action",
    "frame_too_large",
    "binary_not_accepted",
    "rate_limited",
    "topic_invalid",
    "topic_unknown",
    "topic_limit",
    "topic_not_served",
];

/// Buckets of 0.1 ms doubling to 1.6 s: request durations and batch times alike.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 15))
}

/// The event metrics: one instance per process, shared by the code that records them.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Requests answered.
    pub http_requests: Family<RequestLabels, Counter>,
    /// Request durations, seconds.
    pub http_request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Requests being handled.
    pub http_in_flight: Gauge,
    /// Bodies refused for their size (413).
    pub http_bodies_refused: Counter,
    /// Ingested rows by way in and outcome.
    pub ingest_rows: Family<IngestLabels, Counter>,
    /// Rejected rows by way in and field.
    pub ingest_rejections: Family<RejectionLabels, Counter>,
    /// Time to take one batch (validate, price, publish, stage), seconds.
    pub ingest_batch_duration: Family<WayLabels, Histogram, fn() -> Histogram>,
    /// WebSocket messages written (a batch is one message).
    pub ws_messages_sent: Counter,
    /// WebSocket payload bytes written.
    pub ws_bytes_sent: Counter,
    /// How long the oldest frame of a write waited in its connection's queue, seconds.
    pub ws_send_lag: Histogram,
    /// Connections closed by the server, by reason (`slow_write`, `behind`, `no_pong`).
    pub ws_closed: Family<ReasonLabels, Counter>,
    /// How accepted subscriptions opened: `snapshot`, `state` (from the realtime state),
    /// `empty`, `missed` (a resume answered from history) or `up_to_date`.
    pub ws_openings: Family<ReasonLabels, Counter>,
    /// What the WebSocket refused, by reason ([`WS_REFUSALS`]).
    pub ws_refusals: Family<ReasonLabels, Counter>,
    /// Update frames written (several may share a message).
    pub ws_updates_sent: Counter,
    /// Tick to send: from ingest taking in an update's batch to the write of the update to the
    /// socket (the oldest update of each write), seconds.
    pub ws_delivery_lag: Histogram,
    /// Time to price one batch's options (IV and Greeks), seconds.
    pub ingest_pricing_duration: Histogram,
    /// Options priced (an IV solve each, and Greeks when it succeeds).
    pub options_priced: Counter,
    /// Priced options left without an IV, by reason ([`application::ingest::IV_FAILURE_REASONS`]).
    pub iv_failures: Family<ReasonLabels, Counter>,
    /// From a batch's arrival to its updates handed to the fan-out, seconds.
    pub ingest_publish_lag: Histogram,
    /// Store calls' durations by operation, seconds (the store wrapped in [`MeteredStore`]).
    pub store_duration: Family<OperationLabels, Histogram, fn() -> Histogram>,
    /// Store calls that failed, by operation.
    pub store_errors: Family<OperationLabels, Counter>,
    /// The stream consumer's group: entries delivered and not yet acknowledged (0 without a
    /// consumer).
    pub stream_pending: Gauge,
    /// The stream consumer's group: entries not yet delivered to it.
    pub stream_lag: Gauge,
    /// History upkeep cycles by outcome (`ok`, `failed`).
    pub history_cycles: Family<ReasonLabels, Counter>,
    /// Rows sealed into the compact layout.
    pub history_sealed_rows: Counter,
    /// Monthly partitions dropped by retention.
    pub history_partitions_dropped: Counter,
    /// `signal_build_info{version, git_sha}`: set by the binary (the library does not know
    /// its commit).
    pub build: BuildLabels,
}

/// The build's labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// The package version.
    pub version: String,
    /// The git commit (`unknown` when built without `.git`).
    pub git_sha: String,
}

impl Default for Metrics {
    /// Every series of a bounded label set starts at zero (a dashboard or alert then reads 0,
    /// not "no data", before the first event).
    fn default() -> Self {
        let m = Self::empty();
        for reason in ["slow_write", "behind", "no_pong"] {
            let _ = m.ws_closed.get_or_create(&ReasonLabels { reason });
        }
        for reason in ["snapshot", "state", "empty", "missed", "up_to_date"] {
            let _ = m.ws_openings.get_or_create(&ReasonLabels { reason });
        }
        for reason in WS_REFUSALS {
            let _ = m.ws_refusals.get_or_create(&ReasonLabels { reason });
        }
        for reason in application::ingest::IV_FAILURE_REASONS {
            let _ = m.iv_failures.get_or_create(&ReasonLabels { reason });
        }
        for operation in store::OPERATIONS {
            let _ = m.store_errors.get_or_create(&OperationLabels { operation });
        }
        for reason in ["ok", "failed"] {
            let _ = m.history_cycles.get_or_create(&ReasonLabels { reason });
        }
        for way in ["rest", "stream", "feed"] {
            for outcome in ["accepted", "rejected"] {
                let _ = m.ingest_rows.get_or_create(&IngestLabels {
                    way: way.to_owned(),
                    outcome: outcome.to_owned(),
                });
            }
        }
        m
    }
}

impl Metrics {
    fn empty() -> Self {
        Self {
            http_requests: Family::default(),
            http_request_duration: Family::new_with_constructor(latency_buckets),
            http_in_flight: Gauge::default(),
            http_bodies_refused: Counter::default(),
            ingest_rows: Family::default(),
            ingest_rejections: Family::default(),
            ingest_batch_duration: Family::new_with_constructor(latency_buckets),
            ws_messages_sent: Counter::default(),
            ws_bytes_sent: Counter::default(),
            ws_send_lag: latency_buckets(),
            ws_closed: Family::default(),
            ws_openings: Family::default(),
            ws_refusals: Family::default(),
            ws_updates_sent: Counter::default(),
            ws_delivery_lag: latency_buckets(),
            ingest_pricing_duration: latency_buckets(),
            options_priced: Counter::default(),
            iv_failures: Family::default(),
            ingest_publish_lag: latency_buckets(),
            store_duration: Family::new_with_constructor(latency_buckets),
            store_errors: Family::default(),
            stream_pending: Gauge::default(),
            stream_lag: Gauge::default(),
            history_cycles: Family::default(),
            history_sealed_rows: Counter::default(),
            history_partitions_dropped: Counter::default(),
            build: BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                git_sha: "unknown".to_owned(),
            },
        }
    }

    /// Counts one history upkeep cycle: its outcome, the rows it sealed and the partitions it
    /// dropped.
    pub fn count_history_cycle(&self, ok: bool, sealed_rows: u64, partitions_dropped: u64) {
        let reason = if ok { "ok" } else { "failed" };
        self.history_cycles.get_or_create(&ReasonLabels { reason }).inc();
        self.history_sealed_rows.inc_by(sealed_rows);
        self.history_partitions_dropped.inc_by(partitions_dropped);
    }

    /// Counts one WebSocket refusal (`reason` one of [`WS_REFUSALS`]).
    pub fn ws_refused(&self, reason: &'static str) {
        self.ws_refusals.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Counts one ingest batch's rows, by way in: `accepted` rows, and each rejection by the
    /// field it names (one of the rows' own columns, else `other`: a client cannot mint label
    /// values), and its duration.
    pub fn count_ingest<'a>(
        &self,
        way: &str,
        accepted: usize,
        rejected_fields: impl IntoIterator<Item = &'a str>,
        took: std::time::Duration,
    ) {
        self.ingest_batch_duration
            .get_or_create(&WayLabels { way: way.to_owned() })
            .observe(took.as_secs_f64());
        let rows = |outcome: &str| IngestLabels {
            way: way.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.ingest_rows
            .get_or_create(&rows("accepted"))
            .inc_by(accepted as u64);
        let mut rejected = 0_u64;
        for field in rejected_fields {
            rejected += 1;
            // `[3].last` (a JSON row's path) → `last`.
            let field = field.trim_start_matches(|c: char| c == '[' || c == ']' || c == '.' || c.is_ascii_digit());
            let field = INGEST_FIELDS.iter().find(|k| **k == field).copied().unwrap_or("other");
            self.ingest_rejections
                .get_or_create(&RejectionLabels {
                    way: way.to_owned(),
                    field: field.to_owned(),
                })
                .inc();
        }
        if rejected > 0 {
            self.ingest_rows.get_or_create(&rows("rejected")).inc_by(rejected);
        }
    }

    fn register(&self, r: &mut Registry) {
        r.register(
            "signal_build",
            "The running build: version and git commit",
            prometheus_client::metrics::info::Info::new(self.build.clone()),
        );
        r.register(
            "signal_http_requests",
            "HTTP requests answered, by route template, method and status class",
            self.http_requests.clone(),
        );
        r.register_with_unit(
            "signal_http_request_duration",
            "HTTP request durations, from the request's head to its answer's head",
            Unit::Seconds,
            self.http_request_duration.clone(),
        );
        r.register(
            "signal_http_requests_in_flight",
            "HTTP requests being handled",
            self.http_in_flight.clone(),
        );
        r.register(
            "signal_http_bodies_refused",
            "Request bodies refused for their size (413), before they were read",
            self.http_bodies_refused.clone(),
        );
        r.register(
            "signal_ingest_rows",
            "Ingested rows by way in (rest, stream, replay, feed) and outcome (accepted, rejected)",
            self.ingest_rows.clone(),
        );
        r.register(
            "signal_ingest_rejections",
            "Rejected ingest rows by way in and the field the rejection names",
            self.ingest_rejections.clone(),
        );
        r.register(
            "signal_ws_messages_sent",
            "WebSocket messages written (a batch is one message)",
            self.ws_messages_sent.clone(),
        );
        r.register_with_unit(
            "signal_ws_sent",
            "WebSocket payload bytes written",
            Unit::Bytes,
            self.ws_bytes_sent.clone(),
        );
        r.register_with_unit(
            "signal_ws_send_lag",
            "How long the oldest frame of a write waited in its connection's queue",
            Unit::Seconds,
            self.ws_send_lag.clone(),
        );
        r.register(
            "signal_ws_closed",
            "WebSocket connections closed by the server, by reason (slow_write, behind, no_pong)",
            self.ws_closed.clone(),
        );
        r.register(
            "signal_ws_openings",
            "How accepted subscriptions opened: snapshot, state, empty, missed (a resume from history) or up_to_date",
            self.ws_openings.clone(),
        );
        r.register(
            "signal_ws_refusals",
            "What the WebSocket refused, by reason: connections (unauthorized, connection_limit, token_connection_limit, bad_request), messages (the error frame's code), topics in an ack (topic_invalid, topic_unknown, topic_limit, topic_not_served)",
            self.ws_refusals.clone(),
        );
        r.register(
            "signal_ws_updates_sent",
            "Update frames written to WebSocket clients (a batched message holds several)",
            self.ws_updates_sent.clone(),
        );
        r.register_with_unit(
            "signal_ws_delivery_lag",
            "Tick to send: from ingest taking in a batch to the write of its update to a client (the oldest update of each write; instances' wall clocks)",
            Unit::Seconds,
            self.ws_delivery_lag.clone(),
        );
        r.register_with_unit(
            "signal_ingest_pricing_duration",
            "Time to price one batch's options (IV and Greeks)",
            Unit::Seconds,
            self.ingest_pricing_duration.clone(),
        );
        r.register(
            "signal_options_priced",
            "Options priced: one IV solve each, and Greeks when it succeeds",
            self.options_priced.clone(),
        );
        r.register(
            "signal_iv_failures",
            "Priced options left without an IV, by reason (below_intrinsic, above_upper_bound, no_time_value, invalid_input, no_price, no_forward)",
            self.iv_failures.clone(),
        );
        r.register_with_unit(
            "signal_ingest_publish_lag",
            "From a batch's arrival to its updates handed to the fan-out",
            Unit::Seconds,
            self.ingest_publish_lag.clone(),
        );
        r.register_with_unit(
            "signal_store_operation_duration",
            "Store calls' durations by operation (save_candles, greeks, timeframe_bars, …)",
            Unit::Seconds,
            self.store_duration.clone(),
        );
        r.register(
            "signal_store_operation_errors",
            "Store calls that failed, by operation",
            self.store_errors.clone(),
        );
        r.register(
            "signal_stream_pending_entries",
            "Redis Streams: entries delivered to the consumer group and not yet acknowledged (0 without a consumer)",
            self.stream_pending.clone(),
        );
        r.register(
            "signal_stream_lag_entries",
            "Redis Streams: entries not yet delivered to the consumer group (0 without a consumer)",
            self.stream_lag.clone(),
        );
        r.register(
            "signal_history_upkeep_cycles",
            "History upkeep cycles (partitions ahead, sealing closed days, retention), by outcome (ok, failed)",
            self.history_cycles.clone(),
        );
        r.register(
            "signal_history_sealed_rows",
            "Rows of closed days sealed into the compact layout (PostgreSQL)",
            self.history_sealed_rows.clone(),
        );
        r.register(
            "signal_history_partitions_dropped",
            "Monthly partitions dropped by retention",
            self.history_partitions_dropped.clone(),
        );
        r.register_with_unit(
            "signal_ingest_batch_duration",
            "Time to take one ingest batch: validate, price, publish and stage its rows",
            Unit::Seconds,
            self.ingest_batch_duration.clone(),
        );
    }
}

/// The scrape: `metrics`' events and `state` as read now, as Prometheus text 0.0.4, or as
/// OpenMetrics 1.0 when `openmetrics` (the scraper's `Accept` asked for it).
#[must_use]
pub fn render(metrics: &Metrics, state: StateReading, openmetrics: bool) -> String {
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    registry.register_collector(Box::new(state));
    let mut out = String::new();
    let encoded = if openmetrics {
        prometheus_client::encoding::text::encode(&mut out, &registry)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
    };
    if let Err(e) = encoded {
        tracing::error!(error = %e, "encoding the metrics failed");
    }
    out
}

impl application::ingest::IngestObserver for Metrics {
    fn priced(&self, report: &application::ingest::PricingReport) {
        self.ingest_pricing_duration.observe(report.took.as_secs_f64());
        self.options_priced.inc_by(report.options as u64);
        for (reason, n) in application::ingest::IV_FAILURE_REASONS.iter().zip(report.iv_failures) {
            if n > 0 {
                self.iv_failures
                    .get_or_create(&ReasonLabels { reason })
                    .inc_by(n as u64);
            }
        }
    }

    fn published(&self, _updates: usize, lag: std::time::Duration) {
        self.ingest_publish_lag.observe(lag.as_secs_f64());
    }
}
