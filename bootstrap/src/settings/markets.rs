//! The markets of a run: the shipped ones (their calendars built in) and those `[markets.CODE]`
//! defines whole, each with its conventions.

use application::market::{MarketEntry, Markets};
use domain::instrument::{Market, SessionHours};

use super::{MarketConventions, Settings};
/// The markets shipped with the service: their calendars are built in.
const SHIPPED_MARKETS: [&str; 2] = Market::SHIPPED;

impl Settings {
    /// Every market: the shipped ones (their calendars built in, conventions from the preset and
    /// `[markets.CODE]`) and those `[markets.CODE]` defines whole. `preset_override` is
    /// `--conventions NAME` of a run.
    ///
    /// # Errors
    /// A missing or malformed key of a market's definition, named (`markets.XNAS.time_zone`),
    /// or an unreadable calendar file.
    pub fn markets_with(&self, preset_override: Option<&str>) -> Result<Markets, String> {
        let mut entries = Vec::new();
        for code in SHIPPED_MARKETS {
            let market = Market::by_code(code).ok_or_else(|| format!("shipped market {code} missing"))?;
            entries.push(MarketEntry {
                market,
                conventions: self.conventions_with(code, preset_override)?,
            });
        }
        for (code, m) in &self.markets {
            if SHIPPED_MARKETS.contains(&code.as_str()) {
                for (key, set) in [
                    ("time_zone", m.time_zone.is_some()),
                    ("sessions", m.sessions.is_some()),
                    ("calendar", m.calendar.is_some()),
                ] {
                    if set {
                        return Err(format!(
                            "markets.{code}.{key}: {code} is shipped with its calendar; only its conventions can be set"
                        ));
                    }
                }
                continue;
            }
            entries.push(MarketEntry {
                market: defined_market(code, m)?,
                conventions: self.conventions_with(code, preset_override)?,
            });
        }
        Ok(Markets::new(entries))
    }
}

/// A market `[markets.CODE]` defines whole.
fn defined_market(code: &str, m: &MarketConventions) -> Result<Market, String> {
    let need = |key: &str, v: &Option<String>| {
        v.clone().ok_or_else(|| {
            format!(
                "markets.{code}.{key} is required: {code} is not a shipped market (shipped: {})",
                SHIPPED_MARKETS.join(", ")
            )
        })
    };
    let tz: chrono_tz::Tz = need("time_zone", &m.time_zone)?
        .parse()
        .map_err(|e| format!("markets.{code}.time_zone: {e}"))?;
    let sessions = need("sessions", &m.sessions)?;
    let (open, close) = sessions
        .split_once('-')
        .ok_or_else(|| format!("markets.{code}.sessions: '{sessions}' is not HH:MM-HH:MM"))?;
    let time = |t: &str| {
        chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|e| format!("markets.{code}.sessions: '{t}': {e}"))
    };
    let hours = SessionHours {
        open: time(open)?,
        close: time(close)?,
    };
    let weekend = match &m.weekend {
        None => vec![chrono::Weekday::Sat, chrono::Weekday::Sun],
        Some(days) => days
            .iter()
            .map(|d| {
                d.parse::<chrono::Weekday>()
                    .map_err(|_| format!("markets.{code}.weekend: '{d}' is not a day of the week"))
            })
            .collect::<Result<_, _>>()?,
    };
    let path = need("calendar", &m.calendar)?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("markets.{code}.calendar: {path}: {e}"))?;
    Market::new(code, tz, hours, weekend)
        .and_then(|market| market.from_calendar(&text))
        .map_err(|e| format!("markets.{code}: {path}: {e}"))
}
