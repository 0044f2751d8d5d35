//! A real HTTP/1.1 server on 127.0.0.1:0 that answers scripted responses per path prefix: the
//! instrument service as the adapter tests and the binary's tests meet it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// Response body (JSON).
    pub body: String,
    /// How long to wait before answering.
    pub delay: Duration,
}

impl Answer {
    /// A 200 with this JSON body.
    pub fn json(body: &str) -> Self {
        Self {
            status: 200,
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }
    /// This status with a small JSON error body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: format!("{{\"error\":\"status {status}\"}}"),
            delay: Duration::ZERO,
        }
    }
    /// The same answer, `d` later.
    #[must_use]
    pub fn slow(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

/// Reads a recorded answer from `adapters/tests/fixtures/instrument_service`.
pub fn recorded(name: &str) -> Answer {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../adapters/tests/fixtures/instrument_service")
        .join(name);
    Answer::json(&std::fs::read_to_string(p).unwrap())
}

#[derive(Default)]
struct State {
    routes: Vec<(String, Answer)>,
    hits: HashMap<String, usize>,
}

/// The running server.
#[derive(Clone)]
pub struct FakeServer {
    /// `http://127.0.0.1:<port>/`.
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl FakeServer {
    /// Binds 127.0.0.1:0 and serves on the current tokio runtime; 404 until routes are added.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let state: Arc<Mutex<State>> = Arc::default();
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 2048];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let answer = {
                        let mut s = st.lock().unwrap();
                        *s.hits.entry(path.clone()).or_default() += 1;
                        s.routes
                            .iter()
                            .rev()
                            .find(|(p, _)| path.starts_with(p.as_str()))
                            .map(|(_, a)| a.clone())
                    }
                    .unwrap_or_else(|| Answer::status(404));
                    tokio::time::sleep(answer.delay).await;
                    let resp = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        answer.status,
                        answer.body.len(),
                        answer.body
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self { base, state }
    }

    /// Answers requests whose path starts with `prefix` (the latest matching route wins).
    pub fn route(&self, prefix: &str, answer: Answer) {
        self.state.lock().unwrap().routes.push((prefix.to_owned(), answer));
    }

    /// Requests seen whose path starts with `prefix`.
    pub fn hits(&self, prefix: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}
