//! The instruments the registry holds, read as an [`InstrumentSource`]: the local strike ladder
//! the moneyness mapping falls back to when neither cache nor the instrument service has a
//! mapping (the service may be the one that is down).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::instrument::{InstrumentKey, OptionContract, Underlying};
use domain::moneyness::strike_step;
use domain::ports::{InstrumentSource, PortError};

use super::{InstrumentKind, InstrumentRegistry};

/// The registry's listing.
pub struct RegistryListing(pub Arc<InstrumentRegistry>);

impl RegistryListing {
    fn contracts(&self, underlying: &InstrumentKey) -> Vec<OptionContract> {
        let mut out: Vec<OptionContract> = self
            .0
            .all()
            .into_iter()
            .filter_map(|(_, r)| match &r.kind {
                InstrumentKind::Option(c) if &c.underlying == underlying => Some(c.clone()),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| {
            (a.expiry, a.strike.value(), a.right)
                .partial_cmp(&(b.expiry, b.strike.value(), b.right))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        out
    }

    fn local_date(&self, c: &OptionContract) -> Option<NaiveDate> {
        self.0.get(&c.key).map(|r| r.market().local_date(c.expiry))
    }
}

#[async_trait]
impl InstrumentSource for RegistryListing {
    /// Underlyings are not listed from here (only their options' strikes are needed).
    async fn underlyings(&self) -> Result<Vec<Underlying>, PortError> {
        Ok(Vec::new())
    }

    async fn expiries(&self, underlying: &InstrumentKey) -> Result<Vec<NaiveDate>, PortError> {
        let mut out: Vec<NaiveDate> = self
            .contracts(underlying)
            .iter()
            .filter_map(|c| self.local_date(c))
            .collect();
        out.dedup();
        Ok(out)
    }

    async fn chain(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> Result<Vec<OptionContract>, PortError> {
        let chain: Vec<OptionContract> = self
            .contracts(underlying)
            .into_iter()
            .filter(|c| self.local_date(c) == Some(expiry))
            .collect();
        if chain.is_empty() {
            return Err(PortError::NotFound(format!(
                "no listed options of {underlying} expiring {expiry}"
            )));
        }
        Ok(chain)
    }

    async fn contract(&self, key: &InstrumentKey) -> Result<OptionContract, PortError> {
        match self.0.get(key).map(|r| r.kind.clone()) {
            Some(InstrumentKind::Option(c)) => Ok(c),
            _ => Err(PortError::NotFound(format!("option {key}"))),
        }
    }

    /// The most common gap between the underlying's listed strikes.
    async fn strike_step(&self, underlying: &InstrumentKey) -> Result<f64, PortError> {
        let strikes: Vec<f64> = self.contracts(underlying).iter().map(|c| c.strike.value()).collect();
        strike_step(&strikes).ok_or_else(|| PortError::NotFound(format!("no listed strikes of {underlying}")))
    }
}
