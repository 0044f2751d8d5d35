//! [`SerializedJson`]: a JSON answer whose bytes were produced earlier (and may be shared by
//! many requests), documented in the OpenAPI document exactly as `Json<T>` would be.
//!
//! poem-openapi's `Json<T>` builds a `serde_json::Value` tree and serializes it on every
//! request; an answer that stays the same between updates (the realtime Greeks of an option)
//! is serialized once per update instead, and each request copies a reference-counted buffer.

use std::marker::PhantomData;

use bytes::Bytes;
use poem::http::header::CONTENT_TYPE;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};

/// The JSON of a `T`, already serialized.
pub struct SerializedJson<T> {
    body: Bytes,
    kind: PhantomData<fn() -> T>,
}

impl<T: ToJSON> SerializedJson<T> {
    /// Serializes `value` as `Json<T>` would answer it.
    #[must_use]
    pub fn new(value: &T) -> Self {
        let body = serde_json::to_vec(&value.to_json()).unwrap_or_default();
        Self::from_bytes(body.into())
    }
}

impl<T> SerializedJson<T> {
    /// Bytes serialized by [`Self::new`] (or their clone).
    #[must_use]
    pub fn from_bytes(body: Bytes) -> Self {
        Self {
            body,
            kind: PhantomData,
        }
    }

    /// The serialized bytes (a cheap clone).
    #[must_use]
    pub fn bytes(&self) -> Bytes {
        self.body.clone()
    }
}

impl<T: Type + ToJSON> Payload for SerializedJson<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for SerializedJson<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(self.body)
    }
}

impl<T: Type + ToJSON> ApiResponse for SerializedJson<T> {
    fn meta() -> MetaResponses {
        <Json<T> as ApiResponse>::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}
