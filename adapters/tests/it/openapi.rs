//! The OpenAPI document: the committed `openapi/signal-service.json` is what the code generates,
//! and the document is complete enough for a generated SDK to be pleasant (an operation id on
//! every operation, a description on every schema property).

use serde_json::Value;

const COMMITTED: &str = include_str!("../../../openapi/signal-service.json");

#[test]
fn the_committed_document_is_the_generated_one() {
    assert!(
        COMMITTED.trim_end() == adapters::http::openapi_json().trim_end(),
        "openapi/signal-service.json is stale: run `cargo run -p bootstrap -- openapi > openapi/signal-service.json`"
    );
}

#[test]
fn every_operation_has_an_id_and_every_property_a_description() {
    let doc: Value = serde_json::from_str(&adapters::http::openapi_json()).unwrap();
    let mut ids = std::collections::HashSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{id}: undocumented"
            );
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        for (prop, p) in schema["properties"].as_object().into_iter().flatten() {
            assert!(p["description"].is_string(), "{name}.{prop} has no description");
        }
    }
}
