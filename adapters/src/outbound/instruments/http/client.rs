//! The domain client: the instrument port over the raw client, with retries and a breaker.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use domain::instrument::{InstrumentKey, LotSize, OptionContract, OptionRight, Strike, Underlying, UnderlyingKind};
use domain::moneyness::MoneynessLevel;
use domain::ports::{InstrumentSource, MappingSource, MoneynessMapping, PortError};
use surf::Url;

use super::dto::{ContractDto, MappingDto, UnderlyingDto};
use super::raw::{RawError, RawInstrumentClient};
use super::resilience::{GuardedError, Resilience, ResilienceConfig};

/// [`InstrumentSource`] backed by the external instrument service.
#[derive(Debug)]
pub struct HttpInstrumentSource {
    raw: RawInstrumentClient,
    policy: Resilience,
}

/// A failed call as a port error naming the service's `host:port` (`endpoint`) and the cause.
fn port_error(endpoint: &str, e: GuardedError) -> PortError {
    let at = |e: RawError| format!("instrument service at {endpoint}: {e}");
    match e {
        GuardedError::Open => PortError::Unavailable(format!(
            "instrument service at {endpoint}: circuit breaker open after repeated failures"
        )),
        GuardedError::Call(RawError::Status { status: 404, body }) => PortError::NotFound(body),
        GuardedError::Call(e @ (RawError::Timeout(_) | RawError::Transport(_))) => PortError::Unavailable(at(e)),
        GuardedError::Call(e @ RawError::Status { status, .. }) if status >= 500 => PortError::Unavailable(at(e)),
        GuardedError::Call(e) => PortError::Invalid(at(e)),
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Invalid(format!("instrument service sent a bad {what}: {e}"))
}

fn parse_key(s: &str) -> Result<InstrumentKey, PortError> {
    InstrumentKey::parse(s).map_err(|e| invalid("key", e))
}

fn parse_underlying(d: UnderlyingDto) -> Result<Underlying, PortError> {
    let kind = match d.kind.as_str() {
        "index" => UnderlyingKind::Index,
        "equity" => UnderlyingKind::Equity,
        "future" => UnderlyingKind::Future,
        other => return Err(invalid("underlying kind", other)),
    };
    if !(d.strike_step.is_finite() && d.strike_step > 0.0) {
        return Err(invalid("strike step", d.strike_step));
    }
    Ok(Underlying {
        key: parse_key(&d.key)?,
        symbol: d.symbol,
        market: d.market,
        kind,
        strike_step: d.strike_step,
    })
}

fn parse_contract(d: ContractDto) -> Result<OptionContract, PortError> {
    Ok(OptionContract {
        key: parse_key(&d.key)?,
        underlying: parse_key(&d.underlying)?,
        expiry: d.expiry,
        strike: Strike::new(d.strike).map_err(|e| invalid("strike", e))?,
        right: d.right.parse::<OptionRight>().map_err(|e| invalid("right", e))?,
        lot_size: LotSize::new(d.lot_size).map_err(|e| invalid("lot size", e))?,
        tick_size: d.tick_size,
    })
}

fn parse_mapping(d: MappingDto) -> Result<MoneynessMapping, PortError> {
    let levels = d
        .levels
        .into_iter()
        .map(|(k, v)| Ok((k.parse::<MoneynessLevel>().map_err(|e| invalid("level", e))?, v)))
        .collect::<Result<BTreeMap<_, _>, PortError>>()?;
    Ok(MoneynessMapping {
        underlying: parse_key(&d.underlying)?,
        expiry: d.expiry,
        atm_strike: d.atm_strike,
        strike_step: d.strike_step,
        levels,
        as_of: d.as_of,
        basis: domain::moneyness::MappingBasis::InstrumentService,
    })
}

impl HttpInstrumentSource {
    /// A client for the service at `base`; `timeout` bounds each attempt.
    #[must_use]
    pub fn new(base: Url, timeout: std::time::Duration, policy: ResilienceConfig) -> Self {
        Self {
            raw: RawInstrumentClient::new(base, timeout),
            policy: Resilience::new(policy),
        }
    }

    /// The retry and breaker policy (for health reporting).
    #[must_use]
    pub fn policy(&self) -> &Resilience {
        &self.policy
    }

    /// Strikes at `level` (call side; a group level gives all its strikes) for the expiry, or the
    /// nearest expiry when `None`.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] (timeouts, 5xx after retries, open breaker), [`PortError::NotFound`],
    /// [`PortError::Invalid`] for a malformed answer.
    pub async fn get_strikes_by_moneyness(
        &self,
        underlying: &InstrumentKey,
        level: MoneynessLevel,
        expiry: Option<NaiveDate>,
    ) -> Result<Vec<f64>, PortError> {
        let level_name = level.to_string();
        let dto = self
            .policy
            .call(|| self.raw.strikes_by_moneyness(underlying.as_str(), &level_name, expiry))
            .await
            .map_err(|e| port_error(&self.raw.endpoint(), e))?;
        Ok(dto.strikes)
    }

    /// The whole level → strikes mapping for the expiry (nearest when `None`).
    ///
    /// # Errors
    /// As [`Self::get_strikes_by_moneyness`].
    pub async fn get_moneyness_mapping(
        &self,
        underlying: &InstrumentKey,
        expiry: Option<NaiveDate>,
    ) -> Result<MoneynessMapping, PortError> {
        let dto = self
            .policy
            .call(|| self.raw.moneyness_mapping(underlying.as_str(), expiry))
            .await
            .map_err(|e| port_error(&self.raw.endpoint(), e))?;
        parse_mapping(dto)
    }
}

#[async_trait]
impl InstrumentSource for HttpInstrumentSource {
    async fn underlyings(&self) -> Result<Vec<Underlying>, PortError> {
        let dto = self
            .policy
            .call(|| self.raw.underlyings())
            .await
            .map_err(|e| port_error(&self.raw.endpoint(), e))?;
        dto.underlyings.into_iter().map(parse_underlying).collect()
    }

    async fn expiries(&self, underlying: &InstrumentKey) -> Result<Vec<NaiveDate>, PortError> {
        let mut v = self
            .policy
            .call(|| self.raw.expiries(underlying.as_str()))
            .await
            .map_err(|e| port_error(&self.raw.endpoint(), e))?
            .expiries;
        v.sort_unstable();
        Ok(v)
    }

    async fn chain(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> Result<Vec<OptionContract>, PortError> {
        let dto = self
            .policy
            .call(|| self.raw.chain(underlying.as_str(), expiry))
            .await
            .map_err(|e| port_error(&self.raw.endpoint(), e))?;
        let mut v = dto
            .contracts
            .into_iter()
            .map(parse_contract)
            .collect::<Result<Vec<_>, _>>()?;
        v.sort_by(|a, b| {
            a.strike
                .value()
                .total_cmp(&b.strike.value())
                .then(a.right.cmp(&b.right))
        });
        Ok(v)
    }

    async fn contract(&self, key: &InstrumentKey) -> Result<OptionContract, PortError> {
        parse_contract(
            self.policy
                .call(|| self.raw.contract(key.as_str()))
                .await
                .map_err(|e| port_error(&self.raw.endpoint(), e))?,
        )
    }
}

#[async_trait]
impl MappingSource for HttpInstrumentSource {
    async fn mapping(&self, underlying: &InstrumentKey, expiry: NaiveDate) -> Result<MoneynessMapping, PortError> {
        self.get_moneyness_mapping(underlying, Some(expiry)).await
    }
}

impl crate::metrics::Source for HttpInstrumentSource {
    fn read_into(&self, reading: &mut crate::metrics::StateReading) {
        reading.breaker = Some(match self.policy.state() {
            super::resilience::BreakerState::Closed => "closed",
            super::resilience::BreakerState::Open => "open",
            super::resilience::BreakerState::HalfOpen => "half_open",
        });
    }
}
