//! The OpenAPI document: the committed `openapi/signal-service.json` is what the code generates,
//! and the document is complete enough for a generated SDK to be pleasant (an operation id on
//! every operation, a description on every schema property).

use serde_json::Value;

const COMMITTED: &str = include_str!("../../../openapi/signal-service.json");

#[test]
fn the_committed_document_is_the_generated_one() {
    assert!(
        COMMITTED.trim_end() == adapters::inbound::http::openapi_json().trim_end(),
        "openapi/signal-service.json is stale: run `cargo run -p bootstrap -- openapi > openapi/signal-service.json`"
    );
}

const COMMITTED_ASYNCAPI: &str = include_str!("../../../openapi/signal-service.asyncapi.json");

#[test]
fn the_committed_asyncapi_document_is_the_generated_one() {
    assert!(
        COMMITTED_ASYNCAPI.trim_end() == adapters::inbound::http::websocket::asyncapi::asyncapi_json().trim_end(),
        "openapi/signal-service.asyncapi.json is stale: run \
         `cargo run -p bootstrap -- asyncapi > openapi/signal-service.asyncapi.json`"
    );
}

/// docs/websocket.md shows one full example of each update kind, exactly as the service writes
/// it (the JSON blocks under "Examples of each update", compared as JSON).
#[test]
fn the_websocket_guide_shows_each_update_as_written() {
    let guide = include_str!("../../../docs/websocket.md");
    let section = guide
        .split("## Examples of each update")
        .nth(1)
        .expect("docs/websocket.md has a section \"Examples of each update\"");
    let section = section.split("\n## ").next().unwrap_or(section);
    let shown: Vec<Value> = section
        .split("```json\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .map(|block| serde_json::from_str(block).unwrap_or_else(|e| panic!("{e}: {block}")))
        .collect();
    let written = adapters::inbound::http::websocket::asyncapi::example_frames();
    for (kind, frame) in &written {
        assert!(
            shown.contains(frame),
            "docs/websocket.md lacks the `{kind}` example as written:\n```json\n{}\n```",
            serde_json::to_string_pretty(frame).unwrap()
        );
    }
    assert_eq!(shown.len(), written.len(), "one example per kind");
}

#[test]
fn the_sdk_guide_shows_the_example_ci_runs() {
    let guide = include_str!("../../../docs/sdk.md");
    let script = include_str!("../../../tests/sdk/example.py");
    assert!(
        guide.contains(&format!("```python\n{script}```")),
        "docs/sdk.md must show tests/sdk/example.py exactly as it is"
    );
}

#[test]
fn every_operation_has_an_id_and_every_property_a_description() {
    let doc: Value = serde_json::from_str(&adapters::inbound::http::openapi_json()).unwrap();
    let mut ids = std::collections::HashSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            let tag = op["tags"][0].as_str().unwrap_or_else(|| panic!("{id}: no tag"));
            assert!(
                doc["tags"].as_array().unwrap().iter().any(|t| t["name"] == tag),
                "{id}: tag {tag} is not listed"
            );
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

/// Examples: every parameter has one but the opaque cursor, the API key and the parameters
/// that apply to some indicators only; every JSON request body's schema has one (or its items'
/// schema, for arrays), and so do the error body and the realtime Greeks.
#[test]
fn parameters_and_request_bodies_have_examples() {
    // The parameters of one or two indicators each (`fast`, `slow`, …): an example value would
    // be wrong for every other indicator of the same operation.
    let indicator_specific = |path: &str, name: &str| {
        let general = [
            "instrument_key",
            "indicator",
            "timeframe",
            "from",
            "to",
            "limit",
            "period",
        ];
        path.contains("/indicators/") && !general.contains(&name)
    };
    let doc: Value = serde_json::from_str(&adapters::inbound::http::openapi_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let resolve = |s: &Value| -> Value {
        let s = if s["type"] == "array" { &s["items"] } else { s };
        match s["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => s.clone(),
        }
    };
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let has = !p["example"].is_null() || !p["schema"]["example"].is_null();
                let exempt = ["cursor", "X-API-Key"].contains(&name) || indicator_specific(path, name);
                assert!(has || exempt, "{method} {path}: {name} has no example");
            }
            if let Some(json) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
                let schema = resolve(&Value::Object(json.clone()));
                assert!(!schema["example"].is_null(), "{method} {path}: the body has no example");
            }
        }
    }
    let values = &schemas["IndicatorPointOut"]["properties"]["values"];
    assert_eq!(values["items"]["nullable"], true, "null during warm-up: {values}");
    for name in ["ErrorBody", "RealtimeGreeks"] {
        assert!(!schemas[name]["example"].is_null(), "{name} has no example");
    }
}

/// What makes the generated SDK read well: absolute paths (the base URL is the service's
/// address), the API key as a security scheme on the ingest operations instead of a parameter,
/// enums by reference to one named schema each, and every inline parameter schema described.
#[test]
fn the_document_gives_sdks_a_key_scheme_named_enums_and_absolute_paths() {
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.keys().all(|p| p.starts_with("/api/v2/")), "{:?}", paths.keys());
    assert_eq!(doc["components"]["securitySchemes"]["ApiKeyAuth"]["name"], "X-API-Key");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            assert!(
                params.iter().all(|p| p["name"] != "X-API-Key"),
                "{method} {path}: the key is the scheme's, not a parameter"
            );
            assert_eq!(
                op["security"].is_array(),
                path.starts_with("/api/v2/ingest/"),
                "{method} {path}: only ingest takes the key"
            );
            for p in &params {
                assert!(
                    p["schema"]["$ref"].is_string() || p["schema"]["description"].is_string(),
                    "{method} {path}: parameter {} has no description in its schema",
                    p["name"]
                );
            }
        }
    }
    // No enum is spelled out inline in a property: each is one named schema.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        for (prop, s) in schema["properties"].as_object().into_iter().flatten() {
            assert!(s["enum"].is_null(), "{name}.{prop}: an inline enum");
        }
    }
    let dataset = &paths["/api/v2/historical/export/{dataset}"]["get"]["parameters"][0];
    assert_eq!(dataset["schema"]["$ref"], "#/components/schemas/Dataset");
}
