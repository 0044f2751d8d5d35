//! Chain analytics of one expiry from the state: the per-level aggregates stored each minute.

use chrono::{DateTime, NaiveDate, Utc};
use domain::chain::{ChainAnalytics, ChainQuote, ChainSpec, Conventions, evaluate_chain, select_price};
use domain::expiry::Forward;
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::{MoneynessLevel, MoneynessMapping, aggregate_by_group};
use domain::ports::{ChainInputs, MoneynessRecord};

use crate::market::ExpiryState;

/// Evaluates the chain and turns it into one record per (right, level), groups included: by
/// `mapping`'s levels when the instrument service's mapping is at hand, else by the local strike
/// ladder around the chain's ATM strike.
#[allow(clippy::too_many_arguments)] // one call site; the arguments are the expiry's state, named
pub(super) fn chain_records(
    c: &Conventions,
    underlying: &InstrumentKey,
    expiry: NaiveDate,
    minute: DateTime<Utc>,
    e: &ExpiryState,
    spot: Option<f64>,
    forward: Forward,
    t_years: f64,
    mapping: Option<&MoneynessMapping>,
) -> (ChainAnalytics, Vec<MoneynessRecord>) {
    let quotes: Vec<ChainQuote> = e
        .quotes
        .iter()
        .map(|((_, right), (_, strike, q))| ChainQuote {
            strike: *strike,
            right: *right,
            price: select_price(c.price_source, q.bid, q.ask, q.last).map(|(p, _)| p),
            oi: q.oi,
            volume: q.volume,
        })
        .collect();
    evaluate_records(
        c,
        underlying,
        expiry,
        minute,
        &quotes,
        ChainInputs { forward, t_years, spot },
        mapping,
    )
}

/// Evaluates one expiry's `quotes` on `inputs` and turns the chain into one record per (right,
/// level), as [`chain_records`]; also what the historical chain evaluates again from the store.
pub(crate) fn evaluate_records(
    c: &Conventions,
    underlying: &InstrumentKey,
    expiry: NaiveDate,
    minute: DateTime<Utc>,
    quotes: &[ChainQuote],
    inputs: ChainInputs,
    mapping: Option<&MoneynessMapping>,
) -> (ChainAnalytics, Vec<MoneynessRecord>) {
    let ChainInputs { forward, t_years, spot } = inputs;
    let spec = ChainSpec {
        model: c.model,
        rate: c.rate,
        div_yield: c.div_yield,
        t_years,
        spot,
        forward,
        reference: c.reference,
        strike_step: None,
    };
    let a = evaluate_chain(&spec, quotes);
    let atm_iv = a.atm_iv.map(|x| x.iv);
    let record = |right, level, aggregate| MoneynessRecord {
        underlying: underlying.clone(),
        expiry,
        minute,
        right,
        level,
        aggregate,
        atm_iv,
        chain: (level == MoneynessLevel::Atm).then_some(inputs),
    };
    if let Some(m) = mapping {
        let out = m
            .aggregate(&a.points)
            .into_iter()
            .map(|(right, level, aggregate)| record(right, level, aggregate))
            .collect();
        return (a, out);
    }
    let mut out: Vec<MoneynessRecord> = a.levels.iter().map(|e| record(e.right, e.level, e.aggregate)).collect();
    if let (Some(atm), Some(step)) = (a.atm_strike, a.strike_step) {
        for right in [OptionRight::Call, OptionRight::Put] {
            for group in [MoneynessLevel::ItmGroup, MoneynessLevel::OtmGroup] {
                out.push(record(
                    right,
                    group,
                    aggregate_by_group(&a.points, right, group, atm, step),
                ));
            }
        }
    }
    (a, out)
}
