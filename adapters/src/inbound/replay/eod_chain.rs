//! A generic end-of-day option-chain CSV, the layout US data vendors sell (`--format eod-chain`).
//!
//! One row per contract: `quote_time` (RFC 3339 with its offset), `underlying` (a symbol such as
//! `SPX`, or a key `CBOE:SPX`), `underlying_price`, `root` (`SPX`, `SPXW`: the contract's own
//! symbol), `expiry` (the exchange-local date), `strike`, `right` (`call`/`put`; `C`/`P`, `CE`/`PE`
//! too), `bid`, `ask`, `last`, `volume`, `oi`. Other columns are ignored; an empty or zero price
//! is no quote, an empty quantity none. Volume and open interest are taken as reported, in
//! contracts.
//!
//! The market is the replay's (`--market`, Cboe by default). A root's settlement comes from the
//! built-in listing rules (`builtin_products.csv`): SPX is AM-settled (the expiry instant is the
//! expiry day's open), SPXW PM-settled at the index's 16:00 close; a root not listed there
//! settles at the session's close. The multiplier is the listing's lot size, else the market's
//! units per contract of open interest (100 on Cboe). Keys are
//! `<market>:<root>-<YYYYMMDD>-<strike>-<CE|PE>`, one form on every market.
//!
//! Rows are grouped into one batch per (quote time, underlying). A quote timed at or after the
//! session's close (vendors stamp end-of-day data 16:15) is stamped a minute before it, in the
//! session's last minute, as the NSE chain reader does.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::instrument::{
    InstrumentKey, LotSize, Market, OptionContract, OptionRight, ProductSpec, Settlement, Strike,
};
use domain::market_data::Tick;

use super::ReplayBatch;
use super::nse_chain::opt_num;
use crate::inbound::calc_csv::{CalcError, Input, RowRef};
use crate::outbound::instruments::builtin::builtin_products;

const COLUMNS: [&str; 12] = [
    "quote_time",
    "underlying",
    "underlying_price",
    "root",
    "expiry",
    "strike",
    "right",
    "bid",
    "ask",
    "last",
    "volume",
    "oi",
];

/// A price cell: empty, `-` or zero is no quote.
fn price(r: &RowRef<'_>, col: &str) -> Result<Option<f64>, CalcError> {
    opt_num(r, col).map(|p| p.filter(|p| *p > 0.0))
}

/// The stamp of a quote at `t`: `t`, or the session's last minute when `t` is at or after the
/// close of its day's session.
fn stamp(market: &Market, t: DateTime<Utc>) -> DateTime<Utc> {
    match market.session_on(market.local_date(t)) {
        Some(s) if t >= s.close => s.close - Duration::minutes(1),
        _ => t,
    }
}

/// The instant a `root` contract expiring on `date` settles, and its multiplier.
fn settlement(market: &Market, products: &[ProductSpec], root: &str, date: NaiveDate) -> (DateTime<Utc>, u32) {
    let product = products.iter().find(|p| p.symbol == root && p.market == market.code());
    let lot = product.map_or_else(|| market.units_per_oi() as u32, |p| p.lot_size);
    let Some(session) = market.session_on(date) else {
        // A date the calendar has closed: midnight, so the contract is plainly expired.
        return (market.to_utc(date, chrono::NaiveTime::MIN), lot);
    };
    let at = match product {
        Some(p) if p.settlement == Settlement::Am => session.open,
        Some(p) => session.close - Duration::minutes(i64::from(p.settles_before_close_minutes)),
        None => session.close,
    };
    (at, lot)
}

/// Reads the file into batches, one per (quote time, underlying), in time order.
///
/// # Errors
/// [`CalcError`] naming the first bad row and column, or a missing column.
pub fn read(input: impl Read, market: &Market) -> Result<Vec<ReplayBatch>, CalcError> {
    let products = builtin_products();
    let input = Input::new(input, &COLUMNS)?;
    let mut groups: BTreeMap<(DateTime<Utc>, InstrumentKey), ReplayBatch> = BTreeMap::new();
    input.for_each(|r| {
        let quoted = DateTime::parse_from_rfc3339(r.str(0))
            .map_err(|e| {
                r.err(
                    0,
                    format!("'{}' is not an RFC 3339 time with an offset ({e})", r.str(0)),
                )
            })?
            .with_timezone(&Utc);
        let ts = stamp(market, quoted);
        let symbol = r.str(1);
        let underlying = if symbol.contains(':') {
            symbol.to_owned()
        } else {
            format!("{}:{symbol}", market.code())
        };
        let underlying = InstrumentKey::parse(&underlying).map_err(|e| r.err(1, e.to_string()))?;
        let spot = r.num(2)?;
        if !(spot.is_finite() && spot > 0.0) {
            return Err(r.err(2, "must be a positive price"));
        }
        let root = r.str(3);
        let expiry = NaiveDate::parse_from_str(r.str(4), "%Y-%m-%d")
            .map_err(|e| r.err(4, format!("'{}' is not a YYYY-MM-DD date ({e})", r.str(4))))?;
        let strike = Strike::new(r.num(5)?).map_err(|e| r.err(5, e.to_string()))?;
        let right: OptionRight = r
            .str(6)
            .parse()
            .map_err(|e: domain::instrument::ContractError| r.err(6, e.to_string()))?;
        let code = if right == OptionRight::Call { "CE" } else { "PE" };
        let key = format!(
            "{}:{root}-{}-{}-{code}",
            market.code(),
            expiry.format("%Y%m%d"),
            strike.value()
        );
        let key = InstrumentKey::parse(&key).map_err(|e| r.err(3, e.to_string()))?;
        let (settles, lot) = settlement(market, &products, root, expiry);
        let batch = groups
            .entry((ts, underlying.clone()))
            .or_insert_with(|| ReplayBatch::starting(ts, underlying.clone(), market.code(), spot));
        batch.contracts.push(OptionContract {
            key: key.clone(),
            underlying,
            expiry: settles,
            strike,
            right,
            lot_size: LotSize::new(lot.max(1)).map_err(|e| r.err(3, e.to_string()))?,
            tick_size: 0.05,
        });
        batch.ticks.push(Tick {
            key,
            ts,
            last: price(r, "last")?,
            bid: price(r, "bid")?,
            ask: price(r, "ask")?,
            volume: opt_num(r, "volume")?,
            oi: opt_num(r, "oi")?,
        });
        Ok(())
    })?;
    Ok(groups.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str =
        "quote_time,underlying,underlying_price,root,expiry,strike,right,bid,ask,last,volume,oi,vendor_iv\n";

    #[test]
    fn roots_settle_by_the_listing_rules_and_close_stamps_move_inside_the_session() {
        let text = format!(
            "{HEAD}\
             2025-03-21T16:15:00-04:00,SPX,5667.56,SPXW,2025-03-21,5665,call,4.1,4.3,4.2,1200,3400,0.12\n\
             2025-03-21T16:15:00-04:00,SPX,5667.56,SPX,2025-04-17,5665,P,80.1,80.9,0,,12,0.15\n\
             2025-03-20T15:45:00-04:00,CBOE:SPX,5662.89,SPXW,2025-03-21,5665,put,20.1,20.5,20.3,10,5,\n"
        );
        let b = read(text.as_bytes(), &Market::cboe()).unwrap();
        assert_eq!(b.len(), 2, "one batch per quote time and underlying");
        // In time order: the 15:45 EDT quote first, as stamped.
        assert_eq!(b[0].ts.to_rfc3339(), "2025-03-20T19:45:00+00:00");
        // 16:15 is the options' close: stamped 16:14, the session's last minute.
        assert_eq!(b[1].ts.to_rfc3339(), "2025-03-21T20:14:00+00:00");
        assert_eq!(b[1].ticks[0].key.as_str(), "CBOE:SPX");
        assert_eq!(b[1].ticks[0].last, Some(5667.56));
        let (spxw, spx) = (&b[1].contracts[0], &b[1].contracts[1]);
        assert_eq!(spxw.key.as_str(), "CBOE:SPXW-20250321-5665-CE");
        // SPXW: PM, 16:00 EDT; SPX: AM, at 09:30 EDT on Thursday 2025-04-17 (Good Friday closed).
        assert_eq!(spxw.expiry.to_rfc3339(), "2025-03-21T20:00:00+00:00");
        assert_eq!(spx.key.as_str(), "CBOE:SPX-20250417-5665-PE");
        assert_eq!(spx.expiry.to_rfc3339(), "2025-04-17T13:30:00+00:00");
        assert_eq!(spx.lot_size.units(), 100);
        // A zero last is no trade; an empty volume is none; the extra column is ignored.
        assert_eq!((b[1].ticks[2].last, b[1].ticks[2].volume), (None, None));
        assert_eq!(b[1].ticks[1].oi, Some(3400.0));
    }

    #[test]
    fn a_bad_cell_is_named_with_its_row_and_column() {
        for (row, column) in [
            (
                "2025-03-21 15:45,SPX,5667,SPXW,2025-03-21,5665,call,1,2,1,0,0,",
                "quote_time",
            ),
            (
                "2025-03-21T15:45:00-04:00,SPX,5667,SPXW,21/03/2025,5665,call,1,2,1,0,0,",
                "expiry",
            ),
            (
                "2025-03-21T15:45:00-04:00,SPX,5667,SPXW,2025-03-21,5665,straddle,1,2,1,0,0,",
                "right",
            ),
            (
                "2025-03-21T15:45:00-04:00,SPX,-1,SPXW,2025-03-21,5665,call,1,2,1,0,0,",
                "underlying_price",
            ),
            (
                "2025-03-21T15:45:00-04:00,SPX,5667,SPXW,2025-03-21,5665,call,x,2,1,0,0,",
                "bid",
            ),
        ] {
            let err = read(format!("{HEAD}{row}\n").as_bytes(), &Market::cboe())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("row 1") && err.contains(&format!("'{column}'")),
                "{column}: {err}"
            );
        }
        let err = read("quote_time,underlying\n".as_bytes(), &Market::cboe())
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing column 'underlying_price'"), "{err}");
    }
}
