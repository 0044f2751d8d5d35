//! Sealed history in a compact layout (PostgreSQL).
//!
//! Today's minutes live in the row tables (`signal_greeks`, `candles_1m`,
//! `signal_moneyness_greeks`): upserts are cheap there and late bars land as they come. Once a
//! UTC day is older than the seal age, [`compact`] moves each series' rows of that day into one
//! pack row (`*_packs`, see the migration): the day's columns compressed with pco
//! (`codec.rs`, `packs.rs`), about a tenth of the rows' size, values exact to the bit. Reads
//! (`reads.rs`) take both: a pack's minutes and the rows of the same series and day, a row
//! winning over the pack's minute it repeats (a late bar or a recomputation after the seal).
//! The next run folds such rows into the pack again.
//!
//! Moneyness packs store less (`levels.rs`): a level holding one option refers, minute by
//! minute, to that option's sealed Greeks, and every level's ATM IV to its expiry-day's, kept
//! once in `signal_chain_packs`. `references.rs` is what keeps those references exact: one lock
//! per underlying and day, levels sealed after their options' Greeks, level packs re-packed
//! when a Greeks pack they point at is rewritten.
//!
//! A day is a UTC calendar day, whatever the market: every session of the markets served
//! (Mumbai, New York) lies inside one; a session crossing midnight UTC would make two packs,
//! still read as one series.
//!
//! The job is idempotent and safe on several instances at once: each series-day is folded in
//! its own transaction under a transaction-scoped advisory lock (an instance that finds it held
//! skips that series-day), the rows folded are locked (`FOR UPDATE`) and deleted by their exact
//! minutes, so a bar written meanwhile stays a row for the next run, never lost.

#[cfg(test)]
mod analysis;
mod codec;
mod job;
mod levels;
mod packs;
pub(crate) mod partitions;
pub(crate) mod reads;
mod references;

pub(crate) use job::compact;
pub(crate) use packs::{Spec, candles_spec, greeks_spec, moneyness_spec};

/// The chain days' packs (`levels.rs`: each expiry-day's ATM IV, which level packs refer to).
pub(crate) const CHAIN_PACKS: &str = "signal_chain_packs";

/// One day in epoch milliseconds.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The UTC midnight at or before `ms`.
pub(crate) fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}
