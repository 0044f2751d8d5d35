//! The HTTP middleware recording every request: counted by route template, method and status
//! class, timed into a histogram by route and method, and in flight while it is handled; a 413
//! also counts as a body refused for its size. The route is the OpenAPI document's template
//! (`/api/v2/realtime/greeks/{instrument_key}`), or poem's matched route outside the document
//! (`/health/ready`), or `unmatched`: never the path a client typed.

use std::sync::Arc;
use std::time::Instant;

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::{Metrics, RequestLabels, RouteLabels};

/// The middleware.
#[derive(Debug, Clone)]
pub struct HttpMetrics(pub Arc<Metrics>);

impl<E: Endpoint> Middleware<E> for HttpMetrics {
    type Output = HttpMetricsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        HttpMetricsEndpoint {
            inner: ep,
            metrics: self.0.clone(),
        }
    }
}

/// An endpoint wrapped by [`HttpMetrics`].
pub struct HttpMetricsEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
}

/// Lowers the in-flight gauge however the request ends (an answer, an error, a dropped future).
struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.http_in_flight.dec();
    }
}

fn class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl<E: Endpoint> Endpoint for HttpMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let m = &*self.metrics;
        m.http_in_flight.inc();
        let _in_flight = InFlight(m);
        let started = Instant::now();
        let method = req.method().as_str().to_owned();
        // The document's template when an operation matches (poem's own names its variables
        // `:param0`), else poem's matched route (`/health/ready`), else `unmatched`.
        let documented = crate::inbound::http::document_template(req.uri().path());
        let (resp, route) = crate::inbound::http::request_id::answer_and_route(
            self.inner.call(req).await.map(IntoResponse::into_response),
        );
        let route = documented
            .map(str::to_owned)
            .or(route)
            .unwrap_or_else(|| "unmatched".to_owned());
        let status = resp.status();
        m.http_request_duration
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method: method.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        m.http_requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status: class(status).to_owned(),
            })
            .inc();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            m.http_bodies_refused.inc();
        }
        Ok(resp)
    }
}
