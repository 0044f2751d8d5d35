//! The operations of the API's own OpenAPI document, found by method and path: what the
//! request checks that read the document (`known_params.rs`, `body_schema.rs`) share.

use std::sync::Arc;

use serde_json::Value;

/// One operation and what a check keeps of it.
#[derive(Debug)]
pub struct SpecOp<T> {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path template with the prefix, e.g. `/api/v2/realtime/greeks/{instrument_key}`.
    pub template: String,
    /// The template's segments, `None` for a `{parameter}`.
    segments: Vec<Option<String>>,
    /// What the check keeps.
    pub data: T,
}

/// The operations of a document served under a prefix.
#[derive(Debug)]
pub struct SpecRoutes<T> {
    prefix: String,
    ops: Arc<Vec<SpecOp<T>>>,
}

impl<T> Clone for SpecRoutes<T> {
    fn clone(&self) -> Self {
        Self {
            prefix: self.prefix.clone(),
            ops: self.ops.clone(),
        }
    }
}

impl<T> Default for SpecRoutes<T> {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            ops: Arc::new(Vec::new()),
        }
    }
}

impl<T> SpecRoutes<T> {
    /// Every operation of `doc` (a parsed OpenAPI document) for which `keep(path, operation)`
    /// gives something, served under `prefix`.
    pub fn from_doc(doc: &Value, prefix: &str, keep: impl Fn(&str, &Value) -> Option<T>) -> Self {
        let mut ops = Vec::new();
        for (path, methods) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in methods.as_object().into_iter().flatten() {
                if let Some(data) = keep(path, op) {
                    ops.push(SpecOp {
                        method: method.to_ascii_uppercase(),
                        template: format!("{prefix}{path}"),
                        segments: path
                            .trim_start_matches('/')
                            .split('/')
                            .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                            .collect(),
                        data,
                    });
                }
            }
        }
        Self {
            prefix: prefix.to_owned(),
            ops: Arc::new(ops),
        }
    }

    /// The operation `method path` matches; of several, the one with the most literal segments
    /// (`/instruments/underlyings` before `/instruments/{underlying}`).
    pub fn find(&self, method: &str, path: &str) -> Option<&SpecOp<T>> {
        let rest = path.strip_prefix(&self.prefix)?;
        let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        self.ops
            .iter()
            .filter(|o| o.method == method && o.segments.len() == parts.len())
            .filter(|o| {
                o.segments
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| s.as_deref().is_none_or(|lit| lit == *p))
            })
            .max_by_key(|o| o.segments.iter().filter(|s| s.is_some()).count())
    }
}
