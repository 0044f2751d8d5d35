//! Integration tests of the domain crate, in one test binary: golden reference values, property
//! tests, and checks against the shared TA-Lib and aggregation references.

mod calendar;
mod calendar_cboe;
mod golden;
mod markets_props;
mod props;
mod reference;
mod support;
