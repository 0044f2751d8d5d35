//! The TCP acceptor the server runs on: every accepted socket gets `TCP_NODELAY`, so small
//! answers (most of this API) leave at once instead of waiting on Nagle's algorithm for the
//! client's delayed ACK (up to 40 ms on Linux).

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::net::{TcpListener, TcpStream};

/// Accepts TCP connections with `TCP_NODELAY` set.
pub struct NoDelayAcceptor {
    local_addr: LocalAddr,
    listener: TcpListener,
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
        })
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
        let (io, addr) = self.listener.accept().await?;
        io.set_nodelay(true)?;
        Ok((io, self.local_addr.clone(), RemoteAddr(addr.into()), Scheme::HTTP))
    }
}
