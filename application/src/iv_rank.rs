//! IV rank: where today's 30-day constant-maturity ATM IV stands against its own history.
//!
//! Each trading day's value is rebuilt from the store: for the expiries around 30 days from
//! that day, each one's last `ATM` row of the session (its ATM IV and time to expiry then), and
//! between them the IV at 30 days interpolated in total variance
//! ([`domain::chain::constant_maturity_iv`]). Today's value is the latest of today's session;
//! the history is the `window` sessions before it. Closed days' values are kept in memory once
//! found (a day without data is looked up again next time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::chain::{ConstantMaturityIv, IvRank, TermPoint, constant_maturity_iv, iv_rank};
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{Clock, MoneynessRecord, PortError, SignalStore, TimeRange};
use futures_util::future::try_join;

use crate::history::HistoryError;
use crate::market::InstrumentRegistry;
use crate::surface::CONSTANT_MATURITY_YEARS;
use crate::sync::LockOrRecover;

/// The default history, trading days (a year).
pub const DEFAULT_WINDOW: u32 = 252;
/// The longest history one request may ask for, trading days (about four years).
pub const MAX_WINDOW: u32 = 1_000;
/// Expiries tried on each side of 30 days for a day's value.
const TRIED: usize = 8;
/// Closed days kept in memory, over all underlyings; past it the memory starts again.
const REMEMBERED_DAYS: usize = 50_000;

/// The minutes of an expiry's first and last `ATM` rows in the window.
#[derive(Debug, Clone, Copy)]
struct Span {
    expiry: NaiveDate,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}

/// One day's constant-maturity ATM IV.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayIv {
    /// The trading date (exchange-local).
    pub date: NaiveDate,
    /// The minute (UTC start) of the latest ATM row used.
    pub as_of: DateTime<Utc>,
    /// The IV at 30 days and the expiries' times it came from.
    pub iv: ConstantMaturityIv,
}

/// Today's IV against its history.
#[derive(Debug, Clone, PartialEq)]
pub struct IvRankRead {
    /// The latest day with a value (today's session when it has one).
    pub today: Option<DayIv>,
    /// Rank and percentile of `today` against `history`; `None` without both.
    pub rank: Option<IvRank>,
    /// The earlier days with a value, ascending (at most `window`).
    pub history: Vec<DayIv>,
    /// Trading days looked at before `today`.
    pub window: u32,
}

/// The IV rank reads.
pub struct IvRanks {
    store: Arc<dyn SignalStore>,
    registry: Arc<InstrumentRegistry>,
    clock: Arc<dyn Clock>,
    closed: Mutex<HashMap<(InstrumentKey, NaiveDate), DayIv>>,
}

impl IvRanks {
    /// Reads `store`; `registry` gives the underlying's market (its sessions).
    #[must_use]
    pub fn new(store: Arc<dyn SignalStore>, registry: Arc<InstrumentRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            registry,
            clock,
            closed: Mutex::default(),
        }
    }

    /// Today's 30-day ATM IV of `underlying` ranked against the `window` trading days before.
    ///
    /// # Errors
    /// [`HistoryError::BadParam`] naming `window` outside 1 to [`MAX_WINDOW`];
    /// [`HistoryError::NotFound`] naming `underlying` when unknown; [`HistoryError::Store`].
    pub async fn rank(&self, underlying: &InstrumentKey, window: u32) -> Result<IvRankRead, HistoryError> {
        if !(1..=MAX_WINDOW).contains(&window) {
            return Err(HistoryError::BadParam {
                field: "window",
                message: format!("{window} trading days is outside 1 to {MAX_WINDOW}"),
            });
        }
        let market = self
            .registry
            .get(underlying)
            .map(|r| r.market().clone())
            .ok_or_else(|| HistoryError::NotFound {
                field: "underlying",
                message: format!("unknown underlying {underlying}"),
            })?;
        let now = self.clock.now();
        let today = market.local_date(now);
        // Today's session (when open by now) and the `window` sessions before it, newest first.
        let mut sessions = Vec::new();
        let mut d = today;
        // Bounded however few sessions the calendar has: a trading year is about 250 sessions
        // in 365 days.
        let oldest = today - Duration::days(i64::from(window) * 2 + 30);
        while sessions.len() <= window as usize && d >= market.first_date() && d >= oldest {
            if let Some(s) = market.session_on(d).filter(|s| s.open <= now) {
                sessions.push(s);
            }
            d = match d.pred_opt() {
                Some(p) => p,
                None => break,
            };
        }
        sessions.reverse();
        let Some(first) = sessions.first().map(|s| s.date) else {
            return Ok(IvRankRead {
                today: None,
                rank: None,
                history: Vec::new(),
                window,
            });
        };
        // Each expiry's first and last ATM row in the window: a day only asks about the expiries
        // with rows around it (two indexed lookups per expiry instead of up to sixteen per day).
        let window_range = TimeRange {
            from: sessions[0].open,
            to: sessions[sessions.len() - 1].close,
        };
        let mut expiries = Vec::new();
        for e in self.store.moneyness_expiries(underlying, first).await? {
            let earliest = self
                .store
                .moneyness(underlying, e, OptionRight::Call, MoneynessLevel::Atm, window_range, 1)
                .await?;
            if let (Some(a), Some(b)) = (
                earliest.first(),
                self.store.last_atm(underlying, e, window_range).await?,
            ) {
                expiries.push(Span {
                    expiry: e,
                    first: a.minute,
                    last: b.minute,
                });
            }
        }
        let mut days = Vec::with_capacity(sessions.len());
        for s in &sessions {
            let remembered = self
                .closed
                .lock_or_recover()
                .get(&(underlying.clone(), s.date))
                .copied();
            let day = match remembered {
                Some(d) => Some(d),
                None => {
                    let found = self.day(underlying, &expiries, s.date, s.open, s.close).await?;
                    if let Some(d) = found.filter(|d| d.date < today) {
                        let mut closed = self.closed.lock_or_recover();
                        if closed.len() >= REMEMBERED_DAYS {
                            closed.clear();
                        }
                        closed.insert((underlying.clone(), d.date), d);
                    }
                    found
                }
            };
            days.extend(day);
        }
        let today = days.pop();
        let history: Vec<DayIv> = days.into_iter().rev().take(window as usize).rev().collect();
        let rank = today.and_then(|t| {
            let values: Vec<f64> = history.iter().map(|d| d.iv.iv).collect();
            iv_rank(&values, t.iv.iv)
        });
        Ok(IvRankRead {
            today,
            rank,
            history,
            window,
        })
    }

    /// The first of `expiries` (in the order given, at most [`TRIED`]) with an `ATM` row in
    /// `range`: its last one.
    async fn first_row(
        &self,
        underlying: &InstrumentKey,
        expiries: impl Iterator<Item = &NaiveDate>,
        range: TimeRange,
    ) -> Result<Option<MoneynessRecord>, PortError> {
        for e in expiries.take(TRIED) {
            if let Some(r) = self.store.last_atm(underlying, *e, range).await? {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// One session's value from the expiries around 30 days after it.
    async fn day(
        &self,
        underlying: &InstrumentKey,
        expiries: &[Span],
        date: NaiveDate,
        open: DateTime<Utc>,
        close: DateTime<Utc>,
    ) -> Result<Option<DayIv>, HistoryError> {
        let live: Vec<NaiveDate> = expiries
            .iter()
            .filter(|s| s.expiry >= date && s.first < close && s.last >= open)
            .map(|s| s.expiry)
            .collect();
        let target = date + Duration::days(30);
        let i = live.partition_point(|e| *e <= target);
        let range = TimeRange { from: open, to: close };
        // The nearest expiry with a row on each side of 30 days: an expiry may have no row
        // that day (listed later, or not quoted), so up to `TRIED` are tried each way.
        let (below, above) = try_join(
            self.first_row(underlying, live[..i].iter().rev(), range),
            self.first_row(underlying, live[i..].iter(), range),
        )
        .await?;
        let rows = [below, above];
        let mut as_of: Option<DateTime<Utc>> = None;
        let points: Vec<TermPoint> = rows
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let (iv, inputs) = (r.atm_iv?, r.chain?);
                as_of = Some(as_of.map_or(r.minute, |m| m.max(r.minute)));
                Some(TermPoint {
                    t_years: inputs.t_years,
                    atm_iv: iv,
                })
            })
            .collect();
        Ok(constant_maturity_iv(&points, CONSTANT_MATURITY_YEARS)
            .zip(as_of)
            .map(|(iv, as_of)| DayIv { date, as_of, iv }))
    }
}
