//! Load tools for the signal service, kept out of the product crate so that `bootstrap` depends
//! on no WebSocket client.
//!
//! - `ws-load` (`src/bin/ws-load.rs`): starts `signal-service serve`, opens N WebSocket
//!   connections, drives ingest and measures delivery latency, loss and memory.
//! - `ws-bare` (`src/bin/ws-bare.rs`): a bare tokio-tungstenite broadcast server, the yardstick
//!   `ws-load --server target/release/ws-bare` measures the service against.
//!
//! Build with `cargo build --release -p bench -p bootstrap`; the figures live in
//! `docs/benchmarks.md`.
