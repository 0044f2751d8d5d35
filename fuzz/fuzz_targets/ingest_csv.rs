//! CSV ingest bodies (ticks and candles) through the CSV reader, key parsing and validation, as
//! `POST /api/v2/ingest/*` runs them with `Content-Type: text/csv`: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ticks = adapters::inbound::http::fuzz::ticks_csv(text);
    let candles = adapters::inbound::http::fuzz::candles_csv(text);
    // Each accepted row is a line of its own.
    let lines = text.lines().count();
    assert!(ticks <= lines && candles <= lines);
});
