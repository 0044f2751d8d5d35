//! NSE's raw two-sided option-chain layout (`shared/data/raw_nse_optionchain_2019/`).
//!
//! One row per strike: calls on the left, puts on the right, `StrikePrice` in the middle,
//! `CurrentVal` = spot, `-` = missing. Symbol, expiry and snapshot time come from the file name,
//! `<SYMBOL>_<DMMMYYYY>_<DD-MM-YYYY>_<HHMM>.csv` (e.g. `NIFTY_11JUL2019_01-07-2019_1000.csv`).
//! Volumes and OI on that page are in contracts and are converted to units with the 2019 lot
//! sizes; ticks are stamped one minute before the snapshot, as for the tidy layout.

use std::io::Read;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use domain::instrument::{InstrumentKey, LotSize, Market, OptionContract, OptionRight, Strike};
use domain::market_data::Tick;

use super::ReplayBatch;
use super::nse_chain::{contract_key, lot_size_2019, opt_num};
use crate::inbound::calc_csv::{CalcError, Input};

const COLUMNS: [&str; 8] = [
    "StrikePrice",
    "CurrentVal",
    "CallLTP",
    "CallBidPrice",
    "CallAskPrice",
    "PutLTP",
    "PutBidPrice",
    "PutAskPrice",
];
const OPTIONAL: [&str; 4] = ["CallVolume", "CallOI", "PutVolume", "PutOI"];

/// Symbol, expiry date and snapshot time from a file name.
///
/// # Errors
/// [`CalcError::MissingColumn`] naming what the file name lacks.
pub fn parse_name(name: &str) -> Result<(String, NaiveDate, NaiveDateTime), CalcError> {
    let bad = |what: &str| {
        CalcError::MissingColumn(format!(
            "file name '{name}' has no {what} (want SYMBOL_DMMMYYYY_DD-MM-YYYY_HHMM.csv)"
        ))
    };
    let stem = name.rsplit('/').next().unwrap_or(name).trim_end_matches(".csv");
    let parts: Vec<&str> = stem.split('_').collect();
    let [symbol, expiry, date, time] = parts.as_slice() else {
        return Err(bad("four parts"));
    };
    let expiry = NaiveDate::parse_from_str(&expiry.to_ascii_lowercase(), "%d%b%Y").map_err(|_| bad("expiry"))?;
    let date = NaiveDate::parse_from_str(date, "%d-%m-%Y").map_err(|_| bad("snapshot date"))?;
    let time = NaiveTime::parse_from_str(time, "%H%M").map_err(|_| bad("snapshot time"))?;
    Ok(((*symbol).to_owned(), expiry, date.and_time(time)))
}

/// Reads one raw chain file named `name` into a single batch.
///
/// # Errors
/// [`CalcError`] for a malformed name, a missing column or a bad cell.
pub fn read(name: &str, input: impl Read) -> Result<ReplayBatch, CalcError> {
    let (symbol, expiry, snap) = parse_name(name)?;
    let market = Market::nse();
    let ts = market.to_utc(snap.date(), snap.time()) - Duration::minutes(1);
    let underlying =
        InstrumentKey::parse(&format!("NSE:{symbol}")).map_err(|e| CalcError::MissingColumn(e.to_string()))?;
    let lot = lot_size_2019(&symbol);
    let close = market
        .session_on(expiry)
        .map_or_else(|| market.to_utc(expiry, NaiveTime::MIN), |d| d.close);
    let mut batch = ReplayBatch {
        ts,
        underlying: underlying.clone(),
        market: "NSE".into(),
        contracts: Vec::new(),
        ticks: Vec::new(),
    };
    let mut spot = None;
    Input::with_optional(input, &COLUMNS, &OPTIONAL)?.for_each(|r| {
        let strike = Strike::new(opt_num(r, "StrikePrice")?.ok_or_else(|| r.err(0, "is empty"))?)
            .map_err(|e| r.err(0, e.to_string()))?;
        spot = spot.or(opt_num(r, "CurrentVal")?);
        for (right, side) in [(OptionRight::Call, "Call"), (OptionRight::Put, "Put")] {
            let (last, bid, ask) = (
                opt_num(r, &format!("{side}LTP"))?,
                opt_num(r, &format!("{side}BidPrice"))?,
                opt_num(r, &format!("{side}AskPrice"))?,
            );
            if last.is_none() && bid.is_none() && ask.is_none() {
                continue;
            }
            let key = InstrumentKey::parse(&contract_key(&symbol, expiry, strike.value(), right))
                .map_err(|e| r.err(0, e.to_string()))?;
            batch.contracts.push(OptionContract {
                key: key.clone(),
                underlying: underlying.clone(),
                expiry: close,
                strike,
                right,
                lot_size: LotSize::new(lot).map_err(|e| r.err(0, e.to_string()))?,
                tick_size: 0.05,
            });
            let units = |v: Option<f64>| v.map(|c| c * f64::from(lot));
            batch.ticks.push(Tick {
                key,
                ts,
                last: last.filter(|p| *p > 0.0),
                bid: bid.filter(|p| *p > 0.0),
                ask: ask.filter(|p| *p > 0.0),
                volume: units(opt_num(r, &format!("{side}Volume"))?),
                oi: units(opt_num(r, &format!("{side}OI"))?),
            });
        }
        Ok(())
    })?;
    let spot = spot.ok_or_else(|| CalcError::MissingColumn("CurrentVal (spot) is empty on every row".into()))?;
    batch.ticks.insert(0, super::spot_tick(underlying, ts, spot));
    Ok(batch)
}
