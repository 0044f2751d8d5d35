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

#[cfg(test)]
mod tests {
    use super::*;

    /// Friday 2026-01-30 15:00 IST, the session before [`now`].
    const TICKS_CSV: &str = "key,ts,last,bid,ask\n\
        NSE:NIFTY,2026-01-30T09:30:00Z,25010.5,,\n\
        NSE:NIFTY,2026-01-30T09:31:00Z,25011,25010,25012\n\
        not a key,2026-01-30T09:31:00Z,1,,\n\
        NSE:NIFTY,2026-01-31T09:31:00Z,1,,\n";

    #[test]
    fn ingest_bodies_count_the_rows_the_routes_would_accept() {
        assert_eq!(ticks_csv(TICKS_CSV), 2, "a bad key and a Saturday are refused");
        assert_eq!(ticks_csv("key,ts,last\n"), 0);
        assert_eq!(ticks_csv("not,a,header\n1,2,3\n"), 0);
        let json = br#"[{"key":"NSE:NIFTY","ts":"2026-01-30T09:30:00Z","last":25010},
                        {"key":"NSE:NIFTY","ts":"2027-01-30T09:30:00Z","last":25010},
                        {"key":"bad","ts":"x"}]"#;
        assert_eq!(ticks_json(json), 1, "the future and the malformed are refused");
        assert_eq!(ticks_json(b"{"), 0);
        let candles = "key,start,open,high,low,close,volume\n\
            NSE:NIFTY,2026-01-30T09:30:00Z,1,2,0.5,1.5,3\n\
            NSE:NIFTY,2026-01-30T11:00:00Z,1,2,0.5,1.5,3\n";
        assert_eq!(candles_csv(candles), 1, "16:30 IST is outside the session");
        let json = br#"[{"key":"NSE:NIFTY","start":"2026-01-30T09:30:00Z","open":1,"high":2,"low":0.5,"close":1.5,"volume":3}]"#;
        assert_eq!(candles_json(json), 1);
        assert_eq!(candles_json(b"[1]"), 0);
        assert_eq!(candles_csv("\u{0}"), 0);
    }

    #[test]
    fn websocket_frames_parse_or_are_refused() {
        assert!(ws_request(
            r#"{"action":"subscribe","id":"r1","topics":["greeks:NSE:NIFTY-20261124-26000-CE"]}"#
        ));
        assert!(ws_request(
            r#"{"action":"unsubscribe","id":"r3","topics":["candles:NSE:NIFTY:5m"]}"#
        ));
        assert!(!ws_request(r#"{"action":"ping","id":"p"}"#));
        assert!(!ws_request(r#"{"action":"fly"}"#));
        assert!(!ws_request("not json"));
    }
}
