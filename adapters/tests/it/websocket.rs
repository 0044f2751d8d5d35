//! The WebSocket subscriptions with a real client (tokio-tungstenite) against the whole app on a
//! real port: subscribe and its ack, the snapshot, ordered updates from real ingest, errors that
//! leave the connection up, resume after a reconnect with nothing lost, and unsubscribe.

use std::sync::Arc;
use std::time::Duration;

use adapters::inbound::http::listener::NoDelayAcceptor;
use adapters::inbound::http::routes;
use adapters::inbound::http::websocket::{WsContext, WsLimits};
use adapters::outbound::fanout::{InProcessFanout, RedisFanout};
use adapters::outbound::store::SeaStore;
use application::history::HistoryReads;
use application::ingest::IngestTicks;
use application::subscriptions::{DerivedFeeds, SnapshotSource, SubscriptionHub};
use chrono::{Duration as Minutes, TimeZone, Utc};
use domain::instrument::{InstrumentKey, LotSize, OptionContract, OptionRight, Strike};
use domain::market_data::Tick;
use domain::ports::{SignalPublisher, TopicUpdate, UpdateSink};
use e2e_tests::FreshDatabase;
use futures_util::{SinkExt, StreamExt};
use migration::{Migrator, MigratorTrait};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{CALL, now, pipeline_publishing};

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Server {
    _db: Option<FreshDatabase>,
    ws: WsContext,
    derived: Arc<DerivedFeeds>,
    ingest: Arc<IngestTicks>,
    registry: Arc<application::market::InstrumentRegistry>,
    url: String,
}

async fn server(limits: WsLimits) -> Server {
    server_with(limits, None).await
}

/// The HTTP status a refused upgrade answered with (panics when the upgrade succeeded).
async fn refused_status(req: impl tokio_tungstenite::tungstenite::client::IntoClientRequest + Unpin) -> u16 {
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("\"code\""), "a JSON error body: {body}");
            resp.status().as_u16()
        }
        Err(e) => panic!("refused with {e}"),
        Ok(_) => panic!("the upgrade was accepted"),
    }
}

/// The fan-out's sink, set once the instance (and its derived feeds) exists.
#[derive(Default)]
struct Slot(std::sync::OnceLock<Arc<dyn UpdateSink>>);

impl UpdateSink for Slot {
    fn deliver(&self, update: TopicUpdate) {
        if let Some(sink) = self.0.get() {
            sink.deliver(update);
        }
    }
}

/// [`server`] with accepted sockets' send buffers capped at `send_buffer` bytes. The fan-out
/// delivers to the derived feeds, and they to the hub, as in the service.
async fn server_with(limits: WsLimits, send_buffer: Option<usize>) -> Server {
    let db = FreshDatabase::sqlite();
    let hub = Arc::new(SubscriptionHub::default());
    let slot = Arc::new(Slot::default());
    let fanout: Arc<dyn SignalPublisher> = Arc::new(InProcessFanout::new(42, slot.clone()));
    let url = db.url.clone();
    let s = serve(Some(db), &url, hub, fanout, limits, send_buffer).await;
    let _ = slot.0.set(s.derived.clone());
    s
}

/// An instance on `url`'s database (dropped with the server when `db` is given), its hub fed
/// by `fanout`.
async fn serve(
    db: Option<FreshDatabase>,
    url: &str,
    hub: Arc<SubscriptionHub>,
    fanout: Arc<dyn SignalPublisher>,
    limits: WsLimits,
    send_buffer: Option<usize>,
) -> Server {
    serve_ctx(db, url, hub, fanout, limits, send_buffer, &[]).await
}

/// [`serve`], requiring one of `tokens` from clients.
async fn serve_ctx(
    db: Option<FreshDatabase>,
    url: &str,
    hub: Arc<SubscriptionHub>,
    fanout: Arc<dyn SignalPublisher>,
    limits: WsLimits,
    send_buffer: Option<usize>,
    tokens: &[&str],
) -> Server {
    let store = SeaStore::connect(url).await.unwrap();
    Migrator::up(store.connection(), None).await.unwrap();
    let pipeline = pipeline_publishing(Arc::new(store.clone()), None, Some(fanout));
    let derived = Arc::new(DerivedFeeds::new(
        hub.clone(),
        HistoryReads::new(
            Arc::new(store.clone()),
            pipeline.registry.clone(),
            pipeline.clock.clone(),
        ),
        pipeline.clock.clone(),
    ));
    let mut state = pipeline.app_state(Arc::new(store));
    state.subscriptions = WsContext::new(hub, limits)
        .with_tokens(&tokens.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())
        .with_snapshots(Some(pipeline.state.clone() as Arc<dyn SnapshotSource>))
        .with_derived(Some(derived.clone()));
    let ingest = pipeline.ingest.clone();
    let ws = state.subscriptions.clone();
    let acceptor = NoDelayAcceptor::bind("127.0.0.1:0")
        .await
        .unwrap()
        .with_send_buffer(send_buffer);
    let url = format!("ws://127.0.0.1:{}/api/v2/subscriptions/websocket", acceptor.port());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(routes(state)));
    Server {
        _db: db,
        ws,
        derived,
        ingest,
        registry: pipeline.registry.clone(),
        url,
    }
}

async fn connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// A client connected to `url` and subscribed to `topics` (request `id`), its ack read.
async fn subscribed(url: &str, id: &str, topics: Value) -> Client {
    let mut c = connect(url).await;
    send(&mut c, json!({"action": "subscribe", "id": id, "topics": topics})).await;
    assert_eq!(next(&mut c).await["type"], "ack");
    c
}

async fn send(c: &mut Client, v: Value) {
    c.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next text frame as JSON (pings are answered by the client library).
async fn next(c: &mut Client) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), c.next())
            .await
            .expect("a frame within 5 s")
            .expect("the connection is up")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// True when no text frame arrives within `ms`.
async fn quiet(c: &mut Client, ms: u64) -> bool {
    tokio::time::timeout(Duration::from_millis(ms), next(c)).await.is_err()
}

/// Ticks the index and the call at minute `m` after 09:30 IST (the call's bid moves with `m`).
async fn tick(ingest: &IngestTicks, m: i64) {
    tick_at(ingest, m, Minutes::minutes(m)).await;
}

/// Ticks the index and the call `after` 09:30 IST, the call's bid moving with `n`.
async fn tick_at(ingest: &IngestTicks, n: i64, after: Minutes) {
    let m = n;
    let ts = now() - Minutes::minutes(30) + after;
    let t = |key: &str, last: Option<f64>, bid: Option<f64>, ask: Option<f64>| Tick {
        key: InstrumentKey::parse(key).unwrap(),
        ts,
        last,
        bid,
        ask,
        volume: Some(10.0),
        oi: Some(100.0),
    };
    let bid = 300.0 + m as f64;
    let report = ingest
        .execute(&[
            t("NSE:NIFTY", Some(26_000.0), None, None),
            t(CALL, Some(bid + 1.0), Some(bid), Some(bid + 2.0)),
        ])
        .await
        .unwrap();
    assert_eq!(report.accepted, 2, "{report:?}");
}

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
        assert_eq!(u["data"]["key"], CALL);
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
    let topics = ["greeks:NSE:A", "greeks:NSE:B", "greeks:NSE:C"];
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

/// Production shape: two instances on one PostgreSQL database and one Redis (a key prefix of
/// this test's own). A tick ingested through A reaches a subscriber of B, numbered once.
#[tokio::test]
async fn a_tick_ingested_through_one_instance_reaches_a_subscriber_of_another() {
    let prefix = format!("signal-test:{}:ws-two-instances:", std::process::id());
    let db = FreshDatabase::postgres().await;
    let url = db.url.clone();
    let mut instances = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..2 {
        let hub = Arc::new(SubscriptionHub::default());
        let fanout = RedisFanout::new(
            "redis://127.0.0.1:6379/0",
            &prefix,
            Arc::new(adapters::outbound::clock::SystemClock),
        )
        .unwrap();
        // As in the service: the fan-out delivers to the derived feeds, and they to the hub.
        let slot = Arc::new(Slot::default());
        receivers.push(tokio::spawn(
            fanout.clone().receive(slot.clone(), std::future::pending()),
        ));
        let publisher: Arc<dyn SignalPublisher> = Arc::new(fanout);
        // Both share the database, dropped by this test at its end.
        let instance = serve(None, &url, hub, publisher, WsLimits::default(), None).await;
        let _ = slot.0.set(instance.derived.clone());
        instances.push(instance);
    }
    let (a, b) = (&instances[0], &instances[1]);
    let topic = format!("greeks:{CALL}");
    let mut on_b = subscribed(&b.url, "r1", json!([topic])).await;
    assert_eq!(next(&mut on_b).await["frame"], "snapshot");
    // Give B's pub/sub subscription a moment to be registered at Redis.
    tokio::time::sleep(Duration::from_millis(300)).await;
    tick(&a.ingest, 1).await;
    tick(&a.ingest, 2).await;
    let (first, second) = (next(&mut on_b).await, next(&mut on_b).await);
    assert_eq!(first["topic"], topic.as_str());
    assert_eq!(first["data"]["key"], CALL);
    let epoch = first["epoch"].as_u64().unwrap();
    assert!(epoch > 0);
    assert_eq!(second["epoch"].as_u64(), Some(epoch));
    assert_eq!(
        second["seq"].as_u64().unwrap(),
        first["seq"].as_u64().unwrap() + 1,
        "one sequence per topic across instances"
    );

    // A derived topic is numbered alike on both instances: each derives it from the same
    // 1-minute updates, and a derived update carries the number of the one it came from.
    let five = format!("candles:{CALL}:5m");
    let mut clients = Vec::new();
    for instance in [a, b] {
        let mut c = subscribed(&instance.url, "r2", json!([five])).await;
        assert_eq!(next(&mut c).await["frame"], "snapshot");
        clients.push(c);
    }
    for n in 3..6 {
        tick(&a.ingest, n).await;
    }
    let mut seen = Vec::new();
    for c in &mut clients {
        let frames: Vec<(u64, u64, bool, f64)> = until_quiet(c, 500)
            .await
            .iter()
            .filter(|f| f["topic"] == five.as_str())
            .map(|f| {
                (
                    f["epoch"].as_u64().unwrap(),
                    f["seq"].as_u64().unwrap(),
                    f["forming"].as_bool().unwrap(),
                    f["data"]["bar"]["close"].as_f64().unwrap(),
                )
            })
            .collect();
        assert!(frames.len() >= 3, "{frames:?}");
        seen.push(frames);
    }
    assert_eq!(seen[0], seen[1], "the same updates, numbered alike, on A and B");
    for r in receivers {
        r.abort();
    }
    drop(db);
}

#[tokio::test]
async fn on_shutdown_every_client_is_told_to_reconnect_and_resume() {
    let s = server(WsLimits::default()).await;
    let mut c = subscribed(&s.url, "r1", json!([format!("greeks:{CALL}")])).await;
    s.ws.close_all();
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), c.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.unwrap(),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1001);
    assert_eq!(
        close.reason.as_str(),
        adapters::inbound::http::websocket::SHUTDOWN_REASON
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
    tokio::time::sleep(Duration::from_secs(3)).await;
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

/// An instance whose hub has seen no update of a topic (here: its updates go elsewhere) still
/// opens a subscription with the topic's current state, from the realtime state, position 0.
#[tokio::test]
async fn a_topic_without_updates_here_opens_with_the_realtime_state() {
    let db = FreshDatabase::sqlite();
    let url = db.url.clone();
    let elsewhere: Arc<dyn SignalPublisher> = Arc::new(InProcessFanout::new(1, Arc::new(SubscriptionHub::default())));
    let s = serve(
        Some(db),
        &url,
        Arc::new(SubscriptionHub::default()),
        elsewhere,
        WsLimits::default(),
        None,
    )
    .await;
    tick(&s.ingest, 1).await;
    let mut c = subscribed(&s.url, "r1", json!([format!("greeks:{CALL}")])).await;
    let snap = next(&mut c).await;
    assert_eq!(
        (snap["frame"].as_str(), snap["seq"].as_u64()),
        (Some("snapshot"), Some(0))
    );
    assert_eq!(snap["data"]["kind"], "greeks");
    assert_eq!(snap["data"]["key"], CALL);
}

#[tokio::test]
async fn minute_snapshots_publish_chain_atm_iv_and_moneyness_topics() {
    let s = server(WsLimits::default()).await;
    // A three-strike chain, both rights, so the strike step, ATM and levels exist.
    let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
    let key = |k: f64, r: OptionRight| {
        InstrumentKey::parse(&format!(
            "NSE:NIFTY-20260224-{k}-{}",
            if r == OptionRight::Call { "CE" } else { "PE" }
        ))
        .unwrap()
    };
    let strikes = [25_900.0, 26_000.0, 26_100.0];
    for k in strikes {
        for r in [OptionRight::Call, OptionRight::Put] {
            s.registry
                .register_option(
                    OptionContract {
                        key: key(k, r),
                        underlying: nifty.clone(),
                        expiry: Utc.with_ymd_and_hms(2026, 2, 24, 10, 0, 0).unwrap(),
                        strike: Strike::new(k).unwrap(),
                        right: r,
                        lot_size: LotSize::new(65).unwrap(),
                        tick_size: 0.05,
                    },
                    "NSE",
                )
                .unwrap();
        }
    }
    let (atm, level, chain) = (
        "atm_iv:NSE:NIFTY:2026-02-24",
        "moneyness:NSE:NIFTY:2026-02-24:ATM",
        "chain:NSE:NIFTY:2026-02-24",
    );
    let mut c = connect(&s.url).await;
    send(
        &mut c,
        json!({"action": "subscribe", "id": "r1", "topics": [atm, level, chain]}),
    )
    .await;
    assert_eq!(next(&mut c).await["accepted"], json!([atm, level, chain]));
    for _ in 0..3 {
        assert_eq!(next(&mut c).await["frame"], "snapshot");
    }
    let ts = now() - Minutes::minutes(29);
    let quote = |k: InstrumentKey, px: f64| Tick {
        key: k,
        ts,
        last: Some(px),
        bid: Some(px - 1.0),
        ask: Some(px + 1.0),
        volume: Some(10.0),
        oi: Some(100.0),
    };
    let mut ticks = vec![quote(nifty.clone(), 26_000.0)];
    for k in strikes {
        ticks.push(quote(key(k, OptionRight::Call), 400.0 - (k - 26_000.0) / 2.0));
        ticks.push(quote(key(k, OptionRight::Put), 400.0 + (k - 26_000.0) / 2.0));
    }
    assert!(s.ingest.execute(&ticks).await.unwrap().rejected.is_empty());
    s.ingest.flush().await.unwrap();
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 3 {
        let u = next(&mut c).await;
        assert_eq!(u["frame"], "update");
        seen.insert(u["topic"].as_str().unwrap().to_owned(), u["data"].clone());
    }
    assert_eq!(seen[atm]["kind"], "atm_iv");
    assert_eq!(seen[atm]["expiry"], "2026-02-24");
    assert!(seen[atm]["atm_iv"]["iv"].as_f64().unwrap() > 0.0, "{}", seen[atm]);
    assert_eq!(seen[level]["kind"], "moneyness_level");
    assert_eq!(seen[level]["level"], "ATM");
    assert!(
        seen[level]["call"]["count"].as_u64() == Some(1) && seen[level]["put"]["count"].as_u64() == Some(1),
        "{}",
        seen[level]
    );
    let ch = &seen[chain];
    assert_eq!(
        (ch["kind"].as_str(), ch["atm_strike"].as_f64()),
        (Some("chain"), Some(26_000.0))
    );
    assert_eq!(ch["strikes"].as_array().unwrap().len(), 3, "{ch}");
    assert!(ch["strikes"][1]["call_iv"].as_f64().unwrap() > 0.0, "{ch}");
    assert_eq!(ch["atm_iv"], seen[atm]["atm_iv"]);
    assert!(ch["forward"]["value"].as_f64().unwrap() > 25_000.0, "{ch}");

    // A new connection opens with the topic's latest update.
    let mut d = subscribed(&s.url, "r2", json!([chain])).await;
    let snap = next(&mut d).await;
    assert_eq!(
        (snap["frame"].as_str(), snap["data"]["kind"].as_str()),
        (Some("snapshot"), Some("chain"))
    );
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

/// `?encoding=msgpack`: every server frame is binary MessagePack with the JSON's maps and names.
/// Prints the bytes of one Greeks update in each encoding (docs/benchmarks.md quotes them).
#[tokio::test]
async fn msgpack_frames_carry_the_same_maps_in_fewer_bytes() {
    let s = server(WsLimits::default()).await;
    assert_eq!(refused_status(format!("{}?encoding=cbor", s.url)).await, 400);
    let topic = format!("greeks:{CALL}");
    let mut json_client = connect(&s.url).await;
    let mut packed = connect(&format!("{}?encoding=msgpack", s.url)).await;
    for c in [&mut json_client, &mut packed] {
        send(c, json!({"action": "subscribe", "id": "r1", "topics": [topic]})).await;
    }
    // Each client's ack and snapshot first, so the tick's update comes after both.
    let (mut binary, mut as_json) = (Vec::new(), Vec::new());
    for (want, ticked) in [(2, false), (3, true)] {
        if ticked {
            tick(&s.ingest, 1).await;
        }
        while binary.len() < want {
            match tokio::time::timeout(Duration::from_secs(5), packed.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
            {
                Message::Binary(b) => binary.push(b),
                other => assert!(!other.is_text(), "no text frames: {other:?}"),
            }
        }
        while as_json.len() < want {
            let msg = tokio::time::timeout(Duration::from_secs(5), json_client.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Message::Text(t) = msg {
                as_json.push(t.to_string());
            }
        }
    }
    let frames: Vec<Value> = binary.iter().map(|b| rmp_serde::from_slice(b).unwrap()).collect();
    assert_eq!(frames[0]["type"], "ack");
    assert_eq!(frames[1]["frame"], "snapshot");
    assert_eq!(frames[2]["frame"], "update");
    assert_eq!(frames[2]["data"]["key"], CALL);
    // Both through the same (not bit-exact) JSON number parser before comparing.
    let json_update: Value = serde_json::from_str(&as_json[2]).unwrap();
    let packed_update: Value = serde_json::from_str(&frames[2].to_string()).unwrap();
    assert_eq!(json_update, packed_update, "the same frame in both encodings");
    let (j, m) = (as_json[2].len(), binary[2].len());
    eprintln!(
        "bytes per greeks update: json {j}, msgpack {m} ({:.0} %)",
        100.0 * m as f64 / j as f64
    );
    assert!(m < j);
}

/// `candles:{key}:1m`: the bar as it forms, then once more as closed when a later minute starts.
#[tokio::test]
async fn one_minute_candles_are_sent_forming_then_closed() {
    let s = server(WsLimits::default()).await;
    let topic = format!("candles:{CALL}:1m");
    let mut c = subscribed(&s.url, "r1", json!([topic])).await;
    assert_eq!(next(&mut c).await["frame"], "snapshot");
    tick_at(&s.ingest, 1, Minutes::seconds(60)).await;
    tick_at(&s.ingest, 2, Minutes::seconds(90)).await;
    tick_at(&s.ingest, 3, Minutes::seconds(125)).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        let u = next(&mut c).await;
        assert_eq!(u["topic"], topic.as_str());
        got.push((
            u["data"]["bar"]["start"].as_str().unwrap().to_owned(),
            u["forming"].as_bool().unwrap(),
            u["data"]["bar"]["close"].as_f64().unwrap(),
        ));
    }
    let (m1, m2) = ("2026-02-02T04:01:00Z", "2026-02-02T04:02:00Z");
    assert_eq!(
        got,
        vec![
            (m1.to_owned(), true, 302.0),
            (m1.to_owned(), true, 303.0),
            (m1.to_owned(), false, 303.0),
            (m2.to_owned(), true, 304.0),
        ]
    );
}

/// `candles:{key}:5m` and an indicator on it, derived from the 1-minute candles: the forming
/// 5-minute bar on every 1-minute update, closed when a later bucket starts, numbered with the
/// 1-minute topic's sequence; the indicator peeks at the forming bar and commits closed ones.
#[tokio::test]
async fn candles_of_any_timeframe_and_indicators_are_derived_from_the_minute_bars() {
    let s = server(WsLimits::default()).await;
    let (five, sma, one) = (
        format!("candles:{CALL}:5m"),
        format!("indicators:{CALL}:sma:2:5m"),
        format!("candles:{CALL}:1m"),
    );
    let mut c = connect(&s.url).await;
    send(
        &mut c,
        json!({"action": "subscribe", "id": "r1", "topics": [five, sma, one, format!("candles:XYZ:FOO:5m")]}),
    )
    .await;
    let ack = next(&mut c).await;
    assert_eq!(ack["accepted"], json!([five, sma, one]));
    assert_eq!(ack["refused"][0]["topic"], "candles:XYZ:FOO:5m");
    assert!(
        ack["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("unknown instrument"),
        "{ack}"
    );
    for _ in 0..3 {
        assert_eq!(next(&mut c).await["frame"], "snapshot");
    }
    assert_eq!(s.derived.topics().len(), 2);
    // 04:00 is the start of a 5-minute bucket (the session opens at 03:45 UTC). Minutes 0, 2
    // and 4 of it, then minute 5, which starts the next bucket.
    for (n, at) in [(0, 10), (2, 130), (4, 250), (5, 305), (6, 370)] {
        tick_at(&s.ingest, n, Minutes::seconds(at)).await;
    }
    let frames = until_quiet(&mut c, 500).await;
    let on = |topic: &str| -> Vec<&Value> { frames.iter().filter(|f| f["topic"] == topic).collect() };
    let seqs = |topic: &str| -> Vec<(u64, u64)> {
        on(topic)
            .iter()
            .map(|f| (f["epoch"].as_u64().unwrap(), f["seq"].as_u64().unwrap()))
            .collect()
    };
    assert!(seqs(&one).len() >= 9, "{frames:#?}");
    assert_eq!(seqs(&five), seqs(&one), "one 5m update per 1m update, numbered alike");
    assert_eq!(seqs(&sma), seqs(&one));
    let bars: Vec<(String, bool, f64)> = on(&five)
        .iter()
        .map(|f| {
            assert_eq!(f["data"]["kind"], "bar");
            (
                f["data"]["bar"]["start"].as_str().unwrap()[11..16].to_owned(),
                f["forming"].as_bool().unwrap(),
                f["data"]["bar"]["close"].as_f64().unwrap(),
            )
        })
        .collect();
    let closed: Vec<_> = bars.iter().filter(|b| !b.1).collect();
    assert_eq!(closed, vec![&("04:00".to_owned(), false, 305.0)], "{bars:?}");
    let last = on(&five).last().copied().unwrap().clone();
    assert_eq!(last["data"]["bar"]["start"], "2026-02-02T04:05:00Z");
    assert_eq!(
        (
            last["forming"].as_bool(),
            last["data"]["bar"]["open"].as_f64(),
            last["data"]["bar"]["close"].as_f64()
        ),
        (Some(true), Some(306.0), Some(307.0))
    );
    let closed_5m = on(&five)
        .iter()
        .find(|f| f["forming"] == false)
        .copied()
        .unwrap()
        .clone();
    assert_eq!(
        (
            closed_5m["data"]["bar"]["open"].as_f64(),
            closed_5m["data"]["bar"]["high"].as_f64()
        ),
        (Some(301.0), Some(305.0))
    );
    // SMA(2): nothing while one bar exists; then the closed 04:00 bar and the forming one.
    let sma_at = |seq: u64| on(&sma).into_iter().find(|f| f["seq"] == seq).unwrap().clone();
    let at_close = sma_at(closed_5m["seq"].as_u64().unwrap());
    assert_eq!(
        (at_close["forming"].as_bool(), at_close["data"]["values"].clone()),
        (Some(false), json!([null]))
    );
    let now = sma_at(last["seq"].as_u64().unwrap());
    assert_eq!(now["data"]["kind"], "indicator");
    assert_eq!(now["data"]["columns"], json!(["sma_2"]));
    assert_eq!(
        (now["forming"].as_bool(), now["data"]["values"].clone()),
        (Some(true), json!([306.0]))
    );

    // A second connection opens with the feeds' state; leaving stops the feeds.
    let mut d = subscribed(&s.url, "r2", json!([sma])).await;
    let snap = next(&mut d).await;
    assert_eq!(
        (snap["frame"].as_str(), snap["seq"].as_u64()),
        (Some("snapshot"), now["seq"].as_u64())
    );
    assert_eq!(snap["data"]["values"], json!([306.0]));
    send(
        &mut c,
        json!({"action": "unsubscribe", "id": "r3", "topics": [five, sma]}),
    )
    .await;
    assert_eq!(next(&mut c).await["accepted"], json!([five, sma]));
    assert_eq!(s.derived.topics(), vec![sma.clone()], "d still follows it");
    drop(d);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(s.derived.topics().is_empty());
}

/// Every frame until none comes for `ms`.
async fn until_quiet(c: &mut Client, ms: u64) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(v) = tokio::time::timeout(Duration::from_millis(ms), next(c)).await {
        out.push(v);
    }
    out
}

/// One client's view in [`bytes_per_update_of_each_delivery_choice`]: wire bytes and frames.
struct Measured {
    name: &'static str,
    client: Client,
    zstd: bool,
    bytes: usize,
    frames: Vec<Value>,
}

impl Measured {
    /// Reads until nothing comes for `ms`, counting payload bytes and decoding the frames
    /// (arrays of frames when batching; zstd-compressed when asked).
    async fn read(&mut self, ms: u64) {
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(ms), self.client.next()).await {
            let (len, value): (usize, Value) = match msg {
                Message::Text(t) => (t.len(), serde_json::from_str(&t).unwrap()),
                Message::Binary(b) => {
                    let plain = if self.zstd {
                        zstd::bulk::decompress(&b, 1 << 22).unwrap()
                    } else {
                        b.to_vec()
                    };
                    let value = match serde_json::from_slice(&plain) {
                        Ok(v) => v,
                        Err(_) => rmp_serde::from_slice(&plain).unwrap(),
                    };
                    (b.len(), value)
                }
                _ => continue,
            };
            self.bytes += len;
            match value {
                Value::Array(frames) => self.frames.extend(frames),
                v => self.frames.push(v),
            }
        }
    }

    fn updates(&self) -> usize {
        self.frames.iter().filter(|f| f["frame"] == "update").count()
    }

    /// The last sequence number seen on each topic.
    fn last_seqs(&self) -> std::collections::BTreeMap<String, u64> {
        self.frames
            .iter()
            .filter(|f| f["frame"] == "update")
            .map(|f| (f["topic"].as_str().unwrap().to_owned(), f["seq"].as_u64().unwrap()))
            .collect()
    }
}

/// Bytes per update of every delivery choice (encoding, batching window, compression), for
/// docs/benchmarks.md: `cargo test -p adapters --test it websocket::bytes_per_update -- --nocapture`.
#[tokio::test]
async fn bytes_per_update_of_each_delivery_choice() {
    let s = server(WsLimits::default()).await;
    assert_eq!(refused_status(format!("{}?batch_ms=5000", s.url)).await, 400);
    assert_eq!(refused_status(format!("{}?compress=br", s.url)).await, 400);
    {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut old_version = s.url.as_str().into_client_request().unwrap();
        old_version
            .headers_mut()
            .insert("sec-websocket-version", "8".parse().unwrap());
        assert_eq!(refused_status(old_version).await, 400, "only version 13 is spoken");
    }
    let topics = json!([
        format!("greeks:{CALL}"),
        format!("candles:{CALL}:1m"),
        "candles:NSE:NIFTY:1m"
    ]);
    let choices = [
        ("json", "", false),
        ("msgpack", "encoding=msgpack", false),
        ("json, zstd", "compress=zstd", true),
        ("json, 50 ms window", "batch_ms=50", false),
        ("msgpack, 50 ms window", "encoding=msgpack&batch_ms=50", false),
        ("json, 50 ms window, zstd", "batch_ms=50&compress=zstd", true),
        (
            "msgpack, 50 ms window, zstd",
            "encoding=msgpack&batch_ms=50&compress=zstd",
            true,
        ),
    ];
    let mut clients = Vec::new();
    for (name, query, zstd) in choices {
        let mut client = connect(&format!("{}?{query}", s.url)).await;
        send(
            &mut client,
            json!({"action": "subscribe", "id": "r1", "topics": topics}),
        )
        .await;
        let mut m = Measured {
            name,
            client,
            zstd,
            bytes: 0,
            frames: Vec::new(),
        };
        m.read(300).await;
        assert_eq!(m.frames[0]["type"], "ack", "{name}");
        assert_eq!(m.frames.len(), 4, "{name}: the ack and three snapshots");
        (m.bytes, m.frames) = (0, Vec::new());
        clients.push(m);
    }
    // 40 ticks, one every 10 ms: each publishes the three topics.
    for n in 0..40 {
        tick_at(&s.ingest, n, Minutes::milliseconds(1500 * n)).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for m in &mut clients {
        m.read(300).await;
    }
    let published = clients[0].updates();
    assert!(published >= 80, "{published}");
    let newest = clients[0].last_seqs();
    let json_per_update = clients[0].bytes as f64 / published as f64;
    eprintln!("{published} updates published on the 3 topics (greeks and two 1-minute candles)");
    eprintln!(
        "| delivery | messages' bytes | updates delivered | bytes per update delivered | bytes per update published |"
    );
    for m in &clients {
        let delivered = m.updates();
        assert_eq!(
            m.last_seqs(),
            newest,
            "{}: the newest of each topic always arrives",
            m.name
        );
        assert!(delivered <= published, "{}", m.name);
        eprintln!(
            "| {} | {} | {} | {:.0} | {:.0} |",
            m.name,
            m.bytes,
            delivered,
            m.bytes as f64 / delivered as f64,
            m.bytes as f64 / published as f64
        );
    }
    let zstd_batched = clients.last().unwrap();
    assert!(
        (zstd_batched.bytes as f64 / published as f64) < json_per_update / 3.0,
        "compressed batches cost a fraction of JSON per update"
    );
}
