//! One example event of each kind, for the AsyncAPI document's messages and docs/websocket.md:
//! NIFTY on 2026-11-24 at 10:01 IST, the 26 000 call of the 2026-11-25 expiry.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::candles::{AggregatedBar, Bar, Timeframe};
use domain::chain::{AtmIv, PutCallRatio, QuotePrice, StrikeIv, Wing25};
use domain::expiry::{Forward, ForwardSource, TimeBasis};
use domain::instrument::InstrumentKey;
use domain::moneyness::{LevelAggregate, MappingBasis, MoneynessLevel};
use domain::ports::{GreeksRecord, InstrumentCandle, SignalEvent};
use domain::pricing::{Greeks, PricingModel};

fn key(text: &str) -> InstrumentKey {
    InstrumentKey::parse(text).unwrap_or_else(|e| unreachable!("example key {text}: {e}"))
}

fn minute() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 4, 31, 0)
        .single()
        .unwrap_or_default()
}

fn expiry() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default()
}

fn greeks() -> Greeks {
    Greeks {
        delta: 0.5231,
        gamma: 0.000_91,
        theta_per_year: -6_211.5,
        vega_per_unit: 1_183.2,
        rho_per_unit: 148.7,
        vanna: 0.0412,
        volga: 35.8,
        charm_per_year: -0.61,
        speed: -2.1e-7,
    }
}

fn five_minutes() -> Timeframe {
    "5m".parse().unwrap_or(Timeframe::ONE_MINUTE)
}

fn forward() -> Forward {
    Forward {
        value: 26_012.5,
        source: ForwardSource::PutCallParity,
    }
}

fn atm_iv() -> AtmIv {
    AtmIv {
        iv: 0.1498,
        lower_strike: 26_000.0,
        upper_strike: 26_050.0,
    }
}

/// `(topic, kind, forming, event)` for every kind a topic carries.
#[must_use]
pub fn events() -> Vec<(String, &'static str, bool, SignalEvent)> {
    let call = "NSE:NIFTY-20261125-26000-CE";
    let bar = AggregatedBar {
        start: minute() - chrono::Duration::minutes(1),
        end: minute() + chrono::Duration::minutes(4),
        open: 118.0,
        high: 124.5,
        low: 117.2,
        close: 123.45,
        volume: 1_250.0,
        vwap: Some(121.9),
        oi: Some(182_400.0),
        n_bars: 2,
        expected_bars: 5,
        partial: false,
        gaps: 0,
    };
    let level = LevelAggregate {
        count: 1,
        count_with_iv: 1,
        mean_iv: Some(0.1502),
        greeks_oi_weighted: greeks(),
        total_volume: 1_250.0,
        total_oi: 182_400.0,
    };
    vec![
        (
            format!("greeks:{call}"),
            "greeks",
            false,
            SignalEvent::Greeks(GreeksRecord {
                key: key(call),
                minute: minute(),
                underlying_price: 26_004.1,
                forward: forward().value,
                forward_source: forward().source,
                option_price: Some(123.45),
                price_source: Some(QuotePrice::Mid),
                iv: Some(0.1502),
                iv_error: None,
                greeks: Some(greeks()),
                model: PricingModel::Black76,
                rate: 0.065,
                time_basis: TimeBasis::Exact,
                t_years: 0.002_83,
            }),
        ),
        (
            format!("candles:{call}:1m"),
            "candle",
            true,
            SignalEvent::Candle(InstrumentCandle {
                key: key(call),
                bar: Bar {
                    vwap: Some(123.1),
                    oi: Some(182_400.0),
                    ..Bar::ohlcv(minute(), 122.0, 124.5, 121.8, 123.45, 310.0)
                },
            }),
        ),
        (
            format!("candles:{call}:5m"),
            "bar",
            true,
            SignalEvent::Bar {
                key: key(call),
                timeframe: five_minutes(),
                bar,
            },
        ),
        (
            format!("indicators:{call}:macd:12:26:9:5m"),
            "indicator",
            true,
            SignalEvent::Indicator {
                key: key(call),
                indicator: "macd:12:26:9".to_owned(),
                timeframe: five_minutes(),
                bar_start: bar.start,
                columns: vec!["macd".into(), "macd_signal".into(), "macd_hist".into()],
                values: vec![Some(1.82), Some(1.35), Some(0.47)],
            },
        ),
        (
            "moneyness:NSE:NIFTY:2026-11-25:ATM".to_owned(),
            "moneyness_level",
            false,
            SignalEvent::MoneynessLevel {
                underlying: key("NSE:NIFTY"),
                expiry: expiry(),
                level: MoneynessLevel::Atm,
                minute: minute(),
                call: Some(level),
                put: Some(LevelAggregate {
                    greeks_oi_weighted: Greeks {
                        delta: -0.4769,
                        ..greeks()
                    },
                    ..level
                }),
                atm_iv: Some(atm_iv().iv),
                mapping_source: MappingBasis::LocalLadder,
                mapping_as_of: Some(minute()),
            },
        ),
        (
            "atm_iv:NSE:NIFTY:2026-11-25".to_owned(),
            "atm_iv",
            false,
            SignalEvent::AtmIv {
                underlying: key("NSE:NIFTY"),
                expiry: expiry(),
                minute: minute(),
                atm_iv: Some(atm_iv()),
            },
        ),
        (
            "chain:NSE:NIFTY:2026-11-25".to_owned(),
            "chain",
            false,
            SignalEvent::Chain {
                underlying: key("NSE:NIFTY"),
                expiry: expiry(),
                minute: minute(),
                spot: Some(26_004.1),
                forward: forward(),
                t_years: 0.002_83,
                atm_strike: Some(26_000.0),
                atm_iv: Some(atm_iv()),
                wing_25: Some(Wing25 {
                    call_iv: 0.1431,
                    put_iv: 0.1622,
                    risk_reversal: -0.0191,
                    butterfly: 0.0029,
                }),
                pcr: PutCallRatio {
                    by_oi: Some(1.12),
                    by_volume: Some(0.94),
                },
                max_pain: Some(26_000.0),
                strikes: [
                    (25_950.0, 0.1521, 0.1534),
                    (26_000.0, 0.1502, 0.1497),
                    (26_050.0, 0.1488, 0.1479),
                ]
                .into_iter()
                .map(|(strike, call_iv, put_iv)| StrikeIv {
                    strike,
                    call_iv: Some(call_iv),
                    put_iv: Some(put_iv),
                    otm_iv: Some(if strike >= forward().value { call_iv } else { put_iv }),
                })
                .collect(),
                options_without_iv: 0,
            },
        ),
    ]
}
