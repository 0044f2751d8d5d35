//! `ws-load`: the WebSocket load harness (figures in docs/benchmarks.md).
//!
//! One command: `cargo run --release -p bootstrap --bin ws-load -- --connections 1000`.
//!
//! 1. It starts `signal-service serve` (the binary beside this one) on the embedded default,
//!    with the simulated feed off, on a free port and a fresh SQLite file.
//! 2. It opens N WebSocket connections, each subscribed to K `greeks:` topics spread over the
//!    first M options of the nearest NIFTY expiry, and reads the server's resident memory before
//!    and after.
//! 3. It ingests one batch every 1/R s through the real ingest path (`POST /api/v2/ingest/ticks`:
//!    the index and the M options, timestamps inside the latest session).
//! 4. It prints tick-to-client latency, messages lost, memory per connection, the five slowest
//!    batches, the ingest answer time, and the CPU the server and the harness used.
//!
//! `--server target/release/ws-bare` runs the same load against a bare broadcast server, the
//! yardstick (`ws-bare.rs`).
//!
//! Latency is measured from just before a batch's POST to a client's receipt of that batch's
//! update. The update's sequence number identifies the batch: nothing else publishes, so update
//! `seq` of a topic is batch `seq − 1`. `--stop-reading P` makes P % of the connections stop
//! reading after subscribing (the slow-consumer policy must close them); the others are the
//! healthy clients the figures describe.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use domain::instrument::Market;
use domain::ports::Clock;
use serde_json::{Value, json};

mod clients;
mod process;

use clients::*;
use process::*;

/// The harness's knobs.
#[derive(Debug, Parser)]
#[command(name = "ws-load", about = "WebSocket load harness for signal-service")]
struct Args {
    /// WebSocket connections.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Topics per connection.
    #[arg(long, default_value_t = 4)]
    topics: usize,
    /// Options quoted per batch (the topic pool).
    #[arg(long, default_value_t = 40)]
    options: usize,
    /// Batches per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Options quoted per batch, taken in turn from the pool (0: all of them in every batch).
    /// Must divide `--options`. Small batches at a higher rate spread the deliveries over time
    /// instead of sending every update of the pool at once.
    #[arg(long, default_value_t = 0)]
    per_batch: usize,
    /// Market-time step between batches, in ms: every 600 batches at the default cross a minute,
    /// where the service closes 1-minute bars and takes the chain's minute snapshot.
    #[arg(long, default_value_t = 100)]
    step_ms: i64,
    /// Seconds of ingest.
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Percent of connections that stop reading after subscribing.
    #[arg(long, default_value_t = 0.0)]
    stop_reading: f64,
    /// The service binary (default: `signal-service` beside this one).
    #[arg(long)]
    server: Option<std::path::PathBuf>,
    /// Fan updates out through the Redis at this URL (`redis://127.0.0.1:6379`), as a production
    /// instance does, under a key prefix of this run's own; default: in process.
    #[arg(long)]
    redis: Option<String>,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("ws-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (mut child, port) = start_server(&args, &dir)?;
    let result = run(&args, child.id(), port).await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(args: &Args, pid: u32, port: u16) -> Result<(), Failure> {
    let base = format!("http://127.0.0.1:{port}/api/v2");
    let mut chain = surf::get(format!("{base}/instruments/NSE:NIFTY/chain")).await?;
    let chain: Value = chain.body_json().await?;
    let mut keys: Vec<(String, f64, bool)> = Vec::new();
    let strikes = chain["strikes"].as_array().ok_or("no strikes")?;
    let middle = strikes.len() / 2;
    let half = args.options.div_ceil(4);
    for s in &strikes[middle.saturating_sub(half)..(middle + half).min(strikes.len())] {
        let k = s["strike"].as_f64().unwrap_or(0.0);
        for (side, call) in [("call", true), ("put", false)] {
            if let Some(key) = s[side]["key"].as_str() {
                keys.push((key.to_owned(), k, call));
            }
        }
    }
    keys.truncate(args.options);
    let per_batch = if args.per_batch == 0 {
        keys.len()
    } else {
        args.per_batch
    };
    if per_batch > keys.len() || !keys.len().is_multiple_of(per_batch) {
        return Err(format!("--per-batch {per_batch} must divide the {} options", keys.len()).into());
    }
    let schedule = Schedule {
        options: keys.len(),
        per_batch,
    };
    let spot = strikes[middle]["strike"].as_f64().unwrap_or(0.0);
    let batches = (args.rate * args.secs as f64) as usize;
    let sent: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..batches).map(|_| std::sync::OnceLock::new()).collect());
    let rss_before = rss_kib(pid);

    let url = format!("ws://127.0.0.1:{port}/api/v2/subscriptions/websocket");
    let ready = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let silent = ((args.connections as f64) * args.stop_reading / 100.0).round() as usize;
    let mut clients = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let topics: Vec<(usize, String)> = (0..args.topics)
            .map(|t| {
                let o = (i * args.topics + t) % keys.len();
                (o, format!("greeks:{}", keys[o].0))
            })
            .collect();
        let reads = i >= silent;
        clients.push((
            reads,
            tokio::spawn(subscriber(
                url.clone(),
                topics,
                schedule,
                reads,
                sent.clone(),
                ready.clone(),
                done.clone(),
            )),
        ));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let wait = Instant::now();
    while ready.load(Ordering::SeqCst) < args.connections {
        if wait.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "only {} of {} connections subscribed",
                ready.load(Ordering::SeqCst),
                args.connections
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_kib(pid);

    let market = Market::nse();
    let now = adapters::outbound::clock::SystemClock.now();
    let open = session_start(&market, now).ok_or("no recent session")?;
    let mut ingest = Ingest::connect(port).await?;
    let every = Duration::from_secs_f64(1.0 / args.rate);
    let start = tokio::time::Instant::now();
    let cpu_before = (cpu_secs(&pid.to_string()), cpu_secs("self"));
    let mut rejected = 0usize;
    let mut answers_us = Vec::with_capacity(sent.len());
    for (j, slot) in sent.iter().enumerate() {
        tokio::time::sleep_until(start + every * j as u32).await;
        let ts = (open + chrono::Duration::minutes(5) + chrono::Duration::milliseconds(args.step_ms * j as i64))
            .to_rfc3339();
        let mut ticks = vec![json!({"key": "NSE:NIFTY", "ts": ts, "last": spot})];
        for (key, k, call) in &keys[schedule.options_in(j)] {
            let intrinsic = if *call {
                (spot - k).max(0.0)
            } else {
                (k - spot).max(0.0)
            };
            let px = intrinsic + 80.0 + (j % 7) as f64 * 0.05;
            ticks.push(
                json!({"key": key, "ts": ts, "bid": px - 0.5, "ask": px + 0.5, "last": px, "volume": 10, "oi": 1000}),
            );
        }
        let posted = Instant::now();
        let _ = slot.set(posted);
        let body = ingest.post("/api/v2/ingest/ticks", &Value::Array(ticks)).await?;
        answers_us.push(posted.elapsed().as_micros() as u64);
        rejected += body["rejected"].as_array().map_or(0, Vec::len);
    }
    let ingest_secs = start.elapsed().as_secs_f64();
    let cpu_used = (
        cpu_secs(&pid.to_string()) - cpu_before.0,
        cpu_secs("self") - cpu_before.1,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    done.notify_waiters();

    let (mut lat, mut received, mut out_of_range, mut slow_closed, mut healthy) = (Vec::new(), 0, 0, 0, 0);
    let mut healthy_closed = 0;
    for (reads, h) in clients {
        let seen = h.await??;
        if reads {
            healthy += 1;
            received += seen.received;
            out_of_range += seen.out_of_range;
            healthy_closed += usize::from(seen.closed_by_server);
            lat.extend(seen.latencies_us);
        } else {
            slow_closed += usize::from(seen.closed_by_server);
        }
    }
    // The batches whose deliveries were slowest, by their median: a stall on the server's
    // side (a blocking write, say) delays every delivery of a batch, while the spread of a
    // healthy batch is its fan-out's width.
    let mut per_batch: Vec<Vec<u64>> = vec![Vec::new(); batches];
    for (b, l) in &lat {
        if let Some(v) = per_batch.get_mut(*b) {
            v.push(*l);
        }
    }
    let mut medians: Vec<(u64, usize)> = per_batch
        .iter_mut()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(b, v)| {
            v.sort_unstable();
            (v[v.len() / 2], b)
        })
        .collect();
    medians.sort_unstable_by(|a, b| b.cmp(a));
    let mut lat: Vec<u64> = lat.into_iter().map(|(_, l)| l).collect();
    lat.sort_unstable();
    // Each reading client's topics, times the batches that tick each.
    let mut ticked = vec![0usize; keys.len()];
    for j in 0..batches {
        for o in schedule.options_in(j) {
            ticked[o] += 1;
        }
    }
    let (options, topics) = (keys.len(), args.topics);
    let expected: usize = (silent..args.connections)
        .flat_map(|i| (0..topics).map(move |t| (i * topics + t) % options))
        .map(|o| ticked[o])
        .sum();
    println!(
        "connections {} ({} reading, {} stopped reading), {} topics each over {} options; {} batches in {:.1} s ({} ticks rejected)",
        args.connections,
        healthy,
        silent,
        args.topics,
        keys.len(),
        batches,
        ingest_secs,
        rejected
    );
    println!(
        "deliveries {} of {} expected ({:.0}/s); lost {}; unmatched {}; healthy closed {}; slow closed {} of {}",
        received,
        expected,
        received as f64 / ingest_secs,
        expected.saturating_sub(received),
        out_of_range,
        healthy_closed,
        slow_closed,
        silent
    );
    println!("tick-to-client latency: {}", summary(&lat));
    println!(
        "slowest batches (median latency): {}",
        medians
            .iter()
            .take(5)
            .map(|(m, b)| format!("#{b} {:.2} ms", *m as f64 / 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    answers_us.sort_unstable();
    println!("ingest answer time: {}", summary(&answers_us));
    println!(
        "server memory: {} KiB before, {} KiB with the connections: {:.1} KiB per connection",
        rss_before,
        rss_after,
        (rss_after.saturating_sub(rss_before)) as f64 / args.connections.max(1) as f64
    );
    println!(
        "CPU during ingest: server {:.0} %, this harness {:.0} % of one core",
        100.0 * cpu_used.0 / ingest_secs,
        100.0 * cpu_used.1 / ingest_secs
    );
    Ok(())
}
