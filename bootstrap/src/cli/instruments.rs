//! `signal-service instruments`: the configured catalogue as contract-master CSV.

use std::io::{BufWriter, stdout};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adapters::outbound::clock::SystemClock;
use adapters::outbound::instruments::builtin::BuiltinCatalogue;
use adapters::outbound::instruments::contract_master;
use adapters::outbound::instruments::http::{HttpInstrumentSource, ResilienceConfig};
use chrono::NaiveDate;
use clap::Args;
use domain::instrument::{InstrumentKey, Market};
use domain::ports::{Clock, InstrumentSource};

use crate::settings::{Settings, SourceKind};

/// Prints `key,underlying,expiry,strike,right,lot_size,tick_size` (expiry as an RFC 3339 instant
/// in the contract's market's offset); from the built-in listing, the contracts not yet settled.
#[derive(Debug, Args)]
pub struct InstrumentsArgs {
    /// Only this underlying: its symbol (NIFTY, SPX) or key (NSE:NIFTY, CBOE:SPX).
    #[arg(long)]
    underlying: Option<String>,
    /// Only this expiry date (the underlying's exchange-local date), YYYY-MM-DD.
    #[arg(long)]
    expiry: Option<NaiveDate>,
    /// Read the catalogue from a contract-master CSV instead of the built-in listing.
    #[arg(long, conflicts_with = "instrument_service")]
    contract_master: Option<PathBuf>,
    /// Read the catalogue from the instrument service at this base URL (e.g. http://host:8080/).
    #[arg(long)]
    instrument_service: Option<surf::Url>,
    /// Per-attempt timeout for the instrument service, milliseconds.
    #[arg(long, default_value_t = 2_000)]
    timeout_ms: u64,
}

/// The retry and breaker policy of the configuration.
pub fn resilience(settings: &Settings) -> ResilienceConfig {
    let c = &settings.instruments;
    ResilienceConfig {
        max_retries: c.max_retries,
        backoff_base: Duration::from_millis(c.backoff_base_ms),
        backoff_max: Duration::from_millis(c.backoff_max_ms),
        breaker_failures: c.breaker_failures,
        breaker_cooldown: Duration::from_millis(c.breaker_cooldown_ms),
    }
}

/// Runs the command.
///
/// # Errors
/// An unknown underlying or expiry, or an unreadable contract master.
pub async fn run(args: InstrumentsArgs, settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    // A contract master's keys name their markets; a key of no shipped market is taken as NSE's.
    let market = Market::nse();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cfg = &settings.instruments;
    let source: Arc<dyn InstrumentSource> = match (&args.contract_master, &args.instrument_service) {
        (Some(path), _) => Arc::new(contract_master::read(super::open_file(path)?, &market)?),
        (None, Some(url)) => Arc::new(HttpInstrumentSource::new(
            url.clone(),
            Duration::from_millis(args.timeout_ms),
            resilience(settings),
        )),
        (None, None) => match cfg.source {
            SourceKind::File => Arc::new(contract_master::read(super::open_file(&cfg.contract_master)?, &market)?),
            SourceKind::Http => Arc::new(HttpInstrumentSource::new(
                cfg.service_url.parse()?,
                Duration::from_millis(cfg.timeout_ms),
                resilience(settings),
            )),
            SourceKind::Builtin => Arc::new(BuiltinCatalogue::new(clock.clone())),
        },
    };
    // The built-in listing is by date: drop what settled earlier today (an SPXW expiry after
    // 16:00 New York, SPX's AM monthly after the open). Files and the service print as they are.
    let builtin = args.contract_master.is_none()
        && args.instrument_service.is_none()
        && matches!(cfg.source, SourceKind::Builtin);
    let now = clock.now();
    let underlyings = source.underlyings().await?;
    let selected: Vec<InstrumentKey> = match &args.underlying {
        None => underlyings.iter().map(|u| u.key.clone()).collect(),
        Some(want) => {
            let found = underlyings
                .iter()
                .find(|u| u.symbol.eq_ignore_ascii_case(want) || u.key.as_str() == want);
            let known: Vec<&str> = underlyings.iter().map(|u| u.symbol.as_str()).collect();
            vec![
                found
                    .ok_or_else(|| format!("unknown underlying '{want}'; known: {}", known.join(", ")))?
                    .key
                    .clone(),
            ]
        }
    };
    let (mut contracts, mut futures) = (Vec::new(), Vec::new());
    for u in &selected {
        // Dates are the underlying's own market's (an SPX expiry is a New York date).
        let home = underlyings
            .iter()
            .find(|x| &x.key == u)
            .and_then(|x| Market::by_code(&x.market))
            .unwrap_or_else(|| market.clone());
        futures.extend(
            source
                .futures(u)
                .await?
                .into_iter()
                .filter(|f| args.expiry.is_none_or(|d| home.local_date(f.expiry) == d))
                .filter(|f| !builtin || f.expiry > now),
        );
        let expiries = match args.expiry {
            Some(d) => vec![d],
            None => source.expiries(u).await?,
        };
        for e in expiries {
            contracts.extend(
                source
                    .chain(u, e)
                    .await?
                    .into_iter()
                    .filter(|c| !builtin || c.expiry > now),
            );
        }
    }
    contract_master::write(&contracts, &futures, &market, BufWriter::new(stdout().lock()))?;
    Ok(())
}
