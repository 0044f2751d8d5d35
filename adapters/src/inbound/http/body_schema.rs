//! JSON request bodies checked against the document's own schema before a handler parses them,
//! so a mistake is answered 400 naming its JSON path in plain words (`rows[3].price: must be a
//! number, not the string "x"`) instead of the parser's type names.
//!
//! The schema of each operation's body is read from the OpenAPI document (`$ref`, `allOf`,
//! objects with required properties, arrays, numbers with bounds, strings with enums and date
//! formats, booleans, `nullable`). A body that passes goes on to the handler unchanged. The
//! ingest endpoints are left out: they read their rows one by one and reject a bad row alone
//! (`json_rows.rs`).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};
use serde_json::Value;

use super::spec_routes::SpecRoutes;

/// The body schemas of a document's operations.
#[derive(Debug, Clone, Default)]
pub struct BodySchemas {
    routes: SpecRoutes<Value>,
    components: Arc<Value>,
}

/// Where in the body, and what is wrong.
type Mistake = (String, String);

impl BodySchemas {
    /// Reads the JSON body schemas of `spec`'s operations served under `prefix`, except those
    /// under `skip` (paths relative to the prefix).
    #[must_use]
    pub fn from_spec(spec: &str, prefix: &str, skip: &str) -> Self {
        let doc: Value = serde_json::from_str(spec).unwrap_or_default();
        let routes = SpecRoutes::from_doc(&doc, prefix, |path, op| {
            if path.starts_with(skip) {
                return None;
            }
            op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
                .find(|(ct, _)| ct.starts_with("application/json"))
                .map(|(_, c)| c["schema"].clone())
        });
        Self {
            routes,
            components: Arc::new(doc["components"]["schemas"].clone()),
        }
    }

    fn schema_of(&self, method: &str, path: &str) -> Option<&Value> {
        self.routes.find(method, path).map(|op| &op.data)
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut s = schema;
        for _ in 0..16 {
            match s["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
                Some(name) => s = &self.components[name],
                None => break,
            }
        }
        s
    }

    /// The first mistake of `value` against `schema`, at `path`.
    fn check(&self, value: &Value, schema: &Value, path: &str) -> Option<Mistake> {
        let schema = self.resolve(schema);
        if let Some(all) = schema["allOf"].as_array() {
            return all.iter().find_map(|s| self.check(value, s, path));
        }
        let here = || {
            if path.is_empty() {
                "body".to_owned()
            } else {
                path.to_owned()
            }
        };
        if value.is_null() {
            return (schema["nullable"] != Value::Bool(true) && schema.get("type").is_some())
                .then(|| (here(), format!("must be {}, not null", expected(schema))));
        }
        if let Some(options) = schema["enum"].as_array()
            && !options.contains(value)
        {
            let names: Vec<String> = options.iter().filter_map(|o| o.as_str().map(str::to_owned)).collect();
            return Some((
                here(),
                format!("must be one of {}, not {}", names.join(", "), describe(value)),
            ));
        }
        match schema["type"].as_str() {
            Some("object") => {
                let Some(obj) = value.as_object() else {
                    return Some((here(), format!("must be an object, not {}", describe(value))));
                };
                for name in schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !obj.contains_key(name) {
                        return Some((join(path, name), "is required".to_owned()));
                    }
                }
                let props = &schema["properties"];
                obj.iter()
                    .filter(|(k, _)| props.get(k.as_str()).is_some())
                    .find_map(|(k, v)| self.check(v, &props[k.as_str()], &join(path, k)))
            }
            Some("array") => {
                let Some(items) = value.as_array() else {
                    return Some((here(), format!("must be an array, not {}", describe(value))));
                };
                items
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| self.check(v, &schema["items"], &format!("{path}[{i}]")))
            }
            Some("number" | "integer") => {
                let Some(x) = value.as_f64() else {
                    return Some((here(), format!("must be {}, not {}", expected(schema), describe(value))));
                };
                if schema["type"] == "integer" && !(value.is_i64() || value.is_u64()) {
                    return Some((here(), format!("must be a whole number, not {}", describe(value))));
                }
                if let Some(min) = schema["minimum"].as_f64() {
                    let exclusive = schema["exclusiveMinimum"] == Value::Bool(true);
                    if x < min || (exclusive && x <= min) {
                        let word = if exclusive { "above" } else { "at least" };
                        return Some((here(), format!("must be {word} {min}, not {x}")));
                    }
                }
                if let Some(max) = schema["maximum"].as_f64() {
                    let exclusive = schema["exclusiveMaximum"] == Value::Bool(true);
                    if x > max || (exclusive && x >= max) {
                        let word = if exclusive { "below" } else { "at most" };
                        return Some((here(), format!("must be {word} {max}, not {x}")));
                    }
                }
                None
            }
            Some("string") => {
                let Some(s) = value.as_str() else {
                    return Some((here(), format!("must be {}, not {}", expected(schema), describe(value))));
                };
                let ok = match schema["format"].as_str() {
                    Some("date-time") => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
                    Some("date" | "naive-date") => s.parse::<chrono::NaiveDate>().is_ok(),
                    _ => true,
                };
                (!ok).then(|| (here(), format!("must be {}, not {}", expected(schema), describe(value))))
            }
            Some("boolean") => {
                (!value.is_boolean()).then(|| (here(), format!("must be true or false, not {}", describe(value))))
            }
            _ => None,
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// What a schema asks for, in words.
fn expected(schema: &Value) -> &'static str {
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("integer"), _) => "a whole number",
        (Some("number"), _) => "a number",
        (Some("string"), Some("date-time")) => "an RFC 3339 time with its offset, e.g. 2026-02-02T10:00:00+05:30",
        (Some("string"), Some("date" | "naive-date")) => "a date, e.g. 2026-12-08",
        (Some("string"), _) => "a string",
        (Some("boolean"), _) => "true or false",
        (Some("array"), _) => "an array",
        (Some("object"), _) => "an object",
        _ => "a value",
    }
}

/// A value's kind and, when short, the value itself (`the string "x"`).
pub(super) fn describe(v: &Value) -> String {
    let text = v.to_string();
    let shown = if text.len() <= 40 {
        format!(" {text}")
    } else {
        String::new()
    };
    let kind = match v {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "the boolean",
        Value::Number(_) => "the number",
        Value::String(_) => "the string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!("{kind}{shown}")
}

/// The middleware.
#[derive(Debug, Clone)]
pub struct CheckBodies(pub BodySchemas);

impl<E: Endpoint> Middleware<E> for CheckBodies {
    type Output = CheckBodiesEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        CheckBodiesEndpoint {
            inner: ep,
            schemas: self.0.clone(),
        }
    }
}

/// An endpoint behind [`CheckBodies`].
pub struct CheckBodiesEndpoint<E> {
    inner: E,
    schemas: BodySchemas,
}

fn is_json(req: &Request) -> bool {
    req.content_type()
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| {
            let ct = ct.trim().to_ascii_lowercase();
            ct.strip_prefix("application/")
                .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
        })
}

impl<E: Endpoint> Endpoint for CheckBodiesEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let schema = self.schemas.schema_of(req.method().as_str(), req.uri().path());
        if let Some(schema) = schema.filter(|_| is_json(&req)) {
            // The guard has read the body already (within its limit): this is a copy in memory.
            let bytes = req.take_body().into_bytes().await?;
            let mistake = match serde_json::from_slice::<Value>(&bytes) {
                Err(_) if bytes.iter().all(u8::is_ascii_whitespace) => {
                    Some(("body".to_owned(), "is empty; send a JSON object".to_owned()))
                }
                Err(e) => Some(("body".to_owned(), format!("is not valid JSON: {e}"))),
                Ok(v) => self.schemas.check(&v, schema, ""),
            };
            if let Some((field, why)) = mistake {
                let body = serde_json::json!({
                    "code": "bad_request",
                    "message": format!("{field}: {why}"),
                    "field": field,
                });
                return Ok(poem::web::Json(body)
                    .with_status(StatusCode::BAD_REQUEST)
                    .into_response());
            }
            req.set_body(Body::from(bytes));
        }
        Ok(self.inner.call(req).await?.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mistake(body: &str) -> Option<Mistake> {
        let spec = crate::inbound::http::openapi_json();
        let s = BodySchemas::from_spec(&spec, "", "/api/v2/ingest/");
        let schema = s
            .schema_of("POST", "/api/v2/analytics/implied-volatility")
            .unwrap()
            .clone();
        s.check(&serde_json::from_str(body).unwrap(), &schema, "")
    }

    #[test]
    fn mistakes_are_named_by_their_json_path_in_plain_words() {
        let row = r#"{"type":"call","spot":100,"strike":100,"t_years":1,"rate":0.05,"price":10}"#;
        assert_eq!(mistake(&format!(r#"{{"rows":[{row}]}}"#)), None);
        assert_eq!(
            mistake(&format!(
                r#"{{"rows":[{row},{}]}}"#,
                row.replace("\"spot\":100", "\"spot\":\"x\"")
            )),
            Some(("rows[1].spot".into(), r#"must be a number, not the string "x""#.into()))
        );
        assert_eq!(
            mistake(&format!(r#"{{"rows":[{}]}}"#, row.replace(",\"price\":10", ""))),
            Some(("rows[0].price".into(), "is required".into()))
        );
        assert_eq!(
            mistake(&format!(r#"{{"rows":[{}]}}"#, row.replace("call", "cal"))),
            Some((
                "rows[0].type".into(),
                r#"must be one of call, put, not the string "cal""#.into()
            ))
        );
        assert_eq!(
            mistake("[1]"),
            Some(("body".into(), "must be an object, not an array [1]".into()))
        );
        assert_eq!(
            mistake(r#"{"model":"bs","rows":[]}"#),
            Some((
                "model".into(),
                r#"must be one of bsm, black76, not the string "bs""#.into()
            ))
        );
        // An optional enum is a named schema by `$ref`, which OpenAPI 3.0 cannot make nullable:
        // leave it out rather than send `null`.
        assert_eq!(
            mistake(r#"{"model":null,"rows":[]}"#),
            Some(("model".into(), "must be a string, not null".into()))
        );
    }
}
