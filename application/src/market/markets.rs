//! The markets the service knows: each one's calendar ([`Market`]) and pricing conventions,
//! by code. Built once at start from the shipped calendars and the configuration
//! (`[markets.CODE]`); an instrument whose market is not here is refused, never priced on
//! another market's calendar.

use std::collections::BTreeMap;
use std::sync::Arc;

use domain::chain::Conventions;
use domain::instrument::Market;

/// One market: its calendar and the conventions its options are priced with.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketEntry {
    /// Time zone, sessions, holidays and special sessions.
    pub market: Market,
    /// How its quotes become IV and Greeks.
    pub conventions: Conventions,
}

/// Markets by upper-case code.
#[derive(Debug, Clone, PartialEq)]
pub struct Markets {
    by_code: BTreeMap<String, Arc<MarketEntry>>,
}

impl Default for Markets {
    /// The shipped markets (NSE, CBOE) on the default conventions.
    fn default() -> Self {
        Self::new(Market::SHIPPED.iter().filter_map(|code| {
            Some(MarketEntry {
                market: Market::by_code(code)?,
                conventions: Conventions::DEFAULT,
            })
        }))
    }
}

impl Markets {
    /// A registry of exactly these markets (a later entry of the same code wins).
    #[must_use]
    pub fn new(entries: impl IntoIterator<Item = MarketEntry>) -> Self {
        Self {
            by_code: entries
                .into_iter()
                .map(|e| (e.market.code().to_ascii_uppercase(), Arc::new(e)))
                .collect(),
        }
    }

    /// The market of `code`, case-insensitively.
    #[must_use]
    pub fn get(&self, code: &str) -> Option<&Arc<MarketEntry>> {
        self.by_code
            .get(code)
            .or_else(|| self.by_code.get(&code.to_ascii_uppercase()))
    }

    /// The known codes, ascending (for error messages).
    #[must_use]
    pub fn codes(&self) -> Vec<&str> {
        self.by_code.keys().map(String::as_str).collect()
    }

    /// `code`'s market, or an error naming the known ones.
    ///
    /// # Errors
    /// `market 'X' is not configured (known: CBOE, NSE)`.
    pub fn require(&self, code: &str) -> Result<&Arc<MarketEntry>, String> {
        self.get(code).ok_or_else(|| {
            format!(
                "market '{code}' is not configured (known: {}; add [markets.{code}])",
                self.codes().join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_case_insensitively_and_unknown_ones_are_named() {
        let m = Markets::default();
        assert_eq!(m.get("nse").unwrap().market.code(), "NSE");
        let err = m.require("XNAS").unwrap_err();
        assert!(err.contains("'XNAS'") && err.contains("known: CBOE, NSE"), "{err}");
    }
}
