//! An expiry's clock and forward: time to expiry under a day-count basis, and the forward price
//! from the future or from put–call parity.

mod forward;
mod time;

pub use forward::{Forward, ForwardError, ForwardSource, ParityQuote, forward_from_parity, resolve_forward};
pub use time::{SECONDS_PER_YEAR, TimeBasis, time_to_expiry};
