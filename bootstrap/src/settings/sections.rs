//! One struct per `[section]` of the settings tree (docs/configuration.md).

use domain::chain::PriceSource;
use domain::expiry::TimeBasis;
use domain::moneyness::ReferencePrice;
use domain::pricing::PricingModel;
use serde::{Deserialize, Serialize};

/// One of `options` by its name, or an error listing them all: what every enum setting says
/// when given something else (`'prod' is not a valid mode (use one of: embedded, production)`).
fn one_of<T: Copy>(raw: &str, what: &str, options: &[(&str, T)]) -> Result<T, String> {
    let wanted = raw.trim().to_ascii_lowercase();
    options
        .iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            format!("'{raw}' is not a valid {what} (use one of: {})", names.join(", "))
        })
}

/// Deployment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Mode {
    /// SQLite, in-process cache and fan-out, built-in catalogue and feed.
    Embedded,
    /// PostgreSQL and Redis.
    Production,
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address.
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// Send buffer of each accepted socket, in bytes (`SO_SNDBUF`); 0 leaves the kernel's
    /// auto-tuning. Bounds what the kernel queues for a WebSocket client that stops reading.
    pub send_buffer_bytes: usize,
    /// Open connections at once (HTTP and WebSocket); a connection over it is closed at once.
    pub max_connections: usize,
    /// A request head must arrive whole within this of the connection opening or of its
    /// previous answer, milliseconds (also the keep-alive idle time).
    pub header_read_timeout_ms: u64,
    /// A request body must arrive whole within this, milliseconds (else 408 and the connection
    /// is closed).
    pub body_read_timeout_ms: u64,
    /// Largest body of `POST /api/v2/ingest/…`, bytes.
    pub max_body_bytes_ingest: u64,
    /// Largest body of `POST /api/v2/analytics/…`, bytes.
    pub max_body_bytes_analytics: u64,
    /// Largest body of any other request, bytes.
    pub max_body_bytes_other: u64,
    /// How long a stopping server waits for requests in flight, milliseconds.
    pub shutdown_timeout_ms: u64,
    /// On SIGTERM, how long the instance keeps serving with readiness at 503 before it closes
    /// its WebSocket clients and its listener, so load balancers stop routing to it first,
    /// milliseconds (0: stop at once).
    pub drain_delay_ms: u64,
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `auto` (JSON in production mode, text otherwise), `json` or `text`.
    pub format: LogFormat,
}

/// `TryFrom<String>` for an enum setting by [`one_of`] its names.
macro_rules! named_setting {
    ($ty:ident, $what:literal, [$(($name:literal, $variant:ident)),+ $(,)?]) => {
        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                one_of(&raw, $what, &[$(($name, Self::$variant)),+])
            }
        }
    };
}

named_setting!(Mode, "mode", [("embedded", Embedded), ("production", Production)]);

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum LogFormat {
    /// JSON in production mode, text otherwise.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// `[rate_limit]`: request rates on the REST API (docs/configuration.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Apply the limits at all.
    pub enabled: bool,
    /// Sustained requests per second per API key (requests carrying `X-API-Key`).
    pub per_key_per_second: u32,
    /// Requests one API key may send at once above the sustained rate.
    pub per_key_burst: u32,
    /// Sustained requests per second per client address.
    pub per_address_per_second: u32,
    /// Requests one address may send at once above the sustained rate.
    pub per_address_burst: u32,
    /// Failed authentications (401) per minute per client address before further requests with
    /// a key or token from it are refused with 429.
    pub auth_failures_per_minute: u32,
}

/// `[database]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…?mode=rwc` or `postgres://…`.
    pub url: String,
    /// Longest wait for a pooled connection, milliseconds; then the caller gets 503.
    pub acquire_timeout_ms: u64,
    /// Longest a statement may run (PostgreSQL `statement_timeout`; SQLite's busy timeout),
    /// milliseconds.
    pub statement_timeout_ms: u64,
    /// Pooled connections at most.
    pub max_connections: u32,
}

/// `[history]`: upkeep of stored history (PostgreSQL; see docs/operations.md, "History").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySettings {
    /// Run the upkeep cycle: partitions ahead, sealing closed days, retention.
    pub upkeep: bool,
    /// Seconds between cycles.
    pub interval_secs: u64,
    /// Minutes after a UTC day ends before it is sealed.
    pub seal_after_minutes: u64,
    /// Series-days sealed per table and call.
    pub batch_series_days: usize,
    /// Monthly partitions kept ready after the current one.
    pub partitions_ahead_months: u32,
    /// Days of Greeks kept (whole months older are dropped); 0 keeps all.
    pub retention_days_greeks: u32,
    /// Days of 1-minute candles kept; 0 keeps all.
    pub retention_days_candles: u32,
    /// Days of moneyness aggregates kept; 0 keeps all.
    pub retention_days_moneyness: u32,
    /// Days of cached custom-timeframe bars kept; 0 keeps all.
    pub retention_days_timeframes: u32,
}

impl HistorySettings {
    /// The keeper's policy.
    #[must_use]
    pub fn policy(&self) -> application::upkeep::UpkeepPolicy {
        use domain::ports::HistoryTable;
        let keep = |d: u32| (d > 0).then_some(d);
        application::upkeep::UpkeepPolicy {
            seal_after: chrono::Duration::minutes(i64::try_from(self.seal_after_minutes).unwrap_or(i64::MAX / 60_000)),
            batch_series_days: self.batch_series_days.max(1),
            partitions_ahead_months: self.partitions_ahead_months,
            retention_days: vec![
                (HistoryTable::Greeks, keep(self.retention_days_greeks)),
                (HistoryTable::Candles, keep(self.retention_days_candles)),
                (HistoryTable::Moneyness, keep(self.retention_days_moneyness)),
                (HistoryTable::Timeframes, keep(self.retention_days_timeframes)),
            ],
            ..application::upkeep::UpkeepPolicy::default()
        }
    }
}

/// `[redis]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`; empty for in-process.
    pub url: String,
    /// Prefix of every key.
    pub key_prefix: String,
    /// Accepted ingest batches the shared ingest log keeps (about) at most, for instances that
    /// start later to warm their realtime state from.
    pub ingest_log_max_batches: usize,
    /// Seconds of ingest the shared ingest log keeps (about; older instruments warm from the
    /// newest-row hash): at least the open minute.
    pub ingest_log_window_secs: u64,
}

/// `[instruments]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct InstrumentSettings {
    pub source: SourceKind,
    pub contract_master: String,
    pub service_url: String,
    pub timeout_ms: u64,
    pub max_retries: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub breaker_failures: u32,
    pub breaker_cooldown_ms: u64,
}

named_setting!(
    LogFormat,
    "log format",
    [("auto", Auto), ("json", Json), ("text", Text)]
);

/// Where the instrument catalogue comes from (`instruments.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum SourceKind {
    /// The built-in NSE listing, generated from the clock's date.
    Builtin,
    /// A contract-master CSV file (`instruments.contract_master`).
    File,
    /// The instrument service over HTTP (`instruments.service_url`), with its moneyness mapping.
    Http,
}

named_setting!(
    SourceKind,
    "instrument source",
    [("builtin", Builtin), ("file", File), ("http", Http)]
);

/// `[ingest]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Accepted `X-API-Key` values; empty means none is needed.
    pub api_keys: Vec<String>,
    /// Interval of the snapshot writer, milliseconds.
    pub flush_interval_ms: u64,
    /// Longest wait between two attempts of a failing snapshot write, milliseconds (the wait
    /// doubles from `flush_interval_ms` up to this).
    pub flush_retry_max_ms: u64,
    /// Greeks and moneyness snapshots waiting to be written, at most; while the backlog is
    /// full, ingest answers 503 with `Retry-After` and accepts nothing.
    pub max_pending_snapshots: usize,
    /// How long a stopping service keeps trying to write pending snapshots, milliseconds.
    pub shutdown_flush_timeout_ms: u64,
    /// Sanity ceiling of every price (last, bid, ask, open, high, low, close), price units.
    pub max_price: f64,
    /// Sanity ceiling of volume and open interest, units.
    pub max_quantity: f64,
}

/// `[feed]`: the built-in simulated market.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSettings {
    /// Run it (embedded mode only).
    pub enabled: bool,
    /// Milliseconds between batches.
    pub interval_ms: u64,
    /// Strikes quoted on each side of the money.
    pub strikes_each_side: usize,
    /// Expiries quoted per underlying.
    pub expiries: usize,
}

/// `[streams]`: the Redis Streams consumer (production ingest).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettings {
    /// Run the consumer (needs `redis.url`).
    pub enabled: bool,
    /// Stream key; rejected rows go to `<stream>:rejected`.
    pub stream: String,
    /// Consumer group.
    pub group: String,
    /// This instance's consumer name; empty: `$HOSTNAME` (a pod's name under Kubernetes).
    pub consumer: String,
    /// Entries per read.
    pub batch: usize,
    /// Full reads ingested before their entries are acknowledged together (one write of their
    /// bars); 1: each read on its own.
    pub read_ahead: usize,
    /// How long one read blocks, milliseconds.
    pub block_ms: u64,
    /// Entries left pending this long by another consumer are claimed, milliseconds.
    pub claim_idle_ms: u64,
    /// How often to look for them, milliseconds.
    pub claim_every_ms: u64,
}

/// `[mapping_cache]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MappingCacheSettings {
    pub ttl_secs: u64,
    pub refresh_ahead: f64,
    pub stale_horizon_secs: u64,
    pub l1_max_entries: u64,
}

/// `[aggregate_cache]`: the in-process cache of closed days of custom-timeframe bars.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateCacheSettings {
    /// Memory bound, bytes; 0 turns the cache off.
    pub max_bytes: u64,
    /// How long a cached day is kept, seconds.
    pub ttl_secs: u64,
}

/// `[subscriptions]`: the WebSocket feed (docs/websocket.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSettings {
    /// Tokens a client must present (`Authorization: Bearer …` or `?token=…`); empty: anonymous.
    pub tokens: Vec<String>,
    /// Connections at once, all tokens together (lowered to stay under the process's
    /// file-descriptor limit).
    pub max_connections: usize,
    /// Connections at once per token.
    pub max_connections_per_token: usize,
    /// Topics one connection may follow.
    pub max_topics: usize,
    /// Updates kept per topic for resuming clients.
    pub history_per_topic: usize,
    /// Batching and conflation window of clients that do not choose one, milliseconds
    /// (0: each frame at once; at most 1000).
    pub batch_ms: u64,
    /// On shutdown, clients are told to wait up to this long before reconnecting, each its own
    /// share (the close reason's `reconnect_after_ms`), milliseconds.
    pub reconnect_spread_ms: u64,
}

/// `[conventions]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConventionSettings {
    /// `default` or `nse-published`.
    pub preset: String,
}

/// `[markets.<CODE>]`: a market. For a shipped market (NSE) every field is optional and
/// overrides the preset's conventions; a market that is not shipped is defined here whole:
/// `time_zone`, `sessions` and `calendar` are required.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MarketConventions {
    /// IANA time zone, e.g. `America/New_York`.
    pub time_zone: Option<String>,
    /// The regular session, local `HH:MM-HH:MM`.
    pub sessions: Option<String>,
    /// Closed days of the week, e.g. `["Sat", "Sun"]` (default Saturday and Sunday).
    pub weekend: Option<Vec<String>>,
    /// Path of the calendar file (`kind,date,windows,source,note`, as `domain/calendars/nse.csv`).
    pub calendar: Option<String>,
    pub model: Option<PricingModel>,
    pub rate: Option<f64>,
    pub div_yield: Option<f64>,
    pub time_basis: Option<TimeBasis>,
    pub price_source: Option<PriceSource>,
    pub reference: Option<ReferencePrice>,
}
