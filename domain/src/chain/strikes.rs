//! The distinct listed strikes of a chain, ascending, with a lookup that is O(1) for quotes
//! arriving in strike order (as chains do) and a binary search otherwise.

/// Distinct finite strikes, ascending.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StrikeGrid(Vec<f64>);

impl StrikeGrid {
    /// The distinct finite strikes among `strikes` (sorted here unless already in order).
    pub(crate) fn new(strikes: impl Iterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = strikes.filter(|k| k.is_finite()).collect();
        if !v.is_sorted() {
            v.sort_by(f64::total_cmp);
        }
        v.dedup();
        Self(v)
    }

    /// The strikes, ascending.
    pub(crate) fn as_slice(&self) -> &[f64] {
        &self.0
    }

    /// The index of `strike`, trying `hint` and its successor first; `hint` is updated.
    pub(crate) fn index(&self, strike: f64, hint: &mut usize) -> Option<usize> {
        let i = *hint;
        let found = match self.0.get(i..i + 2) {
            Some(&[a, _]) if a == strike => Some(i),
            Some(&[_, b]) if b == strike => Some(i + 1),
            _ => self.0.binary_search_by(|k| k.total_cmp(&strike)).ok(),
        };
        if let Some(i) = found {
            *hint = i;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_strike_in_and_out_of_order() {
        let g = StrikeGrid::new([200.0, 100.0, 150.0, 100.0, f64::NAN].into_iter());
        assert_eq!(g.as_slice(), [100.0, 150.0, 200.0]);
        let mut hint = 0;
        for (k, want) in [
            (100.0, Some(0)),
            (150.0, Some(1)),
            (200.0, Some(2)),
            (100.0, Some(0)),
            (125.0, None),
        ] {
            assert_eq!(g.index(k, &mut hint), want, "{k}");
        }
    }
}
