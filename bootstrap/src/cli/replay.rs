//! `signal-service replay FILE --format nse-chain|nse-chain-raw|eod-chain|candles [--speed N]
//! [--conventions NAME] [--market CODE]`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::inbound::replay::{candles, eod_chain, nse_chain, nse_chain_raw};
use adapters::outbound::clock::SystemClock;
use adapters::outbound::store::SeaStore;
use application::ingest::{BulkWrite, IngestTicks};
use application::market::{InstrumentRegistry, RealtimeState};
use clap::{Args, ValueEnum};
use domain::instrument::OptionContract;
use domain::ports::{PortError, SignalStore};
use indicatif::{ProgressBar, ProgressStyle};
use migration::{Migrator, MigratorTrait};

use super::migrate::DatabaseArgs;
use crate::settings::Settings;

/// File layouts `replay` reads.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReplayFormat {
    /// The tidy NSE option-chain layout: one row per contract per snapshot.
    NseChain,
    /// NSE's raw two-sided layout, one file per snapshot (`SYMBOL_DMMMYYYY_DD-MM-YYYY_HHMM.csv`).
    NseChainRaw,
    /// A generic end-of-day option chain (US vendors' layout): `quote_time, underlying,
    /// underlying_price, root, expiry, strike, right, bid, ask, last, volume, oi`, extra columns
    /// ignored; on `--market` (Cboe by default).
    EodChain,
    /// 1-minute candles: `symbol,date,time,open,high,low,close,volume[,oi]` (see `--labels`).
    Candles,
}

/// How candle times are labelled.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LabelArg {
    /// Times are bar ends (vendor files).
    End,
    /// Times are bar starts.
    Start,
}

/// Replays a historical file through the ingest pipeline into the configured database.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The file to replay.
    file: PathBuf,
    /// Its layout.
    #[arg(long, value_enum)]
    format: ReplayFormat,
    /// Replay speed as a multiple of real time between snapshots; 0 replays as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    speed: f64,
    /// For `--format candles`: whether times label bar ends or starts.
    #[arg(long, value_enum, default_value = "end")]
    labels: LabelArg,
    /// Pricing conventions for this run: `default` or `nse-published` (overrides the configuration).
    #[arg(long)]
    conventions: Option<String>,
    /// For `--format eod-chain` (default `CBOE`) and `candles` (default `NSE`): the market the
    /// file's instruments trade on (its calendar, time zone, key prefix and listing rules). The
    /// NSE layouts are NSE's own.
    #[arg(long)]
    market: Option<String>,
    #[command(flatten)]
    db: DatabaseArgs,
}

/// Paced: snapshot batches per Greeks flush.
const FLUSH_EVERY: usize = 50;

/// As fast as possible: snapshot batches per group written together. Larger groups rewrite
/// fewer index pages (every table is keyed by instrument, then time); on the NSE chain file
/// 100 replayed in 0.53–0.57 s where 50 took 0.60–0.63 s and 200 0.56–0.61 s (one session,
/// alternating runs).
const GROUP: usize = 100;

/// Runs the replay.
///
/// # Errors
/// An unreadable file, a bad row, a bad preset, or a database failure.
pub async fn run(args: ReplayArgs, settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    if !(args.speed.is_finite() && args.speed >= 0.0) {
        return Err(format!("--speed {}: must be a number ≥ 0", args.speed).into());
    }
    let markets = settings.markets_with(args.conventions.as_deref())?;
    match (args.format, args.market.as_deref()) {
        (ReplayFormat::Candles, _) => return replay_candles(&args, settings, markets).await,
        (ReplayFormat::NseChain | ReplayFormat::NseChainRaw, Some(m)) if !m.eq_ignore_ascii_case("NSE") => {
            return Err(format!(
                "--market {m}: the NSE option-chain layouts are NSE's; --market applies to eod-chain and candles"
            )
            .into());
        }
        _ => {}
    }
    let batches = match args.format {
        ReplayFormat::NseChain => nse_chain::read(super::open_file(&args.file)?)?,
        ReplayFormat::EodChain => {
            let market = &markets.require(args.market.as_deref().unwrap_or("CBOE"))?.market;
            eod_chain::read(super::open_file(&args.file)?, market)?
        }
        ReplayFormat::Candles => unreachable!("handled above"),
        ReplayFormat::NseChainRaw => {
            let name = args.file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            vec![nse_chain_raw::read(name, super::open_file(&args.file)?)?]
        }
    };
    let db = args.db.connect(settings).await?;
    Migrator::up(&db, None).await?;
    let store = Arc::new(SeaStore::new(db));
    let registry = Arc::new(InstrumentRegistry::new(markets));
    let ingest = Arc::new(IngestTicks::new(
        registry.clone(),
        Arc::new(RealtimeState::default()),
        store.clone(),
        Arc::new(SystemClock),
    ));

    let bar = ProgressBar::new(batches.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} snapshots  {per_sec}  eta {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let (mut accepted, mut rejected) = (0usize, 0usize);
    // Paced (`--speed`): one batch at a time, as a live feed would arrive, Greeks snapshots
    // flushed every FLUSH_EVERY batches. As fast as possible: groups of GROUP batches,
    // each group's writes handed to one writer task that stores them in order while the next
    // group is priced (at most one group waiting, so memory stays bounded).
    let (writes, writer) = if args.speed > 0.0 {
        (None, None)
    } else {
        let (tx, rx) = tokio::sync::mpsc::channel::<Pending>(1);
        (
            Some(tx),
            Some(tokio::spawn(write_in_order(ingest.clone(), store.clone(), rx))),
        )
    };
    let group = if args.speed > 0.0 { 1 } else { GROUP };
    // Every contract registered up front, each group keeping those it meets first (for the
    // instruments table); as fast as possible, every bar builder is resumed up front too.
    let mut met: Vec<Vec<(OptionContract, String)>> = Vec::new();
    for chunk in batches.chunks(group) {
        let mut contracts = Vec::new();
        for b in chunk {
            registry.register_underlying(b.underlying.clone(), &b.market)?;
            for c in b.contracts.iter().filter(|c| registry.get(&c.key).is_none()) {
                registry.register_option(c.clone(), &b.market)?;
                contracts.push((c.clone(), b.market.clone()));
            }
        }
        met.push(contracts);
    }
    if writes.is_some() {
        let all: Vec<&[_]> = batches.iter().map(|b| b.ticks.as_slice()).collect();
        ingest.resume_bars(&all).await?;
    }
    let mut snapshots = 0usize;
    let mut prev: Option<chrono::DateTime<chrono::Utc>> = None;
    for ((g, chunk), contracts) in batches.chunks(group).enumerate().zip(met) {
        if let (Some(p), Some(first)) = (prev, chunk.first()) {
            let gap = (first.ts - p).to_std().unwrap_or_default();
            tokio::time::sleep(Duration::from_secs_f64(gap.as_secs_f64() / args.speed)).await;
        }
        prev = chunk.last().map(|b| b.ts).filter(|_| args.speed > 0.0);
        let ticks: Vec<&[_]> = chunk.iter().map(|b| b.ticks.as_slice()).collect();
        let reports = match &writes {
            Some(tx) => {
                let (reports, bulk) = ingest.load_many(&ticks).await?;
                if tx.send(Pending { contracts, bulk }).await.is_err() {
                    break; // the writer failed: its error is reported below
                }
                reports
            }
            None => {
                register(store.as_ref(), &contracts).await?;
                let mut reports = Vec::with_capacity(ticks.len());
                for t in ticks {
                    reports.push(ingest.execute(t).await?);
                }
                if g % FLUSH_EVERY == FLUSH_EVERY - 1 {
                    snapshots += ingest.flush().await?;
                }
                reports
            }
        };
        for report in reports {
            accepted += report.accepted;
            rejected += report.rejected.len();
        }
        bar.set_message(format!("{accepted} ticks, {rejected} rejected"));
        bar.inc(chunk.len() as u64);
    }
    drop(writes);
    if let Some(writer) = writer {
        snapshots += writer.await??;
    }
    snapshots += ingest.flush().await?;
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    let codes: std::collections::BTreeSet<&str> = batches.iter().map(|b| b.market.as_str()).collect();
    let conventions: Vec<String> = codes
        .iter()
        .filter_map(|c| registry.markets().get(c).map(|m| format!("{c}: {}", m.conventions)))
        .collect();
    println!(
        "replayed {} snapshots: {accepted} ticks accepted, {rejected} rejected, {snapshots} Greeks snapshots stored in {secs:.2} s ({:.0} ticks/s); conventions {}",
        batches.len(),
        accepted as f64 / secs.max(1e-9),
        conventions.join("; ")
    );
    Ok(())
}

/// A group's writes, for the writer task.
struct Pending {
    /// Contracts met for the first time, with their market.
    contracts: Vec<(OptionContract, String)>,
    bulk: BulkWrite,
}

/// Registers contracts in the instruments table, grouped by market.
async fn register(store: &dyn SignalStore, contracts: &[(OptionContract, String)]) -> Result<(), PortError> {
    let mut by_market: std::collections::BTreeMap<&str, Vec<OptionContract>> = std::collections::BTreeMap::new();
    for (c, m) in contracts {
        by_market.entry(m.as_str()).or_default().push(c.clone());
    }
    for (market, cs) in by_market {
        store.register_contracts(&cs, market).await?;
    }
    Ok(())
}

/// Stores each group's writes in the order they were sent: contracts first, then the bulk
/// write. Returns the number of Greeks snapshots stored; the first failure ends it.
async fn write_in_order(
    ingest: Arc<IngestTicks>,
    store: Arc<SeaStore>,
    mut rx: tokio::sync::mpsc::Receiver<Pending>,
) -> Result<usize, PortError> {
    let mut snapshots = 0;
    while let Some(p) = rx.recv().await {
        register(store.as_ref(), &p.contracts).await?;
        snapshots += ingest.write_bulk(&p.bulk).await?;
    }
    Ok(snapshots)
}

/// Candles go through the candle ingest path in batches of 5 000.
async fn replay_candles(
    args: &ReplayArgs,
    settings: &Settings,
    markets: application::market::Markets,
) -> Result<(), Box<dyn std::error::Error>> {
    let labels = match args.labels {
        LabelArg::End => candles::BarLabel::End,
        LabelArg::Start => candles::BarLabel::Start,
    };
    let market = markets.require(args.market.as_deref().unwrap_or("NSE"))?.market.clone();
    let rows = candles::read(super::open_file(&args.file)?, labels, &market)?;
    let db = args.db.connect(settings).await?;
    Migrator::up(&db, None).await?;
    let store = Arc::new(SeaStore::new(db));
    let registry = Arc::new(InstrumentRegistry::new(markets));
    for c in &rows {
        if registry.get(&c.key).is_none() {
            // A candle file names instruments by key; its exchange prefix is the market.
            let market = c.key.as_str().split(':').next().unwrap_or_default();
            registry
                .register_underlying(c.key.clone(), market)
                .map_err(|e| format!("{}: {e}", c.key))?;
        }
    }
    let ingest = IngestTicks::new(
        registry,
        Arc::new(RealtimeState::default()),
        store,
        Arc::new(SystemClock),
    );
    let bar = ProgressBar::new(rows.len() as u64);
    let started = Instant::now();
    let (mut accepted, mut rejected) = (0usize, 0usize);
    let mut reasons: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for chunk in rows.chunks(5_000) {
        let report = ingest.execute_candles(chunk).await?;
        accepted += report.accepted;
        rejected += report.rejected.len();
        for r in report.rejected {
            let kind = r.reason.split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
            *reasons.entry(format!("{}: {kind}", r.field)).or_default() += 1;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "replayed {} candles: {accepted} accepted, {rejected} rejected in {secs:.2} s",
        rows.len()
    );
    for (reason, n) in reasons.iter().take(5) {
        println!("  rejected {n}× {reason}");
    }
    Ok(())
}
