//! Entry points for the fuzz targets (`fuzz/`, docs/testing.md): the parsers that face the
//! network, run as the routes run them, without the I/O. Each returns how many rows or items it
//! accepted, so a target can check invariants; none may panic, hang or leak on any input.
//! Not an API: hidden from the docs, kept small.

use chrono::{DateTime, Utc};
use domain::instrument::Market;

use super::ingest::{candles_from_csv, parse_keys, split_rows, ticks_from_csv};
use super::json_rows::parse_rows;
use crate::inbound::rows::{CandleIn, TickIn};

/// The instant rows are validated against (inside an NSE session).
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_770_000_000, 0).unwrap_or_default()
}

/// A JSON body of ticks through row parsing, key parsing and tick validation.
pub fn ticks_json(data: &[u8]) -> usize {
    let Ok(rows) = parse_rows::<TickIn>(data) else { return 0 };
    let (rows, rejected) = split_rows(rows);
    valid_ticks(rows, rejected)
}

/// A CSV body of ticks, as [`ticks_json`].
pub fn ticks_csv(text: &str) -> usize {
    let Ok((rows, rejected)) = ticks_from_csv(text) else {
        return 0;
    };
    valid_ticks(rows, rejected)
}

/// A JSON body of candles through row parsing, key parsing and candle validation.
pub fn candles_json(data: &[u8]) -> usize {
    let Ok(rows) = parse_rows::<CandleIn>(data) else {
        return 0;
    };
    let (rows, rejected) = split_rows(rows);
    valid_candles(rows, rejected)
}

/// A CSV body of candles, as [`candles_json`].
pub fn candles_csv(text: &str) -> usize {
    let Ok((rows, rejected)) = candles_from_csv(text) else {
        return 0;
    };
    valid_candles(rows, rejected)
}

fn valid_ticks(rows: Vec<(usize, TickIn)>, rejected: Vec<super::ingest::RejectedRow>) -> usize {
    let (ticks, _, _) = parse_keys(rows, rejected, |t| &*t.key, |k, t| t.into_tick(k));
    let market = Market::nse();
    ticks.iter().filter(|t| t.validate(now(), &market).is_ok()).count()
}

fn valid_candles(rows: Vec<(usize, CandleIn)>, rejected: Vec<super::ingest::RejectedRow>) -> usize {
    let (candles, _, _) = parse_keys(rows, rejected, |c| &*c.key, |k, c| c.into_candle(k));
    let market = Market::nse();
    candles
        .iter()
        .filter(|c| domain::market_data::check_time("start", c.bar.start, now(), &market).is_ok())
        .count()
}

/// A WebSocket client frame (subscribe, unsubscribe, resume, ping) as the connection reads it.
pub fn ws_request(text: &str) -> bool {
    super::websocket::protocol::read_request(text).is_ok()
}
