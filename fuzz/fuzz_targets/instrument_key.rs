//! Instrument keys (paths, bodies, topics): parsing never panics, and a key's text parses back
//! to the same key.
#![no_main]
use domain::instrument::InstrumentKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(k) = InstrumentKey::parse(s) {
        assert_eq!(InstrumentKey::parse(k.as_str()).as_ref(), Ok(&k));
    }
});
