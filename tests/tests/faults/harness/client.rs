//! A raw HTTP/1.1 client, the ingest workload and percentiles.

#![allow(unused_imports)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A free TCP port on 127.0.0.1.
use super::*;

/// An HTTP/1.1 answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Answer {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection (`Connection: close`), within `timeout`.
///
/// # Errors
/// A connection failure, or no whole answer in time.
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> std::io::Result<Answer> {
    tokio::time::timeout(timeout, async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await?;
        if let Some(b) = body {
            s.write_all(b).await?;
        }
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        parse_answer(&raw)
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))?
}

/// Parses a whole HTTP/1.1 answer (a `Content-Length` or a body to the end).
///
/// # Errors
/// Not an HTTP answer.
pub fn parse_answer(raw: &[u8]) -> std::io::Result<Answer> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer");
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let body = match len {
        Some(n) if body.len() >= n => body[..n].to_owned(),
        _ => body.to_owned(),
    };
    Ok(Answer { status, headers, body })
}

/// One option of the workload.
#[derive(Debug, Clone)]
pub struct Opt {
    /// Instrument key.
    pub key: String,
    /// Strike.
    pub strike: f64,
    /// Call or put.
    pub call: bool,
}

/// A NIFTY chain and a market clock: batch `i` is one tick of the index and one of every option,
/// five seconds of market time after batch `i - 1` (so a few hundred batches span many minutes'
/// snapshots), inside a past session.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The options (10 strikes around 26 000, both rights).
    pub options: Vec<Opt>,
    /// Market time of batch 0.
    pub start: DateTime<Utc>,
}

impl Workload {
    /// The nearest NIFTY expiry's 10 strikes nearest 26 000, from the built-in catalogue, on the
    /// last full session before today.
    pub fn nifty() -> Self {
        let out = Command::new(binary())
            .args(["instruments", "--underlying", "NIFTY"])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let rows: Vec<Vec<String>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect();
        let expiry = rows.iter().map(|r| r[2].clone()).min().unwrap();
        let mut options: Vec<Opt> = rows
            .iter()
            .filter(|r| r[2] == expiry)
            .map(|r| Opt {
                key: r[0].clone(),
                strike: r[3].parse().unwrap(),
                call: r[4] == "call",
            })
            .filter(|o| (o.strike - 26_000.0).abs() <= 250.0)
            .collect();
        options.sort_by(|a, b| a.key.cmp(&b.key));
        assert!(options.len() >= 10, "{options:?}");
        let m = domain::instrument::Market::nse();
        #[allow(clippy::disallowed_methods)] // the service judges times by the wall clock
        let mut d = m.local_date(Utc::now());
        let session = loop {
            d = d.pred_opt().unwrap();
            if let Some(s) = m.session_on(d) {
                break s;
            }
        };
        Self {
            options,
            start: session.open + chrono::Duration::minutes(5),
        }
    }

    /// Market time of batch `i`.
    pub fn ts(&self, i: usize) -> DateTime<Utc> {
        self.start + chrono::Duration::seconds(5 * i as i64)
    }

    /// The minute (epoch ms) batch `i` falls in.
    pub fn minute_ms(&self, i: usize) -> i64 {
        let ms = self.ts(i).timestamp_millis();
        ms - ms.rem_euclid(60_000)
    }

    /// Batch `i` as a JSON body.
    pub fn batch(&self, i: usize) -> Vec<u8> {
        let ts = self.ts(i).to_rfc3339();
        let spot = 26_000.0 + 20.0 * ((i as f64) / 30.0).sin();
        let mut rows = vec![serde_json::json!({"key": "NSE:NIFTY", "ts": ts, "last": spot})];
        for o in &self.options {
            let intrinsic = if o.call { spot - o.strike } else { o.strike - spot }.max(0.0);
            let price = (intrinsic + 40.0 + (i % 7) as f64 * 0.05).max(0.05);
            rows.push(
                serde_json::json!({"key": o.key, "ts": ts, "last": (price * 20.0).round() / 20.0, "oi": 1000 + i}),
            );
        }
        serde_json::to_vec(&rows).unwrap()
    }
}

/// One ingest request of batch `i`: its answer or the failure, and how long it took.
pub async fn ingest(port: u16, w: &Workload, i: usize) -> (Result<Answer, std::io::Error>, Duration) {
    let body = w.batch(i);
    let started = Instant::now();
    let r = request(
        port,
        "POST",
        "/api/v2/ingest/ticks",
        &[("Content-Type", "application/json"), ("X-API-Key", KEY)],
        Some(&body),
        Duration::from_secs(30),
    )
    .await;
    (r, started.elapsed())
}

/// The `p`-th percentile (0–100) of `samples`.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut v = samples.to_vec();
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Scenarios run one at a time: each measures time and memory, which neighbours would disturb.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
