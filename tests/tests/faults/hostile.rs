//! Hostile clients: huge bodies with a wrong key, and thousands of idle or half-sent requests.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{self, KEY, Pg, Redis, Service, parse_answer, request};

/// Sends a `len`-byte ingest body with `key`, streaming it while reading the answer; returns
/// the status and how long the answer took.
async fn huge_post(port: u16, key: &str, len: usize) -> (Option<u16>, Duration) {
    let started = Instant::now();
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (None, started.elapsed());
    };
    let head = format!(
        "POST /api/v2/ingest/ticks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: {key}\r\n\
         Content-Length: {len}\r\n\r\n"
    );
    let (mut rd, mut wr) = s.split();
    let writer = async {
        let _ = wr.write_all(head.as_bytes()).await;
        let chunk = vec![b'['; 64 * 1024];
        let mut sent = 0;
        while sent < len {
            let n = chunk.len().min(len - sent);
            if wr.write_all(&chunk[..n]).await.is_err() {
                break;
            }
            sent += n;
        }
    };
    let reader = async {
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    if let Ok(a) = parse_answer(&raw)
                        && a.body.len() >= a.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0)
                    {
                        return Some((a.status, started.elapsed()));
                    }
                }
            }
        }
        None
    };
    tokio::pin!(reader);
    tokio::select! {
        r = &mut reader => return r.map_or((None, started.elapsed()), |(s, t)| (Some(s), t)),
        () = writer => {}
    }
    match tokio::time::timeout(Duration::from_secs(5), reader).await {
        Ok(Some((s, t))) => (Some(s), t),
        _ => (None, started.elapsed()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_bodies_are_refused_at_once_without_reading_them() {
    let _serial = harness::SERIAL.lock().await;
    let pg = Pg::start();
    let redis = Redis::start();
    // Failed authentications are not rate limited here (the guard's own tests cover that): every
    // refusal below is the body's or the key's.
    let svc = Service::start(&pg, &redis, &[("SIGNAL__RATE_LIMIT__AUTH_FAILURES_PER_MINUTE", "1000")]);
    const FIFTY_MB: usize = 50 * 1024 * 1024;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = svc.rss_bytes();
    let (one, took) = huge_post(svc.port, "wrong", FIFTY_MB).await;
    // 32 at once, with a wrong key.
    let many = futures_util::future::join_all((0..32).map(|_| huge_post(svc.port, "wrong", FIFTY_MB))).await;
    // With the right key: over the ingest body limit, 413 before reading.
    let (right, right_took) = huge_post(svc.port, KEY, FIFTY_MB).await;
    let rss_after = svc.rss_bytes();
    let growth = rss_after.saturating_sub(rss_before);
    let slowest = many
        .iter()
        .map(|m| m.1)
        .max()
        .unwrap_or_default()
        .max(took)
        .max(right_took);
    let statuses: Vec<Option<u16>> = many.iter().map(|m| m.0).collect();
    println!(
        "scenario huge-bodies: one 50 MB body with a wrong key: {one:?} in {took:?}; 32 at once: statuses {:?}, \
         slowest {slowest:?}; the right key: {right:?} in {right_took:?}; RSS {} -> {} MB (+{:.1} MB)",
        {
            let mut s = statuses.clone();
            s.sort();
            s.dedup();
            s
        },
        rss_before / (1 << 20),
        rss_after / (1 << 20),
        growth as f64 / f64::from(1 << 20)
    );
    assert_eq!(one, Some(401));
    assert!(statuses.iter().all(|s| *s == Some(401)), "{statuses:?}");
    assert_eq!(right, Some(413));
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    assert!(growth < 64 << 20, "RSS grew {growth} bytes");
    let health = request(svc.port, "GET", "/health/live", &[], None, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(health.status, 200);
    let (exit, log) = svc.terminate();
    assert!(exit.success(), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed_in_time_and_health_answers_throughout() {
    let _serial = harness::SERIAL.lock().await;
    let pg = Pg::start();
    let redis = Redis::start();
    let svc = Service::start(
        &pg,
        &redis,
        &[
            ("SIGNAL__SERVER__HEADER_READ_TIMEOUT_MS", "2000"),
            ("SIGNAL__SERVER__BODY_READ_TIMEOUT_MS", "2000"),
        ],
    );
    let port = svc.port;
    let opened = Instant::now();
    // 10 000 sockets that say nothing, 200 with half a request head, 200 with half a body.
    let mut idle = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        idle.push(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let mut half_head = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        half_head.push(s);
    }
    let mut half_body = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let head = format!(
            "POST /api/v2/ingest/ticks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: {KEY}\r\n\
             Content-Length: 1000\r\n\r\n[{{\"key\":"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        half_body.push(s);
    }
    let all_open = opened.elapsed();
    // Health answers while they are all open.
    let mut slowest_live = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let a = request(port, "GET", "/health/live", &[], None, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(a.status, 200);
        slowest_live = slowest_live.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every one of them is closed by the server within the timeouts (2 s from its accept, the
    // last accepted when all were open) plus a margin.
    let deadline = opened + all_open + Duration::from_secs(5);
    let closed_by = |mut s: tokio::net::TcpStream| async move {
        let mut buf = vec![0u8; 2048];
        let mut got = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return (true, got),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => return (false, got),
            }
        }
    };
    let (idle_closed, head_closed, body_closed) = tokio::join!(
        futures_util::future::join_all(idle.into_iter().map(closed_by)),
        futures_util::future::join_all(half_head.into_iter().map(closed_by)),
        futures_util::future::join_all(half_body.into_iter().map(closed_by)),
    );
    let count = |v: &[(bool, Vec<u8>)]| v.iter().filter(|(c, _)| *c).count();
    let body_408 = body_closed
        .iter()
        .filter(|(_, raw)| parse_answer(raw).is_ok_and(|a| a.status == 408 && a.json()["field"] == "body"))
        .count();
    println!(
        "scenario idle-connections: 10 000 idle, 200 half heads, 200 half bodies open in {all_open:?}; \
         /health/live slowest {slowest_live:?} meanwhile; closed by the server within the 2 s timeouts (+5 s margin): idle {}, half heads {}, half bodies {} \
         ({body_408} answered 408 naming body)",
        count(&idle_closed),
        count(&head_closed),
        count(&body_closed),
    );
    assert!(slowest_live < Duration::from_secs(1), "{slowest_live:?}");
    assert_eq!(count(&idle_closed), 10_000);
    assert_eq!(count(&head_closed), 200);
    assert_eq!(count(&body_closed), 200);
    assert_eq!(body_408, 200);
    let (exit, log) = svc.terminate();
    assert!(exit.success(), "{log}");
}
