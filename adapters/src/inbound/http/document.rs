//! The OpenAPI document: what poem-openapi generates from the endpoint groups, with the touches
//! SDK generators and schemathesis need, and the handler serving it at `/openapi.json`.

/// The OpenAPI document of the v2 API, pretty JSON: what `signal-service openapi` prints,
/// `/openapi.json` serves and `openapi/signal-service.json` holds.
///
/// Five touches to what poem-openapi generates, so that SDK generators and schemathesis read it
/// as meant: a property of a named object type is a plain `$ref` and one of an enum type has the
/// enum inline; an optional scalar or enum property may also be `null` (`nullable: true`), which
/// is how the service reads a `null` in a request (as absent; answers leave absent values out);
/// arrays of optional numbers say their items may be `null` (`NULLABLE_ITEMS`); a parameter of
/// a named type is a plain `$ref` with its example beside it; and dates have the standard format
/// name `date`.
#[must_use]
pub fn openapi_json() -> String {
    let raw = super::api(&super::AppState::detached()).spec();
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&raw) else {
        return raw;
    };
    // chrono's NaiveDate is documented as the non-standard format `naive-date`; it is an RFC 3339
    // full-date, which OpenAPI calls `date`.
    let mut text = serde_json::to_string(&doc).unwrap_or_default();
    text = text.replace("\"naive-date\"", "\"date\"");
    doc = serde_json::from_str(&text).unwrap_or(doc);
    // The grammar of the string parameters the handlers parse themselves (poem-openapi's
    // `pattern` validator compiles its regex on every request; the handlers' own parsing gives
    // the same 400s, naming the parameter).
    for param in parameters_mut(&mut doc) {
        // An example on a parameter of a named type comes as `allOf: [{$ref}, {example}]`,
        // which generators refuse over an enum: the parameter carries the example instead.
        if let Some(target) = param["schema"]["allOf"][0]["$ref"].as_str().map(str::to_owned) {
            refer(param, &target);
        }
        let pattern = match param["name"].as_str() {
            Some("instrument_key" | "underlying") => KEY_PATTERN,
            Some("level") => LEVEL_PATTERN,
            Some("indicator") => INDICATOR_PATTERN,
            _ => continue,
        };
        param["schema"]["pattern"] = serde_json::Value::String(pattern.to_owned());
    }
    let schemas = doc["components"]["schemas"].clone();
    if let Some(all) = doc["components"]["schemas"].as_object_mut() {
        for schema in all.values_mut() {
            let required: Vec<String> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let Some(props) = schema["properties"].as_object_mut() else {
                continue;
            };
            for (name, prop) in props.iter_mut() {
                let optional = !required.contains(name);
                // poem-openapi writes a property of a named type as `allOf: [{$ref}, {description}]`.
                let target = prop["allOf"][0]["$ref"].as_str().map(str::to_owned);
                if let Some(target) = target {
                    let description = prop["allOf"][1]["description"].clone();
                    let referred = &schemas[target.trim_start_matches("#/components/schemas/")];
                    // By reference, objects and enums alike, so SDKs name each type once
                    // (an enum inline became one class per property: `GreeksBatchModelType1`…).
                    let _ = referred;
                    *prop = serde_json::json!({"$ref": target});
                    if description.is_string() {
                        prop["description"] = description;
                    }
                } else if optional {
                    prop["nullable"] = serde_json::Value::Bool(true);
                }
            }
        }
    }
    tag_operations(&mut doc);
    api_key_scheme(&mut doc);
    named_dataset(&mut doc);
    absolute_paths(&mut doc);
    for (schema, property, part) in NULLABLE_ITEMS {
        let items = &mut doc["components"]["schemas"][schema]["properties"][property][part];
        if items.is_object() {
            items["nullable"] = serde_json::Value::Bool(true);
        }
    }
    describe_parameter_schemas(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or(raw)
}

/// The resource groups of the API, each operation's by its path, with what each holds: SDK
/// generators make one module per tag (`api.realtime`, `api.historical`, …) instead of one
/// `default` for everything.
const TAGS: [(&str, &str, &str); 6] = [
    (
        "moneyness",
        "/moneyness/",
        "Aggregates by moneyness level, ATM IV, skew and the strikes at a level: now and over time.",
    ),
    (
        "realtime",
        "/realtime/",
        "The latest values from memory: Greeks, chains, chain statistics, indicators.",
    ),
    (
        "historical",
        "/historical/",
        "Stored history on any timeframe: candles, Greeks, indicators, exports.",
    ),
    (
        "analytics",
        "/analytics/",
        "Calculators: IV and Greeks of rows given in the request.",
    ),
    ("ingest", "/ingest/", "Market data in: ticks and 1-minute candles."),
    (
        "instruments",
        "/instruments/",
        "The catalogue: underlyings, expiries, listed chains.",
    ),
];

/// Tags every operation with the first of [`TAGS`] its path contains, and lists the tags.
fn tag_operations(doc: &mut serde_json::Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, ops) in paths.iter_mut() {
        let Some((tag, _, _)) = TAGS.iter().find(|(_, part, _)| path.contains(part)) else {
            continue;
        };
        for op in ops.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            op["tags"] = serde_json::json!([tag]);
        }
    }
    doc["tags"] = TAGS
        .iter()
        .map(|(name, _, description)| serde_json::json!({"name": name, "description": description}))
        .collect();
}

/// Where the API is served; the document's paths carry it, so an SDK's base URL is the
/// service's address alone (`http://localhost:8080`).
pub(super) const API_PREFIX: &str = "/api/v2";

/// Prefixes every path with [`API_PREFIX`] and names the default server.
fn absolute_paths(doc: &mut serde_json::Value) {
    if let Some(paths) = doc["paths"].as_object_mut() {
        *paths = std::mem::take(paths)
            .into_iter()
            .map(|(path, ops)| (format!("{API_PREFIX}{path}"), ops))
            .collect();
    }
    doc["servers"] = serde_json::json!([{
        "url": "http://localhost:8080",
        "description": "`signal-service serve` on the embedded default; give an SDK your service's address (scheme, host and port: the paths carry `/api/v2`)."
    }]);
}

/// The `X-API-Key` header as a security scheme instead of a parameter of each ingest
/// operation: an SDK then takes the key once, on its client. Optional (`{}` among the
/// requirements): a service with no `ingest.api_keys` configured takes anonymous writes.
fn api_key_scheme(doc: &mut serde_json::Value) {
    doc["components"]["securitySchemes"] = serde_json::json!({
        "ApiKeyAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "One of the service's `ingest.api_keys`; required by the ingest operations when keys are configured (401 otherwise)."
        }
    });
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for op in paths
        .values_mut()
        .filter_map(|p| p.as_object_mut())
        .flat_map(|o| o.values_mut())
    {
        let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) else {
            continue;
        };
        let before = params.len();
        params.retain(|p| !(p["in"] == "header" && p["name"] == "X-API-Key"));
        if params.len() < before {
            if params.is_empty()
                && let Some(o) = op.as_object_mut()
            {
                o.remove("parameters");
            }
            op["security"] = serde_json::json!([{"ApiKeyAuth": []}, {}]);
        }
    }
}

/// The export's `dataset` path parameter as a named enum (the handler parses the text itself,
/// so a wrong one is a 400 naming `dataset`).
fn named_dataset(doc: &mut serde_json::Value) {
    doc["components"]["schemas"]["Dataset"] = serde_json::json!({
        "type": "string",
        "description": "What an export holds: `candles` or `greeks`.",
        "enum": ["candles", "greeks"]
    });
    for param in parameters_mut(doc).filter(|p| p["in"] == "path" && p["name"] == "dataset") {
        refer(param, "#/components/schemas/Dataset");
    }
}

/// Every parameter of every operation of the document.
fn parameters_mut(doc: &mut serde_json::Value) -> impl Iterator<Item = &mut serde_json::Value> {
    doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|p| p.as_object_mut())
        .flat_map(|ops| ops.values_mut())
        .filter_map(|op| op.get_mut("parameters").and_then(|p| p.as_array_mut()))
        .flatten()
}

/// Makes `param`'s schema a plain `$ref` to `target`, its example moved beside it (generators
/// refuse anything next to a `$ref` in the schema).
fn refer(param: &mut serde_json::Value, target: &str) {
    let example = param["schema"]["example"].take();
    param["schema"] = serde_json::json!({"$ref": target});
    if !example.is_null() {
        param["example"] = example;
    }
}

/// Array items and map values that are `Option`s (poem-openapi documents `Vec<Option<T>>` as
/// an array of `T`): an indicator's values are `null` during its warm-up.
const NULLABLE_ITEMS: [(&str, &str, &str); 2] = [
    ("IndicatorPointOut", "values", "items"),
    ("IndicatorPointOut", "by_column", "additionalProperties"),
];

/// Copies each parameter's description into its inline schema too: SDK generators (the Python
/// one) take a parameter's docstring from its schema.
fn describe_parameter_schemas(doc: &mut serde_json::Value) {
    for param in parameters_mut(doc) {
        let description = param["description"].clone();
        if description.is_string() && param["schema"].is_object() && param["schema"].get("$ref").is_none() {
            param["schema"]["description"] = description;
        }
    }
}

/// An instrument key (see `domain::instrument::InstrumentKey`).
const KEY_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9:_.&-]{0,63}$";
/// A moneyness level or group (see `domain::moneyness::MoneynessLevel`).
const LEVEL_PATTERN: &str = "^(ATM|ITM|OTM|ITM([1-9][0-9]{0,2}|1000)|OTM([1-9][0-9]{0,2}|1000))$";
/// An indicator name (see `domain::indicators::IndicatorKind`).
const INDICATOR_PATTERN: &str = "^(sma|ema|wma|dema|tema|rsi|macd|bbands|atr|adx|stoch|cci|obv|willr|mfi|roc|sar|supertrend|vwap_session)(:[0-9]+(\\.[0-9]+)?)*$";

/// The document, built once, for `/openapi.json`.
static OPENAPI_JSON: std::sync::LazyLock<String> = std::sync::LazyLock::new(openapi_json);

#[poem::handler]
pub(super) fn openapi_document() -> poem::Response {
    poem::Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(OPENAPI_JSON.as_str())
}
