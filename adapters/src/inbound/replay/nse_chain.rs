//! The tidy NSE option-chain layout (`shared/data/nse_index_options_chain_*.csv`).
//!
//! One row per contract per snapshot: `snapshot_ist, symbol, expiry, strike, option_type, ltp,
//! net_change, bid_qty, bid, ask, ask_qty, iv_nse_pct, volume_contracts, oi_qty, chg_oi_qty,
//! underlying_spot`. The snapshot time is the scraper's clock and the page's data is 1–2 minutes
//! older, so ticks are stamped one minute before the snapshot (which also puts the 15:30 snapshot
//! inside the session). Volumes are converted from contracts to units with the 2019 lot sizes
//! (NIFTY 75, BANKNIFTY 20); keys are `NSE:<SYMBOL>-<YYYYMMDD>-<strike>-<CE|PE>`.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use domain::instrument::{InstrumentKey, LotSize, Market, OptionContract, OptionRight, Strike};
use domain::market_data::Tick;

use super::ReplayBatch;
use crate::inbound::calc_csv::{CalcError, Input, RowRef};

const COLUMNS: [&str; 9] = [
    "snapshot_ist",
    "symbol",
    "expiry",
    "strike",
    "option_type",
    "ltp",
    "bid",
    "ask",
    "underlying_spot",
];
const OPTIONAL: [&str; 3] = ["volume_contracts", "oi_qty", "iv_nse_pct"];

/// NSE lot sizes of 2019 (NIFTY 75, BANKNIFTY 20), for converting contracts to units.
#[must_use]
pub fn lot_size_2019(symbol: &str) -> u32 {
    match symbol {
        "BANKNIFTY" => 20,
        _ => 75,
    }
}

/// An optional numeric cell: empty or `-` is `None`; thousands separators are dropped.
pub(super) fn opt_num(r: &RowRef<'_>, col: &str) -> Result<Option<f64>, CalcError> {
    let s = r.named(col).unwrap_or("").trim();
    if s.is_empty() || s == "-" {
        return Ok(None);
    }
    s.replace(',', "")
        .parse::<f64>()
        .map(Some)
        .map_err(|_| r.err_named(col, format!("'{s}' is not a number")))
}

/// The key of a contract in this layout.
#[must_use]
pub fn contract_key(symbol: &str, expiry: NaiveDate, strike: f64, right: OptionRight) -> String {
    let code = if right == OptionRight::Call { "CE" } else { "PE" };
    format!("NSE:{symbol}-{}-{strike}-{code}", expiry.format("%Y%m%d"))
}

/// Reads the file into batches, one per (snapshot, symbol), in time order.
///
/// # Errors
/// [`CalcError`] naming the first bad row and column.
pub fn read(input: impl Read) -> Result<Vec<ReplayBatch>, CalcError> {
    let market = Market::nse();
    let input = Input::with_optional(input, &COLUMNS, &OPTIONAL)?;
    let mut groups: BTreeMap<(NaiveDateTime, String), ReplayBatch> = BTreeMap::new();
    input.for_each(|r| {
        let snap = NaiveDateTime::parse_from_str(r.str(0), "%Y-%m-%d %H:%M")
            .map_err(|e| r.err(0, format!("'{}' is not YYYY-MM-DD HH:MM ({e})", r.str(0))))?;
        let symbol = r.str(1).to_owned();
        let expiry = NaiveDate::parse_from_str(r.str(2), "%Y-%m-%d").map_err(|e| r.err(2, e.to_string()))?;
        let strike = Strike::new(r.num(3)?).map_err(|e| r.err(3, e.to_string()))?;
        let right: OptionRight = r
            .str(4)
            .parse()
            .map_err(|e: domain::instrument::ContractError| r.err(4, e.to_string()))?;
        let ts = market.to_utc(snap.date(), snap.time()) - Duration::minutes(1);
        let underlying = InstrumentKey::parse(&format!("NSE:{symbol}")).map_err(|e| r.err(1, e.to_string()))?;
        let key = InstrumentKey::parse(&contract_key(&symbol, expiry, strike.value(), right))
            .map_err(|e| r.err(1, e.to_string()))?;
        let spot = r.num(8)?;
        let lot_size = lot_size_2019(&symbol);
        let batch = groups
            .entry((snap, symbol.clone()))
            .or_insert_with(|| ReplayBatch::starting(ts, underlying.clone(), "NSE", spot));
        let close = market
            .session_on(expiry)
            .map_or_else(|| market.to_utc(expiry, chrono::NaiveTime::MIN), |d| d.close);
        batch.contracts.push(OptionContract {
            key: key.clone(),
            underlying,
            expiry: close,
            strike,
            right,
            lot_size: LotSize::new(lot_size).map_err(|e| r.err(1, e.to_string()))?,
            tick_size: 0.05,
        });
        batch.ticks.push(Tick {
            key,
            ts,
            last: opt_num(r, "ltp")?.filter(|p| *p > 0.0),
            bid: opt_num(r, "bid")?.filter(|p| *p > 0.0),
            ask: opt_num(r, "ask")?.filter(|p| *p > 0.0),
            volume: opt_num(r, "volume_contracts")?.map(|v| v * f64::from(lot_size)),
            oi: opt_num(r, "oi_qty")?,
        });
        Ok(())
    })?;
    Ok(groups.into_values().collect())
}
