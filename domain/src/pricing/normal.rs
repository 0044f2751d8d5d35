//! The standard normal distribution, accurate in both tails.
//!
//! `N(x)` comes from W. J. Cody's rational approximations of `erfc` (the ones Jäckel's
//! "Let's Be Rational" ships, through the `implied-vol` crate), so `N(-38)` is a correct
//! `2.9e-316` rather than `1 - 1 = 0`. Callers that need the upper tail ask for `N(-d)`,
//! never `1 - N(d)`.

use implied_vol::{DefaultSpecialFn, SpecialFn};

/// 1/√(2π), the normal density at 0.
pub const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Cumulative standard normal distribution `N(x)`, with full relative precision in the lower tail.
#[inline]
#[must_use]
pub fn norm_cdf(x: f64) -> f64 {
    DefaultSpecialFn::norm_cdf(x)
}

/// Both tails at once from a precomputed `e = exp(−d²/2)`: returns `(N(d), N(−d))`.
///
/// The smaller tail is `½·erfcx(|d|/√2)·e` (Cody's scaled complementary error function, a
/// rational function for |d| > 0.66, so no second `exp`); the larger is one minus it.
#[inline]
#[must_use]
pub fn norm_cdf_pair(d: f64, e: f64) -> (f64, f64) {
    if d.is_infinite() {
        return if d > 0.0 { (1.0, 0.0) } else { (0.0, 1.0) };
    }
    let small = 0.5 * DefaultSpecialFn::erfcx(d.abs() * std::f64::consts::FRAC_1_SQRT_2) * e;
    if d >= 0.0 {
        (1.0 - small, small)
    } else {
        (small, 1.0 - small)
    }
}

/// Standard normal density `n(x) = exp(-x²/2)/√(2π)`; underflows cleanly to 0 for |x| > ~38.6.
#[inline]
#[must_use]
pub fn norm_pdf(x: f64) -> f64 {
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_tail_keeps_relative_precision() {
        // N(-30) = 4.906713927148187e-198 (mpmath).
        let got = norm_cdf(-30.0);
        assert!((got / 4.906_713_927_148_187e-198 - 1.0).abs() < 1e-13, "{got}");
    }

    #[test]
    fn paired_tails_agree_with_the_direct_cdf() {
        for d in [-37.0, -8.5, -1.3, -0.4, 0.0, 0.2, 0.6, 2.0, 9.0] {
            let (lo, hi) = norm_cdf_pair(d, (-0.5 * d * d).exp());
            for (got, want) in [(lo, norm_cdf(d)), (hi, norm_cdf(-d))] {
                // Both forms lose ~d²·ε in the tail (rounding of d² or of d/√2 before the exp).
                let tol = 4.0 * f64::EPSILON * (1.0 + d * d) * want;
                assert!((got - want).abs() <= tol, "d={d}: {got:e} vs {want:e}");
            }
        }
    }

    #[test]
    fn infinite_arguments_give_the_limits() {
        assert_eq!(norm_cdf_pair(f64::INFINITY, 0.0), (1.0, 0.0));
        assert_eq!(norm_cdf_pair(f64::NEG_INFINITY, 0.0), (0.0, 1.0));
        assert_eq!(norm_pdf(40.0), 0.0, "underflows cleanly");
        assert_eq!(norm_pdf(0.0), INV_SQRT_2PI);
        assert!((norm_pdf(1.0) - 0.241_970_724_519_143_37).abs() < 1e-16);
        assert_eq!(norm_pdf(-1.5), norm_pdf(1.5));
    }

    #[test]
    fn symmetric_around_zero() {
        for x in [0.1, 0.5, 1.0, 2.5, 5.0] {
            assert!((norm_cdf(x) + norm_cdf(-x) - 1.0).abs() < 1e-15);
        }
        assert_eq!(norm_cdf(0.0), 0.5);
    }
}
