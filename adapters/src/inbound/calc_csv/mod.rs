//! CSV codecs for the `calc` commands: CSV in, CSV out, one output row per input row.
//!
//! Input columns are found by name (any order, extra columns are echoed); numbers are printed in
//! their shortest round-trip form; an empty cell means "no value". A bad row stops the run with
//! [`CalcError::Row`] naming the row, the column and the reason.

mod bars;
mod options;

use std::io::{Read, Write};

pub use bars::{run_aggregate, run_indicators};
pub use options::{run_greeks, run_iv};

/// Why a calculator run stopped.
#[derive(Debug, thiserror::Error)]
pub enum CalcError {
    /// A required column is missing from the header.
    #[error("header: missing column '{0}'")]
    MissingColumn(String),
    /// A data row is bad. `row` counts data rows from 1 (the header is line 1, row 1 is line 2).
    #[error("row {row} (line {line}), column '{column}': {reason}", line = row + 1)]
    Row {
        /// 1-based data row.
        row: usize,
        /// Column name.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// The CSV could not be read or written.
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    /// Output could not be written.
    #[error("output: {0}")]
    Io(#[from] std::io::Error),
}

/// Formats a number in shortest round-trip form; NaN prints as an empty cell.
#[must_use]
pub fn fmt_num(v: f64) -> String {
    if v.is_nan() { String::new() } else { format!("{v:?}") }
}

/// A CSV input with named-column access and row numbering for errors.
pub(crate) struct Input<R: Read> {
    reader: csv::Reader<R>,
    header: csv::StringRecord,
    cols: Vec<usize>,
    names: Vec<&'static str>,
    optional: Vec<(&'static str, usize)>,
}

/// One data row being parsed.
pub(crate) struct RowRef<'a> {
    pub(crate) row: usize,
    pub(crate) rec: &'a csv::StringRecord,
    cols: &'a [usize],
    names: &'a [&'static str],
    optional: &'a [(&'static str, usize)],
}

impl<R: Read> Input<R> {
    pub(crate) fn new(read: R, required: &[&'static str]) -> Result<Self, CalcError> {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(read);
        let header = reader.headers()?.clone();
        let cols = required
            .iter()
            .map(|n| {
                header
                    .iter()
                    .position(|h| h == *n)
                    .ok_or_else(|| CalcError::MissingColumn((*n).to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            reader,
            header,
            cols,
            names: required.to_vec(),
            optional: Vec::new(),
        })
    }

    /// Like [`Self::new`], also locating `optional` columns when present.
    pub(crate) fn with_optional(
        read: R,
        required: &[&'static str],
        optional: &[&'static str],
    ) -> Result<Self, CalcError> {
        let mut s = Self::new(read, required)?;
        s.optional = optional
            .iter()
            .filter_map(|n| s.header.iter().position(|h| h == *n).map(|i| (*n, i)))
            .collect();
        Ok(s)
    }

    pub(crate) fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    /// Calls `f` for every data row, in order.
    pub(crate) fn for_each(mut self, mut f: impl FnMut(&RowRef<'_>) -> Result<(), CalcError>) -> Result<(), CalcError> {
        let mut rec = csv::StringRecord::new();
        let mut row = 0;
        while self.reader.read_record(&mut rec)? {
            row += 1;
            f(&RowRef {
                row,
                rec: &rec,
                cols: &self.cols,
                names: &self.names,
                optional: &self.optional,
            })?;
        }
        Ok(())
    }
}

impl RowRef<'_> {
    pub(crate) fn err(&self, i: usize, reason: impl Into<String>) -> CalcError {
        CalcError::Row {
            row: self.row,
            column: self.names[i].to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn err_named(&self, column: &str, reason: impl Into<String>) -> CalcError {
        CalcError::Row {
            row: self.row,
            column: column.to_owned(),
            reason: reason.into(),
        }
    }

    /// An optional column's cell, `None` when the file lacks the column.
    pub(crate) fn named(&self, col: &str) -> Option<&str> {
        let i = self.names.iter().position(|n| *n == col).map(|i| self.cols[i]);
        let i = i.or_else(|| self.optional.iter().find(|(n, _)| *n == col).map(|(_, i)| *i))?;
        self.rec.get(i)
    }

    pub(crate) fn str(&self, i: usize) -> &str {
        self.rec.get(self.cols[i]).unwrap_or("")
    }

    pub(crate) fn num(&self, i: usize) -> Result<f64, CalcError> {
        let s = self.str(i);
        if s.is_empty() {
            return Err(self.err(i, "is empty; a number is required"));
        }
        s.parse::<f64>()
            .map_err(|_| self.err(i, format!("'{s}' is not a number")))
    }
}

/// Writes a header record.
pub(crate) fn writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().from_writer(out)
}
