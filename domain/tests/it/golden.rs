//! Prices, Greeks and implied volatilities against the 60-digit golden files.
//!
//! Tolerance, from the reference README: `|got − ref| ≤ 1e-12·scale + 1e-9·|ref|`, with
//! scale = spot for price/theta/vega/rho (and the second-order Greeks, raw units), 1 for delta,
//! 1/spot for gamma. IV: `|got − iv| ≤ iv_abs_tol`, and the matching error kind on other rows.

use domain::instrument::OptionRight;
use domain::pricing::{IvError, OptionInputs, PricingModel, implied_volatility, price_and_greeks};

use crate::support::{Row, fixture_with_header};

fn close(what: &str, row: usize, got: f64, want: f64, scale: f64) -> Result<(), String> {
    let tol = 1e-12 * scale + 1e-9 * want.abs();
    if (got - want).abs() <= tol {
        Ok(())
    } else {
        Err(format!(
            "row {row} {what}: got {got:e}, want {want:e}, |diff| {:e} > tol {tol:e}",
            (got - want).abs()
        ))
    }
}

fn inputs(r: &Row, spot_col: &str, vol: f64) -> OptionInputs {
    OptionInputs {
        right: r.s("type").parse::<OptionRight>().unwrap(),
        underlying: r.f(spot_col),
        strike: r.f("strike"),
        t_years: r.f("t_years"),
        rate: r.f("rate"),
        div_yield: r.opt("div_yield").unwrap_or(0.0),
        vol,
    }
}

fn check_all(errors: Vec<String>, n: usize) {
    assert!(
        errors.is_empty(),
        "{} of {n} rows off:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

/// Price and first-order Greeks of every row of `file` under `model`.
fn check_first_order(file: &str, model: PricingModel, spot_col: &str, delta_col: &str, gamma_col: &str) -> usize {
    let (h, rows) = fixture_with_header(file);
    let mut errors = vec![];
    for (i, rec) in rows.iter().enumerate() {
        let r = Row { header: &h, rec };
        let o = inputs(&r, spot_col, r.f("vol"));
        let v = price_and_greeks(model, &o).unwrap();
        let s = o.underlying;
        let g = v.greeks;
        for res in [
            close("price", i, v.price, r.f("price"), s),
            close(delta_col, i, g.delta, r.f(delta_col), 1.0),
            close(gamma_col, i, g.gamma, r.f(gamma_col), 1.0 / s),
            close("theta_per_year", i, g.theta_per_year, r.f("theta_per_year"), s),
            close("vega_per_unit", i, g.vega_per_unit, r.f("vega_per_unit"), s),
            close("rho_per_unit", i, g.rho_per_unit, r.f("rho_per_unit"), s),
        ] {
            errors.extend(res.err());
        }
    }
    check_all(errors, rows.len());
    rows.len()
}

#[test]
fn bsm_prices_and_greeks_match_the_golden_file_on_every_row() {
    let n = check_first_order("golden_greeks.csv", PricingModel::Bsm, "spot", "delta", "gamma");
    assert_eq!(n, 150);
}

#[test]
fn black76_prices_and_greeks_match_the_golden_file_on_every_row() {
    let n = check_first_order(
        "golden_black76.csv",
        PricingModel::Black76,
        "forward",
        "delta_fwd",
        "gamma_fwd",
    );
    assert_eq!(n, 23);
}

#[test]
fn second_order_greeks_match_the_golden_file_on_every_row() {
    let (h, rows) = fixture_with_header("golden_second_order.csv");
    let mut errors = vec![];
    for (i, rec) in rows.iter().enumerate() {
        let r = Row { header: &h, rec };
        let o = inputs(&r, "spot", r.f("vol"));
        let g = price_and_greeks(PricingModel::Bsm, &o).unwrap().greeks;
        let s = o.underlying;
        for res in [
            close("vanna", i, g.vanna, r.f("vanna"), 1.0),
            close("volga", i, g.volga, r.f("volga"), s),
            close("charm_per_year", i, g.charm_per_year, r.f("charm_per_year"), 1.0),
            close("speed", i, g.speed, r.f("speed"), 1.0 / (s * s)),
        ] {
            errors.extend(res.err());
        }
    }
    check_all(errors, rows.len());
}

#[test]
fn implied_volatility_matches_the_golden_file_and_names_each_failure() {
    let (h, rows) = fixture_with_header("golden_iv.csv");
    let mut errors = vec![];
    for (i, rec) in rows.iter().enumerate() {
        let r = Row { header: &h, rec };
        let o = inputs(&r, "spot", 0.0);
        let got = implied_volatility(PricingModel::Bsm, &o, r.f("price"));
        let expected = match r.s("expect") {
            "ok" => None,
            "below_intrinsic" => Some(IvError::BelowIntrinsic),
            "above_upper_bound" => Some(IvError::AboveUpperBound),
            "at_intrinsic" => Some(IvError::NoTimeValue),
            other => panic!("unknown expectation {other}"),
        };
        match (expected, got) {
            (None, Ok(iv)) => {
                let (want, tol) = (r.f("iv"), r.f("iv_abs_tol"));
                if (iv - want).abs() > tol {
                    errors.push(format!(
                        "row {i}: iv {iv:e}, want {want:e} ± {tol:e} ({})",
                        r.s("category")
                    ));
                }
            }
            (Some(e), Err(g)) if e == g => {}
            (e, g) => errors.push(format!("row {i}: expected {e:?}, got {g:?} ({})", r.s("category"))),
        }
    }
    check_all(errors, rows.len());
}
