//! 1-minute candle CSVs as vendors ship them: `symbol,date,time,open,high,low,close,volume[,oi]`.
//!
//! `date` is `YYYYMMDD` or `YYYY-MM-DD`, `time` `HH:MM` or `HH:MM:SS`, both exchange-local. The
//! files in shared/data label bars by their END (09:16 is the first regular bar), so by default a
//! bar's start is its label minus one minute; `--labels start` takes labels as starts. Times are
//! the replay's market's (`--market`, NSE by default: `CBOE` reads New York times); keys are
//! `<market>:<symbol>`, and every symbol is registered as an underlying.

use std::io::Read;

use chrono::{Duration, NaiveDate, NaiveTime};
use domain::candles::Bar;
use domain::instrument::{InstrumentKey, Market};
use domain::ports::InstrumentCandle;

use super::nse_chain::opt_num;
use crate::inbound::calc_csv::{CalcError, Input};

const COLUMNS: [&str; 8] = ["symbol", "date", "time", "open", "high", "low", "close", "volume"];

/// How bar times are labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarLabel {
    /// The time is the bar's end (vendor 1-minute files).
    End,
    /// The time is the bar's start.
    Start,
}

/// Reads every candle of `market`, in file order.
///
/// # Errors
/// [`CalcError`] naming the first bad row and column.
pub fn read(input: impl Read, labels: BarLabel, market: &Market) -> Result<Vec<InstrumentCandle>, CalcError> {
    let mut out = Vec::new();
    Input::with_optional(input, &COLUMNS, &["oi"])?.for_each(|r| {
        let key =
            InstrumentKey::parse(&format!("{}:{}", market.code(), r.str(0))).map_err(|e| r.err(0, e.to_string()))?;
        let d = r.str(1);
        let date = NaiveDate::parse_from_str(d, "%Y%m%d")
            .or_else(|_| NaiveDate::parse_from_str(d, "%Y-%m-%d"))
            .map_err(|_| r.err(1, format!("'{d}' is not YYYYMMDD or YYYY-MM-DD")))?;
        let t = r.str(2);
        let time = NaiveTime::parse_from_str(t, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
            .map_err(|_| r.err(2, format!("'{t}' is not HH:MM or HH:MM:SS")))?;
        let label = market.to_utc(date, time);
        let start = match labels {
            BarLabel::End => label - Duration::minutes(1),
            BarLabel::Start => label,
        };
        let mut bar = Bar::ohlcv(start, r.num(3)?, r.num(4)?, r.num(5)?, r.num(6)?, r.num(7)?);
        bar.oi = opt_num(r, "oi")?;
        out.push(InstrumentCandle { key, bar });
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_keys_are_the_replay_market_s() {
        let file = "symbol,date,time,open,high,low,close,volume\nSPX,2025-03-10,09:31,5700,5702,5699,5701,0\n";
        // Monday after New York's spring change: 09:30 EDT is 13:30 UTC.
        let c = read(file.as_bytes(), BarLabel::End, &Market::cboe()).unwrap();
        assert_eq!(c[0].key.as_str(), "CBOE:SPX");
        assert_eq!(c[0].bar.start.to_rfc3339(), "2025-03-10T13:30:00+00:00");
        let c = read(file.as_bytes(), BarLabel::End, &Market::nse()).unwrap();
        assert_eq!(c[0].key.as_str(), "NSE:SPX");
        assert_eq!(c[0].bar.start.to_rfc3339(), "2025-03-10T04:00:00+00:00");
    }
}
