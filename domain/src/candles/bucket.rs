//! Session-anchored buckets: which bar a timestamp belongs to.
//!
//! Intraday buckets start at the session open every day (09:15 IST on NSE, never midnight UTC),
//! step forward by the timeframe, and the last one is cut at the close. A day of several trading
//! windows (a disaster-recovery drill: 09:15–10:00 and 11:30–12:30) keeps one grid anchored at its
//! first open, and each bucket is its grid cell cut to the window it falls in, so a window's first
//! bucket may start late and its last end early (both partial). Day and week buckets hold the
//! sessions of their calendar days, from the first open to the last close. Instants outside every
//! window belong to no bucket.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{TimeUnit, Timeframe};
use crate::instrument::{Market, TradingDay};

/// One bucket of a timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// First instant of the bucket, UTC: the day's first open plus whole steps, or the open of
    /// its window when that falls inside the grid cell.
    pub start: DateTime<Utc>,
    /// End of the bucket (exclusive), UTC: cut at its window's close.
    pub end: DateTime<Utc>,
    /// Session minutes the bucket spans: the number of 1-minute bars a complete bucket holds.
    pub expected_minutes: u32,
    /// True when a window's open or close cut the bucket shorter than its grid cell.
    pub partial: bool,
}

impl Bucket {
    /// True when `t` lies in `[start, end)`.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start && t < self.end
    }
}

/// Maps instants to buckets for one market and timeframe, caching the current session so that
/// consecutive bars cost a couple of comparisons.
#[derive(Debug, Clone)]
pub struct Bucketer {
    market: Market,
    timeframe: Timeframe,
    day: Option<TradingDay>,
    group: Option<Bucket>,
}

/// Monday 1970-01-05: the anchor of day and week groups.
fn anchor() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 5).unwrap_or_default()
}

fn minutes_between(a: DateTime<Utc>, b: DateTime<Utc>) -> u32 {
    u32::try_from((b - a).num_minutes()).unwrap_or(0)
}

impl Bucketer {
    /// A bucketer for `timeframe` on `market`.
    #[must_use]
    pub fn new(market: Market, timeframe: Timeframe) -> Self {
        Self {
            market,
            timeframe,
            day: None,
            group: None,
        }
    }

    /// The timeframe.
    #[must_use]
    pub fn timeframe(&self) -> Timeframe {
        self.timeframe
    }

    /// The market.
    #[must_use]
    pub fn market(&self) -> &Market {
        &self.market
    }

    /// The session containing `t`, or `None` outside trading hours.
    pub fn session_of(&mut self, t: DateTime<Utc>) -> Option<TradingDay> {
        if let Some(d) = self.day.filter(|d| d.contains(t)) {
            return Some(d);
        }
        let d = self.market.session_containing(t)?;
        self.day = Some(d);
        Some(d)
    }

    /// The bucket `t` falls in, or `None` when `t` is outside every session.
    pub fn bucket_of(&mut self, t: DateTime<Utc>) -> Option<Bucket> {
        let day = self.session_of(t)?;
        match self.timeframe.unit() {
            TimeUnit::Minute | TimeUnit::Hour => {
                let step_min = i64::from(self.timeframe.intraday_minutes().unwrap_or(1));
                let step_secs = step_min * 60;
                let window = day.window_of(t)?;
                let idx = (t - day.open).num_seconds() / step_secs;
                let cell_start = day.open + Duration::seconds(idx * step_secs);
                let cell_end = cell_start + Duration::seconds(step_secs);
                let (start, end) = (cell_start.max(window.open), cell_end.min(window.close));
                Some(Bucket {
                    start,
                    end,
                    expected_minutes: minutes_between(start, end),
                    partial: start > cell_start || end < cell_end,
                })
            }
            TimeUnit::Day | TimeUnit::Week => {
                if let Some(g) = self.group.filter(|g| g.contains(t)) {
                    return Some(g);
                }
                let g = self.day_group(day.date)?;
                self.group = Some(g);
                Some(g)
            }
        }
    }

    /// Every bucket that starts in `[from, to)`, ascending: the grid a range of bars can fill.
    /// Holidays and weekends have none; a day or week group appears once.
    pub fn buckets_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = Vec::new();
        if from >= to {
            return out;
        }
        let tz = self.market.tz();
        let (first, last) = (from.with_timezone(&tz).date_naive(), to.with_timezone(&tz).date_naive());
        let mut date = first;
        while date <= last {
            if let Some(day) = self.market.session_on(date) {
                for window in day.windows() {
                    let mut t = window.open;
                    while t < window.close {
                        let Some(b) = self.bucket_of(t) else { break };
                        if b.start >= from && b.start < to && out.last().is_none_or(|l| l.start != b.start) {
                            out.push(b);
                        }
                        t = b.end.max(t + Duration::minutes(1));
                    }
                }
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        out
    }

    fn day_group(&self, date: NaiveDate) -> Option<Bucket> {
        let n = i64::from(self.timeframe.calendar_days().unwrap_or(1));
        let offset = (date - anchor()).num_days().div_euclid(n) * n;
        let first = anchor() + Duration::days(offset);
        let sessions: Vec<TradingDay> = first
            .iter_days()
            .take(usize::try_from(n).unwrap_or(1))
            .filter_map(|d| self.market.session_on(d))
            .collect();
        let (open, close) = (sessions.first()?, sessions.last()?);
        let expected_minutes = sessions.iter().map(|s| u32::try_from(s.minutes()).unwrap_or(0)).sum();
        // Bars between two sessions of the group fall outside every session and are dropped
        // before this bucket is consulted, so [first open, last close) is safe as its span.
        Some(Bucket {
            start: open.open,
            end: close.close,
            expected_minutes,
            partial: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn bucketer(tf: &str) -> Bucketer {
        Bucketer::new(Market::nse(), tf.parse().unwrap())
    }

    #[test]
    fn seven_minute_buckets_start_at_the_open_and_the_last_is_cut_at_the_close() {
        let mut b = bucketer("7m");
        let first = b.bucket_of(at("2019-07-09T09:20:00+05:30")).unwrap();
        assert_eq!(first.start, at("2019-07-09T09:15:00+05:30"));
        assert_eq!(first.expected_minutes, 7);
        let last = b.bucket_of(at("2019-07-09T15:29:00+05:30")).unwrap();
        assert_eq!(last.start, at("2019-07-09T15:26:00+05:30"));
        assert_eq!(last.end, at("2019-07-09T15:30:00+05:30"));
        assert_eq!(last.expected_minutes, 4);
        assert!(last.partial);
        assert!(
            b.bucket_of(at("2019-07-09T15:30:00+05:30")).is_none(),
            "the close is outside the session"
        );
        assert!(b.bucket_of(at("2019-07-09T09:14:00+05:30")).is_none());
    }

    #[test]
    fn the_grid_between_two_instants_skips_nights_weekends_and_holidays() {
        // Friday 2019-07-12 14:00 IST to Monday 2019-07-15 10:00 IST, hourly from 09:15.
        let grid = bucketer("1h").buckets_between(at("2019-07-12T14:00:00+05:30"), at("2019-07-15T10:00:00+05:30"));
        let starts: Vec<_> = grid.iter().map(|b| b.start).collect();
        assert_eq!(
            starts,
            [
                at("2019-07-12T14:15:00+05:30"),
                at("2019-07-12T15:15:00+05:30"),
                at("2019-07-15T09:15:00+05:30")
            ]
        );
        assert_eq!(grid[1].expected_minutes, 15, "cut at the close");
        assert_eq!(
            bucketer("7m")
                .buckets_between(at("2019-07-09T00:00:00Z"), at("2019-07-10T00:00:00Z"))
                .len(),
            54
        );
        let days = bucketer("1d").buckets_between(at("2019-07-08T00:00:00Z"), at("2019-07-15T00:00:00Z"));
        assert_eq!(days.len(), 5, "one bucket per trading day of the week");
    }

    #[test]
    fn the_grid_is_half_open_a_bucket_starting_at_the_end_is_not_in_it() {
        let grid = bucketer("1h").buckets_between(at("2019-07-15T09:15:00+05:30"), at("2019-07-15T11:15:00+05:30"));
        let starts: Vec<_> = grid.iter().map(|b| b.start).collect();
        assert_eq!(
            starts,
            [at("2019-07-15T09:15:00+05:30"), at("2019-07-15T10:15:00+05:30")]
        );
        assert!(
            bucketer("1h")
                .buckets_between(at("2019-07-15T11:15:00+05:30"), at("2019-07-15T11:15:00+05:30"))
                .is_empty()
        );
    }

    #[test]
    fn hourly_buckets_anchor_at_0915_not_at_the_top_of_the_hour() {
        let mut b = bucketer("1h");
        let k = b.bucket_of(at("2019-07-10T10:20:00+05:30")).unwrap();
        assert_eq!(k.start, at("2019-07-10T10:15:00+05:30"));
    }

    #[test]
    fn a_day_of_two_windows_keeps_one_grid_and_cuts_each_bucket_to_its_window() {
        // 2024-03-02: 09:15-10:00 and 11:30-12:30 IST; the 75-minute grid runs from 09:15.
        let grid = bucketer("75m").buckets_between(at("2024-03-02T00:00:00Z"), at("2024-03-03T00:00:00Z"));
        let spans: Vec<_> = grid
            .iter()
            .map(|b| (b.start, b.end, b.expected_minutes, b.partial))
            .collect();
        assert_eq!(
            spans,
            [
                (
                    at("2024-03-02T09:15:00+05:30"),
                    at("2024-03-02T10:00:00+05:30"),
                    45,
                    true
                ),
                (
                    at("2024-03-02T11:30:00+05:30"),
                    at("2024-03-02T11:45:00+05:30"),
                    15,
                    true
                ),
                (
                    at("2024-03-02T11:45:00+05:30"),
                    at("2024-03-02T12:30:00+05:30"),
                    45,
                    true
                ),
            ]
        );
        let mut b = bucketer("75m");
        assert!(
            b.bucket_of(at("2024-03-02T10:30:00+05:30")).is_none(),
            "between the windows"
        );
        assert_eq!(
            b.bucket_of(at("2024-03-02T11:40:00+05:30")).unwrap().start,
            at("2024-03-02T11:30:00+05:30")
        );
        let day = bucketer("1d").bucket_of(at("2024-03-02T12:00:00+05:30")).unwrap();
        assert_eq!(
            (day.start, day.end),
            (at("2024-03-02T09:15:00+05:30"), at("2024-03-02T12:30:00+05:30"))
        );
        assert_eq!(day.expected_minutes, 105);
    }

    #[test]
    fn weekly_buckets_hold_the_weeks_sessions() {
        let mut b = bucketer("1w");
        let w = b.bucket_of(at("2019-07-10T10:20:00+05:30")).unwrap();
        assert_eq!(w.start, at("2019-07-08T09:15:00+05:30"));
        assert_eq!(w.end, at("2019-07-12T15:30:00+05:30"));
        assert_eq!(w.expected_minutes, 5 * 375);
        assert!(b.bucket_of(at("2019-07-13T10:00:00+05:30")).is_none(), "Saturday");
    }
}
