//! Listing rules: which option contracts an exchange lists for a product, as data.
//!
//! A [`ProductSpec`] says how a product's expiries fall (a weekday for weeklies, the last such
//! weekday of the month for monthlies), its strike step, lot and tick size, and how many strikes
//! to list around a reference level. [`ProductSpec::expiries_from`] and [`ProductSpec::contracts`]
//! turn that into dated contracts: an expiry that falls on a closed day moves to the previous
//! trading day, and the expiry instant is that day's session close (PM settlement) or open (AM
//! settlement: SPX monthlies, whose last trading session is the day before).
//!
//! Keys have one form on every market: `<market>:<symbol>-<YYYYMMDD>-<strike>-<CE|PE>` (the right
//! spelled `CE`/`PE` everywhere, as NSE does; `CBOE:SPXW-20261207-6800-PE`), futures
//! `<market>:<symbol>-<YYYYMMDD>-FUT`.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::{FutureContract, InstrumentKey, LotSize, Market, OptionContract, OptionRight, Strike};

/// How one product is listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductSpec {
    /// Exchange symbol, e.g. `NIFTY`.
    pub symbol: String,
    /// Market code, e.g. `NSE`.
    pub market: String,
    /// Distance between listed strikes, price units.
    pub strike_step: f64,
    /// Units per contract.
    pub lot_size: u32,
    /// Minimum price increment, price units.
    pub tick_size: f64,
    /// Weekday of weekly expiries; `None` when the product has no weeklies.
    pub weekly: Option<Weekday>,
    /// Monthly expiries fall on the last such weekday of the month.
    pub monthly: Weekday,
    /// How many weekly expiries to list ahead.
    pub weeklies: u32,
    /// How many monthly expiries to list ahead.
    pub monthlies: u32,
    /// Level the strike ladder is centred on (rounded to the step), price units.
    pub reference_price: f64,
    /// Strikes listed on each side of the centre.
    pub strikes_each_side: u32,
    /// The underlying's symbol when it is not the product's own (SPXW options are on SPX).
    #[serde(default)]
    pub underlying: Option<String>,
    /// Monthlies fall on the `n`th such weekday of the month (SPX: the third Friday); `None`: the
    /// last one (NSE).
    #[serde(default)]
    pub monthly_nth: Option<u8>,
    /// Daily expiries listed ahead, one per trading day (SPXW); 0 for none.
    #[serde(default)]
    pub dailies: u32,
    /// When the product's expiries settle.
    #[serde(default)]
    pub settlement: Settlement,
    /// Whether index futures are listed on the monthly expiries (NSE's are; Cboe lists none).
    #[serde(default = "listed")]
    pub futures: bool,
    /// Wider strikes beyond the near ladder: their step and how many on each side.
    #[serde(default)]
    pub wide: Option<(f64, u32)>,
    /// A PM expiry settles this many minutes before the options' session close: at the index's
    /// own close (Cboe: 15, the index closing at 16:00 and the options at 16:15; 13:00 and 13:15
    /// on an early close). 0 on NSE.
    #[serde(default)]
    pub settles_before_close_minutes: u32,
}

fn listed() -> bool {
    true
}

/// When an expiry settles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Settlement {
    /// At the expiry day's close (NSE; SPXW).
    #[default]
    Pm,
    /// At the expiry day's open, on the opening prices (SPX monthlies); trading ends the session
    /// before.
    Am,
}

/// The `n`th (1-based) `weekday` of the month of `d`.
fn nth_weekday_of_month(d: NaiveDate, weekday: Weekday, n: u8) -> NaiveDate {
    let first = d.with_day(1).unwrap_or(d);
    let ahead = (7 + weekday.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
    first + Duration::days(i64::from(ahead) + 7 * i64::from(n.max(1) - 1))
}

/// The last `weekday` of the month of `d`.
fn last_weekday_of_month(d: NaiveDate, weekday: Weekday) -> NaiveDate {
    let first_next = if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
    .unwrap_or(d);
    let last = first_next.pred_opt().unwrap_or(d);
    let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    last - Duration::days(i64::from(back))
}

impl ProductSpec {
    /// The underlying's instrument key, `<market>:<underlying or symbol>`.
    #[must_use]
    pub fn underlying_key(&self) -> Option<InstrumentKey> {
        let symbol = self.underlying.as_deref().unwrap_or(&self.symbol);
        InstrumentKey::parse(&format!("{}:{symbol}", self.market)).ok()
    }

    /// The instant an expiry on `session`'s day settles: its close, or its open (AM).
    fn expiry_instant(&self, session: &super::TradingDay) -> chrono::DateTime<chrono::Utc> {
        match self.settlement {
            Settlement::Pm => session.close - Duration::minutes(i64::from(self.settles_before_close_minutes)),
            Settlement::Am => session.open,
        }
    }

    /// This month's monthly expiry day before rolling over closed days.
    fn monthly_day(&self, month: NaiveDate) -> NaiveDate {
        match self.monthly_nth {
            Some(n) => nth_weekday_of_month(month, self.monthly, n),
            None => last_weekday_of_month(month, self.monthly),
        }
    }

    /// The trading day an expiry nominally on `d` settles on: `d`, or the closest earlier open day.
    fn roll_back(market: &Market, d: NaiveDate) -> NaiveDate {
        (0..10)
            .map(|i| d - Duration::days(i))
            .find(|x| market.session_on(*x).is_some())
            .unwrap_or(d)
    }

    /// Expiry dates on or after `today` (weeklies and monthlies merged, ascending, distinct).
    #[must_use]
    pub fn expiries_from(&self, market: &Market, today: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        if let Some(w) = self.weekly {
            let ahead = (7 + w.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
            let mut d = today + Duration::days(i64::from(ahead));
            let mut n = 0;
            while n < self.weeklies {
                let e = Self::roll_back(market, d);
                if e >= today {
                    out.push(e);
                    n += 1;
                }
                d += Duration::days(7);
            }
        }
        let mut d = today;
        let mut n = 0;
        while n < self.dailies && d < today + Duration::days(366) {
            if market.session_on(d).is_some() {
                out.push(d);
                n += 1;
            }
            d += Duration::days(1);
        }
        out.extend(self.monthly_expiries(market, today));
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The monthly expiry dates on or after `today`, ascending.
    fn monthly_expiries(&self, market: &Market, today: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut month = today.with_day(1).unwrap_or(today);
        while out.len() < self.monthlies as usize {
            let e = Self::roll_back(market, self.monthly_day(month));
            if e >= today {
                out.push(e);
            }
            // The first day of the next month.
            month = last_weekday_of_month(month, self.monthly) + Duration::days(7);
            month = month.with_day(1).unwrap_or(month);
        }
        out
    }

    /// The futures listed on or after `today`: one per monthly expiry (index futures settle with
    /// the month's monthly options), keyed `<market>:<symbol>-<YYYYMMDD>-FUT`.
    #[must_use]
    pub fn futures(&self, market: &Market, today: NaiveDate) -> Vec<FutureContract> {
        let (Some(underlying), Ok(lot)) = (self.underlying_key(), LotSize::new(self.lot_size)) else {
            return Vec::new();
        };
        if !self.futures {
            return Vec::new();
        }
        self.monthly_expiries(market, today)
            .into_iter()
            .filter_map(|date| {
                let session = market.session_on(date)?;
                let key = format!("{}:{}-{}-FUT", self.market, self.symbol, date.format("%Y%m%d"));
                Some(FutureContract {
                    key: InstrumentKey::parse(&key).ok()?,
                    underlying: underlying.clone(),
                    expiry: session.close,
                    lot_size: lot,
                    tick_size: self.tick_size,
                })
            })
            .collect()
    }

    /// The strike ladder: `2·strikes_each_side + 1` strikes centred on the reference price, then
    /// [`Self::wide`]'s strikes on its own step beyond each end, ascending.
    #[must_use]
    pub fn strikes(&self) -> Vec<f64> {
        let centre = (self.reference_price / self.strike_step).round() * self.strike_step;
        let n = i64::from(self.strikes_each_side);
        let mut out: Vec<f64> = (-n..=n).map(|i| centre + i as f64 * self.strike_step).collect();
        if let (Some((step, each)), Some(lo), Some(hi)) = (self.wide, out.first().copied(), out.last().copied())
            && step > 0.0
        {
            // Multiples of the wide step strictly beyond the near ladder.
            let below = (lo / step).ceil() * step;
            let above = (hi / step).floor() * step;
            for i in 1..=i64::from(each) {
                out.push(below - step * i as f64);
                out.push(above + step * i as f64);
            }
            out.sort_by(f64::total_cmp);
        }
        out.retain(|k| *k > 0.0);
        out
    }

    /// Every contract listed on or after `today`, ascending by expiry, strike, then call before put.
    #[must_use]
    pub fn contracts(&self, market: &Market, today: NaiveDate) -> Vec<OptionContract> {
        let (Some(underlying), Ok(lot)) = (self.underlying_key(), LotSize::new(self.lot_size)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for date in self.expiries_from(market, today) {
            let Some(session) = market.session_on(date) else {
                continue;
            };
            for k in self.strikes() {
                for right in [OptionRight::Call, OptionRight::Put] {
                    let code = if right == OptionRight::Call { "CE" } else { "PE" };
                    let key = format!(
                        "{}:{}-{}-{}-{}",
                        self.market,
                        self.symbol,
                        date.format("%Y%m%d"),
                        k,
                        code
                    );
                    let (Ok(key), Ok(strike)) = (InstrumentKey::parse(&key), Strike::new(k)) else {
                        continue;
                    };
                    out.push(OptionContract {
                        key,
                        underlying: underlying.clone(),
                        expiry: self.expiry_instant(&session),
                        strike,
                        right,
                        lot_size: lot,
                        tick_size: self.tick_size,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nifty() -> ProductSpec {
        ProductSpec {
            symbol: "NIFTY".into(),
            market: "NSE".into(),
            strike_step: 50.0,
            lot_size: 75,
            tick_size: 0.05,
            weekly: Some(Weekday::Tue),
            monthly: Weekday::Tue,
            weeklies: 4,
            monthlies: 3,
            reference_price: 26_010.0,
            strikes_each_side: 2,
            underlying: None,
            monthly_nth: None,
            dailies: 0,
            settlement: Settlement::Pm,
            futures: true,
            wide: None,
            settles_before_close_minutes: 0,
        }
    }

    /// SPX: AM-settled monthlies on the third Friday, no futures, 5-point strikes near the money
    /// and 25-point ones beyond.
    fn spx() -> ProductSpec {
        ProductSpec {
            symbol: "SPX".into(),
            market: "CBOE".into(),
            strike_step: 5.0,
            lot_size: 100,
            tick_size: 0.05,
            weekly: None,
            monthly: Weekday::Fri,
            weeklies: 0,
            monthlies: 3,
            reference_price: 6_002.0,
            strikes_each_side: 2,
            underlying: None,
            monthly_nth: Some(3),
            dailies: 0,
            settlement: Settlement::Am,
            futures: false,
            wide: Some((25.0, 2)),
            settles_before_close_minutes: 15,
        }
    }

    /// SPXW: PM-settled, every trading day, on SPX.
    fn spxw() -> ProductSpec {
        ProductSpec {
            symbol: "SPXW".into(),
            underlying: Some("SPX".into()),
            dailies: 5,
            monthlies: 1,
            settlement: Settlement::Pm,
            wide: None,
            ..spx()
        }
    }

    #[test]
    fn spx_monthlies_are_the_third_friday_am_settled_at_the_open() {
        let m = Market::cboe();
        // 2025: 3rd Fridays Dec 19, Jan 16 2026, Feb 20 2026.
        assert_eq!(
            spx().expiries_from(&m, d("2025-12-17")),
            [d("2025-12-19"), d("2026-01-16"), d("2026-02-20")]
        );
        // April 2025's third Friday is Good Friday (closed): the Thursday before.
        assert_eq!(spx().expiries_from(&m, d("2025-04-01"))[0], d("2025-04-17"));
        let c = spx().contracts(&m, d("2025-12-17"));
        assert_eq!(c[0].key.as_str(), "CBOE:SPX-20251219-5950-CE");
        // The open of the expiry day, 09:30 New York (EST: 14:30 UTC); the last trading
        // session is the day before.
        assert_eq!(c[0].expiry.to_rfc3339(), "2025-12-19T14:30:00+00:00");
        assert_eq!(c[0].lot_size.units(), 100);
        assert!(spx().futures(&m, d("2025-12-17")).is_empty(), "no futures listed");
        // 5-point strikes around 6 000, then 25-point ones beyond.
        assert_eq!(
            spx().strikes(),
            [
                5_950.0, 5_975.0, 5_990.0, 5_995.0, 6_000.0, 6_005.0, 6_010.0, 6_025.0, 6_050.0
            ]
        );
    }

    #[test]
    fn spxw_expires_every_trading_day_at_the_close_on_spx() {
        let m = Market::cboe();
        // From Wednesday 2025-12-24 (an early close): 24, 26 (25th closed), 29, 30, 31 and the
        // December monthly on the 19th is past, so January's third Friday.
        assert_eq!(
            spxw().expiries_from(&m, d("2025-12-24")),
            [
                d("2025-12-24"),
                d("2025-12-26"),
                d("2025-12-29"),
                d("2025-12-30"),
                d("2025-12-31"),
                d("2026-01-16")
            ]
        );
        let c = spxw().contracts(&m, d("2025-12-24"));
        assert_eq!(c[0].key.as_str(), "CBOE:SPXW-20251224-5990-CE");
        assert_eq!(c[0].underlying.as_str(), "CBOE:SPX");
        // PM-settled at the index's close: 13:00 New York on the early close (18:00 UTC).
        assert_eq!(c[0].expiry.to_rfc3339(), "2025-12-24T18:00:00+00:00");
        // A summer expiry: 16:00 EDT is 20:00 UTC; a winter one 16:00 EST is 21:00 UTC.
        let summer = spxw().contracts(&m, d("2026-07-01"));
        assert_eq!(summer[0].expiry.to_rfc3339(), "2026-07-01T20:00:00+00:00");
        let winter = spxw().contracts(&m, d("2026-01-05"));
        assert_eq!(winter[0].expiry.to_rfc3339(), "2026-01-05T21:00:00+00:00");
        let keys: std::collections::BTreeSet<_> = c.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys.len(), c.len(), "unique keys");
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weeklies_and_monthlies_fall_on_their_weekday_and_roll_back_over_holidays() {
        let m = Market::nse();
        let e = nifty().expiries_from(&m, d("2025-12-17"));
        // Weeklies Dec 23, Dec 30 (also the December monthly), Jan 6, Jan 13; monthlies Dec 30, Jan 27, Feb 24.
        let want = [
            "2025-12-23",
            "2025-12-30",
            "2026-01-06",
            "2026-01-13",
            "2026-01-27",
            "2026-02-24",
        ];
        assert_eq!(e, want.iter().map(|s| d(s)).collect::<Vec<_>>());
        // 2026-01-26 is a holiday (Monday); a Tuesday holiday would roll to Monday:
        let mut spec = nifty();
        spec.weekly = Some(Weekday::Mon);
        spec.weeklies = 2;
        spec.monthlies = 0;
        assert_eq!(
            spec.expiries_from(&m, d("2026-01-20")),
            [d("2026-01-23"), d("2026-02-02")]
        );
    }

    #[test]
    fn contracts_expire_at_the_session_close_with_readable_keys() {
        let m = Market::nse();
        let c = nifty().contracts(&m, d("2025-12-17"));
        assert_eq!(c.len(), 6 * 5 * 2);
        assert_eq!(c[0].key.as_str(), "NSE:NIFTY-20251223-25900-CE");
        assert_eq!(c[0].expiry.to_rfc3339(), "2025-12-23T10:00:00+00:00");
        assert_eq!(nifty().strikes(), [25_900.0, 25_950.0, 26_000.0, 26_050.0, 26_100.0]);
    }

    #[test]
    fn futures_settle_with_the_monthly_options() {
        let f = nifty().futures(&Market::nse(), d("2025-12-17"));
        let keys: Vec<&str> = f.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "NSE:NIFTY-20251230-FUT",
                "NSE:NIFTY-20260127-FUT",
                "NSE:NIFTY-20260224-FUT"
            ]
        );
        assert_eq!(f[0].expiry.to_rfc3339(), "2025-12-30T10:00:00+00:00");
        assert_eq!(f[0].underlying.as_str(), "NSE:NIFTY");
    }
}
