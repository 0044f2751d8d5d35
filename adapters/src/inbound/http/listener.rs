//! The TCP acceptor the server runs on: every accepted socket gets `TCP_NODELAY`, so small
//! answers (most of this API) leave at once instead of waiting on Nagle's algorithm for the
//! client's delayed ACK (up to 40 ms on Linux), and optionally a capped send buffer
//! (`SO_SNDBUF`), so a WebSocket client that stops reading blocks the server's writes soon
//! enough for its lag bound to act, instead of the kernel queueing megabytes for it. Accepting
//! backs off while descriptors run out instead of spinning.

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::net::{TcpListener, TcpStream};

/// Accepts TCP connections with `TCP_NODELAY` set.
pub struct NoDelayAcceptor {
    local_addr: LocalAddr,
    listener: TcpListener,
    send_buffer_bytes: Option<usize>,
}

impl NoDelayAcceptor {
    /// Binds `addr` (`host:port`; port 0 picks a free one).
    ///
    /// # Errors
    /// The bind failure.
    pub async fn bind(addr: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self {
            local_addr: LocalAddr(listener.local_addr()?.into()),
            listener,
            send_buffer_bytes: None,
        })
    }

    /// Caps each accepted socket's send buffer at `bytes` (Linux doubles the figure for its
    /// bookkeeping); `None` leaves the kernel's auto-tuning.
    #[must_use]
    pub fn with_send_buffer(mut self, bytes: Option<usize>) -> Self {
        self.send_buffer_bytes = bytes;
        self
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.local_addr.as_socket_addr().map_or(0, std::net::SocketAddr::port)
    }
}

impl Acceptor for NoDelayAcceptor {
    type Io = TcpStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        vec![self.local_addr.clone()]
    }

    async fn accept(&mut self) -> std::io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, addr) = accept_with_backoff(&self.listener).await?;
        io.set_nodelay(true)?;
        if let Some(bytes) = self.send_buffer_bytes {
            socket2::SockRef::from(&io).set_send_buffer_size(bytes)?;
        }
        Ok((io, self.local_addr.clone(), RemoteAddr(addr.into()), Scheme::HTTP))
    }
}

/// Accepts the next connection. When descriptors or memory run out (`EMFILE`, `ENFILE`,
/// `ENOBUFS`, `ENOMEM`) the pending connection stays in the backlog and `accept` fails at once,
/// every time: retrying in a loop spins a core at 100 % (as poem's own loop does). Here each
/// such failure waits, 10 ms doubling to 1 s, until a descriptor is free again. A connection
/// aborted before it was accepted is skipped.
///
/// # Errors
/// Any other accept failure.
async fn accept_with_backoff(listener: &TcpListener) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    let mut wait = std::time::Duration::from_millis(10);
    loop {
        match listener.accept().await {
            Ok(accepted) => return Ok(accepted),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => {}
            Err(e) if matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) => {
                tracing::warn!(error = %e, wait_ms = wait.as_millis(), "accept failed for lack of resources; backing off");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(1));
            }
            Err(e) => return Err(e),
        }
    }
}
