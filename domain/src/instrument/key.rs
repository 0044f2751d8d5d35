//! The instrument key: the one identifier every port, table and API path uses for an instrument.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 64;

/// A validated instrument key such as `NSE:NIFTY`, `NSE:NIFTY25NOV24000CE` or `NSE:BANKNIFTY-FUT-2025-11-25`.
///
/// Rules: 1–64 bytes of ASCII letters, digits and `: _ - . &`, starting with a letter or digit.
/// The key is opaque beyond that: nothing parses meaning out of it, so any exchange's symbology fits.
///
/// Shared text: the ingest path clones keys into its maps, state and records many times per
/// tick, and a clone is a reference-count increment, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstrumentKey(Arc<str>);

/// Why a string is not an instrument key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentKeyError {
    /// The key is empty.
    #[error("instrument key is empty")]
    Empty,
    /// The key is longer than `MAX_KEY_LEN` (64) bytes.
    #[error("instrument key is {0} bytes long; at most {MAX_KEY_LEN} are allowed")]
    TooLong(usize),
    /// The key holds a character outside the allowed set, or starts with punctuation.
    #[error(
        "instrument key has '{0}' at byte {1}; allowed are ASCII letters, digits and ':_-.&', starting with a letter or digit"
    )]
    BadChar(char, usize),
}

impl InstrumentKey {
    /// Validates `raw` as an instrument key.
    ///
    /// # Errors
    /// [`InstrumentKeyError`] naming the first rule the string breaks.
    pub fn parse(raw: &str) -> Result<Self, InstrumentKeyError> {
        if raw.is_empty() {
            return Err(InstrumentKeyError::Empty);
        }
        if raw.len() > MAX_KEY_LEN {
            return Err(InstrumentKeyError::TooLong(raw.len()));
        }
        for (i, c) in raw.char_indices() {
            let ok = c.is_ascii_alphanumeric() || (i > 0 && matches!(c, ':' | '_' | '-' | '.' | '&'));
            if !ok {
                return Err(InstrumentKeyError::BadChar(c, i));
            }
        }
        Ok(Self(Arc::from(raw)))
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as shared text (for adapters that can hold it without copying).
    #[must_use]
    pub fn shared(&self) -> &Arc<str> {
        &self.0
    }
}

impl TryFrom<String> for InstrumentKey {
    type Error = InstrumentKeyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<InstrumentKey> for String {
    fn from(value: InstrumentKey) -> Self {
        value.0.to_string()
    }
}

impl fmt::Display for InstrumentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exchange_style_keys() {
        for k in [
            "NSE:NIFTY",
            "NSE:NIFTY25NOV24000CE",
            "NSE:M&M",
            "BANKNIFTY-FUT-2025-11-25",
        ] {
            assert_eq!(InstrumentKey::parse(k).unwrap().as_str(), k);
        }
    }

    #[test]
    fn rejects_empty_long_and_odd_keys() {
        assert_eq!(InstrumentKey::parse(""), Err(InstrumentKeyError::Empty));
        assert_eq!(
            InstrumentKey::parse(&"A".repeat(65)),
            Err(InstrumentKeyError::TooLong(65))
        );
        assert_eq!(
            InstrumentKey::parse("NSE NIFTY"),
            Err(InstrumentKeyError::BadChar(' ', 3))
        );
        assert_eq!(InstrumentKey::parse(":NIFTY"), Err(InstrumentKeyError::BadChar(':', 0)));
        assert!(InstrumentKey::parse("NIFTY/../x").is_err());
    }
}
