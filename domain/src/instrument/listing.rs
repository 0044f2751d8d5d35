//! Listing rules: which option contracts an exchange lists for a product, as data.
//!
//! A [`ProductSpec`] says how a product's expiries fall (a weekday for weeklies, the last such
//! weekday of the month for monthlies), its strike step, lot and tick size, and how many strikes
//! to list around a reference level. [`ProductSpec::expiries_from`] and [`ProductSpec::contracts`]
//! turn that into dated contracts: an expiry that falls on a closed day moves to the previous
//! trading day, and the expiry instant is that day's session close.

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
    /// The underlying's instrument key, `<market>:<symbol>`.
    #[must_use]
    pub fn underlying_key(&self) -> Option<InstrumentKey> {
        InstrumentKey::parse(&format!("{}:{}", self.market, self.symbol)).ok()
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
            let e = Self::roll_back(market, last_weekday_of_month(month, self.monthly));
            if e >= today {
                out.push(e);
            }
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

    /// The strike ladder: `2·strikes_each_side + 1` strikes centred on the reference price.
    #[must_use]
    pub fn strikes(&self) -> Vec<f64> {
        let centre = (self.reference_price / self.strike_step).round() * self.strike_step;
        let n = i64::from(self.strikes_each_side);
        (-n..=n)
            .map(|i| centre + i as f64 * self.strike_step)
            .filter(|k| *k > 0.0)
            .collect()
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
                        expiry: session.close,
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
        }
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
