//! Whether a topic names something that exists: a subscription to an instrument, underlying or
//! expiry the service does not list would stay silent forever, where REST answers 404. The
//! WebSocket ack refuses such a topic with the reason, before the hub ever sees it.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use domain::instrument::InstrumentKey;
use domain::subscriptions::Topic;

use crate::market::{InstrumentKind, InstrumentRegistry};

/// Checks topics against the instruments the service lists (its registry: the catalogue and
/// what ingest met).
#[derive(Debug, Clone)]
pub struct TopicListing {
    registry: Arc<InstrumentRegistry>,
}

impl TopicListing {
    /// Checks against `registry`.
    #[must_use]
    pub fn new(registry: Arc<InstrumentRegistry>) -> Self {
        Self { registry }
    }

    /// `Ok` when every instrument, underlying and expiry `topic` names is listed; otherwise why
    /// not, in the words REST would use.
    ///
    /// # Errors
    /// The reason, for the ack's `refused` entry.
    pub fn check(&self, topic: &Topic) -> Result<(), String> {
        match topic {
            Topic::Greeks { key } => match self.registry.get(key).map(|r| r.kind.clone()) {
                Some(InstrumentKind::Option(_)) => Ok(()),
                Some(_) => Err(format!("{key} is not an option: Greeks are computed for options")),
                None => Err(self.unlisted(key)),
            },
            Topic::Candles { key, .. } | Topic::Indicators { key, .. } => {
                self.registry.get(key).map(|_| ()).ok_or_else(|| self.unlisted(key))
            }
            Topic::Moneyness { underlying, expiry, .. } => self.check_expiry(underlying, Some(*expiry)),
            Topic::AtmIv { underlying, expiry } | Topic::Chain { underlying, expiry } => {
                self.check_expiry(underlying, *expiry)
            }
        }
    }

    /// `expiry` `None` (the nearest): any listed expiry will do.
    fn check_expiry(&self, underlying: &InstrumentKey, expiry: Option<NaiveDate>) -> Result<(), String> {
        match self.registry.get(underlying).map(|r| r.kind.clone()) {
            Some(InstrumentKind::Underlying) => {}
            Some(_) => return Err(format!("{underlying} is not an underlying")),
            None => return Err(self.unlisted(underlying)),
        }
        let listed = self.expiries(underlying);
        let Some(expiry) = expiry else {
            return if listed.is_empty() {
                Err(format!("no option of {underlying} is listed"))
            } else {
                Ok(())
            };
        };
        if listed.contains(&expiry) {
            return Ok(());
        }
        let shown: Vec<String> = listed.iter().take(8).map(ToString::to_string).collect();
        Err(format!(
            "no option of {underlying} expires on {expiry}; listed expiries: {}{}",
            if shown.is_empty() {
                "none".to_owned()
            } else {
                shown.join(", ")
            },
            if listed.len() > shown.len() { ", …" } else { "" }
        ))
    }

    /// The expiries of `underlying`'s listed options, ascending.
    fn expiries(&self, underlying: &InstrumentKey) -> BTreeSet<NaiveDate> {
        self.registry
            .all()
            .into_iter()
            .filter_map(|(_, r)| match &r.kind {
                InstrumentKind::Option(c) if &c.underlying == underlying => r.expiry_date(),
                _ => None,
            })
            .collect()
    }

    fn unlisted(&self, key: &InstrumentKey) -> String {
        let hint = if key.as_str().contains(':') {
            "GET /api/v2/instruments lists the underlyings, …/instruments/{underlying}/chain their options"
        } else {
            "keys start with their market, e.g. NSE:NIFTY-20261208-26000-CE"
        };
        format!("{key} is not a listed instrument ({hint})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::Markets;
    use domain::instrument::{LotSize, OptionContract, OptionRight, Strike};

    fn listing() -> TopicListing {
        let registry = Arc::new(InstrumentRegistry::new(Markets::default()));
        let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
        registry.register_underlying(nifty.clone(), "NSE").unwrap();
        registry
            .register_option(
                OptionContract {
                    key: InstrumentKey::parse("NSE:NIFTY-20261208-26000-CE").unwrap(),
                    underlying: nifty,
                    expiry: chrono::DateTime::parse_from_rfc3339("2026-12-08T10:00:00Z")
                        .unwrap()
                        .to_utc(),
                    strike: Strike::new(26_000.0).unwrap(),
                    right: OptionRight::Call,
                    lot_size: LotSize::new(75).unwrap(),
                    tick_size: 0.05,
                },
                "NSE",
            )
            .unwrap();
        TopicListing::new(registry)
    }

    fn check(topic: &str) -> Result<(), String> {
        listing().check(&topic.parse::<Topic>().unwrap())
    }

    #[test]
    fn listed_things_pass_and_each_unknown_part_is_named() {
        assert_eq!(check("greeks:NSE:NIFTY-20261208-26000-CE"), Ok(()));
        assert_eq!(check("chain:NSE:NIFTY:2026-12-08"), Ok(()));
        assert_eq!(check("candles:NSE:NIFTY:5m"), Ok(()));
        let why = |t: &str| check(t).unwrap_err();
        assert!(why("greeks:NIFTY-20261208-26000-CE").contains("keys start with their market"));
        assert!(why("greeks:NSE:NIFTY-20261208-99999-CE").contains("is not a listed instrument"));
        assert!(why("greeks:NSE:NIFTY").contains("not an option"));
        let e = why("atm_iv:NSE:NIFTY:2026-12-09");
        assert!(e.contains("expires on 2026-12-09; listed expiries: 2026-12-08"), "{e}");
        assert!(why("moneyness:NSE:BANKNIFTY:2026-12-08:ATM").contains("NSE:BANKNIFTY is not a listed"));
        assert!(why("indicators:NSE:FINNIFTY:rsi:14:5m").contains("not a listed instrument"));
    }
}
