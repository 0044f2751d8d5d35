//! Connection failures in a person's words: which host, and why — it refused, it did not answer
//! in time, or its name does not resolve — instead of a driver's `pool timed out` or a client
//! library's `An error occured while creating a new object`.
//!
//! [`probe`] opens (and drops) one TCP connection within a timeout before a driver is handed the
//! URL: drivers retry a refused connection until their own timeout and then report only that
//! time ran out. [`cause`] reads an error chain for the I/O kind underneath.

use std::io::ErrorKind;
use std::time::Duration;

use surf::Url;

/// `host:port` of `url` (no user, password, path or query), the port defaulted to `default_port`;
/// `None` when the URL has no host (a Unix socket, SQLite).
#[must_use]
pub fn endpoint(url: &Url, default_port: u16) -> Option<String> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(format!("{host}:{}", url.port().unwrap_or(default_port)))
}

/// Why `err` (or an error it wraps) failed to connect, in plain words.
#[must_use]
pub fn cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(words) = io_words(io)
        {
            return words;
        }
        next = e.source();
    }
    words_of_text(&err.to_string())
}

/// As [`cause`], from an error's text alone (some clients keep only that).
#[must_use]
pub fn words_of_text(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if lower.contains("connection refused") {
        "connection refused: nothing listens on that port".to_owned()
    } else if lower.contains("timed out") || lower.contains("timeout") {
        "no answer in time".to_owned()
    } else if lower.contains("lookup") || lower.contains("name or service not known") || lower.contains("dns") {
        "the host name does not resolve".to_owned()
    } else if lower.contains("connection reset") {
        "the connection was reset".to_owned()
    } else {
        text.to_owned()
    }
}

fn io_words(io: &std::io::Error) -> Option<String> {
    Some(match io.kind() {
        ErrorKind::ConnectionRefused => "connection refused: nothing listens on that port".to_owned(),
        ErrorKind::TimedOut => "no answer in time".to_owned(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => "the connection was reset".to_owned(),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => "the host is unreachable".to_owned(),
        _ => return None,
    })
}

/// Opens one TCP connection to `endpoint` (`host:port`) within `timeout`.
///
/// # Errors
/// `{endpoint}: {why}` — the name does not resolve, the connection is refused, or nothing
/// answered within `timeout`.
pub async fn probe(endpoint: &str, timeout: Duration) -> Result<(), String> {
    let attempt = async {
        let addrs: Vec<_> = tokio::net::lookup_host(endpoint)
            .await
            .map_err(|e| format!("{endpoint}: the host name does not resolve ({e})"))?
            .collect();
        let mut last = format!("{endpoint}: the host name resolves to no address");
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(_) => return Ok(()),
                Err(e) => last = format!("{endpoint}: {}", io_words(&e).unwrap_or_else(|| e.to_string())),
            }
        }
        Err(last)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("{endpoint}: no answer within {} ms", timeout.as_millis())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_refused_and_a_bad_name_does_not_resolve() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let e = probe(&closed.to_string(), Duration::from_secs(2)).await.unwrap_err();
        assert_eq!(e, format!("{closed}: connection refused: nothing listens on that port"));
        let e = probe("nosuchhost.invalid:5432", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(
            e.starts_with("nosuchhost.invalid:5432: the host name does not resolve"),
            "{e}"
        );
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe(&open.local_addr().unwrap().to_string(), Duration::from_secs(2))
            .await
            .unwrap();
    }

    #[test]
    fn endpoints_leave_credentials_out() {
        let u: Url = "postgres://root:secret@db.example:6543/test?sslmode=disable"
            .parse()
            .unwrap();
        assert_eq!(endpoint(&u, 5432).as_deref(), Some("db.example:6543"));
        let u: Url = "postgres://root@localhost/test".parse().unwrap();
        assert_eq!(endpoint(&u, 5432).as_deref(), Some("localhost:5432"));
    }
}
