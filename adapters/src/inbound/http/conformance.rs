//! Answers the OpenAPI document promises, whatever the router or poem-openapi produced:
//!
//! - a 405 carries `Allow` with the path's documented methods (RFC 9110).
//!
//! A query parameter given empty is a value like any other: `?expiry=` is a 400 naming `expiry`
//! (an empty string is no date), not the default expiry.
//!
//! The path templates come from the document itself, parsed once.
//!
//! Path parameters are all `Path<String>`, parsed by their handlers: poem-openapi would report a
//! typed one's parse error as `param0`, not by its name.

use std::sync::LazyLock;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// One documented path: its segments and methods.
struct PathTemplate {
    /// As the document writes it (`/api/v2/realtime/greeks/{instrument_key}`).
    text: String,
    segments: Vec<Segment>,
    methods: Vec<String>,
}

enum Segment {
    Literal(String),
    Variable,
}

static TEMPLATES: LazyLock<Vec<PathTemplate>> = LazyLock::new(|| {
    let doc: serde_json::Value = serde_json::from_str(&super::openapi_json()).unwrap_or_default();
    doc["paths"]
        .as_object()
        .map(|paths| {
            paths
                .iter()
                .map(|(path, ops)| PathTemplate {
                    text: path.clone(),
                    // The document's paths are absolute (`/api/v2/…`).
                    segments: path
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(|s| {
                            if s.starts_with('{') {
                                Segment::Variable
                            } else {
                                Segment::Literal(s.to_owned())
                            }
                        })
                        .collect(),
                    methods: ops
                        .as_object()
                        .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
});

/// The template a request path matches (literal segments before variables).
fn template_of(path: &str) -> Option<&'static PathTemplate> {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let matches = |t: &PathTemplate| {
        t.segments.len() == parts.len()
            && t.segments.iter().zip(&parts).all(|(s, p)| match s {
                Segment::Literal(l) => l == p,
                Segment::Variable => true,
            })
    };
    let literals = |t: &PathTemplate| t.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
    TEMPLATES.iter().filter(|t| matches(t)).max_by_key(|t| literals(t))
}

/// The OpenAPI document's template of `path` (`/api/v2/realtime/greeks/{instrument_key}`),
/// when an operation's path matches: a bounded label for metrics and logs.
pub(crate) fn document_template(path: &str) -> Option<&'static str> {
    template_of(path).map(|t| t.text.as_str())
}

/// The middleware.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conformance;

impl<E: Endpoint> Middleware<E> for Conformance {
    type Output = ConformanceEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        ConformanceEndpoint(ep)
    }
}

/// An endpoint wrapped by [`Conformance`].
pub struct ConformanceEndpoint<E>(E);

impl<E: Endpoint> Endpoint for ConformanceEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let path = req.uri().path().to_owned();
        let mut resp = match self.0.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        if resp.status() == StatusCode::METHOD_NOT_ALLOWED
            && let Some(t) = template_of(&path)
            && let Ok(v) = HeaderValue::from_str(&t.methods.join(", "))
        {
            resp.headers_mut().insert(header::ALLOW, v);
        }
        Ok(resp)
    }
}
