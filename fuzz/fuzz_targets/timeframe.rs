//! Timeframes (`7m`, `1h`, `1d`, …: query parameters, topics, the CLI): parsing never panics,
//! and a parsed timeframe prints to a string that parses back to it.
#![no_main]
use domain::candles::Timeframe;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(tf) = s.parse::<Timeframe>() {
        let again: Timeframe = tf.to_string().parse().expect("a printed timeframe parses");
        assert_eq!(again, tf, "{s:?} -> {tf}");
    }
});
