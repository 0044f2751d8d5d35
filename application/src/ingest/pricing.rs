//! Pricing one option from the state: its price by the conventions' source, the expiry's forward,
//! time to expiry by the conventions' basis, then IV and Greeks.

use chrono::{DateTime, Utc};
use domain::chain::{Conventions, select_price};
use domain::expiry::{Forward, ParityQuote, resolve_forward, time_to_expiry};
use domain::instrument::{Market, OptionContract, OptionRight};
use domain::ports::GreeksRecord;
use domain::pricing::{OptionInputs, PricingModel, implied_volatility, price_and_greeks};

use crate::market::{ExpiryState, QuoteState};

/// Start of the minute containing `t`.
pub(super) fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let ms = t.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(60_000)).unwrap_or(t)
}

/// How much older than the expiry's latest option quote a futures price may be and still be
/// the forward (a future that stopped trading must not pin the forward).
pub const FUTURE_MAX_AGE_SECS: i64 = 60;

/// The forward of an expiry at `t`: the same-expiry future's price when it is fresh (see
/// [`FUTURE_MAX_AGE_SECS`]), else put–call parity over its quotes, else spot carried.
pub(super) fn expiry_forward(c: &Conventions, e: &ExpiryState, spot: Option<f64>, t_years: f64) -> Option<Forward> {
    let latest_quote = e.quotes.values().map(|(_, _, q)| q.ts).max();
    let future = e
        .future
        .filter(|(ts, _)| latest_quote.is_none_or(|q| (q - *ts).num_seconds() <= FUTURE_MAX_AGE_SECS))
        .map(|(_, price)| price);
    let mut pairs: Vec<ParityQuote> = Vec::new();
    let mut it = e.quotes.iter().peekable();
    while let Some(((bits, right), (_, strike, q))) = it.next() {
        if *right != OptionRight::Call {
            continue;
        }
        let Some(((pbits, OptionRight::Put), (_, _, pq))) = it.peek() else {
            continue;
        };
        if pbits != bits {
            continue;
        }
        let price = |q: &QuoteState| select_price(c.price_source, q.bid, q.ask, q.last).map(|(p, _)| p);
        if let (Some(call), Some(put)) = (price(q), price(pq)) {
            pairs.push(ParityQuote {
                strike: *strike,
                call,
                put,
            });
        }
    }
    resolve_forward(future, &pairs, spot, c.rate, c.div_yield, t_years).ok()
}

/// Prices `contract` at `ts`; `None` when neither a spot nor a forward is known.
pub(super) fn price_option(
    c: &Conventions,
    contract: &OptionContract,
    market: &Market,
    ts: DateTime<Utc>,
    spot: Option<f64>,
    forward: Option<Forward>,
    quote: &QuoteState,
) -> Option<GreeksRecord> {
    let t = time_to_expiry(c.time_basis, ts, contract.expiry, market);
    let forward = forward.or_else(|| expiry_forward(c, &ExpiryState::default(), spot, t))?;
    let underlying = match c.model {
        PricingModel::Black76 => forward.value,
        PricingModel::Bsm => spot.unwrap_or_else(|| forward.value * (-(c.rate - c.div_yield) * t).exp()),
    };
    let chosen = select_price(c.price_source, quote.bid, quote.ask, quote.last);
    let mut inputs = OptionInputs {
        right: contract.right,
        underlying,
        strike: contract.strike.value(),
        t_years: t,
        rate: c.rate,
        div_yield: c.div_yield,
        vol: 0.0,
    };
    let (iv, iv_error, greeks) = match chosen.map(|(p, _)| implied_volatility(c.model, &inputs, p)) {
        Some(Ok(iv)) => {
            inputs.vol = iv;
            (
                Some(iv),
                None,
                price_and_greeks(c.model, &inputs).ok().map(|v| v.greeks),
            )
        }
        Some(Err(e)) => (None, Some(e), None),
        None => (None, None, None),
    };
    Some(GreeksRecord {
        key: contract.key.clone(),
        minute: minute_of(ts),
        underlying_price: spot.unwrap_or(underlying),
        forward: forward.value,
        forward_source: forward.source,
        option_price: chosen.map(|(p, _)| p),
        price_source: chosen.map(|(_, s)| s),
        iv,
        iv_error,
        greeks,
        model: c.model,
        rate: c.rate,
        time_basis: c.time_basis,
        t_years: t,
    })
}
