//! Helpers shared by the domain's integration tests.

use std::path::PathBuf;

/// Reads any CSV into its header and records.
pub fn read_csv(path: &std::path::Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = r.headers().unwrap().clone();
    let rows = r.records().map(Result::unwrap).collect();
    (h, rows)
}

/// Path of a file under `../shared/reference`, or `None` (after saying so) when it is absent
/// outside CI. Under `CI` a missing file fails the test.
pub fn shared_reference(rel: &str) -> Option<PathBuf> {
    // SIGNAL_SHARED_DIR: where `../shared` is when the tree is a copy elsewhere (cargo-mutants
    // builds each mutant in a copy; scripts/mutants.sh points it back).
    let shared = std::env::var_os("SIGNAL_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let p = shared.join("reference").join(rel);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} is missing",
        p.display()
    );
    eprintln!("SKIPPED: {} is absent (no ../shared beside the checkout)", p.display());
    None
}

/// Column accessor by name.
pub struct Row<'a> {
    pub header: &'a csv::StringRecord,
    pub rec: &'a csv::StringRecord,
}

impl Row<'_> {
    pub fn s(&self, col: &str) -> &str {
        let i = self
            .header
            .iter()
            .position(|h| h == col)
            .unwrap_or_else(|| panic!("no column {col}"));
        &self.rec[i]
    }
    pub fn f(&self, col: &str) -> f64 {
        self.s(col)
            .parse()
            .unwrap_or_else(|e| panic!("{col}={:?}: {e}", self.s(col)))
    }
    pub fn opt(&self, col: &str) -> Option<f64> {
        if !self.header.iter().any(|h| h == col) {
            return None;
        }
        let s = self.s(col);
        (!s.is_empty()).then(|| s.parse().unwrap())
    }
}

/// Reads a fixture with its header for [`Row`] access.
pub fn fixture_with_header(name: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    read_csv(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
}

/// A trading day's windows as local `HH:MM-HH:MM` text in `tz`, space-separated.
pub fn session_windows(day: &domain::instrument::TradingDay, tz: chrono_tz::Tz) -> String {
    day.windows()
        .iter()
        .map(|w| {
            format!(
                "{}-{}",
                w.open.with_timezone(&tz).format("%H:%M"),
                w.close.with_timezone(&tz).format("%H:%M")
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A calendar fixture's lines (`date,windows` or `date,closed`; `#` comments) by date.
pub fn calendar_exceptions(fixture: &str) -> std::collections::BTreeMap<chrono::NaiveDate, &str> {
    fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (date, what) = l.split_once(',').unwrap();
            (chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(), what)
        })
        .collect()
}
