//! Stream entries into rows: each entry's `ticks` or `candles` field read as JSON in the REST
//! shape, each row tagged with its entry, and whatever cannot be read kept for the dead-letter
//! stream.

use domain::instrument::InstrumentKey;
use domain::market_data::Tick;
use domain::ports::InstrumentCandle;
use redis::streams::StreamId;

use crate::inbound::rows::{CandleIn, TickIn};

/// Rows read from a batch of entries, each row tagged with its entry's id.
#[derive(Debug, Default)]
pub(super) struct Decoded {
    pub(super) ticks: Vec<Tick>,
    /// Entry id and row index within the entry of each tick.
    pub(super) tick_origin: Vec<(String, usize)>,
    pub(super) candles: Vec<InstrumentCandle>,
    /// Entry id and row index within the entry of each candle.
    pub(super) candle_origin: Vec<(String, usize)>,
    /// Entry id, row index within the entry, field, reason.
    pub(super) dead: Vec<(String, usize, String, String)>,
}

/// One entry's rows, as JSON values.
fn rows_of(entry: &StreamId, field: &str) -> Option<Result<Vec<serde_json::Value>, String>> {
    let raw: String = entry.get(field)?;
    Some(match serde_json::from_str::<serde_json::Value>(&raw) {
        Ok(serde_json::Value::Array(rows)) => Ok(rows),
        Ok(v @ serde_json::Value::Object(_)) => Ok(vec![v]),
        Ok(_) => Err(format!("`{field}` must hold a JSON object or array")),
        Err(e) => Err(format!("`{field}` is not valid JSON: {e}")),
    })
}

pub(super) fn decode(entries: &[StreamId]) -> Decoded {
    let mut d = Decoded::default();
    for entry in entries {
        if entry.map.contains_key("ticks") {
            decode_rows(
                entry,
                "ticks",
                &mut d.ticks,
                &mut d.tick_origin,
                &mut d.dead,
                TickIn::into_tick,
            );
        } else if entry.map.contains_key("candles") {
            decode_rows(
                entry,
                "candles",
                &mut d.candles,
                &mut d.candle_origin,
                &mut d.dead,
                CandleIn::into_candle,
            );
        } else {
            d.dead.push((
                entry.id.clone(),
                0,
                "entry".into(),
                "no `ticks` or `candles` field".into(),
            ));
        }
    }
    d
}

/// Reads the rows of `entry`'s `field` as `T`, converted by `into` into `out` (with their
/// origin); an unreadable field or row goes to `dead`.
fn decode_rows<T: serde::de::DeserializeOwned + Keyed, R>(
    entry: &StreamId,
    field: &str,
    out: &mut Vec<R>,
    origin: &mut Vec<(String, usize)>,
    dead: &mut Vec<(String, usize, String, String)>,
    into: impl Fn(T, InstrumentKey) -> R,
) {
    let id = &entry.id;
    match rows_of(entry, field) {
        Some(Ok(rows)) => {
            for (i, v) in rows.into_iter().enumerate() {
                match parse_row::<T>(v) {
                    Ok((key, row)) => {
                        out.push(into(row, key));
                        origin.push((id.clone(), i));
                    }
                    Err((f, reason)) => dead.push((id.clone(), i, f, reason)),
                }
            }
        }
        Some(Err(reason)) => dead.push((id.clone(), 0, field.to_owned(), reason)),
        None => dead.push((id.clone(), 0, field.to_owned(), "is not a string".into())),
    }
}

/// Rows that carry a `key`.
trait Keyed {
    fn key(&self) -> &str;
}
impl Keyed for TickIn {
    fn key(&self) -> &str {
        &self.key
    }
}
impl Keyed for CandleIn {
    fn key(&self) -> &str {
        &self.key
    }
}

fn parse_row<T: serde::de::DeserializeOwned + Keyed>(
    v: serde_json::Value,
) -> Result<(InstrumentKey, T), (String, String)> {
    let row: T = serde_json::from_value(v).map_err(|e| ("row".to_owned(), e.to_string()))?;
    let key = InstrumentKey::parse(row.key()).map_err(|e| ("key".to_owned(), e.to_string()))?;
    Ok((key, row))
}
