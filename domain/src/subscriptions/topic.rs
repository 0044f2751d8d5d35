//! Subscription topics: what a WebSocket client can subscribe to, and their one canonical text.
//!
//! | topic | carries |
//! |---|---|
//! | `greeks:{instrument_key}` | IV and Greeks of one option |
//! | `candles:{instrument_key}:{timeframe}` | the instrument's bars on a timeframe, the forming one marked |
//! | `indicators:{instrument_key}:{indicator}:{timeframe}` | one indicator on those bars (`rsi:14`, `macd:12:26:9`, …) |
//! | `moneyness:{underlying}:{expiry}:{level}` | the level's aggregates (both rights) of one expiry |
//! | `atm_iv:{underlying}:{expiry}` | ATM IV of one expiry |
//! | `chain:{underlying}:{expiry}` | the expiry's chain analytics |
//!
//! Instrument keys contain `:` (`NSE:NIFTY`), and so does an indicator with parameters, so a
//! topic is read from the right: the fields after the key never contain `:` except the
//! indicator, which starts at the rightmost segment naming a known indicator followed only by
//! numbers. That is always the indicator's own name (any segment of the key lies to its left),
//! so every topic reads back as it was printed, whatever its key.
//! An expiry is `YYYY-MM-DD` (exchange-local date). The kind is lower case; the parts keep the
//! spelling rules of their own types ([`InstrumentKey`], [`Timeframe`], [`MoneynessLevel`],
//! [`IndicatorSpec`]), and [`Topic`]'s `Display` is the canonical form every frame carries.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use crate::candles::Timeframe;
use crate::indicators::{IndicatorKind, IndicatorSpec};
use crate::instrument::InstrumentKey;
use crate::moneyness::MoneynessLevel;

/// Longest topic accepted, in bytes.
pub const MAX_TOPIC_LEN: usize = 200;

/// The kinds of topic, by their prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicKind {
    /// `greeks:…`
    Greeks,
    /// `candles:…`
    Candles,
    /// `indicators:…`
    Indicators,
    /// `moneyness:…`
    Moneyness,
    /// `atm_iv:…`
    AtmIv,
    /// `chain:…`
    Chain,
}

impl TopicKind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [Self; 6] = [
        Self::Greeks,
        Self::Candles,
        Self::Indicators,
        Self::Moneyness,
        Self::AtmIv,
        Self::Chain,
    ];

    /// The prefix.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Greeks => "greeks",
            Self::Candles => "candles",
            Self::Indicators => "indicators",
            Self::Moneyness => "moneyness",
            Self::AtmIv => "atm_iv",
            Self::Chain => "chain",
        }
    }

    /// The topic's shape, for error messages.
    #[must_use]
    pub fn shape(self) -> &'static str {
        match self {
            Self::Greeks => "greeks:{instrument_key}",
            Self::Candles => "candles:{instrument_key}:{timeframe}",
            Self::Indicators => "indicators:{instrument_key}:{indicator}:{timeframe}",
            Self::Moneyness => "moneyness:{underlying}:{expiry}:{level}",
            Self::AtmIv => "atm_iv:{underlying}[:{expiry}]",
            Self::Chain => "chain:{underlying}[:{expiry}]",
        }
    }
}

/// A subscription topic. Maps key topics by their canonical text (`to_string()`): an indicator's
/// parameters are numbers, so a topic has no `Eq` or `Hash` of its own.
#[derive(Debug, Clone, PartialEq)]
pub enum Topic {
    /// IV and Greeks of one option.
    Greeks {
        /// The option.
        key: InstrumentKey,
    },
    /// Bars of one instrument on one timeframe.
    Candles {
        /// The instrument.
        key: InstrumentKey,
        /// The timeframe.
        timeframe: Timeframe,
    },
    /// One indicator on one instrument's bars.
    Indicators {
        /// The instrument.
        key: InstrumentKey,
        /// The indicator and its parameters.
        spec: IndicatorSpec,
        /// The timeframe of the bars.
        timeframe: Timeframe,
    },
    /// One moneyness level of one expiry.
    Moneyness {
        /// The underlying.
        underlying: InstrumentKey,
        /// The expiry (exchange-local date).
        expiry: NaiveDate,
        /// The level or group.
        level: MoneynessLevel,
    },
    /// ATM IV of one expiry.
    AtmIv {
        /// The underlying.
        underlying: InstrumentKey,
        /// The expiry (exchange-local date); `None` follows the nearest expiry, as REST does
        /// when no expiry is named (`atm_iv:NSE:NIFTY`).
        expiry: Option<NaiveDate>,
    },
    /// Chain analytics of one expiry.
    Chain {
        /// The underlying.
        underlying: InstrumentKey,
        /// The expiry (exchange-local date); `None` follows the nearest expiry
        /// (`chain:NSE:NIFTY`).
        expiry: Option<NaiveDate>,
    },
}

/// Why a topic is refused: which part and why, for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic '{topic}': {reason}")]
pub struct TopicError {
    /// The topic as given (cut to [`MAX_TOPIC_LEN`] bytes).
    pub topic: String,
    /// Why.
    pub reason: String,
}

impl Topic {
    /// The kind.
    #[must_use]
    pub fn kind(&self) -> TopicKind {
        match self {
            Self::Greeks { .. } => TopicKind::Greeks,
            Self::Candles { .. } => TopicKind::Candles,
            Self::Indicators { .. } => TopicKind::Indicators,
            Self::Moneyness { .. } => TopicKind::Moneyness,
            Self::AtmIv { .. } => TopicKind::AtmIv,
            Self::Chain { .. } => TopicKind::Chain,
        }
    }

    /// `greeks:{key}`, exactly as [`fmt::Display`] prints [`Topic::Greeks`], without the
    /// formatting machinery: the ingest names one per priced option and batch.
    #[must_use]
    pub fn greeks_text(key: &InstrumentKey) -> String {
        let mut s = String::with_capacity(7 + key.as_str().len());
        s.push_str("greeks:");
        s.push_str(key.as_str());
        s
    }

    /// `candles:{key}:1m`, exactly as [`fmt::Display`] prints the 1-minute [`Topic::Candles`]
    /// (one per bar a batch changes).
    #[must_use]
    pub fn candles_1m_text(key: &InstrumentKey) -> String {
        let mut s = String::with_capacity(11 + key.as_str().len());
        s.push_str("candles:");
        s.push_str(key.as_str());
        s.push_str(":1m");
        s
    }

    /// The instrument or underlying the topic is about.
    #[must_use]
    pub fn instrument(&self) -> &InstrumentKey {
        match self {
            Self::Greeks { key } | Self::Candles { key, .. } | Self::Indicators { key, .. } => key,
            Self::Moneyness { underlying, .. } | Self::AtmIv { underlying, .. } | Self::Chain { underlying, .. } => {
                underlying
            }
        }
    }
}

fn expiry(raw: &str) -> Result<NaiveDate, String> {
    // Exactly `YYYY-MM-DD`: chrono alone also takes `-30226-1-2` (a negative year, ten
    // characters), which then prints as a topic that does not parse (found by fuzzing).
    let b = raw.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| shaped)
        .ok_or_else(|| format!("expiry '{raw}' is not a date YYYY-MM-DD"))
}

fn key(raw: &str, what: &str) -> Result<InstrumentKey, String> {
    InstrumentKey::parse(raw).map_err(|e| format!("{what}: {e}"))
}

fn timeframe(raw: &str) -> Result<Timeframe, String> {
    raw.parse::<Timeframe>().map_err(|e| format!("timeframe: {e}"))
}

/// Splits `rest` into (left, the last `n` segments), reading `:` from the right.
fn split_right(rest: &str, n: usize) -> Option<(&str, Vec<&str>)> {
    let mut parts: Vec<&str> = rest.rsplitn(n + 1, ':').collect();
    if parts.len() != n + 1 {
        return None;
    }
    let left = parts.pop()?;
    parts.reverse();
    Some((left, parts))
}

/// `{key}:{indicator[:param…]}`: the indicator starts at the rightmost segment naming a known
/// indicator with only numbers after it.
fn key_and_indicator(rest: &str) -> Result<(InstrumentKey, IndicatorSpec), String> {
    let segments: Vec<&str> = rest.split(':').collect();
    let start = (1..segments.len())
        .rev()
        .find(|&i| {
            segments[i].parse::<IndicatorKind>().is_ok() && segments[i + 1..].iter().all(|p| p.parse::<f64>().is_ok())
        })
        .ok_or_else(|| {
            let names: Vec<&str> = IndicatorKind::ALL.iter().map(|k| k.name()).collect();
            format!("no indicator after the instrument key (one of {})", names.join(", "))
        })?;
    let k = key(&segments[..start].join(":"), "instrument key")?;
    let spec = segments[start..]
        .join(":")
        .parse::<IndicatorSpec>()
        .map_err(|e| format!("indicator: {e}"))?;
    Ok((k, spec))
}

impl FromStr for Topic {
    type Err = TopicError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| TopicError {
            topic: raw
                .chars()
                .scan(0, |n, c| {
                    *n += c.len_utf8();
                    (*n <= MAX_TOPIC_LEN).then_some(c)
                })
                .collect(),
            reason,
        };
        if raw.len() > MAX_TOPIC_LEN {
            return Err(fail(format!(
                "{} bytes long; at most {MAX_TOPIC_LEN} are allowed",
                raw.len()
            )));
        }
        let (prefix, rest) = raw
            .split_once(':')
            .ok_or_else(|| fail("expected {kind}:{…}".to_owned()))?;
        let kind = TopicKind::ALL
            .into_iter()
            .find(|k| k.as_str() == prefix)
            .ok_or_else(|| {
                let kinds: Vec<&str> = TopicKind::ALL.iter().map(|k| k.as_str()).collect();
                fail(format!("unknown kind '{prefix}'; expected one of {}", kinds.join(", ")))
            })?;
        let shape = || format!("expected {}", kind.shape());
        let parsed = match kind {
            TopicKind::Greeks => key(rest, "instrument key").map(|key| Self::Greeks { key }),
            TopicKind::Candles => {
                let (k, p) = split_right(rest, 1).ok_or_else(|| fail(shape()))?;
                key(k, "instrument key").and_then(|key| {
                    Ok(Self::Candles {
                        key,
                        timeframe: timeframe(p[0])?,
                    })
                })
            }
            TopicKind::Indicators => {
                let (k, p) = split_right(rest, 1).ok_or_else(|| fail(shape()))?;
                key_and_indicator(k).and_then(|(key, spec)| {
                    Ok(Self::Indicators {
                        key,
                        spec,
                        timeframe: timeframe(p[0])?,
                    })
                })
            }
            TopicKind::Moneyness => {
                let (u, p) = split_right(rest, 2).ok_or_else(|| fail(shape()))?;
                key(u, "underlying").and_then(|underlying| {
                    Ok(Self::Moneyness {
                        underlying,
                        expiry: expiry(p[0])?,
                        level: p[1].parse().map_err(|e| format!("level: {e}"))?,
                    })
                })
            }
            TopicKind::AtmIv | TopicKind::Chain => {
                // The expiry is optional: a last segment of digits and dashes is meant as one
                // (no underlying's symbol is), else the whole rest is the underlying.
                let dated = |p: &str| p.contains('-') && p.bytes().all(|b| b.is_ascii_digit() || b == b'-');
                let (u, expiry) = match split_right(rest, 1) {
                    Some((u, p)) if dated(p[0]) => (u, Some(p[0])),
                    _ => (rest, None),
                };
                key(u, "underlying").and_then(|underlying| {
                    let expiry = expiry.map(self::expiry).transpose()?;
                    Ok(if kind == TopicKind::AtmIv {
                        Self::AtmIv { underlying, expiry }
                    } else {
                        Self::Chain { underlying, expiry }
                    })
                })
            }
        };
        parsed.map_err(fail)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind().as_str();
        match self {
            Self::Greeks { key } => write!(f, "{kind}:{key}"),
            Self::Candles { key, timeframe } => write!(f, "{kind}:{key}:{timeframe}"),
            Self::Indicators { key, spec, timeframe } => write!(f, "{kind}:{key}:{spec}:{timeframe}"),
            Self::Moneyness {
                underlying,
                expiry,
                level,
            } => write!(f, "{kind}:{underlying}:{}:{level}", expiry.format("%Y-%m-%d")),
            Self::AtmIv { underlying, expiry } | Self::Chain { underlying, expiry } => match expiry {
                Some(e) => write!(f, "{kind}:{underlying}:{}", e.format("%Y-%m-%d")),
                None => write!(f, "{kind}:{underlying}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Topic {
        raw.parse().unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    fn reason(raw: &str) -> String {
        raw.parse::<Topic>().expect_err(raw).reason
    }

    #[test]
    fn the_fast_texts_print_as_display_does() {
        for raw in ["NSE:NIFTY", "NSE:NIFTY-20260224-26000-CE", "CBOE:SPX-20270115-5000.5-P"] {
            let key = InstrumentKey::parse(raw).unwrap();
            assert_eq!(Topic::greeks_text(&key), Topic::Greeks { key: key.clone() }.to_string());
            assert_eq!(
                Topic::candles_1m_text(&key),
                Topic::Candles {
                    key: key.clone(),
                    timeframe: crate::candles::Timeframe::ONE_MINUTE
                }
                .to_string()
            );
        }
    }

    #[test]
    fn every_kind_reads_and_prints_back_the_same() {
        for raw in [
            "greeks:NSE:NIFTY-20261124-26000-CE",
            "candles:NSE:NIFTY:5m",
            "candles:NSE:BANKNIFTY-FUT-2026-11-25:1h",
            "indicators:NSE:NIFTY:rsi:14:5m",
            "indicators:NSE:NIFTY:macd:12:26:9:13m",
            "indicators:NSE:NIFTY:vwap_session:1m",
            "moneyness:NSE:NIFTY:2026-11-24:ITM3",
            "moneyness:NSE:NIFTY:2026-11-24:ATM",
            "moneyness:NSE:NIFTY:2026-11-24:OTM",
            "atm_iv:NSE:BANKNIFTY:2026-11-25",
            "chain:NSE:NIFTY:2026-11-24",
            "chain:NSE:NIFTY",
            "atm_iv:NSE:BANKNIFTY",
        ] {
            assert_eq!(ok(raw).to_string(), raw);
        }
    }

    #[test]
    fn chain_and_atm_iv_without_expiry_follow_the_nearest() {
        let Topic::Chain { underlying, expiry } = ok("chain:NSE:NIFTY") else {
            panic!("kind");
        };
        assert_eq!((underlying.as_str(), expiry), ("NSE:NIFTY", None));
        let Topic::AtmIv { underlying, expiry } = ok("atm_iv:CBOE:SPX:2027-01-15") else {
            panic!("kind");
        };
        assert_eq!(
            (underlying.as_str(), expiry),
            ("CBOE:SPX", NaiveDate::from_ymd_opt(2027, 1, 15))
        );
    }

    proptest::proptest! {
        #[test]
        fn any_key_round_trips(
            key in "[A-Z0-9][A-Za-z0-9&._-]{0,7}(:[A-Za-z0-9&._-]{1,8}){0,3}",
            spec in proptest::sample::select(vec!["rsi:14", "ema:20", "macd:12:26:9", "vwap_session", "bbands:20:2:2"]),
            tf in proptest::sample::select(vec!["1m", "5m", "7m", "13m", "1h", "1d"]),
            level in proptest::sample::select(vec!["ATM", "ITM", "OTM", "ITM1", "OTM12"]),
        ) {
            for raw in [
                format!("greeks:{key}"),
                format!("candles:{key}:{tf}"),
                format!("indicators:{key}:{spec}:{tf}"),
                format!("moneyness:{key}:2026-11-24:{level}"),
                format!("atm_iv:{key}:2026-11-24"),
                format!("chain:{key}:2026-11-24"),
            ] {
                let topic: Topic = raw.parse().map_err(|e: TopicError| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                proptest::prop_assert_eq!(topic.to_string(), raw);
                proptest::prop_assert_eq!(topic.instrument().as_str(), key.as_str());
            }
        }
    }

    #[test]
    fn parts_are_read_from_the_right() {
        let Topic::Indicators { key, spec, timeframe } = ok("indicators:X:rsi:ema:20:7m") else {
            panic!("kind");
        };
        assert_eq!(
            (key.as_str(), spec.to_string(), timeframe.to_string()),
            ("X:rsi", "ema:20".into(), "7m".into())
        );
        let Topic::Moneyness { underlying, level, .. } = ok("moneyness:NSE:NIFTY:2026-11-24:itm2") else {
            panic!("kind");
        };
        assert_eq!((underlying.as_str(), level), ("NSE:NIFTY", MoneynessLevel::Itm(2)));
    }

    #[test]
    fn a_refusal_names_the_part_and_the_reason() {
        assert!(reason("trades:NSE:NIFTY").contains("unknown kind 'trades'"));
        assert!(reason("greeks").contains("expected {kind}"));
        assert!(reason("greeks:NSE NIFTY").starts_with("instrument key:"));
        assert!(reason("candles:NSE:NIFTY:5x").starts_with("timeframe:"));
        assert!(reason("candles:NIFTY").contains("expected candles:{instrument_key}:{timeframe}"));
        assert!(reason("indicators:NSE:NIFTY:5m").contains("no indicator"));
        assert!(reason("indicators:NSE:NIFTY:rsi:1:5m").starts_with("indicator:"));
        assert!(reason("moneyness:NSE:NIFTY:2026-13-01:ATM").contains("expiry '2026-13-01'"));
        assert!(reason("moneyness:NSE:NIFTY:2026-11-24:XTM").starts_with("level:"));
        assert!(reason("atm_iv:NSE:NIFTY:24-11-2026").contains("YYYY-MM-DD"));
        let long = format!("greeks:{}", "A".repeat(300));
        let e = long.parse::<Topic>().unwrap_err();
        assert!(e.reason.contains("at most 200"), "{e}");
        assert_eq!(e.topic.len(), MAX_TOPIC_LEN);
    }

    /// Regression (fuzz/artifacts, topic target): a ten-character negative-year date parsed as
    /// an expiry, then printed as a topic that did not parse back. Now only `YYYY-MM-DD` is an
    /// expiry, and whatever parses prints back to itself.
    #[test]
    fn an_expiry_is_four_digit_year_month_day_and_parsed_topics_print_back() {
        assert!(expiry("-30226-1-2").is_err() && expiry("+2026-1-02").is_err() && expiry("2026-1-002").is_err());
        assert_eq!(expiry("2026-11-25").unwrap().to_string(), "2026-11-25");
        for text in [
            "atm_iv:ai::ai:sn:-30226-1-2",
            "chain:NSE:NIFTY:2026-1-002",
            "atm_iv:NSE:NIFTY:2026-11-25",
        ] {
            if let Ok(t) = text.parse::<Topic>() {
                assert_eq!(t.to_string().parse::<Topic>().as_ref(), Ok(&t), "{text}");
            }
        }
    }
}
