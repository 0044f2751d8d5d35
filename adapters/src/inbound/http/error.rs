//! One JSON error body for every failure.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::Object;

/// The error body: a machine-readable code, a message, and the offending field when there is one.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none, example)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `bad_request`, `not_found`, `unauthorized`, `unavailable`.
    pub code: String,
    /// What went wrong, for humans.
    pub message: String,
    /// The offending field or parameter, when one is to blame.
    pub field: Option<String>,
}

impl ErrorBody {
    /// An error body.
    #[must_use]
    pub fn new(code: &str, message: impl Into<String>, field: Option<&str>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }
}

fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "error",
    }
}

/// Turns any poem error (bad JSON, bad path parameter, unknown route…) into the JSON body with
/// the same status; a 5xx keeps its cause out of the body and in the log.
pub async fn catch_all(err: poem::Error) -> Response {
    // Our own typed error answers (ApiResponse) already carry the JSON body: pass them through.
    if err.is_from_response() {
        return err.into_response();
    }
    use poem_openapi::error::{ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError};
    let status = err.status();
    // Name the culprit: the body, a parameter, or the Content-Type header.
    let (message, field) = if status.is_server_error() {
        tracing::error!(error.cause_chain = ?err, "request failed");
        ("internal error".to_owned(), None)
    } else if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        (
            format!("the request body is not valid: {}", plain(&e.reason)),
            Some("body"),
        )
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        (format!("{}: {}", e.name, plain(&e.reason)), Some(e.name))
    } else if let Some(e) = err.downcast_ref::<ParsePathError>() {
        (format!("{}: {}", e.name, plain(&e.reason)), Some(e.name))
    } else if err.is::<ContentTypeError>() {
        (err.to_string(), Some("Content-Type"))
    } else if err.is::<poem::error::ParsePathError>() {
        (
            "a path segment is not valid UTF-8 once its %-escapes are decoded".to_owned(),
            Some("path"),
        )
    } else if err.is::<poem::error::NotFoundError>() {
        (
            "no such route: the path matches no operation (see /docs)".to_owned(),
            Some("path"),
        )
    } else if err.is::<poem::error::MethodNotAllowedError>() {
        ("this path takes other methods (see /docs)".to_owned(), Some("method"))
    } else {
        (err.to_string(), None)
    };
    let body = ErrorBody::new(code_of(status), message, field);
    // `field` is left out when nothing is to blame (the schema has it optional, not nullable).
    let mut json = serde_json::json!({"code": body.code, "message": body.message});
    if let Some(f) = body.field {
        json["field"] = serde_json::Value::String(f);
    }
    poem::web::Json(json).with_status(status).into_response()
}

/// A parser's reason in plain words: what the value must be, without the parser's type names
/// (`verification failed. minimum(1, exclusive: false)` → `must be at least 1`).
fn plain(reason: &str) -> String {
    let r = reason.split(" (occurred while parsing").next().unwrap_or(reason).trim();
    if r.contains("expects an input value") {
        return "is required".to_owned();
    }
    if let Some(rest) = r.strip_prefix("verification failed. ") {
        let bound = |name: &str| {
            rest.strip_prefix(name)
                .and_then(|b| b.strip_prefix('('))
                .and_then(|b| b.split(',').next())
                .map(str::trim)
                .map(str::to_owned)
        };
        let exclusive = rest.contains("exclusive: true");
        if let Some(n) = bound("minimum") {
            return format!("must be {} {n}", if exclusive { "above" } else { "at least" });
        }
        if let Some(n) = bound("maximum") {
            return format!("must be {} {n}", if exclusive { "below" } else { "at most" });
        }
        if let Some(n) = bound("maxLength") {
            return format!("must be at most {n} characters long");
        }
        if let Some(n) = bound("minLength") {
            return format!("must be at least {n} characters long");
        }
        if rest.starts_with("pattern") {
            return "does not have the form the API document gives for it".to_owned();
        }
        return format!("is out of range ({rest})");
    }
    if r.contains("Expect a valid enumeration value") || r.contains("expected one of") {
        let ty = quoted(r);
        return match ty.as_deref().and_then(enum_values) {
            Some(values) => format!("must be one of {values}"),
            None => "is not one of its allowed values (see the API document)".to_owned(),
        };
    }
    let ty = quoted(r).unwrap_or_default();
    if ty == super::time_param::TYPE_NAME {
        // Its parser's own words say what to write instead.
        return r.split_once("\": ").map_or(r, |(_, m)| m).to_owned();
    }
    let what = if ty.contains("date-time") {
        "an RFC 3339 time with its offset, e.g. 2026-11-24T10:00:00Z"
    } else if ty.contains("naive-date") || ty.ends_with("_date") {
        "a date, e.g. 2026-12-08"
    } else if ty.contains("uint32") {
        "a whole number from 0 to 4294967295"
    } else if ty.contains("uint64") || ty.contains("uint") {
        "a whole number ≥ 0"
    } else if ty.contains("integer") {
        "a whole number"
    } else if ty.contains("number") {
        "a number"
    } else if ty.contains("boolean") {
        "true or false"
    } else if ty.starts_with("string") {
        "a string"
    } else {
        return r.replace("failed to parse", "could not read").to_owned();
    };
    format!("must be {what}")
}

/// The first `"quoted"` word of a parser message (a type name).
fn quoted(s: &str) -> Option<String> {
    let start = s.find('"')? + 1;
    let end = s[start..].find('"')? + start;
    Some(s[start..end].trim_start_matches("optional_").to_owned())
}

/// The values of enum `name` in the API document, comma-separated.
fn enum_values(name: &str) -> Option<String> {
    static ENUMS: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        serde_json::from_str::<serde_json::Value>(&super::openapi_json())
            .map(|d| d["components"]["schemas"].clone())
            .unwrap_or_default()
    });
    let values: Vec<String> = ENUMS[name]["enum"]
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

impl poem_openapi::types::Example for ErrorBody {
    fn example() -> Self {
        Self::new(
            "bad_request",
            "timeframe: 7x is not a timeframe (Nm, Nh, Nd or 1w)",
            Some("timeframe"),
        )
    }
}
