//! The ways out: implementations of the domain's ports.
//!
//! - [`store`]: the sea-orm store on SQLite or PostgreSQL;
//! - [`cache`]: moneyness-mapping caches (moka in process, Redis shared) and the closed-day
//!   aggregate cache;
//! - [`fanout`]: numbered updates to every instance's subscription hub (in process or Redis);
//! - [`instruments`]: instrument catalogues (contract-master file, built-in generated listing)
//!   and the external instrument service's client;
//! - [`clock`]: the system clock;
//! - [`reach`]: connection failures in plain words (which host, and why);
//! - [`redis_conn`]: Redis connection settings (`TCP_NODELAY`) every Redis client uses.

pub mod cache;
pub mod clock;
pub mod fanout;
pub mod instruments;
pub mod reach;
pub mod redis_conn;
pub mod store;
