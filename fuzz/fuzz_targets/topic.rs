//! WebSocket topics (`greeks:KEY`, `candles:KEY:7m`, `indicators:KEY:5m:rsi:14`, …): parsing
//! never panics, and a topic prints to a string that parses back to it.
#![no_main]
use domain::subscriptions::Topic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(t) = s.parse::<Topic>() {
        let again: Topic = t.to_string().parse().expect("a printed topic parses");
        assert_eq!(again, t, "{s:?} -> {t}");
    }
});
