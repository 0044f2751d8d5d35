//! The real parts each scenario starts for itself: a PostgreSQL cluster (`initdb` into a temp
//! dir, a free port), a `redis-server` on a free port, and the service binary in production mode
//! on them. Nothing here touches the machine's shared PostgreSQL or Redis.

mod client;
mod servers;
mod service;

pub use client::*;
use servers::scratch;
pub use servers::*;
pub use service::*;
