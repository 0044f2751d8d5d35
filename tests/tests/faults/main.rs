//! Fault injection: the real binary in production mode on a PostgreSQL cluster and a Redis server
//! each scenario starts for itself (`harness.rs`), with the faults an operator meets — the
//! database or Redis going away, a crash, a rolling restart, hostile clients — each asserted with
//! counts. Every scenario prints one `scenario …` line with its figures (`--nocapture` shows
//! them; docs/operations.md quotes them).
//!
//! Needs PostgreSQL's server binaries (`/usr/lib/postgresql/*/bin`), `psql` and `redis-server`;
//! `.ci/run` has them. Scenarios run one at a time ([`harness::SERIAL`]).

mod bad_input;
mod harness;
mod hostile;
mod outages;
mod restarts;
