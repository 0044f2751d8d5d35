//! Settings: one typed tree, loaded once and passed down.
//!
//! Layers, later wins: `config/base.toml` (compiled in, so no file is needed) →
//! `config/<SIGNAL_ENV>.toml` when `SIGNAL_ENV` is set and the file exists → `--config FILE` →
//! `SIGNAL__<SECTION>__<KEY>` environment variables. Keys are documented in docs/configuration.md.

//!
//! - `sections.rs`: one struct per `[section]`;
//! - `markets.rs`: the markets (shipped and defined by `[markets.CODE]`) and their conventions;
//! - `secrets.rs`: what never reaches a log or an error message.

mod markets;
mod secrets;
mod sections;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use config::{Config, Environment, File, FileFormat};
use domain::chain::Conventions;
use serde::{Deserialize, Serialize};

pub use secrets::mask_password;
use secrets::without_secrets;
pub use sections::*;

const BASE: &str = include_str!("../../../config/base.toml");

/// The whole tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Settings {
    pub mode: Mode,
    pub log: LogSettings,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub history: HistorySettings,
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

    /// As [`Self::conventions_for`], with a preset chosen for this run (`--conventions NAME`).
    /// The market's overrides (`[markets.CODE]`) apply on the configured preset, so naming it
    /// again keeps them (Cboe's USD rate under `--conventions default`); another preset is taken
    /// whole (`nse-published` reproduces NSE's page whatever the table says).
    ///
    /// # Errors
    /// An unknown preset or an invalid rate or yield.
    pub fn conventions_with(&self, market: &str, preset_override: Option<&str>) -> Result<Conventions, String> {
        let name = preset_override.unwrap_or(&self.conventions.preset);
        let mut c = Conventions::preset(name)
            .ok_or_else(|| format!("conventions preset '{name}' is not one of default, nse-published"))?;
        if preset_override.is_none_or(|p| p == self.conventions.preset)
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

/// Settings that hold lists: from the environment they are comma-separated
/// (`SIGNAL__INGEST__API_KEYS=k1,k2`).
const LIST_KEYS: [(&str, &str); 2] = [
    ("ingest.api_keys", "SIGNAL__INGEST__API_KEYS"),
    ("subscriptions.tokens", "SIGNAL__SUBSCRIPTIONS__TOKENS"),
];
