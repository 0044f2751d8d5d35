//! Market data as it arrives: ticks and their validation rules.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::instrument::{InstrumentKey, Market};

/// How far ahead of the service's clock an exchange timestamp may be (clock skew allowance).
pub const MAX_FUTURE_SKEW_SECS: i64 = 5;

/// One quote/trade update of an underlying, future or option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// The instrument.
    pub key: InstrumentKey,
    /// Exchange timestamp, UTC.
    pub ts: DateTime<Utc>,
    /// Last traded price, price units.
    pub last: Option<f64>,
    /// Best bid, price units.
    pub bid: Option<f64>,
    /// Best ask, price units.
    pub ask: Option<f64>,
    /// Volume traded in the session so far (cumulative), units.
    pub volume: Option<f64>,
    /// Open interest, units.
    pub oi: Option<f64>,
}

/// A rejected field: its name as the API spells it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{field}: {reason}")]
pub struct FieldRejection {
    /// Field name.
    pub field: String,
    /// Reason.
    pub reason: String,
}

fn reject(field: &str, reason: impl Into<String>) -> FieldRejection {
    FieldRejection {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn positive_price(field: &str, v: Option<f64>) -> Result<(), FieldRejection> {
    match v {
        Some(x) if !x.is_finite() => Err(reject(field, "must be a finite number")),
        Some(x) if x <= 0.0 => Err(reject(field, format!("{x} must be a positive price"))),
        _ => Ok(()),
    }
}

fn quantity(field: &str, v: Option<f64>) -> Result<(), FieldRejection> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => Err(reject(field, "must be a finite number ≥ 0")),
        _ => Ok(()),
    }
}

/// Sanity ceilings of market data: finite but absurd values (a price of 1.7e308) are refused
/// like non-finite ones, so nothing downstream (sums, exports) can overflow to `inf`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sanity {
    /// Largest accepted price, price units.
    pub max_price: f64,
    /// Largest accepted volume or open interest, units.
    pub max_quantity: f64,
}

impl Default for Sanity {
    fn default() -> Self {
        Self {
            max_price: 1e9,
            max_quantity: 1e15,
        }
    }
}

impl Sanity {
    /// Checks that each given price is at most `max_price` and each quantity at most
    /// `max_quantity` (the other rules — finite, positive — are the caller's).
    ///
    /// # Errors
    /// The first field over its ceiling.
    pub fn check(
        &self,
        prices: &[(&str, Option<f64>)],
        quantities: &[(&str, Option<f64>)],
    ) -> Result<(), FieldRejection> {
        let ceilings = (prices.iter().map(|(f, v)| (*f, *v, self.max_price, "ingest.max_price"))).chain(
            quantities
                .iter()
                .map(|(f, v)| (*f, *v, self.max_quantity, "ingest.max_quantity")),
        );
        for (field, v, max, setting) in ceilings {
            if let Some(x) = v.filter(|x| x.abs() > max) {
                return Err(reject(
                    field,
                    format!("{x:e} is above the sanity ceiling of {max:e} ({setting})"),
                ));
            }
        }
        Ok(())
    }

    /// [`Self::check`] on a tick's prices and quantities.
    ///
    /// # Errors
    /// The first field over its ceiling.
    pub fn check_tick(&self, t: &Tick) -> Result<(), FieldRejection> {
        self.check(
            &[("last", t.last), ("bid", t.bid), ("ask", t.ask)],
            &[("volume", t.volume), ("oi", t.oi)],
        )
    }
}

/// Refuses a timestamp before `market`'s first day (see [`Market::first_date`]).
///
/// # Errors
/// A rejection of `field`.
pub fn within_calendar(field: &str, t: DateTime<Utc>, market: &Market) -> Result<(), FieldRejection> {
    let first = market.first_date();
    if market.local_date(t) < first {
        return Err(reject(
            field,
            format!(
                "{} is before {first}, the first day of {} market data",
                t.to_rfc3339(),
                market.code()
            ),
        ));
    }
    Ok(())
}

impl Tick {
    /// Checks prices, quantities and the timestamp against `now` and `market`'s sessions.
    ///
    /// # Errors
    /// The first [`FieldRejection`]: non-finite, zero or negative prices; bid above ask; negative
    /// quantities; no price at all; a timestamp more than [`MAX_FUTURE_SKEW_SECS`] ahead of `now`
    /// or outside every session.
    pub fn validate(&self, now: DateTime<Utc>, market: &Market) -> Result<(), FieldRejection> {
        self.validate_values()?;
        check_time("ts", self.ts, now, market)
    }

    /// The checks of [`Self::validate`] that do not involve time: prices and quantities.
    ///
    /// # Errors
    /// The first [`FieldRejection`], as [`Self::validate`].
    pub fn validate_values(&self) -> Result<(), FieldRejection> {
        positive_price("last", self.last)?;
        positive_price("bid", self.bid)?;
        positive_price("ask", self.ask)?;
        quantity("volume", self.volume)?;
        quantity("oi", self.oi)?;
        if let (Some(b), Some(a)) = (self.bid, self.ask)
            && b > a
        {
            return Err(reject("bid", format!("bid {b} is above ask {a}")));
        }
        if self.last.is_none() && self.bid.is_none() && self.ask.is_none() {
            return Err(reject("last", "a tick needs a last price or a bid or an ask"));
        }
        Ok(())
    }
}

/// The time checks of [`Tick::validate`] for `field` at `ts`: at most
/// [`MAX_FUTURE_SKEW_SECS`] ahead of `now`, not before the market's first date, in a session.
/// Every row of a batch usually shares one `ts`, so a caller may check it once per batch.
///
/// # Errors
/// A rejection of `field`.
pub fn check_time(field: &str, ts: DateTime<Utc>, now: DateTime<Utc>, market: &Market) -> Result<(), FieldRejection> {
    if ts > now + Duration::seconds(MAX_FUTURE_SKEW_SECS) {
        return Err(reject(
            field,
            format!("{} is in the future (now {now})", ts.to_rfc3339()),
        ));
    }
    within_calendar(field, ts, market)?;
    if market.session_containing(ts).is_none() {
        return Err(reject(
            field,
            format!("{} is outside the {} session", ts.to_rfc3339(), market.code()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick() -> Tick {
        Tick {
            key: InstrumentKey::parse("NSE:NIFTY").unwrap(),
            ts: DateTime::parse_from_rfc3339("2026-02-02T10:00:00+05:30")
                .unwrap()
                .with_timezone(&Utc),
            last: Some(100.0),
            bid: Some(99.5),
            ask: Some(100.5),
            volume: Some(10.0),
            oi: None,
        }
    }

    #[test]
    fn good_ticks_pass_and_bad_fields_are_named() {
        let m = Market::nse();
        let now = tick().ts + Duration::minutes(1);
        assert!(tick().validate(now, &m).is_ok());
        let field = |t: Tick| t.validate(now, &m).unwrap_err().field;
        assert_eq!(
            field(Tick {
                last: Some(f64::NAN),
                ..tick()
            }),
            "last"
        );
        assert_eq!(
            field(Tick {
                last: Some(0.0),
                ..tick()
            }),
            "last"
        );
        assert_eq!(
            field(Tick {
                ask: Some(-1.0),
                ..tick()
            }),
            "ask"
        );
        assert_eq!(
            field(Tick {
                bid: Some(101.0),
                ..tick()
            }),
            "bid"
        );
        assert_eq!(
            field(Tick {
                volume: Some(-1.0),
                ..tick()
            }),
            "volume"
        );
        assert_eq!(
            field(Tick {
                last: None,
                bid: None,
                ask: None,
                ..tick()
            }),
            "last"
        );
        assert_eq!(
            field(Tick {
                ts: now + Duration::hours(1),
                ..tick()
            }),
            "ts"
        );
        let night = DateTime::parse_from_rfc3339("2026-02-02T20:00:00+05:30")
            .unwrap()
            .with_timezone(&Utc);
        assert!(
            Tick { ts: night, ..tick() }
                .validate(night, &m)
                .unwrap_err()
                .reason
                .contains("outside")
        );
    }

    #[test]
    fn absurd_values_and_times_are_refused_naming_the_field() {
        let sanity = Sanity::default();
        assert!(sanity.check_tick(&tick()).is_ok());
        let huge = Tick {
            last: Some(1.7e308),
            ..tick()
        };
        let e = sanity.check_tick(&huge).unwrap_err();
        assert_eq!(e.field, "last");
        assert!(e.reason.contains("ingest.max_price"), "{}", e.reason);
        let e = sanity
            .check_tick(&Tick {
                oi: Some(1e300),
                ..tick()
            })
            .unwrap_err();
        assert_eq!(e.field, "oi");
        let m = Market::nse();
        let ancient = DateTime::parse_from_rfc3339("0001-01-01T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let e = within_calendar("start", ancient, &m).unwrap_err();
        assert_eq!(e.field, "start");
        assert!(e.reason.contains("2000-06-12"), "{}", e.reason);
        assert!(within_calendar("ts", tick().ts, &m).is_ok());
        let e = Tick { ts: ancient, ..tick() }.validate(tick().ts, &m).unwrap_err();
        assert_eq!(e.field, "ts");
    }
}
