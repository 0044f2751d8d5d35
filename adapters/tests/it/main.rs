//! Integration tests of the adapters, in one test binary.

mod analytics_http;
mod catalogue;
mod fake_http;
mod ingest_http;
mod instrument_service;
mod openapi;
mod reads_http;
mod redis_cache;
mod replay;
mod store;
mod streams;
mod support;
