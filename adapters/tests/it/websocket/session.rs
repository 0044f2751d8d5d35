//! One connection's session: subscribe, snapshot, updates, errors, resume, unsubscribe; the
//! limits per connection; tokens and caps before the upgrade; shutdown; a client that stops reading.

use super::*;

#[tokio::test]
async fn subscribe_snapshot_updates_errors_resume_and_unsubscribe() {
    let s = server(WsLimits::default()).await;
    let topic = format!("greeks:{CALL}");
    let mut c = connect(&s.url).await;

    send(
        &mut c,
        json!({"action": "subscribe", "id": "r1", "topics": [topic, "trades:NSE:NIFTY"]}),
    )
    .await;
    let ack = next(&mut c).await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["id"], "r1");
    assert_eq!(ack["accepted"], json!([topic]));
    assert_eq!(ack["refused"][0]["topic"], "trades:NSE:NIFTY");
    assert!(
        ack["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown kind 'trades'")
    );
    let snapshot = next(&mut c).await;
    assert_eq!(
        (snapshot["frame"].as_str(), snapshot["seq"].as_u64()),
        (Some("snapshot"), Some(0))
    );
    assert!(snapshot["data"].is_null(), "nothing published yet: {snapshot}");

    // Ordered updates from the real ingest path.
    for m in 1..=3 {
        tick(&s.ingest, m).await;
    }
    for seq in 1..=3 {
        let u = next(&mut c).await;
        assert_eq!(u["frame"], "update");
        assert_eq!(u["topic"], topic.as_str());
        assert_eq!((u["epoch"].as_u64(), u["seq"].as_u64()), (Some(42), Some(seq)));
        assert_eq!(u["data"]["kind"], "greeks");
        assert_eq!(u["data"]["instrument_key"], CALL);
        assert!(u["data"]["iv"].as_f64().unwrap() > 0.0, "{u}");
        assert!(u["source_ts"].as_str().is_some());
    }

    // Errors leave the connection up.
    c.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(next(&mut c).await["code"], "malformed_json");
    send(&mut c, json!({"action": "publish", "id": "r2", "topics": []})).await;
    let e = next(&mut c).await;
    assert_eq!(
        (e["code"].as_str(), e["id"].as_str()),
        (Some("unknown_action"), Some("r2"))
    );
    let big = json!({"action": "subscribe", "id": "r3", "topics": ["x".repeat(70_000)]});
    send(&mut c, big).await;
    assert_eq!(next(&mut c).await["code"], "frame_too_large");
    tick(&s.ingest, 4).await;
    assert_eq!(next(&mut c).await["seq"], 4, "still subscribed and up");
    // Counted for /metrics: each refusal by its code, the updates written, and each one's
    // tick-to-send lag (stamped by ingest as it published the batch).
    let m = &s.ws.metrics;
    for reason in ["malformed_json", "unknown_action", "frame_too_large"] {
        let n = m
            .ws_refusals
            .get_or_create(&adapters::metrics::ReasonLabels { reason })
            .get();
        assert_eq!(n, 1, "{reason}");
    }
    assert!(m.ws_updates_sent.get() >= 4, "{}", m.ws_updates_sent.get());
    let scrape = adapters::metrics::render(m, adapters::metrics::StateReading::default(), false);
    let observed: u64 = scrape
        .lines()
        .find_map(|l| l.strip_prefix("signal_ws_delivery_lag_seconds_count "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_default();
    assert!(observed >= 4, "tick-to-send lag observed {observed} times:\n{scrape}");

    // Reconnect after missing two updates: resume gets exactly those.
    c.close(None).await.unwrap();
    drop(c);
    tick(&s.ingest, 5).await;
    tick(&s.ingest, 6).await;
    let mut c = connect(&s.url).await;
    let resume = json!({"action": "subscribe", "id": "r4", "topics": [topic], "resume": {topic.clone(): {"epoch": 42, "seq": 4}}});
    send(&mut c, resume).await;
    assert_eq!(next(&mut c).await["type"], "ack");
    for seq in [5, 6] {
        let u = next(&mut c).await;
        assert_eq!((u["frame"].as_str(), u["seq"].as_u64()), (Some("update"), Some(seq)));
    }
    // A position from another epoch gets a snapshot instead.
    let stale = json!({"action": "subscribe", "id": "r5", "topics": [topic], "resume": {topic.clone(): {"epoch": 7, "seq": 6}}});
    send(&mut c, stale).await;
    assert_eq!(next(&mut c).await["type"], "ack");
    let snap = next(&mut c).await;
    assert_eq!(
        (snap["frame"].as_str(), snap["seq"].as_u64()),
        (Some("snapshot"), Some(6))
    );

    send(
        &mut c,
        json!({"action": "unsubscribe", "id": "r6", "topics": [topic, "greeks:NSE:OTHER"]}),
    )
    .await;
    let ack = next(&mut c).await;
    assert_eq!(ack["accepted"], json!([topic]));
    assert_eq!(ack["refused"][0]["reason"], "not subscribed");
    tick(&s.ingest, 7).await;
    assert!(quiet(&mut c, 300).await, "no updates after unsubscribing");
}

#[tokio::test]
async fn topics_per_connection_and_inbound_rate_are_limited() {
    let limits = WsLimits {
        max_topics: 2,
        max_inbound_per_second: 2,
        ..WsLimits::default()
    };
    let s = server(limits).await;
    let mut c = connect(&s.url).await;
    let topics = [
        format!("greeks:{CALL}"),
        format!("candles:{CALL}:1m"),
        "candles:NSE:NIFTY:1m".to_owned(),
    ];
    send(&mut c, json!({"action": "subscribe", "id": "r1", "topics": topics})).await;
    let ack = next(&mut c).await;
    assert_eq!(ack["accepted"].as_array().unwrap().len(), 2);
    assert!(
        ack["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("at most 2 topics")
    );
    // A burst over twice the rate: the excess is refused, each with its own error.
    let mut codes = Vec::new();
    for i in 0..6 {
        send(
            &mut c,
            json!({"action": "unsubscribe", "id": format!("u{i}"), "topics": ["greeks:NSE:Z"]}),
        )
        .await;
    }
    // 2 snapshots are queued first.
    for _ in 0..(2 + 6) {
        let v = next(&mut c).await;
        if v["type"] == "error" {
            codes.push(v["code"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        codes.iter().all(|c| c == "rate_limited") && !codes.is_empty(),
        "{codes:?}"
    );
}

#[tokio::test]
async fn on_shutdown_every_client_is_told_to_reconnect_and_resume() {
    let s = server(WsLimits::default()).await;
    let mut clients = Vec::new();
    for i in 0..8 {
        clients.push(subscribed(&s.url, &format!("r{i}"), json!([format!("greeks:{CALL}")])).await);
    }
    s.ws.close_all();
    let mut hints = Vec::new();
    for c in &mut clients {
        let close = loop {
            match tokio::time::timeout(Duration::from_secs(5), c.next()).await.unwrap() {
                Some(Ok(Message::Close(frame))) => break frame.unwrap(),
                Some(Ok(_)) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        assert_eq!(u16::from(close.code), 1001);
        // `server shutting down; reconnect and resume; reconnect_after_ms=N`, N under the spread.
        let reason = close.reason.as_str();
        let hint = reason
            .strip_prefix(adapters::inbound::http::websocket::SHUTDOWN_REASON)
            .and_then(|r| r.strip_prefix("; reconnect_after_ms="))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{reason}"));
        assert!(hint < 1000, "{reason}");
        hints.push(hint);
    }
    // Spread, not all at once: eight clients, at least four different hints over 0.5 s apart.
    hints.sort_unstable();
    hints.dedup();
    assert!(
        hints.len() >= 4 && hints[hints.len() - 1] - hints[0] >= 500,
        "{hints:?}"
    );
}

/// A client that stops reading: its updates coalesce to the newest, then the server closes it
/// once a write stays blocked for the lag bound. Small socket buffers on both sides stand in for
/// a slow network, so the kernel cannot absorb the backlog.
#[tokio::test]
async fn a_client_that_stops_reading_is_coalesced_then_closed() {
    let limits = WsLimits {
        queue_bytes: 4 * 1024,
        max_lag: Duration::from_secs(1),
        ..WsLimits::default()
    };
    let s = server_with(limits, Some(8 * 1024)).await;
    let addr = s
        .url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut c, _) = tokio_tungstenite::client_async(s.url.as_str(), stream).await.unwrap();
    let topic = format!("greeks:{CALL}");
    let subscribe = json!({"action": "subscribe", "id": "r1", "topics": [topic]});
    c.send(Message::Text(subscribe.to_string().into())).await.unwrap();
    // Not reading from here on, while 300 updates are published.
    for n in 1..=300 {
        tick_at(&s.ingest, n, Minutes::seconds(5 * n)).await;
    }
    // The server closes it once a write has stayed blocked for the lag bound: wait for that
    // (not for a fixed time, which a slow machine may not keep) before reading anything, since
    // reading would unblock the socket.
    let guard = std::time::Instant::now();
    while s.ws.connections() > 0 {
        assert!(
            guard.elapsed() < Duration::from_secs(120),
            "the server never closed the slow client"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut seqs = Vec::new();
    let mut close = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), c.next())
            .await
            .expect("the stream ends")
        {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["frame"] == "update" {
                    seqs.push(v["seq"].as_u64().unwrap());
                }
            }
            Some(Ok(Message::Close(frame))) => {
                close = frame;
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    assert!(seqs.len() < 300, "not everything was queued for it: {}", seqs.len());
    // Whether a coalesced jump reaches the client before the close depends on how fast this
    // machine publishes the 300 updates against the 1 s lag bound (on a loaded machine the
    // connection is closed while its queue holds only the newest update, which then never gets
    // through the blocked socket). Coalescing itself is pinned down by the outbox's tests
    // (`over_its_bound_it_keeps_the_newest_of_each_topic_and_every_ack`); here: in order, not
    // everything, and the connection ended (a close frame, when one got through, says why).
    if let Some(f) = close {
        assert_eq!(u16::from(f.code), 1008);
        assert!(f.reason.contains("slow consumer"), "{}", f.reason);
    }
}

#[tokio::test]
async fn tokens_and_connection_caps_are_checked_before_the_upgrade() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let limits = WsLimits {
        max_connections: 2,
        max_connections_per_token: 1,
        ..WsLimits::default()
    };
    let db = FreshDatabase::sqlite();
    let url = db.url.clone();
    let hub = Arc::new(SubscriptionHub::default());
    let fanout: Arc<dyn SignalPublisher> = Arc::new(InProcessFanout::new(1, hub.clone()));
    let s = serve_ctx(Some(db), &url, hub, fanout, limits, None, &["t1", "t2"]).await;

    assert_eq!(refused_status(s.url.as_str()).await, 401, "no token");
    assert_eq!(
        refused_status(format!("{}?token=nope", s.url)).await,
        401,
        "unknown token"
    );
    let mut bearer = s.url.as_str().into_client_request().unwrap();
    bearer
        .headers_mut()
        .insert("authorization", "Bearer t1".parse().unwrap());
    let _first = tokio_tungstenite::connect_async(bearer.clone()).await.unwrap();
    assert_eq!(refused_status(bearer).await, 429, "one connection per token");
    let _second = connect(&format!("{}?token=t2", s.url)).await;
    assert_eq!(s.ws.connections(), 2);
    // The scheme's name in any case (RFC 9110): the token is taken, and the global cap answers.
    let mut third = s.url.as_str().into_client_request().unwrap();
    third
        .headers_mut()
        .insert("authorization", "bearer t2".parse().unwrap());
    assert_eq!(refused_status(third).await, 503, "the global cap");
    drop(_first);
    // The closed connection gives its place back.
    tokio::time::timeout(Duration::from_secs(5), async {
        while s.ws.connections() > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}
