//! WebSocket client frames as the connection reads them: never a panic, whatever arrives.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = adapters::inbound::http::fuzz::ws_request(s);
    }
});
