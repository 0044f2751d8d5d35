//! `calc greeks` and `calc iv`.

use std::io::{Read, Write};

use application::calculators::{GreeksRequest, GreeksResult, IvRequest, OptionRow, greeks, implied_vol};
use domain::instrument::OptionRight;
use domain::pricing::PricingModel;

use super::{CalcError, Input, RowRef, fmt_num, writer};

/// Reads the shared option columns, then `last` (vol or price); echoes every input column and
/// appends `out_cols`, filled per row by `compute(option, last_value)`.
fn run_option_calc(
    model: PricingModel,
    last: &'static str,
    out_cols: &[&str],
    input: impl Read,
    output: impl Write,
    mut compute: impl FnMut(&RowRef<'_>, OptionRow, f64) -> Result<Vec<String>, CalcError>,
) -> Result<(), CalcError> {
    let input = Input::new(input, &["type", "spot", "strike", "t_years", "rate", "div_yield", last])?;
    let mut w = writer(output);
    let mut head: Vec<String> = input.header().iter().map(str::to_owned).collect();
    head.extend(out_cols.iter().map(|c| (*c).to_owned()));
    w.write_record(&head)?;
    input.for_each(|r| {
        let right = r.str(0).parse::<OptionRight>().map_err(|e| r.err(0, e.to_string()))?;
        let option = OptionRow {
            right,
            spot: r.num(1)?,
            strike: r.num(2)?,
            t_years: r.num(3)?,
            rate: r.num(4)?,
            div_yield: if model == PricingModel::Black76 { 0.0 } else { r.num(5)? },
        };
        let mut rec: Vec<String> = r.rec.iter().map(str::to_owned).collect();
        rec.extend(compute(r, option, r.num(6)?)?);
        w.write_record(&rec)?;
        Ok(())
    })?;
    w.flush()?;
    Ok(())
}

/// Reads `type,spot,strike,t_years,rate,div_yield,vol` and writes the input columns followed by
/// price and every Greek (see [`GreeksResult::COLUMNS`]).
///
/// # Errors
/// [`CalcError`] for the first bad row or an I/O failure; rows before it are already written.
pub fn run_greeks(model: PricingModel, input: impl Read, output: impl Write) -> Result<(), CalcError> {
    run_option_calc(model, "vol", &GreeksResult::COLUMNS, input, output, |r, option, vol| {
        let res = greeks(model, &GreeksRequest { option, vol }).map_err(|e| r.err_named(&e.field, e.reason))?;
        Ok(res.values().iter().map(|v| fmt_num(*v)).collect())
    })
}

/// Reads `type,spot,strike,t_years,rate,div_yield,price` and writes the input columns followed
/// by `iv,iv_error` (`iv` empty and `iv_error` the reason when there is none).
///
/// # Errors
/// [`CalcError`] for the first unparsable row or an I/O failure.
pub fn run_iv(model: PricingModel, input: impl Read, output: impl Write) -> Result<(), CalcError> {
    run_option_calc(
        model,
        "price",
        &["iv", "iv_error"],
        input,
        output,
        |_, option, price| {
            Ok(match implied_vol(model, &IvRequest { option, price }) {
                Ok(v) => vec![fmt_num(v), String::new()],
                Err(e) => vec![String::new(), e.code().to_owned()],
            })
        },
    )
}
