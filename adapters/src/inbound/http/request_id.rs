//! A tracing span per request, with a request id: the client's `X-Request-Id` when it sends a
//! sane one (1–128 visible ASCII characters), else a fresh random one. The id is echoed in the
//! answer's `X-Request-Id`. One log line per request, at its end: method, route template,
//! status and duration (`info`; `warn` for a 5xx), inside the `request` span carrying the id, so
//! anything a handler logs carries the id too.

use std::time::Instant;

use poem::PathPattern;
use poem::http::{HeaderValue, header::HeaderName};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;

/// The header carrying the id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The middleware.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestId;

impl<E: Endpoint> Middleware<E> for RequestId {
    type Output = RequestIdEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestIdEndpoint(ep)
    }
}

/// An endpoint wrapped by [`RequestId`].
pub struct RequestIdEndpoint<E>(E);

fn sane(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The answer (an error turned into its response) and poem's matched route template.
pub(crate) fn answer_and_route(result: Result<Response>) -> (Response, Option<String>) {
    match result {
        Ok(r) => {
            let route = r.data::<PathPattern>().map(|p| p.0.to_string());
            (r, route)
        }
        Err(e) => {
            let route = e.data::<PathPattern>().map(|p| p.0.to_string());
            (e.into_response(), route)
        }
    }
}

impl<E: Endpoint> Endpoint for RequestIdEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let id = req
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| sane(v))
            .map_or_else(|| format!("{:032x}", fastrand::u128(..)), str::to_owned);
        let span = tracing::info_span!("request", id = %id);
        let started = Instant::now();
        async move {
            let method = req.method().clone();
            let (mut resp, route) = answer_and_route(self.0.call(req).await.map(IntoResponse::into_response));
            // The route template (`/api/v2/realtime/greeks/:instrument_key`), never the path
            // itself: bounded, and free of whatever a client put in the URL.
            let route = route.as_deref().unwrap_or("unmatched");
            let status = resp.status().as_u16();
            let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            if status >= 500 {
                tracing::warn!(%method, route, status, duration_us, "answered");
            } else {
                tracing::info!(%method, route, status, duration_us, "answered");
            }
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert(REQUEST_ID, v);
            }
            Ok(resp)
        }
        .instrument(span)
        .await
    }
}
