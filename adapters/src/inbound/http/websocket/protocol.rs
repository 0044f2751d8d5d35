//! The wire protocol of `/api/v2/subscriptions/websocket` (docs/websocket.md has examples).
//!
//! Client → server, JSON text frames:
//! - `{"action":"subscribe","id":"r1","topics":["greeks:NSE:…"],"resume":{"greeks:NSE:…":{"epoch":…,"seq":…}}}`
//! - `{"action":"unsubscribe","id":"r2","topics":[…]}`
//!
//! Server → client: `ack` (per request, listing accepted and refused topics with reasons),
//! `snapshot` and `update` frames (topic, epoch, seq, source time, forming flag, data), and
//! `error` (a code and a message; the connection stays up).

use std::collections::HashMap;

use application::subscriptions::StateSnapshot;
use chrono::{DateTime, Utc};
use domain::ports::{SignalEvent, TopicUpdate};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::{Bytes, Utf8Bytes};

use super::super::updates::UpdateData;

/// How server frames are encoded, chosen at connect with `?encoding=json|msgpack` (see
/// [`super::delivery`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encoding {
    /// JSON text frames (default).
    #[default]
    Json,
    /// MessagePack binary frames: the same maps and field names as the JSON, in fewer bytes.
    MessagePack,
}

/// A frame ready to send, shared: one encoding of an update serves every connection (cloning
/// it counts a reference; the bytes are copied once, into each socket's write buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded {
    /// A text frame.
    Text(Utf8Bytes),
    /// A binary frame.
    Binary(Bytes),
}

impl Encoded {
    /// Payload bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Encoding {
    /// Encodes `frame`.
    #[must_use]
    pub fn encode(self, frame: &ServerFrame) -> Encoded {
        match self {
            Self::Json => Encoded::Text(frame.to_json().into()),
            Self::MessagePack => match rmp_serde::to_vec_named(frame) {
                Ok(bytes) => Encoded::Binary(bytes.into()),
                Err(e) => Encoded::Text(
                    ServerFrame::error(None, ErrorCode::MalformedJson, format!("unencodable frame: {e}"))
                        .to_json()
                        .into(),
                ),
            },
        }
    }
}

/// A client's position in one topic, for resuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The epoch of the last update received.
    pub epoch: u64,
    /// Its sequence number.
    pub seq: u64,
}

/// A client request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Follow topics.
    Subscribe {
        /// Chosen by the client, echoed in the ack (`null` there when not given).
        #[serde(default)]
        id: Option<String>,
        /// Topics to follow.
        topics: Vec<String>,
        /// Last positions, for topics the client followed before (resume).
        #[serde(default)]
        resume: HashMap<String, Position>,
    },
    /// Stop following topics.
    Unsubscribe {
        /// Chosen by the client, echoed in the ack (`null` there when not given).
        #[serde(default)]
        id: Option<String>,
        /// Topics to stop following.
        topics: Vec<String>,
    },
}

/// A topic refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The topic as given.
    pub topic: String,
    /// Why.
    pub reason: String,
}

/// How a data frame relates to the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameKind {
    /// The topic's latest state on subscribing, or after a gap too old to resume: the client
    /// replaces what it has.
    Snapshot,
    /// The next update.
    Update,
    /// The topic's latest state after a break in its numbering (updates this instance never
    /// received, e.g. during a Redis outage, or a new epoch): updates were lost, so the client
    /// replaces what it has, as with a snapshot, and resumes from this frame's `(epoch, seq)`.
    Resync,
}

/// Why the server speaks up unasked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not a request's shape.
    MalformedJson,
    /// An `action` other than subscribe or unsubscribe.
    UnknownAction,
    /// A frame over the inbound size limit.
    FrameTooLarge,
    /// Binary frames are not requests.
    BinaryNotAccepted,
    /// Over the inbound message rate: the message was dropped.
    RateLimited,
}

/// A server frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The answer to one request.
    Ack {
        /// The request's id; `null` when the request had none.
        id: Option<String>,
        /// `subscribe` or `unsubscribe`.
        action: String,
        /// Topics now followed (subscribe) or dropped (unsubscribe), canonical text.
        accepted: Vec<String>,
        /// Topics refused, with reasons.
        refused: Vec<Refusal>,
    },
    /// Data of one topic.
    Data {
        /// Snapshot or update.
        frame: FrameKind,
        /// Canonical topic text.
        topic: String,
        /// The numbering of `seq`.
        epoch: u64,
        /// Position in the topic (0 in a snapshot of a topic with no update yet).
        seq: u64,
        /// When the data was produced at its source (RFC 3339, UTC, `+00:00` as in every REST
        /// answer); absent with no data.
        #[serde(serialize_with = "rfc3339")]
        source_ts: Option<DateTime<Utc>>,
        /// A bar, or an indicator on a bar, still forming.
        forming: bool,
        /// The data (absent in a snapshot of a topic with no update yet), written as
        /// [`UpdateData`]: the REST answers' field names, units and time format.
        #[serde(serialize_with = "data_in_api_words")]
        data: Option<Box<SignalEvent>>,
    },
    /// A request went wrong; the connection stays up.
    Error {
        /// The request's id, when it could be read.
        id: Option<String>,
        /// What went wrong.
        code: ErrorCode,
        /// For people.
        message: String,
    },
}

impl ErrorCode {
    /// The code as the frame spells it (also the metrics' refusal reason).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::UnknownAction => "unknown_action",
            Self::FrameTooLarge => "frame_too_large",
            Self::BinaryNotAccepted => "binary_not_accepted",
            Self::RateLimited => "rate_limited",
        }
    }
}

impl ServerFrame {
    /// A data frame of `update`.
    #[must_use]
    pub fn data(frame: FrameKind, update: &TopicUpdate) -> Self {
        Self::Data {
            frame,
            topic: update.topic.clone(),
            epoch: update.epoch,
            seq: update.seq,
            source_ts: Some(update.source_ts),
            forming: update.forming,
            data: Some(Box::new(update.event.clone())),
        }
    }

    /// A snapshot of the current state of a topic this instance has no numbered update of:
    /// position unknown (epoch and seq 0), so resuming from it gives a snapshot again.
    #[must_use]
    pub fn state_snapshot(topic: String, state: StateSnapshot) -> Self {
        Self::Data {
            frame: FrameKind::Snapshot,
            topic,
            epoch: 0,
            seq: 0,
            source_ts: Some(state.source_ts),
            forming: state.forming,
            data: Some(Box::new(state.event)),
        }
    }

    /// A snapshot of a topic nothing has been published on yet.
    #[must_use]
    pub fn empty_snapshot(topic: String) -> Self {
        Self::Data {
            frame: FrameKind::Snapshot,
            topic,
            epoch: 0,
            seq: 0,
            source_ts: None,
            forming: false,
            data: None,
        }
    }

    /// An error.
    #[must_use]
    pub fn error(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            id,
            code,
            message: message.into(),
        }
    }

    /// As JSON text.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","id":null,"code":"malformed_json","message":"unserializable frame: {e}"}}"#)
        })
    }
}

fn rfc3339<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339()),
        None => s.serialize_none(),
    }
}

fn data_in_api_words<S: serde::Serializer>(data: &Option<Box<SignalEvent>>, s: S) -> Result<S::Ok, S::Error> {
    match data {
        Some(event) => UpdateData::json(event).serialize(s),
        None => s.serialize_none(),
    }
}

/// Reads a request; on failure, the error frame to answer (with the id when it was readable).
///
/// # Errors
/// The [`ServerFrame::Error`] to send back.
pub fn read_request(text: &str) -> Result<Request, Box<ServerFrame>> {
    match serde_json::from_str::<Request>(text) {
        Ok(r) => Ok(r),
        Err(e) => {
            let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
            let id = value
                .as_ref()
                .and_then(|v| v.get("id"))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let action = value.as_ref().and_then(|v| v.get("action")).and_then(|v| v.as_str());
            Err(Box::new(match action {
                Some(a) if a != "subscribe" && a != "unsubscribe" => ServerFrame::error(
                    id,
                    ErrorCode::UnknownAction,
                    format!("action '{a}' is not one of subscribe, unsubscribe"),
                ),
                _ => ServerFrame::error(id, ErrorCode::MalformedJson, format!("not a request: {e}")),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_reads_back_as_the_json() {
        let update = TopicUpdate::example("candles:NSE:NIFTY:1m", 3, 9);
        let frame = ServerFrame::data(FrameKind::Update, &update);
        let (Encoded::Text(json), Encoded::Binary(packed)) =
            (Encoding::Json.encode(&frame), Encoding::MessagePack.encode(&frame))
        else {
            panic!("a text and a binary frame")
        };
        let from_json: serde_json::Value = serde_json::from_str(&json).unwrap();
        let from_packed: serde_json::Value = rmp_serde::from_slice(&packed).unwrap();
        assert_eq!(from_json, from_packed);
        assert!(packed.len() < json.len(), "{} vs {}", packed.len(), json.len());
    }

    #[test]
    fn requests_read_and_bad_ones_say_why() {
        let r = read_request(r#"{"action":"subscribe","id":"r1","topics":["greeks:NSE:X"],"resume":{"greeks:NSE:X":{"epoch":3,"seq":9}}}"#).unwrap();
        let Request::Subscribe { id, topics, resume } = r else {
            panic!()
        };
        assert_eq!(
            (id.as_deref(), topics.len(), resume["greeks:NSE:X"].seq),
            (Some("r1"), 1, 9)
        );
        let r = read_request(r#"{"action":"subscribe","topics":["greeks:NSE:X"]}"#).unwrap();
        assert!(matches!(r, Request::Subscribe { id: None, .. }), "id is optional");
        let e = read_request(r#"{"action":"publish","id":"r2","topics":[]}"#).unwrap_err();
        assert!(matches!(*e, ServerFrame::Error { code: ErrorCode::UnknownAction, id: Some(ref i), .. } if i == "r2"));
        let e = read_request("{not json").unwrap_err();
        assert!(matches!(
            *e,
            ServerFrame::Error {
                code: ErrorCode::MalformedJson,
                id: None,
                ..
            }
        ));
        let e = read_request(r#"{"action":"subscribe","id":"r3"}"#).unwrap_err();
        assert!(e.to_json().contains("missing field `topics`"), "{}", e.to_json());
    }
}
