//! Use-case tests of the application with mock adapters (mockall) for every port.

mod backlog;
mod follow;
mod forward;
mod moneyness;
mod observe;
mod publishing;
