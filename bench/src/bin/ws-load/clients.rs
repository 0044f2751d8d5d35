//! The subscribing clients, the ingest connection, and the latency summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::Failure;

/// What one connection saw.
#[derive(Default)]
pub(crate) struct Seen {
    /// (batch, latency in µs) of each update received.
    pub(crate) latencies_us: Vec<(usize, u64)>,
    pub(crate) received: usize,
    pub(crate) out_of_range: usize,
    pub(crate) closed_by_server: bool,
}

/// Which batch carried an update: `batch_of(option index, seq)`.
#[derive(Clone, Copy)]
pub(crate) struct Schedule {
    /// Options in the pool.
    pub(crate) options: usize,
    /// Options per batch.
    pub(crate) per_batch: usize,
}

impl Schedule {
    /// The batch whose tick of option `i` produced its update `seq` (from 1).
    pub(crate) fn batch_of(self, i: usize, seq: u64) -> usize {
        let rounds = self.options / self.per_batch;
        (seq.saturating_sub(1) as usize) * rounds + i / self.per_batch
    }

    /// The options batch `j` ticks.
    pub(crate) fn options_in(self, j: usize) -> std::ops::Range<usize> {
        let first = (j * self.per_batch) % self.options;
        first..first + self.per_batch
    }
}

pub(crate) async fn subscriber(
    url: String,
    topics: Vec<(usize, String)>,
    schedule: Schedule,
    reads: bool,
    sent: Arc<Vec<std::sync::OnceLock<Instant>>>,
    ready: Arc<AtomicUsize>,
    done: Arc<tokio::sync::Notify>,
) -> Result<Seen, Failure> {
    // A small read buffer, as the server's: tungstenite clears its whole read chunk (128 KiB by
    // default) before every read, which would make this generator the bottleneck.
    let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    config.read_buffer_size = 4 * 1024;
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true).await?;
    let names: Vec<&String> = topics.iter().map(|(_, t)| t).collect();
    // As they appear in a frame: `"topic":"greeks:…"`.
    let quoted: Vec<(usize, String)> = topics.iter().map(|(i, t)| (*i, format!("\"{t}\""))).collect();
    ws.send(Message::Text(
        json!({"action": "subscribe", "id": "s", "topics": names})
            .to_string()
            .into(),
    ))
    .await?;
    // The ack and one snapshot per topic.
    let mut opening = 0;
    while opening < 1 + topics.len() {
        if let Some(Message::Text(_)) = ws.next().await.transpose()? {
            opening += 1;
        }
    }
    ready.fetch_add(1, Ordering::SeqCst);
    let mut seen = Seen::default();
    if !reads {
        done.notified().await;
        // Whatever the server did meanwhile: did it close us?
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(200), ws.next()).await {
            match msg {
                Ok(Message::Close(_)) | Err(_) => {
                    seen.closed_by_server = true;
                    break;
                }
                _ => {}
            }
        }
        return Ok(seen);
    }
    loop {
        let msg = tokio::select! {
            msg = ws.next() => msg,
            () = done.notified() => break,
        };
        let Some(msg) = msg else { break };
        let at = Instant::now();
        match msg? {
            // Read only what is needed (a full JSON parse per frame would make this generator,
            // which shares the machine with the server, the bottleneck).
            // The fields needed come first (`type`, `frame`, `topic`, `epoch`, `seq`).
            Message::Text(t) if head(&t).contains(r#""frame":"update""#) => {
                seen.received += 1;
                let head = head(&t);
                let option = quoted
                    .iter()
                    .find(|(_, name)| head.contains(name.as_str()))
                    .map_or(usize::MAX, |(i, _)| *i);
                let batch = schedule.batch_of(option, seq_of(head).unwrap_or(0));
                match sent.get(batch).and_then(|s| s.get()) {
                    Some(t0) => seen
                        .latencies_us
                        .push((batch, at.duration_since(*t0).as_micros() as u64)),
                    None => seen.out_of_range += 1,
                }
            }
            Message::Close(_) => {
                seen.closed_by_server = true;
                break;
            }
            _ => {}
        }
    }
    Ok(seen)
}

/// A keep-alive HTTP/1.1 connection to the service with `TCP_NODELAY` (an HTTP client that
/// writes headers and body separately without it waits ~40 ms on the server's delayed ACK,
/// which would be measured as latency).
pub(crate) struct Ingest {
    pub(crate) stream: tokio::io::BufStream<tokio::net::TcpStream>,
    pub(crate) port: u16,
}

impl Ingest {
    pub(crate) async fn connect(port: u16) -> Result<Self, Failure> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: tokio::io::BufStream::new(stream),
            port,
        })
    }

    /// POSTs `body` as JSON to `path`; returns the answer's JSON.
    pub(crate) async fn post(&mut self, path: &str, body: &Value) -> Result<Value, Failure> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let body = body.to_string();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await?;
        self.stream.flush().await?;
        let mut length = 0usize;
        let mut status = String::new();
        self.stream.read_line(&mut status).await?;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse()?;
            }
        }
        let mut answer = vec![0; length];
        self.stream.read_exact(&mut answer).await?;
        if !status.contains(" 200 ") {
            return Err(format!("{}: {}", status.trim(), String::from_utf8_lossy(&answer)).into());
        }
        Ok(serde_json::from_slice(&answer)?)
    }
}

/// The start of a frame, where its envelope fields are.
pub(crate) fn head(frame: &str) -> &str {
    let mut end = frame.len().min(200);
    while !frame.is_char_boundary(end) {
        end -= 1;
    }
    &frame[..end]
}

/// The `"seq":N` of a data frame.
pub(crate) fn seq_of(frame: &str) -> Option<u64> {
    let rest = &frame[frame.find(r#""seq":"#)? + 6..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?].parse().ok()
}

pub(crate) fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// `p50 …, p99 …, max …` of sorted durations in µs, printed in ms.
pub(crate) fn summary(sorted: &[u64]) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(sorted, 0.5),
        pct(sorted, 0.99),
        sorted.last().map_or(f64::NAN, |v| *v as f64 / 1000.0)
    )
}
