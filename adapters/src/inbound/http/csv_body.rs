//! `text/csv` request bodies for the ingest endpoints.
//!
//! A body is a header row naming its columns (any order, case-sensitive, as the JSON fields are
//! named), then one row per record. A missing required column or an unknown column refuses the
//! whole body with a 400 naming the column; a bad cell rejects only its row, like a bad JSON
//! field. Empty cells of optional columns mean "absent".

use chrono::{DateTime, Utc};
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::MetaSchemaRef;

use super::error::ErrorBody;
use super::ingest::RejectedRow;

/// A `text/csv` body (a `charset` parameter is allowed; UTF-8 only).
#[derive(Debug, Clone)]
pub struct CsvText(pub String);

impl Payload for CsvText {
    const CONTENT_TYPE: &'static str = "text/csv";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv"))
    }

    fn schema_ref() -> MetaSchemaRef {
        <String as poem_openapi::types::Type>::schema_ref()
    }
}

impl ParsePayload for CsvText {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = Vec::<u8>::from_request(request, body).await?;
        String::from_utf8(bytes).map(Self).map_err(|e| {
            use poem::IntoResponse;
            let body = serde_json::json!({
                "code": "bad_request",
                "message": format!("body: is not UTF-8 text (byte {} is not)", e.utf8_error().valid_up_to()),
                "field": "body",
            });
            poem::Error::from_response(
                poem::web::Json(body)
                    .with_status(poem::http::StatusCode::BAD_REQUEST)
                    .into_response(),
            )
        })
    }
}

/// One data row, with its columns resolved by name.
pub struct CsvRow<'a> {
    record: &'a csv::StringRecord,
    columns: &'a [(String, usize)],
}

/// Rows built (each with its 0-based index among the data rows) and rows rejected.
pub type Parsed<T> = (Vec<(usize, T)>, Vec<RejectedRow>);

/// A cell that could not be read: the column and why.
pub type CellError = (String, String);

impl CsvRow<'_> {
    fn raw(&self, name: &str) -> Option<&str> {
        let i = self.columns.iter().find(|(n, _)| n == name)?.1;
        self.record.get(i).map(str::trim).filter(|s| !s.is_empty())
    }

    /// A required text cell.
    pub fn text(&self, name: &str) -> Result<String, CellError> {
        self.raw(name)
            .map(str::to_owned)
            .ok_or_else(|| (name.to_owned(), "is empty".to_owned()))
    }

    /// An optional number (`NaN` and infinities are parsed, and refused later by validation).
    pub fn opt_f64(&self, name: &str) -> Result<Option<f64>, CellError> {
        self.raw(name)
            .map(|s| {
                s.parse::<f64>()
                    .map_err(|_| (name.to_owned(), format!("{s:?} is not a number")))
            })
            .transpose()
    }

    /// A required number.
    pub fn f64(&self, name: &str) -> Result<f64, CellError> {
        self.opt_f64(name)?
            .ok_or_else(|| (name.to_owned(), "is empty".to_owned()))
    }

    /// A required RFC 3339 instant.
    pub fn instant(&self, name: &str) -> Result<DateTime<Utc>, CellError> {
        let s = self.text(name)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| (name.to_owned(), format!("{s:?} is not an RFC 3339 instant: {e}")))
    }
}

/// The rows of a CSV body built by `build`, each with its 0-based index among the data rows,
/// and the rows `build` (or the CSV reader) refused.
///
/// # Errors
/// An [`ErrorBody`] naming the column when the header lacks a `required` column or has one that
/// is neither required nor `optional`, or when the body has more than `max_rows` rows.
pub fn parse<T>(
    text: &str,
    required: &[&str],
    optional: &[&str],
    max_rows: usize,
    mut build: impl FnMut(&CsvRow<'_>) -> Result<T, CellError>,
) -> Result<Parsed<T>, ErrorBody> {
    // An empty body is an empty batch (no header to check, nothing to accept).
    if text.trim().is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| ErrorBody::new("bad_request", format!("unreadable CSV header: {e}"), None))?
        .clone();
    let mut columns = Vec::with_capacity(header.len());
    for (i, name) in header.iter().enumerate() {
        if !required.contains(&name) && !optional.contains(&name) {
            let all: Vec<&str> = required.iter().chain(optional).copied().collect();
            return Err(ErrorBody::new(
                "bad_request",
                format!("unknown column {name:?}; the columns are {}", all.join(",")),
                Some(name),
            ));
        }
        columns.push((name.to_owned(), i));
    }
    if let Some(missing) = required.iter().find(|r| !columns.iter().any(|(n, _)| n == *r)) {
        return Err(ErrorBody::new(
            "bad_request",
            format!(
                "the CSV header has no {missing:?} column (required: {})",
                required.join(",")
            ),
            Some(missing),
        ));
    }
    let (mut rows, mut rejected) = (Vec::new(), Vec::new());
    let mut record = csv::StringRecord::new();
    let mut index = 0usize;
    loop {
        let read = reader.read_record(&mut record);
        if matches!(read, Ok(false)) {
            break;
        }
        if index >= max_rows {
            return Err(ErrorBody::new(
                "payload_too_large",
                format!("more than {max_rows} rows; at most {max_rows} per request"),
                None,
            ));
        }
        match read {
            Ok(false) => break,
            Ok(true) => {
                let row = CsvRow {
                    record: &record,
                    columns: &columns,
                };
                if record.len() != header.len() {
                    rejected.push(RejectedRow {
                        index: index as u32,
                        field: "row".into(),
                        reason: format!("{} cells for {} columns", record.len(), header.len()),
                    });
                } else {
                    match build(&row) {
                        Ok(v) => rows.push((index, v)),
                        Err((field, reason)) => rejected.push(RejectedRow {
                            index: index as u32,
                            field,
                            reason,
                        }),
                    }
                }
            }
            Err(e) => rejected.push(RejectedRow {
                index: index as u32,
                field: "row".into(),
                reason: format!("unreadable CSV row: {e}"),
            }),
        }
        index += 1;
    }
    Ok((rows, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_optional_cells_are_absent_and_bad_cells_reject_their_row() {
        let text = "a,b\n1,\n,2\nx,3\n";
        let (rows, rejected) = parse(text, &["b"], &["a"], 10, |r| Ok((r.opt_f64("a")?, r.f64("b")?))).unwrap();
        assert_eq!(rows, vec![(1, (None, 2.0))], "{rejected:?}");
        assert_eq!(
            rejected.iter().map(|r| (r.index, r.field.as_str())).collect::<Vec<_>>(),
            [(0, "b"), (2, "a")]
        );
    }
}
