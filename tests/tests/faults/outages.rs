//! A dependency goes away under load: PostgreSQL for 40 s, Redis for 10 s.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{self, Pg, Redis, Service, Workload, ingest, percentile, request};

/// Batches sent at `every` from batch `first`, until `stop` is set; each answer with its
/// latency and the time it was answered.
type Sent = Vec<(usize, Option<u16>, Duration, Instant)>;

async fn ingest_loop(
    port: u16,
    w: Arc<Workload>,
    first: usize,
    every: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Sent {
    // One request every `every` whatever the answers take (a slow answer does not slow the
    // sender), as a feed would.
    let mut tasks = Vec::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut i = first;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        tick.tick().await;
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            let (r, took) = ingest(port, &w, i).await;
            (i, r.ok().map(|a| a.status), took, Instant::now())
        }));
        i += 1;
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// `/health/ready` every 200 ms until `stop`: the slowest answer, and the statuses seen.
async fn probe_loop(port: u16, stop: Arc<std::sync::atomic::AtomicBool>) -> (Duration, Vec<String>, usize) {
    let mut slowest = Duration::ZERO;
    let mut seen: Vec<String> = Vec::new();
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let started = Instant::now();
        let r = request(port, "GET", "/health/ready", &[], None, Duration::from_secs(5)).await;
        slowest = slowest.max(started.elapsed());
        n += 1;
        let state = r.map_or_else(
            |e| format!("error: {e}"),
            |a| format!("{} {}", a.status, a.json()["status"].as_str().unwrap_or("?")),
        );
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (slowest, seen, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_40_s_under_ingest_loses_no_accepted_row() {
    let _serial = harness::SERIAL.lock().await;
    let pg = Pg::start();
    let redis = Redis::start();
    let svc = Service::start(&pg, &redis, &[]);
    let w = Arc::new(Workload::nifty());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = tokio::spawn(ingest_loop(
        svc.port,
        w.clone(),
        0,
        Duration::from_millis(100),
        stop.clone(),
    ));
    let prober = tokio::spawn(probe_loop(svc.port, stop.clone()));

    tokio::time::sleep(Duration::from_secs(5)).await;
    pg.stop();
    tokio::time::sleep(Duration::from_secs(40)).await;
    // While it is down, readiness says why.
    let during = request(svc.port, "GET", "/health/ready", &[], None, Duration::from_secs(2))
        .await
        .unwrap();
    pg.resume();
    let up_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(15)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = feeder.await.unwrap();
    let (slowest_probe, states, probes) = prober.await.unwrap();

    // Everything pending is written once the database is back; then a clean stop.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = request(svc.port, "GET", "/health/ready", &[], None, Duration::from_secs(2)).await;
        if r.as_ref().is_ok_and(|a| a.json()["snapshots"]["pending"] == 0) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (exit, log) = svc.terminate();
    assert!(exit.success(), "exit {exit:?}; log:\n{log}");

    let accepted: Vec<usize> = sent.iter().filter(|s| s.1 == Some(200)).map(|s| s.0).collect();
    let refused = sent.iter().filter(|s| s.1 == Some(503)).count();
    let other: Vec<_> = sent.iter().filter(|s| !matches!(s.1, Some(200 | 503))).collect();
    assert!(other.is_empty(), "only 200 or 503: {other:?}");
    assert!(refused >= 10, "the outage refused batches: {refused}");
    assert!(
        !during.json()["database"].as_str().unwrap_or("ok").eq("ok") && during.status == 503,
        "{}",
        during.body
    );
    let first_ok_after = sent
        .iter()
        .filter(|s| s.3 > up_at && s.1 == Some(200))
        .map(|s| s.3 - up_at)
        .min()
        .expect("ingest recovered");
    assert!(
        first_ok_after <= Duration::from_secs(5),
        "recovered after {first_ok_after:?}"
    );
    assert!(
        slowest_probe < Duration::from_secs(1),
        "readiness took {slowest_probe:?}"
    );

    // Every accepted batch: its candles, each option's Greeks and the expiry's moneyness rows.
    let candles = pg.pairs("SELECT instrument_key, start_ms FROM candles_1m");
    let greeks = pg.pairs("SELECT instrument_key, minute_ms FROM signal_greeks");
    let moneyness: HashSet<i64> = pg
        .query("SELECT DISTINCT minute_ms FROM signal_moneyness_greeks")
        .into_iter()
        .filter_map(|l| l.parse().ok())
        .collect();
    let mut missing = (0, 0, 0);
    for &i in &accepted {
        let m = w.minute_ms(i);
        for o in &w.options {
            missing.0 += usize::from(!candles.contains(&(o.key.clone(), m)));
            missing.1 += usize::from(!greeks.contains(&(o.key.clone(), m)));
        }
        missing.2 += usize::from(!moneyness.contains(&m));
    }
    let minutes: HashSet<i64> = accepted.iter().map(|&i| w.minute_ms(i)).collect();
    println!(
        "scenario postgres-40s: {} batches sent, {} accepted, {refused} refused 503 during the outage; \
         ingest back {first_ok_after:?} after PostgreSQL; {probes} readiness probes, slowest {slowest_probe:?}, \
         states {states:?}; {} accepted minutes: missing candles {}, Greeks {}, moneyness {}",
        sent.len(),
        accepted.len(),
        minutes.len(),
        missing.0,
        missing.1,
        missing.2
    );
    assert_eq!(missing, (0, 0, 0), "accepted rows lost");
    assert!(
        log.contains("snapshot writes failing") && log.contains("snapshot writes recovered"),
        "one line per failure episode: {log}"
    );
    assert_eq!(
        log.matches("snapshot writes failing").count(),
        1,
        "one episode, logged once: {log}"
    );
}

/// A WebSocket client's data frames of one topic: (frame kind, epoch, seq).
type Frames = Vec<(String, u64, u64)>;

async fn follow(port: u16, topic: String, stop: Arc<std::sync::atomic::AtomicBool>) -> Frames {
    let url = format!("ws://127.0.0.1:{port}/api/v2/subscriptions/websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let sub = serde_json::json!({"action": "subscribe", "id": "s", "topics": [topic]});
    ws.send(Message::Text(sub.to_string().into())).await.unwrap();
    let mut frames = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        match tokio::time::timeout(Duration::from_millis(200), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "data" {
                    frames.push((
                        v["frame"].as_str().unwrap_or("?").to_owned(),
                        v["epoch"].as_u64().unwrap_or(0),
                        v["seq"].as_u64().unwrap_or(0),
                    ));
                }
            }
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(Some(Err(e))) => panic!("websocket: {e}"),
            Ok(None) => panic!("websocket closed"),
        }
    }
    frames
}

/// Breaks in a topic's numbering that did not come as a `resync` (or a first `snapshot`).
fn silent_gaps(frames: &Frames) -> Vec<String> {
    let mut out = Vec::new();
    let mut last: Option<(u64, u64)> = None;
    for (kind, epoch, seq) in frames {
        let continues = last.is_some_and(|(e, s)| e == *epoch && s + 1 == *seq);
        let first_numbered = last.is_some_and(|(e, _)| e == 0);
        if kind == "update" && last.is_some() && !continues && !first_numbered {
            out.push(format!("{last:?} -> update ({epoch}, {seq})"));
        }
        last = Some((*epoch, *seq));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_for_10_s_keeps_ingest_fast_and_subscribers_informed() {
    let _serial = harness::SERIAL.lock().await;
    let pg = Pg::start();
    let mut redis = Redis::start();
    let a = Service::start(&pg, &redis, &[]);
    let b = Service::start(&pg, &redis, &[]);
    let w = Arc::new(Workload::nifty());
    let topic = format!("greeks:{}", w.options[0].key);
    let stop_ws = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let local = tokio::spawn(follow(a.port, topic.clone(), stop_ws.clone()));
    let remote = tokio::spawn(follow(b.port, topic.clone(), stop_ws.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = tokio::spawn(ingest_loop(
        a.port,
        w.clone(),
        0,
        Duration::from_millis(100),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(8)).await;
    let down_at = Instant::now();
    redis.stop();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let up_at = Instant::now();
    redis.resume();
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = feeder.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop_ws.store(true, std::sync::atomic::Ordering::Relaxed);
    let local = local.await.unwrap();
    let remote = remote.await.unwrap();
    let (exit_a, log_a) = a.terminate();
    let (exit_b, _) = b.terminate();
    assert!(exit_a.success() && exit_b.success(), "{log_a}");

    let healthy: Vec<Duration> = sent.iter().filter(|s| s.3 < down_at).map(|s| s.2).collect();
    let outage: Vec<Duration> = sent
        .iter()
        .filter(|s| s.3 >= down_at && s.3 < up_at)
        .map(|s| s.2)
        .collect();
    let not_ok: Vec<_> = sent.iter().filter(|s| s.1 != Some(200)).collect();
    assert!(not_ok.is_empty(), "Redis is not needed to ingest: {not_ok:?}");
    let (p99_healthy, p99_outage) = (percentile(&healthy, 99.0), percentile(&outage, 99.0));
    // Every accepted batch priced the followed option once: one data frame each on the
    // instance that ingested it, whatever Redis did.
    let local_updates = local.iter().filter(|f| f.0 != "snapshot").count();
    let local_resyncs = local.iter().filter(|f| f.0 == "resync").count();
    let remote_resyncs = remote.iter().filter(|f| f.0 == "resync").count();
    let (local_gaps, remote_gaps) = (silent_gaps(&local), silent_gaps(&remote));
    println!(
        "scenario redis-10s: {} batches, all 200; ingest p99 {p99_healthy:?} healthy, {p99_outage:?} during the \
         outage ({} batches); local subscriber: {local_updates} updates for {} batches, {local_resyncs} resyncs; \
         remote subscriber: {} frames, {remote_resyncs} resyncs; silent gaps: local {}, remote {}",
        sent.len(),
        outage.len(),
        sent.len(),
        remote.len(),
        local_gaps.len(),
        remote_gaps.len()
    );
    assert!(
        p99_outage <= (p99_healthy * 2).max(p99_healthy + Duration::from_millis(20)),
        "ingest p99 {p99_outage:?} during the outage vs {p99_healthy:?}"
    );
    assert_eq!(local_updates, sent.len(), "the local subscriber got every update");
    assert!(local_resyncs >= 1, "{local:?}");
    assert!(remote_resyncs >= 1, "the remote subscriber was told: {remote:?}");
    assert!(local_gaps.is_empty(), "{local_gaps:?}");
    assert!(remote_gaps.is_empty(), "{remote_gaps:?}");
    assert_eq!(
        log_a.matches("redis fan-out unavailable").count(),
        1,
        "one line per outage: {log_a}"
    );
}
