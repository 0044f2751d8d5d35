//! The contract-master CSV: one row per option contract, modelled on exchange contract files.
//!
//! Columns (header required, any order): `key,underlying,expiry,strike,right,lot_size,tick_size`.
//! `expiry` is the RFC 3339 instant trading stops (NSE: `2025-12-30T15:30:00+05:30`), `right` is
//! `call`/`put` (or `CE`/`PE`), or `FUT` for a futures contract (its `strike` empty); `strike` and
//! `tick_size` are in price units, `lot_size` in units.
//! Underlyings are the distinct `underlying` keys; their strike step is the most common gap
//! between their listed strikes. [`write()`] produces the same layout, so files round-trip.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use domain::instrument::{
    FutureContract, InstrumentKey, LotSize, Market, OptionContract, OptionRight, Strike, Underlying, UnderlyingKind,
};
use domain::moneyness::strike_step;

use super::Catalogue;
use crate::inbound::calc_csv::{CalcError, Input, RowRef, fmt_num};

/// The header of a contract master.
pub const COLUMNS: [&str; 7] = [
    "key",
    "underlying",
    "expiry",
    "strike",
    "right",
    "lot_size",
    "tick_size",
];

fn key(r: &RowRef<'_>, i: usize) -> Result<InstrumentKey, CalcError> {
    InstrumentKey::parse(r.str(i)).map_err(|e| r.err(i, e.to_string()))
}

/// One row: an option contract, or a future when `right` is `FUT`.
enum Listed {
    Option(OptionContract),
    Future(FutureContract),
}

fn contract(r: &RowRef<'_>) -> Result<Listed, CalcError> {
    let expiry = DateTime::parse_from_rfc3339(r.str(2))
        .map_err(|e| r.err(2, format!("'{}' is not an RFC 3339 instant ({e})", r.str(2))))?
        .with_timezone(&Utc);
    let lot: u32 = r
        .str(5)
        .parse()
        .map_err(|_| r.err(5, format!("'{}' is not a whole number", r.str(5))))?;
    let tick = r.num(6)?;
    if !(tick.is_finite() && tick > 0.0) {
        return Err(r.err(6, "must be a positive number"));
    }
    let lot_size = LotSize::new(lot).map_err(|e| r.err(5, e.to_string()))?;
    if r.str(4).eq_ignore_ascii_case("FUT") {
        if !r.str(3).trim().is_empty() {
            return Err(r.err(3, "must be empty for a future"));
        }
        return Ok(Listed::Future(FutureContract {
            key: key(r, 0)?,
            underlying: key(r, 1)?,
            expiry,
            lot_size,
            tick_size: tick,
        }));
    }
    Ok(Listed::Option(OptionContract {
        key: key(r, 0)?,
        underlying: key(r, 1)?,
        expiry,
        strike: Strike::new(r.num(3)?).map_err(|e| r.err(3, e.to_string()))?,
        right: r.str(4).parse::<OptionRight>().map_err(|e| r.err(4, e.to_string()))?,
        lot_size,
        tick_size: tick,
    }))
}

/// The shipped market a key's exchange prefix names (`CBOE:SPX` → Cboe), else `fallback`.
fn market_of(key: &InstrumentKey, fallback: &Market) -> Market {
    key.as_str()
        .split_once(':')
        .and_then(|(code, _)| Market::by_code(code))
        .unwrap_or_else(|| fallback.clone())
}

/// Reads a contract master; each underlying trades on the shipped market its key's prefix names
/// (`NSE:`, `CBOE:`), any other on `market` (an index by default).
///
/// # Errors
/// [`CalcError`] naming the first bad row and column, or a missing column.
pub fn read(input: impl Read, market: &Market) -> Result<Catalogue, CalcError> {
    let (mut contracts, mut futures) = (Vec::new(), Vec::new());
    Input::new(input, &COLUMNS)?.for_each(|r| {
        match contract(r)? {
            Listed::Option(c) => contracts.push(c),
            Listed::Future(f) => futures.push(f),
        }
        Ok(())
    })?;
    let mut strikes: BTreeMap<InstrumentKey, Vec<f64>> = BTreeMap::new();
    for f in &futures {
        strikes.entry(f.underlying.clone()).or_default();
    }
    for c in &contracts {
        strikes.entry(c.underlying.clone()).or_default().push(c.strike.value());
    }
    let underlyings = strikes
        .into_iter()
        .map(|(key, ks)| Underlying {
            symbol: key.as_str().rsplit(':').next().unwrap_or(key.as_str()).to_owned(),
            market: market_of(&key, market).code().to_owned(),
            kind: UnderlyingKind::Index,
            strike_step: strike_step(&ks).unwrap_or(1.0),
            key,
        })
        .collect();
    Ok(Catalogue::new(underlyings, contracts).with_futures(futures))
}

/// Writes contracts, then futures, in the contract-master layout, each expiry in its market's
/// offset (the market its key names, else `market`).
///
/// # Errors
/// [`CalcError`] when the output cannot be written.
pub fn write<'a>(
    contracts: impl IntoIterator<Item = &'a OptionContract>,
    futures: impl IntoIterator<Item = &'a FutureContract>,
    market: &Market,
    output: impl Write,
) -> Result<(), CalcError> {
    let mut w = csv::Writer::from_writer(output);
    w.write_record(COLUMNS)?;
    for c in contracts {
        w.write_record([
            c.key.as_str(),
            c.underlying.as_str(),
            &c.expiry.with_timezone(&market_of(&c.key, market).tz()).to_rfc3339(),
            &fmt_num(c.strike.value()),
            c.right.as_str(),
            &c.lot_size.units().to_string(),
            &fmt_num(c.tick_size),
        ])?;
    }
    for f in futures {
        w.write_record([
            f.key.as_str(),
            f.underlying.as_str(),
            &f.expiry.with_timezone(&market_of(&f.key, market).tz()).to_rfc3339(),
            "",
            "FUT",
            &f.lot_size.units().to_string(),
            &fmt_num(f.tick_size),
        ])?;
    }
    w.flush()?;
    Ok(())
}
