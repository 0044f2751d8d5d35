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
use application::subscriptions::{DerivedFeeds, SnapshotSource, SubscriptionHub, TopicListing};
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

pub(super) type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(super) struct Server {
    _db: Option<FreshDatabase>,
    ws: WsContext,
    derived: Arc<DerivedFeeds>,
    ingest: Arc<IngestTicks>,
    registry: Arc<application::market::InstrumentRegistry>,
    url: String,
}

pub(super) async fn server(limits: WsLimits) -> Server {
    server_with(limits, None).await
}

/// The HTTP status a refused upgrade answered with (panics when the upgrade succeeded).
pub(super) async fn refused_status(req: impl tokio_tungstenite::tungstenite::client::IntoClientRequest + Unpin) -> u16 {
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
pub(super) struct Slot(std::sync::OnceLock<Arc<dyn UpdateSink>>);

impl UpdateSink for Slot {
    fn deliver(&self, update: TopicUpdate) {
        if let Some(sink) = self.0.get() {
            sink.deliver(update);
        }
    }
}

/// [`server`] with accepted sockets' send buffers capped at `send_buffer` bytes. The fan-out
/// delivers to the derived feeds, and they to the hub, as in the service.
pub(super) async fn server_with(limits: WsLimits, send_buffer: Option<usize>) -> Server {
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
pub(super) async fn serve(
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
pub(super) async fn serve_ctx(
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
        .with_clock(pipeline.clock.clone())
        .with_tokens(&tokens.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())
        .with_snapshots(Some(pipeline.state.clone() as Arc<dyn SnapshotSource>))
        .with_listing(Some(TopicListing::new(pipeline.registry.clone())))
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

pub(super) async fn connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// A client connected to `url` and subscribed to `topics` (request `id`), its ack read.
pub(super) async fn subscribed(url: &str, id: &str, topics: Value) -> Client {
    let mut c = connect(url).await;
    send(&mut c, json!({"action": "subscribe", "id": id, "topics": topics})).await;
    assert_eq!(next(&mut c).await["type"], "ack");
    c
}

pub(super) async fn send(c: &mut Client, v: Value) {
    c.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next text frame as JSON (pings are answered by the client library).
pub(super) async fn next(c: &mut Client) -> Value {
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
pub(super) async fn quiet(c: &mut Client, ms: u64) -> bool {
    tokio::time::timeout(Duration::from_millis(ms), next(c)).await.is_err()
}

/// Ticks the index and the call at minute `m` after 09:30 IST (the call's bid moves with `m`).
pub(super) async fn tick(ingest: &IngestTicks, m: i64) {
    tick_at(ingest, m, Minutes::minutes(m)).await;
}

/// Ticks the index and the call `after` 09:30 IST, the call's bid moving with `n`.
pub(super) async fn tick_at(ingest: &IngestTicks, n: i64, after: Minutes) {
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

/// Every frame until none comes for `ms`.
pub(super) async fn until_quiet(c: &mut Client, ms: u64) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(v) = tokio::time::timeout(Duration::from_millis(ms), next(c)).await {
        out.push(v);
    }
    out
}

/// `GET path` on the server's HTTP side, the answer's status and JSON body.
pub(super) async fn http_get(ws_url: &str, path: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = ws_url.trim_start_matches("ws://").split('/').next().unwrap().to_owned();
    let mut conn = tokio::net::TcpStream::connect(&host).await.unwrap();
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
        "{head}"
    );
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

mod delivery;
mod fanout;
mod session;
mod vocabulary;
