//! JSON ingest bodies (ticks and candles) through row parsing, key parsing and validation, as
//! `POST /api/v2/ingest/*` runs them: never a panic; never more rows accepted than sent.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ticks = adapters::inbound::http::fuzz::ticks_json(data);
    let candles = adapters::inbound::http::fuzz::candles_json(data);
    // A row is at least `{}`: no body holds more rows than a third of its bytes.
    assert!(ticks <= data.len() / 2 && candles <= data.len() / 2);
});
