//! Integration tests of the adapters, in one test binary.

/// Runs each named `async fn(FreshDatabase)` twice: on a fresh SQLite file and on a fresh
/// PostgreSQL database.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(e2e_tests::FreshDatabase::sqlite()).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(e2e_tests::FreshDatabase::postgres().await).await })*
        }
    };
}

mod analytics_http;
mod catalogue;
mod compaction;
mod history_http;
mod ingest_http;
mod ingest_log;
mod instrument_service;
mod mapping_http;
mod metrics_http;
mod openapi;
mod plans;
mod reads_http;
mod redis_cache;
mod replay;
mod store;
mod streams;
mod support;
mod websocket;
