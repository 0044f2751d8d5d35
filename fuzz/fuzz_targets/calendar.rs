//! Calendar files (`[markets.CODE] calendar = …`, the shipped `domain/calendars/*.csv`): never a
//! panic; a calendar that loads answers for any date.
#![no_main]
use domain::instrument::Market;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(m) = Market::nse().from_calendar(text) {
        for d in ["2015-01-01", "2026-02-02", "2027-12-31"] {
            let _ = m.session_on(d.parse().expect("a date"));
        }
    }
});
