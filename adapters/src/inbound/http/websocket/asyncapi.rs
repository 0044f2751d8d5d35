//! The WebSocket contract as an AsyncAPI 3 document: `signal-service asyncapi` prints it,
//! `openapi/signal-service.asyncapi.json` holds it (CI checks the two agree and validates it
//! with the AsyncAPI parser).
//!
//! The update payloads are the schemas poem-openapi registers for [`UpdateData`], the very
//! types the service writes (`super::super::updates`), so the document cannot drift from the
//! frames. Each message carries a full example, written by the same code from one example
//! event of each kind (`asyncapi/examples.rs`). poem-openapi's schemas are OpenAPI 3.0
//! schema objects; [`as_asyncapi_schema`] turns the two things AsyncAPI's schema format
//! spells differently (the discriminator, a property name there; chrono's `naive-date`).

mod examples;

use domain::ports::TopicUpdate;
use domain::subscriptions::TopicKind;
use poem_openapi::registry::Registry;
use poem_openapi::types::Type;
use serde_json::{Value, json};

use super::super::updates::UpdateData;
use super::protocol::{FrameKind, ServerFrame};

/// Which `data.kind` each topic kind carries.
fn kinds_of(topic: TopicKind) -> &'static str {
    match topic {
        TopicKind::Greeks => "`greeks`",
        TopicKind::Candles => "`candle` on `1m`, `bar` on longer timeframes",
        TopicKind::Indicators => "`indicator`",
        TopicKind::Moneyness => "`moneyness_level`",
        TopicKind::AtmIv => "`atm_iv`",
        TopicKind::Chain => "`chain`",
    }
}

/// `schema` (an OpenAPI 3.0 schema object, and every schema inside it) in AsyncAPI's schema
/// format: a discriminator is the property's name, dates have the format `date`.
fn as_asyncapi_schema(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map.get("discriminator").and_then(|d| d.get("propertyName")).cloned() {
                map.insert("discriminator".into(), name);
                if let Some(any) = map.remove("anyOf") {
                    map.insert("oneOf".into(), any);
                }
            }
            if map.get("format").and_then(Value::as_str) == Some("naive-date") {
                map.insert("format".into(), json!("date"));
            }
            map.values_mut().for_each(as_asyncapi_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(as_asyncapi_schema),
        _ => {}
    }
}

/// The data frame of one example event, as the service writes it.
fn example_frame(topic: String, forming: bool, event: domain::ports::SignalEvent) -> Value {
    let update = TopicUpdate {
        topic,
        epoch: 1_764_000_000_000,
        seq: 42,
        source_ts: chrono::DateTime::parse_from_rfc3339("2026-11-24T04:31:00Z")
            .map(|t| t.to_utc())
            .unwrap_or_default(),
        received: None,
        forming,
        event,
    };
    serde_json::from_str(&ServerFrame::data(FrameKind::Update, &update).to_json()).unwrap_or(Value::Null)
}

/// The example data frame of each kind, `(kind, frame)`: the examples of the document and of
/// docs/websocket.md.
#[must_use]
pub fn example_frames() -> Vec<(&'static str, Value)> {
    examples::events()
        .into_iter()
        .map(|(topic, kind, forming, event)| (kind, example_frame(topic, forming, event)))
        .collect()
}

fn topics_table() -> String {
    let mut out = String::from("| topic | `data.kind` |\n|---|---|\n");
    for k in TopicKind::ALL {
        out.push_str(&format!("| `{}` | {} |\n", k.shape(), kinds_of(k)));
    }
    out
}

fn frame_schemas() -> Value {
    let text = |d: &str| json!({"type": "string", "description": d});
    json!({
        "Subscribe": {
            "type": "object",
            "description": "Follow topics. Answered by one `ack`, then one `snapshot` data frame per accepted topic.",
            "required": ["action", "topics"],
            "properties": {
                "action": {"type": "string", "enum": ["subscribe"], "description": "`subscribe`."},
                "id": text("Chosen by the client, echoed in the ack (optional)."),
                "topics": {"type": "array", "items": {"type": "string"}, "description": "Topics to follow (see the channel's description). A topic naming an instrument, underlying or expiry the service does not list is refused in the ack, with the reason."},
                "resume": {
                    "type": "object",
                    "description": "Last positions by topic, for topics followed before: the missed updates come back, or a snapshot.",
                    "additionalProperties": {"$ref": "#/components/schemas/Position"}
                }
            }
        },
        "Unsubscribe": {
            "type": "object",
            "description": "Stop following topics.",
            "required": ["action", "topics"],
            "properties": {
                "action": {"type": "string", "enum": ["unsubscribe"], "description": "`unsubscribe`."},
                "id": text("Chosen by the client, echoed in the ack (optional)."),
                "topics": {"type": "array", "items": {"type": "string"}, "description": "Topics to stop following."}
            }
        },
        "Position": {
            "type": "object",
            "description": "A position in a topic's numbering.",
            "required": ["epoch", "seq"],
            "properties": {
                "epoch": {"type": "integer", "format": "int64", "description": "The numbering."},
                "seq": {"type": "integer", "format": "int64", "description": "The last update seen."}
            }
        },
        "Ack": {
            "type": "object",
            "description": "The answer to one request.",
            "required": ["type", "id", "action", "accepted", "refused"],
            "properties": {
                "type": {"type": "string", "enum": ["ack"], "description": "`ack`."},
                "id": {"type": ["string", "null"], "description": "The request's id; null when it had none."},
                "action": {"type": "string", "enum": ["subscribe", "unsubscribe"], "description": "The request's action."},
                "accepted": {"type": "array", "items": {"type": "string"}, "description": "Topics now followed (or dropped), canonical text."},
                "refused": {"type": "array", "items": {"$ref": "#/components/schemas/Refusal"}, "description": "Topics refused, with reasons."}
            }
        },
        "Refusal": {
            "type": "object",
            "description": "A topic refused, and why.",
            "required": ["topic", "reason"],
            "properties": {"topic": text("The topic as given."), "reason": text("Why, for people.")}
        },
        "DataFrame": {
            "type": "object",
            "description": "Data of one topic: a snapshot (on subscribe), an update, or a resync (after updates were lost: replace what you hold).",
            "required": ["type", "frame", "topic", "epoch", "seq", "forming"],
            "properties": {
                "type": {"type": "string", "enum": ["data"], "description": "`data`."},
                "frame": {"type": "string", "enum": ["snapshot", "update", "resync"], "description": "How the frame relates to the stream."},
                "topic": text("Canonical topic text."),
                "epoch": {"type": "integer", "format": "int64", "description": "The numbering `seq` belongs to; a new one means the numbering restarted."},
                "seq": {"type": "integer", "format": "int64", "description": "Position in the topic, from 1 (0 in a snapshot of a topic with no update here yet)."},
                "source_ts": {"type": "string", "format": "date-time", "description": "When the data was produced at its source, RFC 3339 with `+00:00`; absent with no data."},
                "forming": {"type": "boolean", "description": "A bar, or an indicator on a bar, still forming."},
                "data": {"$ref": "#/components/schemas/UpdateData"}
            }
        },
        "Error": {
            "type": "object",
            "description": "A request went wrong; the connection stays up.",
            "required": ["type", "code", "message"],
            "properties": {
                "type": {"type": "string", "enum": ["error"], "description": "`error`."},
                "id": text("The request's id, when it could be read."),
                "code": {
                    "type": "string",
                    "enum": ["malformed_json", "unknown_action", "frame_too_large", "binary_not_accepted", "rate_limited"],
                    "description": "What went wrong."
                },
                "message": text("For people.")
            }
        }
    })
}

/// The AsyncAPI 3 document of `/api/v2/subscriptions/websocket`, pretty JSON.
#[must_use]
pub fn asyncapi_json() -> String {
    let mut registry = Registry::new();
    UpdateData::register(&mut registry);
    let mut schemas = serde_json::to_value(&registry.schemas).unwrap_or_else(|_| json!({}));
    as_asyncapi_schema(&mut schemas);
    if let (Some(all), Value::Object(frames)) = (schemas.as_object_mut(), frame_schemas()) {
        all.extend(frames);
    }
    let examples: Vec<Value> = example_frames()
        .into_iter()
        .map(|(kind, frame)| json!({"name": kind, "summary": format!("A `{kind}` update."), "payload": frame}))
        .collect();
    let message = |name: &str, title: &str, summary: &str, schema: &str| {
        json!({
            "name": name,
            "title": title,
            "summary": summary,
            "contentType": "application/json",
            "payload": {"$ref": format!("#/components/schemas/{schema}")}
        })
    };
    let mut data = message(
        "data",
        "Data frame",
        "A snapshot, update or resync of one topic; `data.kind` tells its shape.",
        "DataFrame",
    );
    data["examples"] = Value::Array(examples);
    let description = format!(
        "Subscriptions to computed signals. Connect to `/api/v2/subscriptions/websocket` \
         (`?encoding=msgpack` for MessagePack binary frames with the same maps; `?token=` or an \
         `X-API-Key` header when keys are configured), send `subscribe` and `unsubscribe` \
         requests as JSON text frames, receive `ack`, `data` and `error` frames.\n\n\
         Every update's `data` uses the REST answers' field names, units and time format \
         (docs/websocket.md).\n\n{}",
        topics_table()
    );
    let channel_ref = json!({"$ref": "#/channels/subscriptions"});
    let op = |action: &str, msg: &str, summary: &str| {
        json!({
            "action": action,
            "channel": channel_ref,
            "summary": summary,
            "messages": [{"$ref": format!("#/channels/subscriptions/messages/{msg}")}]
        })
    };
    let doc = json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Signal Service subscriptions",
            "version": "2",
            "description": description
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:8080",
                "protocol": "ws",
                "description": "The embedded default (`signal-service serve`)."
            }
        },
        "channels": {
            "subscriptions": {
                "address": "/api/v2/subscriptions/websocket",
                "description": "One connection carries every topic the client follows.",
                "messages": {
                    "subscribe": {"$ref": "#/components/messages/subscribe"},
                    "unsubscribe": {"$ref": "#/components/messages/unsubscribe"},
                    "ack": {"$ref": "#/components/messages/ack"},
                    "data": {"$ref": "#/components/messages/data"},
                    "error": {"$ref": "#/components/messages/error"}
                }
            }
        },
        "operations": {
            "subscribe": op("send", "subscribe", "Follow topics."),
            "unsubscribe": op("send", "unsubscribe", "Stop following topics."),
            "ack": op("receive", "ack", "The answer to a request."),
            "data": op("receive", "data", "Snapshots, updates and resyncs."),
            "error": op("receive", "error", "A request went wrong.")
        },
        "components": {
            "schemas": schemas,
            "messages": {
                "subscribe": message("subscribe", "Subscribe", "Follow topics.", "Subscribe"),
                "unsubscribe": message("unsubscribe", "Unsubscribe", "Stop following topics.", "Unsubscribe"),
                "ack": message("ack", "Ack", "The answer to one request.", "Ack"),
                "data": data,
                "error": message("error", "Error", "A request went wrong; the connection stays up.", "Error")
            }
        }
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
