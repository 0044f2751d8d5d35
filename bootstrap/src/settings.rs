//! Settings: one typed tree, loaded once and passed down.
//!
//! Layers, later wins: `config/base.toml` (compiled in, so no file is needed) →
//! `config/<SIGNAL_ENV>.toml` when `SIGNAL_ENV` is set and the file exists → `--config FILE` →
//! `SIGNAL__<SECTION>__<KEY>` environment variables. Keys are documented in docs/configuration.md.

use std::collections::BTreeMap;
use std::path::Path;

use application::market::{MarketEntry, Markets};
use config::{Config, Environment, File, FileFormat};
use domain::chain::{Conventions, PriceSource};
use domain::expiry::TimeBasis;
use domain::instrument::{Market, SessionHours};
use domain::moneyness::ReferencePrice;
use domain::pricing::PricingModel;
use serde::{Deserialize, Serialize};

const BASE: &str = include_str!("../../config/base.toml");

/// Deployment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `auto` (JSON in production mode, text otherwise), `json` or `text`.
    pub format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// `[redis]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`; empty for in-process.
    pub url: String,
    /// Prefix of every key.
    pub key_prefix: String,
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

/// Where the instrument catalogue comes from (`instruments.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// The built-in NSE listing, generated from the clock's date.
    Builtin,
    /// A contract-master CSV file (`instruments.contract_master`).
    File,
    /// The instrument service over HTTP (`instruments.service_url`), with its moneyness mapping.
    Http,
}

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

/// The whole tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Settings {
    pub mode: Mode,
    pub log: LogSettings,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub instruments: InstrumentSettings,
    pub ingest: IngestSettings,
    pub feed: FeedSettings,
    pub streams: StreamSettings,
    pub mapping_cache: MappingCacheSettings,
    pub aggregate_cache: AggregateCacheSettings,
    pub subscriptions: SubscriptionSettings,
    pub rate_limit: RateLimitSettings,
    pub conventions: ConventionSettings,
    #[serde(default)]
    pub markets: BTreeMap<String, MarketConventions>,
}

impl Settings {
    /// Loads the layers; `file` is `--config FILE`.
    ///
    /// # Errors
    /// A missing `--config` file, a malformed layer, an unknown key, or invalid conventions.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        let mut b = Config::builder().add_source(File::from_str(BASE, FileFormat::Toml));
        if let Ok(env) = std::env::var("SIGNAL_ENV") {
            b = b.add_source(File::with_name(&format!("config/{env}")).required(false));
        }
        if let Some(f) = file {
            if !f.exists() {
                return Err(format!("--config {}: no such file", f.display()));
            }
            b = b.add_source(File::from(f));
        }
        b = b.add_source(
            Environment::with_prefix("SIGNAL")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        // Lists from the environment: comma-separated, blanks dropped (so an empty variable is
        // an empty list, and a key of digits stays a string).
        for (key, var) in LIST_KEYS {
            if let Ok(value) = std::env::var(var) {
                let items: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect();
                b = b
                    .set_override(key, items)
                    .map_err(|e| without_secrets(&format!("configuration: {e}")))?;
            }
        }
        let mut s: Self = b
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| without_secrets(&format!("configuration: {e}")))?;
        // Environment keys arrive lower-cased (`SIGNAL__MARKETS__NSE__RATE` → `markets.nse`):
        // market codes are matched case-insensitively, a lower-case (environment) entry winning.
        let mut entries: Vec<(String, MarketConventions)> = std::mem::take(&mut s.markets).into_iter().collect();
        entries.sort_by_key(|(k, _)| k.chars().any(char::is_lowercase));
        for (code, m) in entries {
            let e = s.markets.entry(code.to_ascii_uppercase()).or_default();
            e.time_zone = m.time_zone.or(e.time_zone.take());
            e.sessions = m.sessions.or(e.sessions.take());
            e.weekend = m.weekend.or(e.weekend.take());
            e.calendar = m.calendar.or(e.calendar.take());
            e.model = m.model.or(e.model);
            e.rate = m.rate.or(e.rate);
            e.div_yield = m.div_yield.or(e.div_yield);
            e.time_basis = m.time_basis.or(e.time_basis);
            e.price_source = m.price_source.or(e.price_source);
            e.reference = m.reference.or(e.reference);
        }
        for code in s.markets.keys() {
            s.conventions_for(code)?;
        }
        s.conventions_for("NSE")?;
        s.markets_with(None)?;
        Ok(s)
    }

    /// Checks what `serve` needs beyond a well-formed tree: production mode runs on PostgreSQL
    /// and Redis, never on an embedded fallback.
    ///
    /// # Errors
    /// What is missing, naming the setting.
    pub fn check_for_serve(&self) -> Result<(), String> {
        if self.mode == Mode::Production {
            if !self.database.url.starts_with("postgres://") && !self.database.url.starts_with("postgresql://") {
                return Err(
                    "production mode needs database.url = postgres://… (SIGNAL__DATABASE__URL); \
                     it will not run on an embedded SQLite file"
                        .to_owned(),
                );
            }
            if self.redis.url.is_empty() {
                return Err("production mode needs redis.url = redis://… (SIGNAL__REDIS__URL)".to_owned());
            }
        }
        if !(self.ingest.max_price.is_finite() && self.ingest.max_price > 0.0) {
            return Err("ingest.max_price must be a positive number".to_owned());
        }
        if !(self.ingest.max_quantity.is_finite() && self.ingest.max_quantity > 0.0) {
            return Err("ingest.max_quantity must be a positive number".to_owned());
        }
        Ok(())
    }

    /// A copy safe to print: API keys and tokens replaced by `***`, and passwords inside URLs.
    #[must_use]
    pub fn masked(&self) -> Self {
        let mut s = self.clone();
        s.ingest.api_keys = s.ingest.api_keys.iter().map(|_| "***".to_owned()).collect();
        s.subscriptions.tokens = s.subscriptions.tokens.iter().map(|_| "***".to_owned()).collect();
        for url in [&mut s.database.url, &mut s.redis.url, &mut s.instruments.service_url] {
            *url = mask_password(url);
        }
        s
    }

    /// The conventions of `market`: the preset (or `preset_override`) with the market's overrides.
    ///
    /// # Errors
    /// An unknown preset or an invalid rate or yield.
    pub fn conventions_for(&self, market: &str) -> Result<Conventions, String> {
        self.conventions_with(market, None)
    }

    /// As [`Self::conventions_for`], with a preset chosen for this run (`--conventions NAME`);
    /// a chosen preset wins over the market's overrides.
    ///
    /// # Errors
    /// An unknown preset or an invalid rate or yield.
    pub fn conventions_with(&self, market: &str, preset_override: Option<&str>) -> Result<Conventions, String> {
        let name = preset_override.unwrap_or(&self.conventions.preset);
        let mut c = Conventions::preset(name)
            .ok_or_else(|| format!("conventions preset '{name}' is not one of default, nse-published"))?;
        if preset_override.is_none()
            && let Some(m) = self.markets.get(market)
        {
            c.model = m.model.unwrap_or(c.model);
            c.rate = m.rate.unwrap_or(c.rate);
            c.div_yield = m.div_yield.unwrap_or(c.div_yield);
            c.time_basis = m.time_basis.unwrap_or(c.time_basis);
            c.price_source = m.price_source.unwrap_or(c.price_source);
            c.reference = m.reference.unwrap_or(c.reference);
        }
        c.validate().map_err(|e| format!("markets.{market}: {e}"))?;
        Ok(c)
    }
}

/// The markets shipped with the service: their calendars are built in.
const SHIPPED_MARKETS: [&str; 1] = ["NSE"];

impl Settings {
    /// Every market: the shipped ones (their calendars built in, conventions from the preset and
    /// `[markets.CODE]`) and those `[markets.CODE]` defines whole. `preset_override` is
    /// `--conventions NAME` of a run.
    ///
    /// # Errors
    /// A missing or malformed key of a market's definition, named (`markets.XNAS.time_zone`),
    /// or an unreadable calendar file.
    pub fn markets_with(&self, preset_override: Option<&str>) -> Result<Markets, String> {
        let mut entries = Vec::new();
        for code in SHIPPED_MARKETS {
            let market = Market::by_code(code).ok_or_else(|| format!("shipped market {code} missing"))?;
            entries.push(MarketEntry {
                market,
                conventions: self.conventions_with(code, preset_override)?,
            });
        }
        for (code, m) in &self.markets {
            if SHIPPED_MARKETS.contains(&code.as_str()) {
                for (key, set) in [
                    ("time_zone", m.time_zone.is_some()),
                    ("sessions", m.sessions.is_some()),
                    ("calendar", m.calendar.is_some()),
                ] {
                    if set {
                        return Err(format!(
                            "markets.{code}.{key}: {code} is shipped with its calendar; only its conventions can be set"
                        ));
                    }
                }
                continue;
            }
            entries.push(MarketEntry {
                market: defined_market(code, m)?,
                conventions: self.conventions_with(code, preset_override)?,
            });
        }
        Ok(Markets::new(entries))
    }
}

/// A market `[markets.CODE]` defines whole.
fn defined_market(code: &str, m: &MarketConventions) -> Result<Market, String> {
    let need = |key: &str, v: &Option<String>| {
        v.clone().ok_or_else(|| {
            format!(
                "markets.{code}.{key} is required: {code} is not a shipped market (shipped: {})",
                SHIPPED_MARKETS.join(", ")
            )
        })
    };
    let tz: chrono_tz::Tz = need("time_zone", &m.time_zone)?
        .parse()
        .map_err(|e| format!("markets.{code}.time_zone: {e}"))?;
    let sessions = need("sessions", &m.sessions)?;
    let (open, close) = sessions
        .split_once('-')
        .ok_or_else(|| format!("markets.{code}.sessions: '{sessions}' is not HH:MM-HH:MM"))?;
    let time = |t: &str| {
        chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|e| format!("markets.{code}.sessions: '{t}': {e}"))
    };
    let hours = SessionHours {
        open: time(open)?,
        close: time(close)?,
    };
    let weekend = match &m.weekend {
        None => vec![chrono::Weekday::Sat, chrono::Weekday::Sun],
        Some(days) => days
            .iter()
            .map(|d| {
                d.parse::<chrono::Weekday>()
                    .map_err(|_| format!("markets.{code}.weekend: '{d}' is not a day of the week"))
            })
            .collect::<Result<_, _>>()?,
    };
    let path = need("calendar", &m.calendar)?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("markets.{code}.calendar: {path}: {e}"))?;
    Market::new(code, tz, hours, weekend)
        .and_then(|market| market.from_calendar(&text))
        .map_err(|e| format!("markets.{code}: {path}: {e}"))
}

/// Settings that hold lists: from the environment they are comma-separated
/// (`SIGNAL__INGEST__API_KEYS=k1,k2`).
const LIST_KEYS: [(&str, &str); 2] = [
    ("ingest.api_keys", "SIGNAL__INGEST__API_KEYS"),
    ("subscriptions.tokens", "SIGNAL__SUBSCRIPTIONS__TOKENS"),
];

/// `message` with the value of every `SIGNAL__…` variable that may hold a secret (keys, tokens,
/// URLs with passwords) replaced by `***`: the config library quotes offending values.
fn without_secrets(message: &str) -> String {
    let mut out = message.to_owned();
    for (name, value) in std::env::vars() {
        let upper = name.to_ascii_uppercase();
        let secret = upper.starts_with("SIGNAL__")
            && ["KEY", "TOKEN", "URL", "PASSWORD", "SECRET"]
                .iter()
                .any(|w| upper.contains(w));
        if secret {
            for part in std::iter::once(value.as_str()).chain(value.split(',')) {
                if part.len() >= 3 {
                    out = out.replace(part, "***");
                }
            }
        }
    }
    out
}

/// `scheme://user:secret@host` → `scheme://user:***@host`.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_loads_with_no_files() {
        let s = Settings::load(None).unwrap();
        assert_eq!(s.mode, Mode::Embedded);
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.conventions_for("NSE").unwrap(), Conventions::DEFAULT);
        assert_eq!(
            s.conventions_with("NSE", Some("nse-published")).unwrap(),
            Conventions::NSE_PUBLISHED
        );
        assert!(s.conventions_with("NSE", Some("nope")).is_err());
    }

    #[test]
    fn printed_settings_hide_passwords() {
        assert_eq!(
            mask_password("postgres://app:hunter2@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            mask_password("sqlite://./data/signal.db?mode=rwc"),
            "sqlite://./data/signal.db?mode=rwc"
        );
        assert_eq!(mask_password("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
    }

    #[test]
    fn a_config_file_overrides_and_unknown_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("signal-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("prod.toml");
        std::fs::write(
            &f,
            "mode = \"production\"\n[markets.NSE]\nrate = 0.07\ntime_basis = \"calendar_days\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&f)).unwrap();
        assert_eq!(s.mode, Mode::Production);
        let c = s.conventions_for("NSE").unwrap();
        assert_eq!(
            (c.rate, c.time_basis, c.model),
            (0.07, TimeBasis::CalendarDays, PricingModel::Black76)
        );
        std::fs::write(&f, "[server]\nprot = 1\n").unwrap();
        assert!(Settings::load(Some(&f)).unwrap_err().contains("prot"));
        std::fs::write(&f, "[markets.NSE]\nrate = 5\n").unwrap();
        assert!(Settings::load(Some(&f)).unwrap_err().contains("rate"));
        assert!(
            Settings::load(Some(&dir.join("missing.toml")))
                .unwrap_err()
                .contains("no such file")
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn markets_are_data_and_unknown_sources_or_markets_are_named() {
        let dir = std::env::temp_dir().join(format!("signal-markets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("m.toml");
        let cal = dir.join("xnas.csv");
        std::fs::write(&cal, "holiday,2026-12-25,,NYSE holiday list 2026,Christmas\n").unwrap();
        let write = |body: &str| std::fs::write(&f, body).unwrap();

        write("[instruments]\nsource = \"htp\"\n");
        let err = Settings::load(Some(&f)).unwrap_err();
        assert!(err.contains("instruments.source") && err.contains("htp"), "{err}");

        write("[markets.XNAS]\nrate = 0.04\n");
        let err = Settings::load(Some(&f)).unwrap_err();
        assert!(err.contains("markets.XNAS.time_zone is required"), "{err}");

        write(&format!(
            "[markets.XNAS]\ntime_zone = \"America/New_York\"\nsessions = \"09:30-16:00\"\ncalendar = \"{}\"\nrate = 0.04\nmodel = \"bsm\"\n",
            cal.display()
        ));
        let markets = Settings::load(Some(&f)).unwrap().markets_with(None).unwrap();
        assert_eq!(markets.codes(), ["NSE", "XNAS"]);
        let xnas = markets.get("XNAS").unwrap();
        assert_eq!(xnas.conventions.rate, 0.04);
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let day = xnas.market.session_on(d("2026-12-24")).unwrap();
        assert_eq!(day.open.to_rfc3339(), "2026-12-24T14:30:00+00:00");
        assert!(xnas.market.session_on(d("2026-12-25")).is_none(), "its own calendar");
        assert!(markets.get("NSE").unwrap().market.session_on(d("2026-12-24")).is_some());

        write("[markets.NSE]\ntime_zone = \"UTC\"\n");
        let err = Settings::load(Some(&f)).unwrap_err();
        assert!(
            err.contains("markets.NSE.time_zone") && err.contains("shipped"),
            "{err}"
        );

        write("[markets.XNAS]\ntime_zone = \"Mars/Olympus\"\nsessions = \"09:30-16:00\"\ncalendar = \"x\"\n");
        let err = Settings::load(Some(&f)).unwrap_err();
        assert!(err.contains("markets.XNAS.time_zone"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
