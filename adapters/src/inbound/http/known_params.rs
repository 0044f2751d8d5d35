//! Unknown query parameters are refused, on every operation of the API: a misspelt `form=` or
//! `limt=` silently ignored would answer a different question than the one asked.
//!
//! The parameters each operation takes are read from the OpenAPI document itself (one source of
//! truth: what the document lists is what is accepted). A request to `/api/v2/…` whose path
//! and method match an operation, carrying a query parameter that operation does not list, is
//! answered 400 naming the parameter and listing the ones it takes. Paths that match no
//! operation are left to the router (404).

use std::collections::BTreeSet;

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::spec_routes::SpecRoutes;

/// The query parameters of each operation.
#[derive(Debug, Clone, Default)]
pub struct KnownParams(SpecRoutes<BTreeSet<String>>);

impl KnownParams {
    /// Reads the operations of `spec` (an OpenAPI 3 document as JSON) served under `prefix`
    /// (`/api/v2`).
    #[must_use]
    pub fn from_spec(spec: &str, prefix: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        Self(SpecRoutes::from_doc(&doc, prefix, |_, op| {
            Some(
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect(),
            )
        }))
    }

    /// The first query parameter of `req` its operation does not take, with the refusal.
    fn check(&self, req: &Request) -> Option<Response> {
        let query = req.uri().query()?;
        let op = self.0.find(req.method().as_str(), req.uri().path())?;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let raw = pair.split_once('=').map_or(pair, |(k, _)| k);
            let name = percent_decode(raw);
            if !op.data.contains(&name) {
                let takes = if op.data.is_empty() {
                    "no query parameters".to_owned()
                } else {
                    op.data.iter().cloned().collect::<Vec<_>>().join(", ")
                };
                let shown: String = name.chars().take(64).collect();
                let body = serde_json::json!({
                    "code": "bad_request",
                    "message": format!("unknown query parameter '{shown}'; {} {} takes {takes}", op.method, op.template),
                    "field": shown,
                });
                return Some(
                    poem::web::Json(body)
                        .with_status(StatusCode::BAD_REQUEST)
                        .into_response(),
                );
            }
        }
        None
    }
}

/// `%XX` escapes and `+` decoded (lossily: a name that is not UTF-8 is unknown anyway).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The middleware.
#[derive(Debug, Clone)]
pub struct RefuseUnknownParams(pub KnownParams);

impl<E: Endpoint> Middleware<E> for RefuseUnknownParams {
    type Output = RefuseUnknownParamsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RefuseUnknownParamsEndpoint {
            inner: ep,
            known: self.0.clone(),
        }
    }
}

/// An endpoint behind [`RefuseUnknownParams`].
pub struct RefuseUnknownParamsEndpoint<E> {
    inner: E,
    known: KnownParams,
}

impl<E: Endpoint> Endpoint for RefuseUnknownParamsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if let Some(refusal) = self.known.check(&req) {
            return Ok(refusal);
        }
        Ok(self.inner.call(req).await?.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"{"paths": {
        "/instruments/underlyings": {"get": {}},
        "/instruments/{underlying}/chain": {"get": {"parameters": [{"name": "expiry", "in": "query"}]}},
        "/realtime/greeks/{instrument_key}": {"get": {"parameters": [{"name": "instrument_key", "in": "path"}]}}
    }}"#;

    fn refusal(uri: &str) -> Option<String> {
        let k = KnownParams::from_spec(SPEC, "/api/v2");
        let req = Request::builder().uri(uri.parse().unwrap()).finish();
        k.check(&req).map(|r| r.status().to_string())
    }

    #[test]
    fn unknown_parameters_are_refused_naming_them_known_ones_pass() {
        assert_eq!(refusal("/api/v2/instruments/NSE:NIFTY/chain?expiry=2026-12-08"), None);
        assert_eq!(
            refusal("/api/v2/instruments/NSE:NIFTY/chain?expiry=2026-12-08&expirey=1").as_deref(),
            Some("400 Bad Request")
        );
        assert_eq!(
            refusal("/api/v2/instruments/underlyings?x=1").as_deref(),
            Some("400 Bad Request")
        );
        assert_eq!(
            refusal("/api/v2/realtime/greeks/NSE:X?instrument_key=1").as_deref(),
            Some("400 Bad Request")
        );
        // %65xpiry is `expiry`.
        assert_eq!(refusal("/api/v2/instruments/NSE:NIFTY/chain?%65xpiry=2026-12-08"), None);
        // Not an operation: the router answers.
        assert_eq!(refusal("/api/v2/nope?x=1"), None);
        assert_eq!(refusal("/health/live?x=1"), None);
    }

    #[test]
    fn percent_escapes_decode_and_broken_ones_stay() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
