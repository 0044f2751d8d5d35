//! The byte layout of one pack: a day of one series stored column by column.
//!
//! A pack starts with a version byte and its row count (`u32`, little-endian), then holds its
//! columns in an order fixed by the table's pack (`packs.rs`); the reader asks for them in the
//! same order. Each column is:
//!
//! - **numbers** (`f64`, `i64`, `i32`): a presence byte (`0` every row has a value, `1` none
//!   has, `2` a bitmap of `ceil(rows / 8)` bytes follows, bit `i % 8` of byte `i / 8` set when
//!   row `i` has one, `3` every row has the same value, whose 8 bytes follow: a rate, a model
//!   all day), then, when any row has a value, the values present as a
//!   [pco](https://docs.rs/pco) standalone chunk behind its length (`u32`). pco is lossless to
//!   the bit (NaN payloads, `-0.0`, subnormals included) and reaches near the entropy of slowly
//!   moving series: the sign, exponent and leading mantissa bits that minute after minute share
//!   cost almost nothing, decimal prices become small integers, and a constant column a few bytes.
//! - **texts**: the same presence byte, then a dictionary (count `u16`, each text `u16` length
//!   and UTF-8) and each present row's index into it as pco `u32`s; with `3` (every row the
//!   same text) the dictionary's one text alone.
//!
//! pco's own framing costs about 25 bytes a column, which the `3` tag saves for the columns
//! that do not move within a day.
//!
//! A reader checks every length against the bytes it has: a truncated or corrupt pack is an
//! error, never a panic or a wrong value.

use pco::ChunkConfig;
use pco::data_types::Number;
use pco::standalone::{simple_compress, simple_decompress};

/// The layout's version, the pack's first byte. Version 2 differs from 1 only in the
/// moneyness pack (`packs.rs`: minutes taken from the option's Greeks); readers take both.
pub(crate) const VERSION: u8 = 2;

/// A pack that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt pack: {0}")]
pub(crate) struct CodecError(String);

impl CodecError {
    /// A pack that cannot be read, and why.
    pub(crate) fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

fn corrupt(why: impl Into<String>) -> CodecError {
    CodecError(why.into())
}

const ALL: u8 = 0;
const NONE: u8 = 1;
const BITMAP: u8 = 2;
const SAME: u8 = 3;

/// A number type a column holds, with its bits for the `SAME` tag.
pub(crate) trait Num: Number + Copy {
    /// The value's bits, widened.
    fn bits(self) -> u64;
    /// The value of `bits` (as [`Num::bits`] gave them).
    fn from_bits(bits: u64) -> Self;
}

impl Num for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

impl Num for i64 {
    fn bits(self) -> u64 {
        self.cast_unsigned()
    }
    fn from_bits(bits: u64) -> Self {
        bits.cast_signed()
    }
}

impl Num for i32 {
    fn bits(self) -> u64 {
        u64::from(self.cast_unsigned())
    }
    fn from_bits(bits: u64) -> Self {
        u32::try_from(bits).unwrap_or(u32::MAX).cast_signed()
    }
}

/// Builds a pack column by column.
#[derive(Debug)]
pub(crate) struct PackWriter {
    buf: Vec<u8>,
    rows: usize,
}

impl PackWriter {
    /// A pack of `rows` rows.
    ///
    /// # Panics
    /// When `rows` does not fit in a `u32` (a day holds 1 440 minutes).
    pub(crate) fn new(rows: usize) -> Self {
        let mut buf = Vec::with_capacity(64 + rows * 8);
        buf.push(VERSION);
        buf.extend_from_slice(&u32::try_from(rows).expect("rows of a pack fit in u32").to_le_bytes());
        Self { buf, rows }
    }

    /// Columns written from here on hold `rows` values (a subset of the pack's rows, which
    /// the reader can tell from the columns before: see [`PackReader::set_rows`]).
    pub(crate) fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }

    /// The finished pack.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn presence<T>(&mut self, values: &[Option<T>]) -> bool {
        debug_assert_eq!(values.len(), self.rows, "a column has one value per row");
        let present = values.iter().filter(|v| v.is_some()).count();
        if present == values.len() {
            self.buf.push(ALL);
        } else if present == 0 {
            self.buf.push(NONE);
        } else {
            self.buf.push(BITMAP);
            let mut bits = vec![0u8; values.len().div_ceil(8)];
            for (i, v) in values.iter().enumerate() {
                if v.is_some() {
                    bits[i / 8] |= 1 << (i % 8);
                }
            }
            self.buf.extend_from_slice(&bits);
        }
        present > 0
    }

    fn block(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
        self.buf.extend_from_slice(bytes);
    }

    /// The `SAME` tag and the one value, when every row has it.
    fn same<T: Num>(&mut self, values: &[Option<T>]) -> bool {
        let Some(Some(first)) = values.first() else {
            return false;
        };
        if values.len() < 2 || !values.iter().all(|v| v.is_some_and(|v| v.bits() == first.bits())) {
            return false;
        }
        self.buf.push(SAME);
        self.buf.extend_from_slice(&first.bits().to_le_bytes());
        true
    }

    fn numbers<T: Num>(&mut self, values: &[Option<T>]) {
        if self.same(values) {
            return;
        }
        if self.presence(values) {
            let present: Vec<T> = values.iter().flatten().copied().collect();
            // Compression of a slice of numbers fails only on an invalid configuration; the
            // default one is valid.
            let bytes = simple_compress(&present, &ChunkConfig::default()).expect("pco's default configuration");
            self.block(&bytes);
        }
    }

    /// A column of nullable doubles.
    pub(crate) fn opt_f64s(&mut self, values: &[Option<f64>]) {
        self.numbers(values);
    }

    /// A column of doubles.
    pub(crate) fn f64s(&mut self, values: impl IntoIterator<Item = f64>) {
        let v: Vec<Option<f64>> = values.into_iter().map(Some).collect();
        self.numbers(&v);
    }

    /// A column of 64-bit integers.
    pub(crate) fn i64s(&mut self, values: impl IntoIterator<Item = i64>) {
        let v: Vec<Option<i64>> = values.into_iter().map(Some).collect();
        self.numbers(&v);
    }

    /// A column of 32-bit integers.
    pub(crate) fn i32s(&mut self, values: impl IntoIterator<Item = i32>) {
        let v: Vec<Option<i32>> = values.into_iter().map(Some).collect();
        self.numbers(&v);
    }

    /// A column of nullable texts.
    ///
    /// # Panics
    /// When a column holds more than 65 535 distinct texts or one longer than 65 535 bytes
    /// (the stored texts are enumerations: a model, a source, an error kind).
    pub(crate) fn opt_strs(&mut self, values: &[Option<&str>]) {
        if let Some(Some(first)) = values.first()
            && values.len() > 1
            && values.iter().all(|v| v == &Some(*first))
        {
            self.buf.push(SAME);
            self.text(first);
            return;
        }
        if !self.presence(values) {
            return;
        }
        let mut dictionary: Vec<&str> = Vec::new();
        let mut indexes: Vec<u32> = Vec::with_capacity(values.len());
        for s in values.iter().flatten() {
            let at = dictionary.iter().position(|d| d == s).unwrap_or_else(|| {
                dictionary.push(s);
                dictionary.len() - 1
            });
            indexes.push(u32::try_from(at).expect("dictionary index"));
        }
        let count = u16::try_from(dictionary.len()).expect("at most 65 535 distinct texts in a column");
        self.buf.extend_from_slice(&count.to_le_bytes());
        for d in &dictionary {
            self.text(d);
        }
        let bytes = simple_compress(&indexes, &ChunkConfig::default()).expect("pco's default configuration");
        self.block(&bytes);
    }

    fn text(&mut self, d: &str) {
        let len = u16::try_from(d.len()).expect("texts of at most 65 535 bytes");
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(d.as_bytes());
    }

    /// A column of texts.
    pub(crate) fn strs<'s>(&mut self, values: impl IntoIterator<Item = &'s str>) {
        let v: Vec<Option<&str>> = values.into_iter().map(Some).collect();
        self.opt_strs(&v);
    }
}

/// Reads a pack's columns in the order they were written.
#[derive(Debug)]
pub(crate) struct PackReader<'a> {
    bytes: &'a [u8],
    at: usize,
    rows: usize,
    version: u8,
}

impl<'a> PackReader<'a> {
    /// The reader of `bytes`.
    ///
    /// # Errors
    /// [`CodecError`] when the header is short or names another layout version.
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Self, CodecError> {
        let mut r = Self {
            bytes,
            at: 0,
            rows: 0,
            version: 0,
        };
        r.version = r.take(1)?[0];
        if !(1..=VERSION).contains(&r.version) {
            return Err(corrupt(format!(
                "layout version {}, this build reads 1 to {VERSION}",
                r.version
            )));
        }
        r.rows = r.u32()? as usize;
        if r.rows > 1_000_000 {
            return Err(corrupt(format!("{} rows", r.rows)));
        }
        Ok(r)
    }

    /// The pack's rows (or, after [`PackReader::set_rows`], the current columns' rows).
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The layout version the pack was written in.
    pub(crate) fn version(&self) -> u8 {
        self.version
    }

    /// The columns read from here on hold `rows` values (as the writer's
    /// [`PackWriter::set_rows`] wrote them).
    pub(crate) fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }

    /// Checks every byte was read.
    ///
    /// # Errors
    /// [`CodecError`] when bytes are left over.
    pub(crate) fn end(&self) -> Result<(), CodecError> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(corrupt(format!(
                "{} bytes after the last column",
                self.bytes.len() - self.at
            )))
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                corrupt(format!(
                    "{n} bytes wanted at {}, {} in the pack",
                    self.at,
                    self.bytes.len()
                ))
            })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u16(&mut self) -> Result<u16, CodecError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// Which rows have a value; `None` for the `SAME` tag (every row, one value next).
    fn presence(&mut self) -> Result<Option<Vec<bool>>, CodecError> {
        match self.take(1)?[0] {
            ALL => Ok(Some(vec![true; self.rows])),
            NONE => Ok(Some(vec![false; self.rows])),
            BITMAP => {
                let bits = self.take(self.rows.div_ceil(8))?;
                Ok(Some(
                    (0..self.rows).map(|i| bits[i / 8] & (1 << (i % 8)) != 0).collect(),
                ))
            }
            SAME => Ok(None),
            other => Err(corrupt(format!("presence tag {other}"))),
        }
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    fn text(&mut self) -> Result<String, CodecError> {
        let len = usize::from(self.u16()?);
        let text = std::str::from_utf8(self.take(len)?).map_err(|e| corrupt(format!("a text: {e}")))?;
        Ok(text.to_owned())
    }

    fn values<T: Number>(&mut self, want: usize) -> Result<Vec<T>, CodecError> {
        let len = self.u32()? as usize;
        let block = self.take(len)?;
        let values: Vec<T> = simple_decompress(block).map_err(|e| corrupt(format!("a column's numbers: {e}")))?;
        if values.len() != want {
            return Err(corrupt(format!("{} values for {want} rows", values.len())));
        }
        Ok(values)
    }

    fn numbers<T: Num>(&mut self) -> Result<Vec<Option<T>>, CodecError> {
        let Some(present) = self.presence()? else {
            return Ok(vec![Some(T::from_bits(self.u64()?)); self.rows]);
        };
        let n = present.iter().filter(|p| **p).count();
        if n == 0 {
            return Ok(vec![None; self.rows]);
        }
        let mut values = self.values::<T>(n)?.into_iter();
        Ok(present.iter().map(|p| if *p { values.next() } else { None }).collect())
    }

    fn required<T: Num>(&mut self) -> Result<Vec<T>, CodecError> {
        self.numbers::<T>()?
            .into_iter()
            .map(|v| v.ok_or_else(|| corrupt("a required column has a missing row")))
            .collect()
    }

    /// A column of nullable doubles.
    ///
    /// # Errors
    /// [`CodecError`] on a corrupt column.
    pub(crate) fn opt_f64s(&mut self) -> Result<Vec<Option<f64>>, CodecError> {
        self.numbers()
    }

    /// A column of doubles.
    ///
    /// # Errors
    /// [`CodecError`] on a corrupt column or a missing value.
    pub(crate) fn f64s(&mut self) -> Result<Vec<f64>, CodecError> {
        self.required()
    }

    /// A column of 64-bit integers.
    ///
    /// # Errors
    /// [`CodecError`] on a corrupt column or a missing value.
    pub(crate) fn i64s(&mut self) -> Result<Vec<i64>, CodecError> {
        self.required()
    }

    /// A column of 32-bit integers.
    ///
    /// # Errors
    /// [`CodecError`] on a corrupt column or a missing value.
    pub(crate) fn i32s(&mut self) -> Result<Vec<i32>, CodecError> {
        self.required()
    }

    /// A column of nullable texts.
    ///
    /// # Errors
    /// [`CodecError`] on a corrupt column.
    pub(crate) fn opt_strs(&mut self) -> Result<Vec<Option<String>>, CodecError> {
        let Some(present) = self.presence()? else {
            return Ok(vec![Some(self.text()?); self.rows]);
        };
        let n = present.iter().filter(|p| **p).count();
        if n == 0 {
            return Ok(vec![None; self.rows]);
        }
        let count = usize::from(self.u16()?);
        let mut dictionary = Vec::with_capacity(count);
        for _ in 0..count {
            dictionary.push(self.text()?);
        }
        let indexes = self.values::<u32>(n)?;
        let mut texts = indexes.into_iter().map(|i| {
            dictionary
                .get(i as usize)
                .cloned()
                .ok_or_else(|| corrupt(format!("text {i} of a dictionary of {count}")))
        });
        present
            .iter()
            .map(|p| if *p { texts.next().transpose() } else { Ok(None) })
            .collect()
    }

    /// A column of texts.
    ///
    /// # Errors
    /// [`CodecError`] on a corrupt column or a missing value.
    pub(crate) fn strs(&mut self) -> Result<Vec<String>, CodecError> {
        self.opt_strs()?
            .into_iter()
            .map(|v| v.ok_or_else(|| corrupt("a required text column has a missing row")))
            .collect()
    }
}

#[cfg(test)]
mod tests;
