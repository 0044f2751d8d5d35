//! The `from` / `to` query parameters: a date (`2026-12-04`, the exchange's local day) or a
//! date-time with its UTC offset, as [`domain::instrument::TimeBound`] reads them; the OpenAPI
//! schema says `anyOf: [date, date-time]`, so generated SDKs take either.

use std::borrow::Cow;

use domain::instrument::{Market, TimeBound};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON, Type};

/// The type's name in parser messages (the error mapping passes its reasons through as they are).
pub(super) const TYPE_NAME: &str = "time_bound";

/// A range bound from the query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeParam(pub TimeBound);

impl TimeParam {
    /// As a range start on `market`.
    #[must_use]
    pub fn start_on(self, market: &Market) -> chrono::DateTime<chrono::Utc> {
        self.0.start_on(market)
    }

    /// As an exclusive range end on `market` (a date: through its end).
    #[must_use]
    pub fn end_on(self, market: &Market) -> chrono::DateTime<chrono::Utc> {
        self.0.end_on(market)
    }
}

impl Type for TimeParam {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        TYPE_NAME.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            any_of: vec![
                MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date"))),
                MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time"))),
            ],
            ..MetaSchema::ANY
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromParameter for TimeParam {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        value.parse().map(Self).map_err(|e| ParseError::custom(e.to_string()))
    }
}

impl ToJSON for TimeParam {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.0.to_string()))
    }
}
