//! `calc indicators` and `calc aggregate` over `ts,open,high,low,close,volume` bars.

use std::io::{Read, Write};

use application::calculators::{AggregateCalculator, IndicatorCalculator, IndicatorCalculatorError};
use chrono::{DateTime, Utc};
use domain::candles::{AggregateError, AggregatedBar, Bar, Timeframe};
use domain::indicators::IndicatorSpec;
use domain::instrument::Market;

use super::{CalcError, Input, RowRef, fmt_num, writer};

const COLUMNS: [&str; 6] = ["ts", "open", "high", "low", "close", "volume"];

fn bar(r: &RowRef<'_>) -> Result<Bar, CalcError> {
    let ts = r.str(0);
    let start = DateTime::parse_from_rfc3339(ts)
        .map_err(|e| r.err(0, format!("'{ts}' is not an RFC 3339 time with offset ({e})")))?
        .with_timezone(&Utc);
    let b = Bar::ohlcv(start, r.num(1)?, r.num(2)?, r.num(3)?, r.num(4)?, r.num(5)?);
    for (i, v) in [(1, b.open), (2, b.high), (3, b.low), (4, b.close), (5, b.volume)] {
        if !v.is_finite() {
            return Err(r.err(i, "must be finite"));
        }
    }
    if b.volume < 0.0 {
        return Err(r.err(5, "must be ≥ 0"));
    }
    if b.low > b.high {
        return Err(r.err(3, format!("low {} is above high {}", b.low, b.high)));
    }
    Ok(b)
}

/// Runs `specs` over the bars; writes `ts` then one column per indicator output.
///
/// # Errors
/// [`CalcError`] for the first bad row (unparsable, non-finite, out of order) or I/O failure.
pub fn run_indicators(
    specs: Vec<IndicatorSpec>,
    market: &Market,
    input: impl Read,
    output: impl Write,
) -> Result<(), CalcError> {
    let mut calc = IndicatorCalculator::new(specs, market).map_err(|e| CalcError::Row {
        row: 0,
        column: "--indicators".into(),
        reason: e.to_string(),
    })?;
    let input = Input::new(input, &COLUMNS)?;
    let mut w = writer(output);
    let mut head = vec!["ts".to_owned()];
    head.extend(calc.columns());
    w.write_record(&head)?;
    input.for_each(|r| {
        let b = bar(r)?;
        let cells = calc.push(&b).map_err(|e| match e {
            IndicatorCalculatorError::OutOfOrder => r.err(0, "does not come after the previous row's ts"),
            IndicatorCalculatorError::Indicator(e) => r.err_named("ohlcv", e.to_string()),
        })?;
        let mut rec = vec![r.str(0).to_owned()];
        rec.extend(cells.into_iter().map(|c| c.map_or_else(String::new, fmt_num)));
        w.write_record(&rec)?;
        Ok(())
    })?;
    w.flush()?;
    Ok(())
}

/// The output header of `calc aggregate`.
pub const AGGREGATE_COLUMNS: [&str; 12] = [
    "bucket_start",
    "bucket_end",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "n_bars",
    "expected_bars",
    "partial",
    "gaps",
];

fn aggregate_record(a: &AggregatedBar, market: &Market) -> Vec<String> {
    let tz = market.tz();
    vec![
        a.start.with_timezone(&tz).to_rfc3339(),
        a.end.with_timezone(&tz).to_rfc3339(),
        fmt_num(a.open),
        fmt_num(a.high),
        fmt_num(a.low),
        fmt_num(a.close),
        fmt_num(a.volume),
        a.vwap.map_or_else(String::new, fmt_num),
        a.n_bars.to_string(),
        a.expected_bars.to_string(),
        u8::from(a.partial).to_string(),
        a.gaps.to_string(),
    ]
}

/// Aggregates 1-minute bars into `timeframe` buckets on `market`'s sessions (times printed in the
/// market's offset).
///
/// # Errors
/// [`CalcError`] for the first bad or out-of-order row, or an I/O failure.
pub fn run_aggregate(
    timeframe: Timeframe,
    market: &Market,
    input: impl Read,
    output: impl Write,
) -> Result<(), CalcError> {
    let mut calc = AggregateCalculator::new(timeframe, market.clone());
    let input = Input::new(input, &COLUMNS)?;
    let mut w = writer(output);
    w.write_record(AGGREGATE_COLUMNS)?;
    input.for_each(|r| {
        let b = bar(r)?;
        let done = calc
            .push(&b)
            .map_err(|AggregateError::OutOfOrder { .. }| r.err(0, "does not come after the previous row's ts"))?;
        if let Some(a) = done {
            w.write_record(aggregate_record(&a, market))?;
        }
        Ok(())
    })?;
    if let Some(a) = calc.finish() {
        w.write_record(aggregate_record(&a, market))?;
    }
    w.flush()?;
    Ok(())
}
