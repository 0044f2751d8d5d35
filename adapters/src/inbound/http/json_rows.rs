//! `application/json` request bodies that are arrays of rows (the ingest endpoints), read row by
//! row: a row with a wrong type or a missing field is rejected alone, with its field and the
//! reason in plain words, and the other rows go on. The body as a whole is refused (400 naming
//! `body`) only when it is not JSON or not an array.
//!
//! The document shows the same schema as `Json<Vec<T>>` would.

use poem::http::StatusCode;
use poem::{FromRequest, IntoResponse, Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::de::DeserializeOwned;

use super::body_schema::describe;
use super::ingest::RejectedRow;

/// The rows of a JSON array body: each parsed, or why not.
#[derive(Debug)]
pub struct JsonRows<T>(pub Vec<Result<T, RejectedRow>>);

impl<T: Type> Payload for JsonRows<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
    }

    fn schema_ref() -> MetaSchemaRef {
        <Vec<T> as Type>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <Vec<T> as Type>::register(registry);
    }
}

/// A 400 refusing the whole body, in the API's error shape.
fn refuse(message: String) -> poem::Error {
    let body = serde_json::json!({"code": "bad_request", "message": message, "field": "body"});
    poem::Error::from_response(
        poem::web::Json(body)
            .with_status(StatusCode::BAD_REQUEST)
            .into_response(),
    )
}

impl<T: Type + DeserializeOwned + Send> ParsePayload for JsonRows<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        parse_rows(&data).map(Self).map_err(refuse)
    }
}

/// The rows of a JSON array body, each parsed or rejected alone; `Err` with the message when the
/// body as a whole is not JSON or not an array.
pub(crate) fn parse_rows<T: DeserializeOwned>(data: &[u8]) -> Result<Vec<Result<T, RejectedRow>>, String> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err("the body is empty; send a JSON array of rows".to_owned());
    }
    let value: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| format!("the body is not valid JSON: {}", plain_syntax(&e)))?;
    let serde_json::Value::Array(items) = value else {
        return Err(format!(
            "the body must be a JSON array of rows, not {}",
            describe(&value)
        ));
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| row::<T>(i, item))
        .collect())
}

/// One row, or its rejection naming the field.
fn row<T: DeserializeOwned>(index: usize, item: serde_json::Value) -> Result<T, RejectedRow> {
    let reject = |field: String, reason: String| RejectedRow {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        field,
        reason,
    };
    if !item.is_object() {
        return Err(reject(
            "row".to_owned(),
            format!("a row must be a JSON object, not {}", describe(&item)),
        ));
    }
    // From a borrow of the row: the value is still there to quote when it is refused.
    serde_path_to_error::deserialize::<_, T>(&item).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if let Some(missing) = inner.strip_prefix("missing field `").and_then(|s| s.split('`').next()) {
            return reject(missing.to_owned(), "is required".to_owned());
        }
        let field = if path == "." { "row".to_owned() } else { path };
        let given = item
            .get(&field)
            .map_or_else(String::new, |v| format!(", not {}", describe(v)));
        reject(field, format!("{}{given}", plain_expectation(&inner)))
    })
}

/// What a serde error expected, in words: `invalid type: string "x", expected f64` → `must be a
/// number`; a time that does not parse → `must be an RFC 3339 time …`.
fn plain_expectation(serde_message: &str) -> String {
    if let Some((_, expected)) = serde_message.split_once(", expected ") {
        let what = match expected.trim() {
            "f64" | "f32" | "i64" | "u64" | "u32" | "i32" => "a number",
            "a string" | "a borrowed string" => "a string",
            e if e.contains("date") || e.contains("time") => {
                "an RFC 3339 time with its offset, e.g. 2026-02-02T10:00:00+05:30"
            }
            e => e,
        };
        return format!("must be {what}");
    }
    if serde_message.contains("input contains invalid characters")
        || serde_message.contains("premature end of input")
        || serde_message.contains("input is out of range")
        || serde_message.contains("trailing input")
        || serde_message.contains("no possible date and time")
    {
        return "must be an RFC 3339 time with its offset, e.g. 2026-02-02T10:00:00+05:30".to_owned();
    }
    serde_message.to_owned()
}

/// A JSON syntax error with its place (serde_json says "… at line L column C").
fn plain_syntax(e: &serde_json::Error) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::http::TickIn;

    fn rows(json: &str) -> Vec<Result<TickIn, RejectedRow>> {
        let items: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| row::<TickIn>(i, v))
            .collect()
    }

    #[test]
    fn a_mistyped_row_is_rejected_alone_naming_its_field_in_plain_words() {
        let r = rows(
            r#"[{"key":"NSE:NIFTY","ts":"2026-02-02T10:00:00+05:30","last":26000},
                {"key":"NSE:NIFTY","ts":"2026-02-02T10:00:01+05:30","last":"abc"},
                {"key":"NSE:NIFTY","last":1},
                {"key":"NSE:NIFTY","ts":"yesterday","last":1},
                7]"#,
        );
        assert!(r[0].is_ok());
        let e = r[1].as_ref().unwrap_err();
        assert_eq!((e.index, e.field.as_str()), (1, "last"));
        assert_eq!(e.reason, r#"must be a number, not the string "abc""#);
        let e = r[2].as_ref().unwrap_err();
        assert_eq!((e.field.as_str(), e.reason.as_str()), ("ts", "is required"));
        let e = r[3].as_ref().unwrap_err();
        assert_eq!(e.field, "ts");
        assert!(e.reason.starts_with("must be an RFC 3339 time"), "{}", e.reason);
        let e = r[4].as_ref().unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.reason.as_str()),
            ("row", "a row must be a JSON object, not the number 7")
        );
        for e in r.iter().filter_map(|r| r.as_ref().err()) {
            assert!(!e.reason.contains("list_") && !e.reason.contains("f64"), "{}", e.reason);
        }
    }
}
