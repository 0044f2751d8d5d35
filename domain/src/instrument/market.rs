//! Markets: an exchange's time zone, regular session, weekend, holidays and special sessions.
//!
//! Everything calendar-specific is data ([`Market::from_calendar`] reads a small CSV); the code
//! knows only the rules "weekends and holidays are closed, a special session replaces the
//! regular hours of its day". NSE's calendar ships as `nse_calendar.csv` beside this module.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Opening and closing time of one session, in the market's local time; open < close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionHours {
    /// Local time of the first trade.
    pub open: NaiveTime,
    /// Local time trading stops (exclusive end of the last minute).
    pub close: NaiveTime,
}

/// The most trading windows one day may have (a regular session has one; a disaster-recovery
/// drill or a halt splits a day into two or three).
pub const MAX_WINDOWS: usize = 4;

/// One continuous trading window of a day, UTC: `[open, close)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First instant of trading.
    pub open: DateTime<Utc>,
    /// End of trading (exclusive).
    pub close: DateTime<Utc>,
}

impl Window {
    /// True when `t` lies in `[open, close)`.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.open && t < self.close
    }
}

/// One day's session resolved to UTC instants: one or more windows, ascending and disjoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradingDay {
    /// The local trading date.
    pub date: NaiveDate,
    /// Open of the first window, UTC: the anchor of the day's candle grid.
    pub open: DateTime<Utc>,
    /// Close of the last window, UTC (exclusive).
    pub close: DateTime<Utc>,
    windows: [Window; MAX_WINDOWS],
    n_windows: u8,
}

impl TradingDay {
    /// A day of the given windows (ascending, disjoint, at most [`MAX_WINDOWS`]; extra ones are
    /// ignored); `None` when there is none.
    #[must_use]
    pub fn new(date: NaiveDate, windows: &[Window]) -> Option<Self> {
        let (first, last) = (windows.first()?, windows.last()?);
        let mut all = [*first; MAX_WINDOWS];
        let n = windows.len().min(MAX_WINDOWS);
        all[..n].copy_from_slice(&windows[..n]);
        Some(Self {
            date,
            open: first.open,
            close: if n == windows.len() {
                last.close
            } else {
                all[n - 1].close
            },
            windows: all,
            n_windows: u8::try_from(n).unwrap_or(1),
        })
    }

    /// The day's trading windows, ascending.
    #[must_use]
    pub fn windows(&self) -> &[Window] {
        &self.windows[..usize::from(self.n_windows)]
    }

    /// Trading minutes of the day: the windows' lengths summed.
    #[must_use]
    pub fn minutes(&self) -> i64 {
        self.windows().iter().map(|w| (w.close - w.open).num_minutes()).sum()
    }

    /// True when `t` lies in one of the day's windows.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.window_of(t).is_some()
    }

    /// The window containing `t`.
    #[must_use]
    pub fn window_of(&self, t: DateTime<Utc>) -> Option<Window> {
        if t < self.open || t >= self.close {
            return None;
        }
        self.windows().iter().copied().find(|w| w.contains(t))
    }
}

/// Why a market calendar could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A calendar line is malformed.
    #[error("calendar line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Session hours with open not before close.
    #[error("session opens at {open} but closes at {close}")]
    EmptySession {
        /// Open time.
        open: NaiveTime,
        /// Close time.
        close: NaiveTime,
    },
}

/// An exchange's trading calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Market {
    code: String,
    tz: Tz,
    regular: SessionHours,
    weekend: Vec<Weekday>,
    /// Holidays and special sessions, shared between clones (a market is cloned per lookup).
    calendar: Arc<Calendar>,
    /// The first day market data may carry (see [`Market::first_date`]).
    first_date: NaiveDate,
    /// Underlying units one unit of open interest stands for (see [`Market::units_per_oi`]).
    units_per_oi: f64,
}

/// The dated exceptions to a market's regular week.
#[derive(Debug, Clone, Default, PartialEq)]
struct Calendar {
    holidays: BTreeSet<NaiveDate>,
    /// The local windows of each special session, ascending.
    special: BTreeMap<NaiveDate, Vec<SessionHours>>,
}

/// The shipped NSE market, parsed once.
static NSE: LazyLock<Market> = LazyLock::new(|| {
    let regular = SessionHours {
        open: NaiveTime::from_hms_opt(9, 15, 0).unwrap_or_default(),
        close: NaiveTime::from_hms_opt(15, 30, 0).unwrap_or_default(),
    };
    Market::new(
        "NSE",
        chrono_tz::Asia::Kolkata,
        regular,
        vec![Weekday::Sat, Weekday::Sun],
    )
    .and_then(|m| m.from_calendar(NSE_CALENDAR))
    // NSE's first derivatives (index futures) traded on 2000-06-12.
    .map(|m| m.with_first_date(NaiveDate::from_ymd_opt(2000, 6, 12).unwrap_or_default()))
    .unwrap_or_else(|e| unreachable!("the shipped NSE calendar is valid: {e}"))
});

const NSE_CALENDAR: &str = include_str!("../../calendars/nse.csv");

/// The shipped Cboe index-options market (SPX, SPXW), parsed once.
static CBOE: LazyLock<Market> = LazyLock::new(|| {
    let regular = SessionHours {
        open: NaiveTime::from_hms_opt(9, 30, 0).unwrap_or_default(),
        close: NaiveTime::from_hms_opt(16, 15, 0).unwrap_or_default(),
    };
    Market::new(
        "CBOE",
        chrono_tz::America::New_York,
        regular,
        vec![Weekday::Sat, Weekday::Sun],
    )
    .and_then(|m| m.from_calendar(CBOE_CALENDAR))
    // SPX options have listed since 1983; the shipped calendar starts in 2015.
    .map(|m| m.with_first_date(NaiveDate::from_ymd_opt(1983, 7, 1).unwrap_or_default()))
    // US open interest is counted in contracts of 100 units of the index.
    .map(|m| m.with_units_per_oi(100.0))
    .unwrap_or_else(|e| unreachable!("the shipped Cboe calendar is valid: {e}"))
});

const CBOE_CALENDAR: &str = include_str!("../../calendars/cboe.csv");

impl Market {
    /// A market with no holidays yet.
    ///
    /// # Errors
    /// [`CalendarError::EmptySession`] when `regular.open >= regular.close`.
    pub fn new(code: &str, tz: Tz, regular: SessionHours, weekend: Vec<Weekday>) -> Result<Self, CalendarError> {
        check_hours(regular)?;
        Ok(Self {
            code: code.to_owned(),
            tz,
            regular,
            weekend,
            calendar: Arc::default(),
            first_date: NaiveDate::MIN,
            units_per_oi: 1.0,
        })
    }

    /// Sets how many underlying units one unit of the market's open interest stands for.
    #[must_use]
    pub fn with_units_per_oi(mut self, units: f64) -> Self {
        self.units_per_oi = units;
        self
    }

    /// Underlying units one unit of open interest stands for: 1 where the exchange publishes
    /// open interest in units (NSE, and the default), the contract multiplier where it counts
    /// contracts (a US index option: 100). Gamma exposure multiplies by it.
    #[must_use]
    pub fn units_per_oi(&self) -> f64 {
        self.units_per_oi
    }

    /// Adds holidays and special sessions from CSV lines `kind,date,windows,source,note`: kind
    /// `holiday` (windows empty) or `special` (space-separated local `HH:MM-HH:MM` windows,
    /// ascending, at most [`MAX_WINDOWS`]); `#` starts a comment line. The format and the shipped
    /// files are described in `domain/calendars/nse.csv`.
    ///
    /// # Errors
    /// [`CalendarError::BadLine`] naming the first malformed line.
    pub fn from_calendar(mut self, csv: &str) -> Result<Self, CalendarError> {
        let calendar = Arc::make_mut(&mut self.calendar);
        for (i, raw) in csv.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: String| CalendarError::BadLine { line: i + 1, reason };
            let f: Vec<&str> = line.splitn(5, ',').collect();
            if f.len() < 4 {
                return Err(bad("expected kind,date,windows,source,note".into()));
            }
            let date = NaiveDate::parse_from_str(f[1], "%Y-%m-%d").map_err(|e| bad(format!("date '{}': {e}", f[1])))?;
            if f[3].trim().is_empty() {
                return Err(bad(
                    "the source is empty: every line names where its fact comes from".into()
                ));
            }
            match f[0] {
                "holiday" if f[2].trim().is_empty() => {
                    calendar.holidays.insert(date);
                }
                "holiday" => return Err(bad("a holiday has no windows".into())),
                "special" => {
                    let windows = parse_windows(f[2]).map_err(bad)?;
                    calendar.special.insert(date, windows);
                }
                other => return Err(bad(format!("kind '{other}' is not holiday or special"))),
            }
        }
        Ok(self)
    }

    /// The last date the calendar lists (a holiday or a special session): beyond it only the
    /// weekly rule applies, so every weekday counts as a trading day.
    #[must_use]
    pub fn calendar_through(&self) -> Option<NaiveDate> {
        let h = self.calendar.holidays.last().copied();
        let s = self.calendar.special.keys().next_back().copied();
        h.max(s)
    }

    /// Sets the first day market data may carry: anything earlier is refused as absurd (a
    /// time at year 1, a zeroed field).
    #[must_use]
    pub fn with_first_date(mut self, date: NaiveDate) -> Self {
        self.first_date = date;
        self
    }

    /// The first day market data may carry (`NaiveDate::MIN` when the market sets none).
    #[must_use]
    pub fn first_date(&self) -> NaiveDate {
        self.first_date
    }

    /// The National Stock Exchange of India: Asia/Kolkata, 09:15–15:30, Saturday and Sunday closed,
    /// holidays and special sessions from the shipped calendar (parsed once, shared by clones).
    #[must_use]
    pub fn nse() -> Self {
        NSE.clone()
    }

    /// Cboe's index options (SPX, SPXW): America/New_York (daylight saving time included),
    /// 09:30–16:15 (the index itself trades to 16:00), Saturday and Sunday closed, the NYSE
    /// holidays and early closes (13:15 for the options) from the shipped calendar; open interest
    /// in contracts of 100.
    #[must_use]
    pub fn cboe() -> Self {
        CBOE.clone()
    }

    /// The shipped markets' codes.
    pub const SHIPPED: [&'static str; 2] = ["NSE", "CBOE"];

    /// Looks a shipped market up by code (`NSE`, `CBOE`), case-insensitively.
    #[must_use]
    pub fn by_code(code: &str) -> Option<Self> {
        if code.eq_ignore_ascii_case("NSE") {
            Some(Self::nse())
        } else if code.eq_ignore_ascii_case("CBOE") {
            Some(Self::cboe())
        } else {
            None
        }
    }

    /// Market code, e.g. `NSE`.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The exchange time zone.
    #[must_use]
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Regular session hours.
    #[must_use]
    pub fn regular_hours(&self) -> SessionHours {
        self.regular
    }

    /// The session of a local date, or `None` when the market is closed that day.
    /// A special session replaces the regular hours of its date, holiday or weekend included.
    #[must_use]
    pub fn session_on(&self, date: NaiveDate) -> Option<TradingDay> {
        let local: &[SessionHours] = match self.calendar.special.get(&date) {
            Some(w) => w,
            None if self.calendar.holidays.contains(&date) || self.weekend.contains(&date.weekday()) => return None,
            None => std::slice::from_ref(&self.regular),
        };
        let mut windows = [Window {
            open: DateTime::<Utc>::MIN_UTC,
            close: DateTime::<Utc>::MIN_UTC,
        }; MAX_WINDOWS];
        for (w, h) in windows.iter_mut().zip(local) {
            *w = Window {
                open: self.to_utc(date, h.open),
                close: self.to_utc(date, h.close),
            };
        }
        TradingDay::new(date, &windows[..local.len().min(MAX_WINDOWS)])
    }

    /// The local date of an instant in this market's zone.
    #[must_use]
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The session that contains `t`, if the market is open at `t`.
    #[must_use]
    pub fn session_containing(&self, t: DateTime<Utc>) -> Option<TradingDay> {
        self.session_on(self.local_date(t)).filter(|d| d.contains(t))
    }

    /// The first trading day on or after `date`, looking at most 30 days ahead.
    #[must_use]
    pub fn next_session_from(&self, date: NaiveDate) -> Option<TradingDay> {
        date.iter_days().take(30).find_map(|d| self.session_on(d))
    }

    /// Converts a local wall-clock time on `date` to UTC; in a DST gap the later instant is used.
    #[must_use]
    pub fn to_utc(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let naive = date.and_time(time);
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => {
                let later = naive + chrono::Duration::hours(1);
                self.tz
                    .from_local_datetime(&later)
                    .earliest()
                    .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
            }
        }
    }
}

/// `09:15-10:00 11:30-12:30` → local windows, each non-empty, ascending and disjoint.
fn parse_windows(text: &str) -> Result<Vec<SessionHours>, String> {
    let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").map_err(|e| format!("time '{s}': {e}"));
    let mut out: Vec<SessionHours> = Vec::new();
    for w in text.split_whitespace() {
        let (open, close) = w
            .split_once('-')
            .ok_or_else(|| format!("window '{w}' is not HH:MM-HH:MM"))?;
        let hours = SessionHours {
            open: t(open)?,
            close: t(close)?,
        };
        check_hours(hours).map_err(|e| e.to_string())?;
        if out.last().is_some_and(|prev| prev.close > hours.open) {
            return Err(format!("window '{w}' overlaps or precedes the one before it"));
        }
        out.push(hours);
    }
    if out.is_empty() {
        return Err("a special session needs at least one window".into());
    }
    if out.len() > MAX_WINDOWS {
        return Err(format!("{} windows: at most {MAX_WINDOWS} per day", out.len()));
    }
    Ok(out)
}

fn check_hours(h: SessionHours) -> Result<(), CalendarError> {
    if h.open < h.close {
        Ok(())
    } else {
        Err(CalendarError::EmptySession {
            open: h.open,
            close: h.close,
        })
    }
}

#[cfg(test)]
mod tests;
