//! Moneyness packs, whose single-option minutes point at the option's Greeks.
//!
//! With the default ladder nearly every level holds one option, and its aggregates are that
//! option's IV and Greeks OI-weighted over itself: `(0 + g·oi)·(1/oi)` (`g` when its OI is 0),
//! which is `g` give or take the last bit. Stored as such they would cost as much again as the
//! option's Greeks (≈ 68 bytes a minute of near-random mantissas). So a version-2 pack stores,
//! for each minute, either a **reference**, the index of an option in the pack's `refs` (the
//! `refs` column of `signal_moneyness_packs`), whose sealed Greeks at that minute give the
//! minute's mean IV and nine Greeks by [`from_option`] **to the bit** (checked when packing:
//! a minute whose values differ in any bit keeps them), or `-1` and the values themselves.
//!
//! Exactness never depends on which options are offered as candidates or on how the levels
//! were computed: a reference is taken only when [`from_option`] reproduces every value. It
//! does depend on the referenced Greeks packs staying as they were; the job (`job.rs`) keeps
//! that: sealing a level-day and rewriting a Greeks pack of the same underlying and day take
//! the same lock, a rewritten Greeks pack re-packs the level packs that point at it, and
//! retention keeps a month of Greeks packs while moneyness packs of that month remain.
//!
//! The ATM IV, the same for every level of an expiry at a minute, is likewise taken from the
//! expiry's [`ChainDay`] (`signal_chain_packs`), written once when the first level of the
//! expiry-day is sealed and never rewritten; a level's ATM IV that differs from it is kept.
//!
//! Layout (after the header): minutes (`i64`), count, count with IV, reference, and whether
//! the ATM IV is the chain's (`i32`); the ATM IVs not the chain's; over the minutes without a
//! reference only, mean IV and the nine Greeks; then over every minute total volume, total OI
//! and the chain's forward, its source, time to expiry and spot. Version-1 packs (no
//! references; the ATM IV after the OI) are read as they were.

use std::sync::Arc;

use super::codec::{CodecError, PackReader, PackWriter};
use crate::outbound::store::entities::{greeks, moneyness};

/// The series a moneyness pack belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct LevelSeries {
    pub(crate) underlying: String,
    pub(crate) expiry: String,
    pub(crate) option_right: String,
    pub(crate) level: String,
}

/// One option's sealed Greeks of a day (its pack's rows, in minute order), shared: the
/// candidates of an expiry-day serve each of its levels' folds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OptionDay {
    pub(crate) key: String,
    pub(crate) rows: Arc<Vec<greeks::Model>>,
}

impl OptionDay {
    fn at(&self, minute_ms: i64) -> Option<&greeks::Model> {
        self.rows
            .binary_search_by_key(&minute_ms, |r| r.minute_ms)
            .ok()
            .map(|i| &self.rows[i])
    }
}

/// The ATM IV of an expiry's chain at each minute of a day, as first sealed (minute order):
/// the same for every level of the expiry, so stored once (`signal_chain_packs`) and never
/// rewritten, which lets level packs refer to it without ever being re-packed for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ChainDay {
    pub(crate) atm_iv: Vec<(i64, Option<f64>)>,
}

impl ChainDay {
    fn at(&self, minute_ms: i64) -> Option<Option<f64>> {
        self.atm_iv
            .binary_search_by_key(&minute_ms, |(m, _)| *m)
            .ok()
            .map(|i| self.atm_iv[i].1)
    }

    /// The pack of the chain day.
    pub(crate) fn pack(&self) -> Vec<u8> {
        let mut w = PackWriter::new(self.atm_iv.len());
        w.i64s(self.atm_iv.iter().map(|(m, _)| *m));
        w.opt_f64s(&self.atm_iv.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        w.finish()
    }

    /// The chain day of [`ChainDay::pack`]'s bytes.
    ///
    /// # Errors
    /// [`CodecError`] on a corrupt pack.
    pub(crate) fn unpack(pack: &[u8]) -> Result<Self, CodecError> {
        let mut r = PackReader::new(pack)?;
        let minutes = r.i64s()?;
        let atm_iv = r.opt_f64s()?;
        r.end()?;
        Ok(Self {
            atm_iv: minutes.into_iter().zip(atm_iv).collect(),
        })
    }
}

/// What a level pack may refer to: options' sealed Greeks (in the order of its `refs`, or the
/// candidates when packing) and its chain's ATM IV.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Referred {
    pub(crate) options: Vec<OptionDay>,
    pub(crate) chain: ChainDay,
}

/// A pack and the options it refers to, in the order its references count them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Packed {
    pub(crate) bytes: Vec<u8>,
    pub(crate) refs: Vec<String>,
}

/// The aggregates of a level holding only option `o`, with open interest `oi`: mean IV and
/// the nine Greeks, as `domain::moneyness::aggregate_by_level` computes them.
#[must_use]
pub(crate) fn from_option(o: &greeks::Model, oi: f64) -> [Option<f64>; 10] {
    let weighted = |g: Option<f64>| {
        Some(match g {
            None => 0.0,
            Some(g) if oi > 0.0 => (0.0 + g * oi) * (1.0 / oi),
            // A plain mean of one: `(0 + g)·(1/1)`; the product by 1 is exact.
            Some(g) => 0.0 + g,
        })
    };
    [
        o.iv,
        weighted(o.delta),
        weighted(o.gamma),
        weighted(o.theta_per_year),
        weighted(o.vega_per_unit),
        weighted(o.rho_per_unit),
        weighted(o.vanna),
        weighted(o.volga),
        weighted(o.charm_per_year),
        weighted(o.speed),
    ]
}

/// A row's mean IV and nine Greeks, in [`from_option`]'s order.
fn values_of(r: &moneyness::Model) -> [Option<f64>; 10] {
    [
        r.mean_iv,
        Some(r.delta),
        Some(r.gamma),
        Some(r.theta_per_year),
        Some(r.vega_per_unit),
        Some(r.rho_per_unit),
        Some(r.vanna),
        Some(r.volga),
        Some(r.charm_per_year),
        Some(r.speed),
    ]
}

fn same_bits(a: &[Option<f64>; 10], b: &[Option<f64>; 10]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.map(f64::to_bits) == y.map(f64::to_bits))
}

/// The candidate whose Greeks at the row's minute give the row's values, trying `last` first.
fn reference(row: &moneyness::Model, candidates: &[OptionDay], last: Option<usize>) -> Option<usize> {
    let want = values_of(row);
    let fits = |i: usize| {
        candidates[i]
            .at(row.minute_ms)
            .is_some_and(|o| same_bits(&from_option(o, row.total_oi), &want))
    };
    last.filter(|&i| fits(i))
        .or_else(|| (0..candidates.len()).find(|&i| Some(i) != last && fits(i)))
}

/// Packs one level series' rows (minute order); minutes that `referred`'s options reproduce
/// refer to them, and ATM IVs equal to the chain's at the minute to it.
pub(crate) fn pack_moneyness(rows: &[moneyness::Model], referred: &Referred) -> Packed {
    let candidates = &referred.options;
    let mut found: Vec<Option<usize>> = Vec::with_capacity(rows.len());
    let mut last = None;
    for r in rows {
        let hit = reference(r, candidates, last);
        last = hit.or(last);
        found.push(hit);
    }
    // The options used, in candidate order, and each minute's index among them.
    let mut used: Vec<usize> = found.iter().flatten().copied().collect();
    used.sort_unstable();
    used.dedup();
    let index = |c: usize| i32::try_from(used.binary_search(&c).unwrap_or(0)).unwrap_or(i32::MAX);
    let mut w = PackWriter::new(rows.len());
    w.i64s(rows.iter().map(|r| r.minute_ms));
    w.i32s(rows.iter().map(|r| r.count));
    w.i32s(rows.iter().map(|r| r.count_with_iv));
    w.i32s(found.iter().map(|f| f.map_or(-1, index)));
    let from_chain: Vec<bool> = rows
        .iter()
        .map(|r| referred.chain.at(r.minute_ms).map(|v| v.map(f64::to_bits)) == Some(r.atm_iv.map(f64::to_bits)))
        .collect();
    w.i32s(from_chain.iter().map(|&c| i32::from(c)));
    let own_atm: Vec<Option<f64>> = rows
        .iter()
        .zip(&from_chain)
        .filter(|(_, c)| !**c)
        .map(|(r, _)| r.atm_iv)
        .collect();
    w.set_rows(own_atm.len());
    w.opt_f64s(&own_atm);
    let raw: Vec<&moneyness::Model> = rows
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(r, _)| r)
        .collect();
    w.set_rows(raw.len());
    let raw_values: Vec<[Option<f64>; 10]> = raw.iter().map(|r| values_of(r)).collect();
    for i in 0..10 {
        w.opt_f64s(&raw_values.iter().map(|v| v[i]).collect::<Vec<_>>());
    }
    w.set_rows(rows.len());
    write_chain_columns(&mut w, rows);
    Packed {
        bytes: w.finish(),
        refs: used.into_iter().map(|c| candidates[c].key.clone()).collect(),
    }
}

fn write_chain_columns(w: &mut PackWriter, rows: &[moneyness::Model]) {
    w.f64s(rows.iter().map(|r| r.total_volume));
    w.f64s(rows.iter().map(|r| r.total_oi));
    w.opt_f64s(&rows.iter().map(|r| r.chain_forward).collect::<Vec<_>>());
    w.opt_strs(
        &rows
            .iter()
            .map(|r| r.chain_forward_source.as_deref())
            .collect::<Vec<_>>(),
    );
    w.opt_f64s(&rows.iter().map(|r| r.chain_t_years).collect::<Vec<_>>());
    w.opt_f64s(&rows.iter().map(|r| r.chain_spot).collect::<Vec<_>>());
}

/// The columns every layout ends with, one value per minute.
struct Tail {
    volume: Vec<f64>,
    oi: Vec<f64>,
    atm_iv: Vec<Option<f64>>,
    forward: Vec<Option<f64>>,
    source: std::vec::IntoIter<Option<String>>,
    t_years: Vec<Option<f64>>,
    spot: Vec<Option<f64>>,
}

impl Tail {
    /// The tail; version 1 holds the ATM IVs in it, version 2 gives them (`atm_iv`).
    fn read(r: &mut PackReader<'_>, atm_iv: Option<Vec<Option<f64>>>) -> Result<Self, CodecError> {
        let volume = r.f64s()?;
        let oi = r.f64s()?;
        let atm_iv = match atm_iv {
            Some(v) => v,
            None => r.opt_f64s()?,
        };
        let tail = Self {
            volume,
            oi,
            atm_iv,
            forward: r.opt_f64s()?,
            source: r.opt_strs()?.into_iter(),
            t_years: r.opt_f64s()?,
            spot: r.opt_f64s()?,
        };
        r.end()?;
        Ok(tail)
    }
}

/// The rows of a moneyness pack of `series`; `refs` are the options its `refs` column names,
/// in that order (a version-1 pack has none).
///
/// # Errors
/// [`CodecError`] on a corrupt pack, or a reference to an option or minute `refs` lacks.
pub(crate) fn unpack_moneyness(
    series: &LevelSeries,
    pack: &[u8],
    referred: &Referred,
) -> Result<Vec<moneyness::Model>, CodecError> {
    let refs = &referred.options;
    let mut r = PackReader::new(pack)?;
    let rows = r.rows();
    let minute = r.i64s()?;
    let count = r.i32s()?;
    let count_with_iv = r.i32s()?;
    // Version 1: every value, then the tail; version 2: references to options, to the chain's
    // ATM IV, the ATM IVs and values of the minutes without one, then the tail.
    let (reference, atm_iv) = if r.version() == 1 {
        (vec![-1; rows], None)
    } else {
        let reference = r.i32s()?;
        let from_chain = r.i32s()?;
        r.set_rows(from_chain.iter().filter(|&&c| c == 0).count());
        let mut own = r.opt_f64s()?.into_iter();
        let atm_iv = minute
            .iter()
            .zip(&from_chain)
            .map(|(&m, &c)| {
                if c == 0 {
                    Ok(own.next().flatten())
                } else {
                    referred
                        .chain
                        .at(m)
                        .ok_or_else(|| CodecError::new(format!("the chain has no ATM IV at minute {m}")))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        (reference, Some(atm_iv))
    };
    r.set_rows(reference.iter().filter(|&&i| i < 0).count());
    let mut values: Vec<std::vec::IntoIter<Option<f64>>> = Vec::with_capacity(10);
    for _ in 0..10 {
        values.push(r.opt_f64s()?.into_iter());
    }
    r.set_rows(rows);
    let mut tail = Tail::read(&mut r, atm_iv)?;
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let v = if reference[i] < 0 {
            std::array::from_fn(|c| values[c].next().flatten())
        } else {
            let option = usize::try_from(reference[i])
                .ok()
                .and_then(|k| refs.get(k))
                .ok_or_else(|| CodecError::new(format!("reference {} of {} options", reference[i], refs.len())))?;
            let o = option
                .at(minute[i])
                .ok_or_else(|| CodecError::new(format!("{} has no Greeks at minute {}", option.key, minute[i])))?;
            from_option(o, tail.oi[i])
        };
        let g = |c: usize| v[c].ok_or_else(|| CodecError::new("a Greek of a level is missing"));
        out.push(moneyness::Model {
            underlying: series.underlying.clone(),
            expiry: series.expiry.clone(),
            option_right: series.option_right.clone(),
            level: series.level.clone(),
            minute_ms: minute[i],
            count: count[i],
            count_with_iv: count_with_iv[i],
            mean_iv: v[0],
            delta: g(1)?,
            gamma: g(2)?,
            theta_per_year: g(3)?,
            vega_per_unit: g(4)?,
            rho_per_unit: g(5)?,
            vanna: g(6)?,
            volga: g(7)?,
            charm_per_year: g(8)?,
            speed: g(9)?,
            total_volume: tail.volume[i],
            total_oi: tail.oi[i],
            atm_iv: tail.atm_iv[i],
            chain_forward: tail.forward[i],
            chain_forward_source: tail.source.next().flatten(),
            chain_t_years: tail.t_years[i],
            chain_spot: tail.spot[i],
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
