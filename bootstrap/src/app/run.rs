//! Serving: the flusher, the listing refresher, the mapping refresher, the simulated feed, the
//! stream consumer, the ingest-log follower and the fan-out receiver (started by the build, so the shared resume
//! history is loaded before the port is announced) run beside the HTTP server until a stop
//! signal; then input stops and the pending snapshots are written.

use std::time::Duration;

use adapters::inbound::http::routes;
use application::ingest::IngestTicks;

use super::Application;

/// How often the catalogue is read again for new listings.
const LISTING_REFRESH: Duration = Duration::from_secs(300);

impl Application {
    /// Serves until ctrl-c or SIGTERM; then flushes and returns.
    ///
    /// # Errors
    /// Server or final-flush failures.
    pub async fn run_until_stopped(self) -> Result<(), Box<dyn std::error::Error>> {
        let ingest = self.state.ingest.clone();
        let flusher = {
            let ingest = ingest.clone();
            let (every, max) = (self.flush_every, self.flush_retry_max.max(self.flush_every));
            // Every `every` while writes succeed; after a failure the wait doubles up to `max`
            // (the backlog logs each failure episode once, and readiness shows it).
            tokio::spawn(async move {
                let mut wait = every;
                loop {
                    tokio::time::sleep(wait).await;
                    wait = match ingest.flush().await {
                        Ok(_) => every,
                        Err(_) => (wait * 2).min(max),
                    };
                }
            })
        };
        // New listings (the next SPXW daily, the next NIFTY weekly) registered as the catalogue
        // rolls forward, so a long-running instance accepts them; a failure is logged once per
        // episode (the instrument service's own failures also show in its breaker metrics).
        let lister = {
            let (source, registry) = self.listing;
            tokio::spawn(async move {
                let mut failing = false;
                loop {
                    tokio::time::sleep(LISTING_REFRESH).await;
                    match registry.extend_from(source.as_ref()).await {
                        Ok(added) => {
                            if failing {
                                tracing::info!("listing refresh: the catalogue answers again");
                            }
                            failing = false;
                            if added > 0 {
                                tracing::info!(added, "listing refresh: new instruments registered");
                            }
                        }
                        Err(e) if !failing => {
                            failing = true;
                            tracing::warn!(error = %e, "listing refresh failed; instruments listed since are not accepted until it succeeds");
                        }
                        Err(_) => {}
                    }
                }
            })
        };
        // With the instrument service: every evaluated expiry's mapping looked up each
        // refresh-ahead interval, so minute snapshots group by a fresh one (the lookup itself
        // serves from memory until the refresh point, then refreshes in the background).
        let refresher = self.mappings.map(|(mappings, realtime)| {
            let cfg = mappings.config();
            let every = cfg
                .ttl
                .mul_f64(cfg.refresh_ahead.clamp(0.05, 1.0))
                .max(Duration::from_millis(500));
            tokio::spawn(async move {
                loop {
                    let active: Vec<_> = realtime
                        .evaluated()
                        .into_iter()
                        .map(|(u, e, forward)| (u, e, Some(forward)))
                        .collect();
                    mappings.refresh(&active).await;
                    tokio::time::sleep(every).await;
                }
            })
        });
        let keeper = self.keeper.map(|(keeper, every)| {
            let metrics = self.state.metrics.clone();
            tokio::spawn(keep_history(keeper, every, metrics))
        });
        let feed = self.feed.map(|(feed, every)| {
            let (ingest, clock) = (ingest.clone(), self.clock.clone());
            let metrics = self.state.metrics.clone();
            tokio::spawn(adapters::inbound::feed::run(feed, every, clock, move |batch| {
                let (ingest, metrics) = (ingest.clone(), metrics.clone());
                async move {
                    let started = std::time::Instant::now();
                    let result = ingest.execute(&batch).await;
                    if let Ok(r) = &result {
                        let fields = r.rejected.iter().map(|x| x.field.as_str());
                        metrics.count_ingest("feed", r.accepted, fields, started.elapsed());
                    }
                    match result {
                        Ok(r) if !r.rejected.is_empty() => {
                            tracing::debug!(rejected = r.rejected.len(), "feed rows rejected")
                        }
                        Ok(_) => {}
                        // The store's trouble is logged once per episode by the backlog and
                        // shown by readiness; the simulated feed just moves on.
                        Err(e) => tracing::debug!(error = %e, "feed batch not ingested"),
                    }
                }
            }))
        });
        let (stop_consumer, consumer_stopped) = tokio::sync::oneshot::channel::<()>();
        let consumer = self.consumer.map(|c| {
            tokio::spawn(c.run(async {
                let _ = consumer_stopped.await;
            }))
        });
        // The other instances' accepted batches, applied to this instance's realtime state.
        let (stop_follower, follower_stopped) = tokio::sync::oneshot::channel::<()>();
        let follower = self.ingest_log.map(|(log, from)| {
            tokio::spawn(log.follow(ingest.clone(), from, async {
                let _ = follower_stopped.await;
            }))
        });
        let (receiver, stop_receiver) = self.fanout_receiver.unzip();
        let subscriptions = self.state.subscriptions.clone();
        let readiness = self.state.readiness.clone();
        let (stop, drain_delay) = (self.stop, self.drain_delay);
        let stopping = async move {
            stop.recv().await;
            // Readiness says 503 at once; the instance keeps serving while load balancers
            // notice and route elsewhere.
            readiness.drain();
            if !drain_delay.is_zero() {
                tracing::info!(
                    drain_delay_ms = u64::try_from(drain_delay.as_millis()).unwrap_or(u64::MAX),
                    "stop signal: draining (readiness 503, still serving)"
                );
                tokio::time::sleep(drain_delay).await;
            }
            // WebSocket clients are told to reconnect and resume before the server stops.
            subscriptions.close_all();
        };
        adapters::inbound::http::server::serve(self.acceptor, routes(self.state), self.server_limits, stopping).await?;
        if let Some(stop) = stop_receiver {
            let _ = stop.send(());
        }
        let _ = stop_follower.send(());
        if let Some(f) = follower {
            let _ = f.await;
        }
        if let Some(r) = receiver {
            let _ = r.await;
        }
        if let Some(f) = feed {
            f.abort();
        }
        if let Some(r) = refresher {
            r.abort();
        }
        lister.abort();
        if let Some(k) = keeper {
            // A cycle cut short rolls back its open transaction; what it sealed stays sealed.
            k.abort();
        }
        // Stop reading the stream; a batch in flight is dropped unacknowledged and delivered again.
        let _ = stop_consumer.send(());
        if let Some(c) = consumer {
            let _ = c.await;
        }
        flusher.abort();
        final_flush(&ingest, self.shutdown_flush).await
    }
}

/// The history upkeep loop: a cycle every `every`, the first one interval after start (so a
/// rolling upgrade has replaced the instances of the previous release, which do not read the
/// sealed layout, before the first day is sealed; docs/deployment.md). What a cycle did is
/// logged when it did anything; a failure is logged once per episode (with its cause) and
/// counted in `signal_history_upkeep_cycles_total{reason="failed"}`, and the next interval
/// tries again.
async fn keep_history(
    keeper: application::upkeep::HistoryKeeper,
    every: Duration,
    metrics: std::sync::Arc<adapters::metrics::Metrics>,
) {
    let mut failing = false;
    loop {
        tokio::time::sleep(every).await;
        let started = std::time::Instant::now();
        match keeper.cycle().await {
            Ok(r) => {
                metrics.count_history_cycle(true, r.compaction.rows_folded, r.dropped.len() as u64);
                if failing {
                    tracing::info!("history upkeep works again");
                }
                failing = false;
                if r.compaction.rows_folded > 0 || !r.dropped.is_empty() {
                    tracing::info!(
                        series_days = r.compaction.series_days,
                        rows = r.compaction.rows_folded,
                        skipped_busy = r.compaction.skipped_busy,
                        more = r.compaction.more,
                        dropped = ?r.dropped,
                        took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        "history upkeep: closed days sealed, expired months dropped"
                    );
                }
            }
            Err(e) => {
                metrics.count_history_cycle(false, 0, 0);
                if !failing {
                    tracing::warn!(error = %e, "history upkeep failed; closed days stay in row form (read the same) until it succeeds");
                }
                failing = true;
            }
        }
    }
}

/// Writes what is pending before the process exits, retrying for up to `budget`; logs what was
/// written, or what could not be and why.
///
/// # Errors
/// Snapshots left unwritten (the process then exits non-zero: something was lost).
async fn final_flush(ingest: &IngestTicks, budget: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = tokio::time::Instant::now() + budget;
    let mut written = 0;
    let mut wait = Duration::from_millis(100);
    loop {
        let attempt = tokio::time::timeout_at(deadline, ingest.flush()).await;
        match attempt {
            Ok(Ok(n)) => {
                written += n;
                tracing::info!(written, "stopped; pending snapshots written");
                return Ok(());
            }
            Ok(Err(_)) if tokio::time::Instant::now() + wait < deadline => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(1));
            }
            _ => {
                let b = ingest.backlog();
                let cause = b.last_error.unwrap_or_else(|| "timed out".to_owned());
                tracing::error!(
                    lost_greeks = b.greeks,
                    lost_moneyness = b.moneyness,
                    error = %cause,
                    "stopped; snapshots could not be written and are lost"
                );
                return Err(format!(
                    "{} Greeks and {} moneyness snapshots could not be written: {cause}",
                    b.greeks, b.moneyness
                )
                .into());
            }
        }
    }
}
