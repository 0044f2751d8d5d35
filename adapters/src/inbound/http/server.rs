//! The HTTP/1.1 connection loop: hyper serves each connection, poem answers each request.
//!
//! poem's own server has no header-read timeout and no connection cap, so a client that sends
//! half a request head, or opens sockets and says nothing, holds them for ever. Here:
//! - each connection must deliver a whole request head within `header_read_timeout` of opening
//!   and of its previous answer (hyper's timer; it is also the keep-alive idle time), else it is
//!   closed;
//! - at most `max_connections` are open at once; one more is closed as soon as it is accepted
//!   (counted and logged, at most once a second), so the process never runs out of descriptors
//!   and `/health/live` keeps answering;
//! - on shutdown, accepting stops, every connection finishes the request it is serving (one
//!   accepted just before, whose request has not been read yet, gets 300 ms for it to start)
//!   and closes, and stragglers are dropped after `shutdown_timeout`.
//!
//! Upgraded connections (WebSocket) leave this loop once upgraded; their cap and their own
//! timeouts (pings, the lag bound) are the subscription layer's (`websocket/`). Request bodies'
//! size and read timeout are checked per request ([`super::guard`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::listener::Acceptor;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Request, Response};
use tokio::sync::{Semaphore, watch};

use super::listener::NoDelayAcceptor;

/// On shutdown, how long a connection that has not started a request yet gets to start one.
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(300);

/// The connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Longest wait for a whole request head (from opening, or from the previous answer).
    pub header_read_timeout: Duration,
    /// How long requests in flight get to finish once shutdown starts.
    pub shutdown_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 20_000,
            header_read_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `ep` on `acceptor` until `shutdown` resolves, then drains (see the module's doc).
///
/// # Errors
/// An accept failure other than running out of descriptors (which backs off).
pub async fn serve<E>(
    mut acceptor: NoDelayAcceptor,
    ep: E,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let ep = Arc::new(ep.into_endpoint().map_to_response().boxed());
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    let refused = AtomicU64::new(0);
    let mut last_refusal_log: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = acceptor.accept() => a?,
        };
        let (io, local, remote, scheme) = accepted;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(io);
            let n = refused.fetch_add(1, Ordering::Relaxed) + 1;
            if last_refusal_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                last_refusal_log = Some(tokio::time::Instant::now());
                tracing::warn!(
                    max_connections = max,
                    refused_total = n,
                    "connection refused: server.max_connections are open"
                );
            }
            continue;
        };
        let ep = ep.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _slot = permit;
            // Whether a request has started on this connection (see the shutdown below).
            let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let seen = started.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                seen.store(true, Ordering::Relaxed);
                let ep = ep.clone();
                let req = Request::from((req, local.clone(), remote.clone(), scheme.clone()));
                async move {
                    let resp: Response = ep.get_response(req).await;
                    Ok::<_, Infallible>(hyper::Response::from(resp))
                }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = &mut conn => {}
                () = async { let _ = stop.wait_for(|s| *s).await; } => {
                    // A connection accepted just before the stop may not have had its request
                    // read yet: closing it now would drop a request its client already sent.
                    // It gets a moment for the request to start (then it is answered).
                    if !started.load(Ordering::Relaxed) {
                        tokio::select! {
                            _ = &mut conn => return,
                            () = tokio::time::sleep(FIRST_REQUEST_GRACE) => {}
                        }
                    }
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(acceptor);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it is done: all slots back means all are closed.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_timeout, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = max - slots.available_permits(),
            "connections still open at the end of the shutdown timeout are dropped"
        );
    }
    Ok(())
}
