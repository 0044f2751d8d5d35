//! `ws-bare`: a bare tokio-tungstenite broadcast server, the yardstick `ws-load` measures the
//! service against on the same machine with the same load.
//!
//! It speaks just enough of the service's surface for `ws-load --server target/release/ws-bare`:
//! - `GET /api/v2/instruments/NSE:NIFTY/chain`: a synthetic chain of 200 strikes (the keys only);
//! - the WebSocket upgrade: a `subscribe` gets an ack and one snapshot frame per topic;
//! - `POST /api/v2/ingest/ticks`: every quoted option's topic `greeks:{key}` gets one update
//!   frame with the next `seq`, of the size of the service's Greeks update (≈ 490 bytes), sent to
//!   each subscriber's bounded queue before the answer.
//!
//! Nothing else: no pricing, no storage, no snapshots, no history, no pings, no slow-consumer
//! policy. Like the service it sets `TCP_NODELAY`, reads with a 4 KiB buffer, runs one task per
//! connection and shares each frame's bytes across connections. A full queue drops the frame, and
//! `ws-load` counts it lost.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Frames a connection may have queued before the next is dropped.
const QUEUE_FRAMES: usize = 1024;
/// The one epoch of every topic.
const EPOCH: u64 = 1_764_000_000_000;

/// A topic's subscribers and its last sequence number.
#[derive(Default)]
struct Topic {
    seq: u64,
    subscribers: Vec<mpsc::Sender<Utf8Bytes>>,
}

/// Topics by name; frames dropped on a full queue.
#[derive(Default)]
struct Hub {
    topics: Mutex<HashMap<String, Topic>>,
    dropped: AtomicUsize,
}

/// A Greeks-shaped body, so the frames are the size of the service's.
const DATA: &str = r#"{"kind":"greeks","iv":0.150213,"greeks":{"delta":0.523411,"gamma":0.000412,"theta_per_day":-12.3456,"vega_per_vol_point":8.7654,"rho_per_rate_point":1.2345},"price":{"model":"black76","forward":26012.5,"rate":0.065,"time_to_expiry_years":0.0191781,"mid":123.45,"bid":122.95,"ask":123.95,"last":123.45,"volume":10,"oi":1000}}"#;

fn frame(kind: &str, topic: &str, seq: u64, ts: &str) -> Utf8Bytes {
    format!(
        r#"{{"type":"data","frame":"{kind}","topic":"{topic}","epoch":{EPOCH},"seq":{seq},"source_ts":"{ts}","forming":false,"data":{DATA}}}"#
    )
    .into()
}

impl Hub {
    /// Sends each option tick's update to its topic's subscribers; returns the ticks taken.
    fn publish(&self, ticks: &[Value]) -> usize {
        let mut topics = self.topics.lock().expect("hub lock");
        for tick in ticks.iter().filter(|t| t.get("bid").is_some()) {
            let (Some(key), Some(ts)) = (tick["key"].as_str(), tick["ts"].as_str()) else {
                continue;
            };
            let name = format!("greeks:{key}");
            let topic = topics.entry(name.clone()).or_default();
            topic.seq += 1;
            let frame = frame("update", &name, topic.seq, ts);
            topic.subscribers.retain(|tx| match tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
        ticks.len()
    }
}

fn chain() -> Value {
    let strikes: Vec<Value> = (0..200)
        .map(|i| {
            let k = 20_000 + 50 * i;
            json!({"strike": k, "call": {"key": format!("NSE:NIFTY-BARE-{k}-CE")}, "put": {"key": format!("NSE:NIFTY-BARE-{k}-PE")}})
        })
        .collect();
    json!({"strikes": strikes})
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let hub: &'static Hub = Box::leak(Box::default());
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            if let Err(e) = serve(hub, stream).await {
                eprintln!("connection: {e}");
            }
        });
    }
}

/// HTTP/1.1 requests on one connection until it closes or upgrades.
async fn serve(hub: &'static Hub, stream: TcpStream) -> Result<(), Failure> {
    let mut io = BufReader::new(stream);
    loop {
        let mut request = String::new();
        if io.read_line(&mut request).await? == 0 {
            return Ok(());
        }
        let (mut length, mut key) = (0usize, None);
        loop {
            let mut line = String::new();
            io.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse()?;
                } else if k.eq_ignore_ascii_case("sec-websocket-key") {
                    key = Some(v.trim().to_owned());
                }
            }
        }
        if let Some(key) = key {
            let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            io.get_mut().write_all(response.as_bytes()).await?;
            let mut config = WebSocketConfig::default();
            config.read_buffer_size = 4 * 1024;
            config.write_buffer_size = 16 * 1024;
            let ws = WebSocketStream::from_raw_socket(io.into_inner(), Role::Server, Some(config)).await;
            return websocket(hub, ws).await;
        }
        let mut body = vec![0; length];
        io.read_exact(&mut body).await?;
        let answer = if request.starts_with("POST /api/v2/ingest/ticks") {
            let ticks: Vec<Value> = serde_json::from_slice(&body)?;
            json!({"accepted": hub.publish(&ticks), "rejected": []})
        } else if request.starts_with("GET /api/v2/instruments/NSE:NIFTY/chain") {
            chain()
        } else {
            json!({"error": "not found"})
        }
        .to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        io.get_mut().write_all(response.as_bytes()).await?;
    }
}

/// One task per connection: subscribe requests in, queued frames out (one flush per drain).
async fn websocket(hub: &'static Hub, mut ws: WebSocketStream<TcpStream>) -> Result<(), Failure> {
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(QUEUE_FRAMES);
    loop {
        tokio::select! {
            msg = ws.next() => {
                let Some(msg) = msg else { return Ok(()) };
                let Message::Text(text) = msg? else { continue };
                let request: Value = serde_json::from_str(&text)?;
                let topics: Vec<String> = request["topics"]
                    .as_array()
                    .map(|t| t.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                let mut frames = vec![Utf8Bytes::from(
                    json!({"type": "ack", "id": request["id"], "action": "subscribe", "accepted": topics, "refused": []})
                        .to_string(),
                )];
                {
                    let mut all = hub.topics.lock().expect("hub lock");
                    for name in &topics {
                        let topic = all.entry(name.clone()).or_default();
                        topic.subscribers.push(tx.clone());
                        frames.push(frame("snapshot", name, topic.seq, "2026-11-24T04:00:00Z"));
                    }
                }
                for f in frames {
                    ws.feed(Message::Text(f)).await?;
                }
                ws.flush().await?;
            }
            Some(first) = rx.recv() => {
                ws.feed(Message::Text(first)).await?;
                while let Ok(next) = rx.try_recv() {
                    ws.feed(Message::Text(next)).await?;
                }
                ws.flush().await?;
            }
        }
    }
}
