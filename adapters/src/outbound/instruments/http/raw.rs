//! The raw client: one method per endpoint of the instrument service, wire types out.

use std::time::Duration;

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use surf::Url;

use super::dto::{ChainDto, ContractDto, ExpiriesDto, MappingDto, StrikesDto, UnderlyingsDto};

/// Why one HTTP call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawError {
    /// No complete answer within the timeout.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The service answered with a non-2xx status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// Status code.
        status: u16,
        /// Start of the body, for logs.
        body: String,
    },
    /// Connection-level failure (refused, reset, TLS), in plain words.
    #[error("{0}")]
    Transport(String),
    /// The body is not the JSON the contract promises.
    #[error("malformed answer: {0}")]
    Decode(String),
}

impl RawError {
    /// Worth retrying (every call is an idempotent GET): timeouts, 5xx and transport errors
    /// (refused, reset, a pooled connection the server had closed); not 4xx or malformed answers.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Transport(_))
            || matches!(self, Self::Status { status, .. } if *status >= 500)
    }

    /// Counts against the circuit breaker: the service is unhealthy (not a client error).
    #[must_use]
    pub fn is_failure(&self) -> bool {
        self.is_retryable()
    }
}

/// Mirrors the instrument service's endpoints.
#[derive(Debug, Clone)]
pub struct RawInstrumentClient {
    base: Url,
    client: surf::Client,
    timeout: Duration,
}

/// Escapes a path segment (keys hold `:`; `&`, spaces and others are percent-encoded).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RawInstrumentClient {
    /// A client for the service at `base` (e.g. `http://instruments:8080/`), each call bounded by `timeout`.
    #[must_use]
    pub fn new(base: Url, timeout: Duration) -> Self {
        Self {
            base,
            client: surf::Client::new(),
            timeout,
        }
    }

    /// `host:port` of the service, for messages.
    #[must_use]
    pub fn endpoint(&self) -> String {
        crate::outbound::reach::endpoint(&self.base, self.base.port_or_known_default().unwrap_or(80))
            .unwrap_or_else(|| self.base.to_string())
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RawError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| RawError::Transport(format!("bad URL {path}: {e}")))?;
        let call = async {
            let mut res = self
                .client
                .get(url)
                .await
                .map_err(|e| RawError::Transport(crate::outbound::reach::words_of_text(&e.to_string())))?;
            let status = u16::from(res.status());
            let body = res.body_bytes().await.map_err(|e| RawError::Transport(e.to_string()))?;
            if !(200..300).contains(&status) {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                return Err(RawError::Status { status, body: text });
            }
            serde_json::from_slice(&body).map_err(|e| RawError::Decode(e.to_string()))
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| RawError::Timeout(self.timeout))?
    }

    /// `GET /v1/underlyings`.
    ///
    /// # Errors
    /// [`RawError`].
    pub async fn underlyings(&self) -> Result<UnderlyingsDto, RawError> {
        self.get("v1/underlyings").await
    }

    /// `GET /v1/underlyings/{key}/expiries`.
    ///
    /// # Errors
    /// [`RawError`].
    pub async fn expiries(&self, underlying: &str) -> Result<ExpiriesDto, RawError> {
        self.get(&format!("v1/underlyings/{}/expiries", segment(underlying)))
            .await
    }

    /// `GET /v1/underlyings/{key}/chain?expiry=YYYY-MM-DD`.
    ///
    /// # Errors
    /// [`RawError`].
    pub async fn chain(&self, underlying: &str, expiry: NaiveDate) -> Result<ChainDto, RawError> {
        self.get(&format!("v1/underlyings/{}/chain?expiry={expiry}", segment(underlying)))
            .await
    }

    /// `GET /v1/contracts/{key}`.
    ///
    /// # Errors
    /// [`RawError`].
    pub async fn contract(&self, key: &str) -> Result<ContractDto, RawError> {
        self.get(&format!("v1/contracts/{}", segment(key))).await
    }

    /// `GET /v1/underlyings/{key}/moneyness/{level}[?expiry=]`.
    ///
    /// # Errors
    /// [`RawError`].
    pub async fn strikes_by_moneyness(
        &self,
        underlying: &str,
        level: &str,
        expiry: Option<NaiveDate>,
    ) -> Result<StrikesDto, RawError> {
        let q = expiry.map(|e| format!("?expiry={e}")).unwrap_or_default();
        self.get(&format!(
            "v1/underlyings/{}/moneyness/{}{q}",
            segment(underlying),
            segment(level)
        ))
        .await
    }

    /// `GET /v1/underlyings/{key}/moneyness-mapping[?expiry=]`.
    ///
    /// # Errors
    /// [`RawError`].
    pub async fn moneyness_mapping(&self, underlying: &str, expiry: Option<NaiveDate>) -> Result<MappingDto, RawError> {
        let q = expiry.map(|e| format!("?expiry={e}")).unwrap_or_default();
        self.get(&format!("v1/underlyings/{}/moneyness-mapping{q}", segment(underlying)))
            .await
    }
}
