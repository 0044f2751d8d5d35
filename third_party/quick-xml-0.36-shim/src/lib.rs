//! quick-xml 0.36's serde entry points on quick-xml 0.42 (Signal Service shim).
//!
//! poem 3.1 and poem-openapi 5.1 require quick-xml 0.36 and call only `de::from_str`,
//! `de::from_reader`, `se::to_string`, `se::to_string_with_root` and the `DeError` type (whose
//! `Unsupported` variant poem matches when a value needs a root element). quick-xml 0.36 has two
//! denial-of-service advisories (RUSTSEC-2026-0194, -0195) fixed from 0.41; this crate gives the
//! same functions with the 0.36 signatures and does the work with 0.42. The service itself serves
//! and reads no XML: this only keeps the vulnerable parser out of the build.

use std::borrow::Cow;
use std::fmt;

/// The error of every function here, as 0.36 had one type for both directions.
#[derive(Debug)]
pub enum DeError {
    /// The value cannot be serialized as XML without a root element name (poem retries with
    /// `"root"`), or uses something XML cannot express.
    Unsupported(Cow<'static, str>),
    /// Deserializing failed.
    De(qx::DeError),
    /// Serializing failed for another reason.
    Se(qx::SeError),
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported(m) => write!(f, "unsupported value: {m}"),
            Self::De(e) => e.fmt(f),
            Self::Se(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DeError {}

impl From<qx::SeError> for DeError {
    fn from(e: qx::SeError) -> Self {
        match e {
            qx::SeError::Unsupported(m) => Self::Unsupported(m),
            other => Self::Se(other),
        }
    }
}

/// Deserializing.
pub mod de {
    pub use super::DeError;

    /// Deserializes `T` from a string of XML.
    ///
    /// # Errors
    /// The document does not hold a `T`.
    pub fn from_str<'de, T: serde::Deserialize<'de>>(s: &'de str) -> Result<T, DeError> {
        qx::de::from_str(s).map_err(DeError::De)
    }

    /// Deserializes `T` from a reader of XML.
    ///
    /// # Errors
    /// The document does not hold a `T`, or the reader fails.
    pub fn from_reader<R: std::io::BufRead, T: serde::de::DeserializeOwned>(reader: R) -> Result<T, DeError> {
        qx::de::from_reader(reader).map_err(DeError::De)
    }
}

/// Serializing.
pub mod se {
    pub use super::DeError;

    /// Serializes `value` as XML, its type's name as the root element.
    ///
    /// # Errors
    /// [`DeError::Unsupported`] when the value has no name to use as the root.
    pub fn to_string<T: ?Sized + serde::Serialize>(value: &T) -> Result<String, DeError> {
        Ok(qx::se::to_string(value)?)
    }

    /// Serializes `value` as XML under the root element `root_tag`.
    ///
    /// # Errors
    /// As [`to_string`].
    pub fn to_string_with_root<T: ?Sized + serde::Serialize>(root_tag: &str, value: &T) -> Result<String, DeError> {
        Ok(qx::se::to_string_with_root(root_tag, value)?)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Quote {
        key: String,
        last: f64,
    }

    #[test]
    fn values_round_trip_and_unnamed_ones_are_unsupported() {
        let q = Quote {
            key: "CBOE:SPX".into(),
            last: 6800.5,
        };
        let xml = super::se::to_string(&q).unwrap();
        assert_eq!(xml, "<Quote><key>CBOE:SPX</key><last>6800.5</last></Quote>");
        assert_eq!(super::de::from_str::<Quote>(&xml).unwrap(), q);
        assert_eq!(super::de::from_reader::<_, Quote>(xml.as_bytes()).unwrap(), q);
        // A bare sequence has no element name: poem then retries with a root of its own.
        assert!(matches!(super::se::to_string(&[1, 2]), Err(super::DeError::Unsupported(_))));
        let rooted = super::se::to_string_with_root("root", &q).unwrap();
        assert!(rooted.starts_with("<root>"), "{rooted}");
        assert!(super::de::from_str::<Quote>("<Quote><key>x</key></Quote>").is_err());
    }
}
