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
        (format!("the request body is not valid: {}", e.reason), Some("body"))
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        (err.to_string(), Some(e.name))
    } else if let Some(e) = err.downcast_ref::<ParsePathError>() {
        (err.to_string(), Some(e.name))
    } else if err.is::<ContentTypeError>() {
        (err.to_string(), Some("Content-Type"))
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

impl poem_openapi::types::Example for ErrorBody {
    fn example() -> Self {
        Self::new(
            "bad_request",
            "timeframe: 7x is not a timeframe (Nm, Nh, Nd or 1w)",
            Some("timeframe"),
        )
    }
}
