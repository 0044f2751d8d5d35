//! The WebSocket handshake (RFC 6455 §4.2), done here rather than by poem's `WebSocket`
//! extractor so the connection is tokio-tungstenite's own stream: its messages hold shared
//! bytes, so one encoded update goes to every connection without a copy per connection
//! (poem's wrapper takes `String` messages).

use poem::http::{HeaderMap, HeaderValue, StatusCode, header};
use poem::{OnUpgrade, Request, Response};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::refuse;

/// True when the comma-separated header `name` lists `token` (case-insensitive).
fn lists(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Checks the upgrade request; the `101 Switching Protocols` answer and the upgrade to await.
///
/// # Errors
/// A 400 JSON error naming the header that is missing or wrong.
pub(super) fn accept(req: &Request) -> Result<(Response, OnUpgrade), Box<Response>> {
    let headers = req.headers();
    let bad =
        |field: &str, message: &str| refuse(StatusCode::BAD_REQUEST, "bad_request", message.to_owned(), Some(field));
    if !lists(headers, header::UPGRADE, "websocket") || !lists(headers, header::CONNECTION, "upgrade") {
        return Err(bad(
            "upgrade",
            "a WebSocket upgrade request is expected (Upgrade: websocket)",
        ));
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        return Err(bad("sec-websocket-version", "Sec-WebSocket-Version must be 13"));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(bad("sec-websocket-key", "Sec-WebSocket-Key is missing"));
    };
    let on_upgrade = req
        .take_upgrade()
        .map_err(|e| bad("upgrade", &format!("this connection cannot be upgraded: {e}")))?;
    let response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes()))
        .finish();
    Ok((response, on_upgrade))
}
