//! Domain records ↔ table rows: records to [`Cell`]s in the entity's field order for the bulk
//! writes, models back to records for reads. Enum codes are the serde names the API uses.

use chrono::{DateTime, Utc};
use domain::candles::{AggregatedBar, Bar};
use domain::expiry::Forward;
use domain::instrument::{InstrumentKey, OptionContract};
use domain::moneyness::LevelAggregate;
use domain::ports::{ChainInputs, GreeksRecord, InstrumentCandle, MoneynessRecord, PortError};
use domain::pricing::Greeks;
use serde::de::DeserializeOwned;

use std::borrow::Cow;

use super::bulk::Cell;
use super::entities::{candle, custom_timeframe, greeks, moneyness};

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn parse<T: DeserializeOwned>(s: &str, what: &str) -> Result<T, PortError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| PortError::Invalid(format!("stored {what} '{s}': {e}")))
}

fn time(ms: i64) -> Result<DateTime<Utc>, PortError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| PortError::Invalid(format!("stored time {ms} ms")))
}

fn key(s: &str) -> Result<InstrumentKey, PortError> {
    InstrumentKey::parse(s).map_err(|e| PortError::Invalid(format!("stored key '{s}': {e}")))
}

pub(super) fn candle_cells<'a>(c: &'a InstrumentCandle, updated_at_ms: i64, out: &mut Vec<Cell<'a>>) {
    let b = &c.bar;
    out.extend([
        Cell::key(&c.key),
        Cell::BigInt(b.start.timestamp_millis()),
        Cell::Double(b.open),
        Cell::Double(b.high),
        Cell::Double(b.low),
        Cell::Double(b.close),
        Cell::Double(b.volume),
        Cell::opt_f64(b.vwap),
        Cell::opt_f64(b.oi),
        Cell::BigInt(updated_at_ms),
    ]);
}

pub(super) fn candle_record(m: candle::Model) -> Result<InstrumentCandle, PortError> {
    Ok(InstrumentCandle {
        key: key(&m.instrument_key)?,
        bar: Bar {
            start: time(m.start_ms)?,
            open: m.open,
            high: m.high,
            low: m.low,
            close: m.close,
            volume: m.volume,
            vwap: m.vwap,
            oi: m.oi,
            minutes: 1,
        },
    })
}

pub(super) fn timeframe_cells<'a>(
    key: &'a InstrumentKey,
    timeframe: &'a str,
    b: &AggregatedBar,
    computed_at_ms: i64,
    out: &mut Vec<Cell<'a>>,
) {
    let count = |n: u32| Cell::Int(i32::try_from(n).unwrap_or(i32::MAX));
    out.extend([
        Cell::key(key),
        Cell::str(timeframe),
        Cell::BigInt(b.start.timestamp_millis()),
        Cell::BigInt(b.end.timestamp_millis()),
        Cell::Double(b.open),
        Cell::Double(b.high),
        Cell::Double(b.low),
        Cell::Double(b.close),
        Cell::Double(b.volume),
        Cell::opt_f64(b.vwap),
        Cell::opt_f64(b.oi),
        count(b.n_bars),
        count(b.expected_bars),
        Cell::Bool(b.partial),
        count(b.gaps),
        Cell::BigInt(computed_at_ms),
    ]);
}

pub(super) fn timeframe_record(m: custom_timeframe::Model) -> Result<AggregatedBar, PortError> {
    let count = |n: i32| u32::try_from(n).map_err(|_| PortError::Invalid(format!("stored count {n}")));
    Ok(AggregatedBar {
        start: time(m.bucket_start_ms)?,
        end: time(m.bucket_end_ms)?,
        open: m.open,
        high: m.high,
        low: m.low,
        close: m.close,
        volume: m.volume,
        vwap: m.vwap,
        oi: m.oi,
        n_bars: count(m.n_bars)?,
        expected_bars: count(m.expected_bars)?,
        partial: m.partial,
        gaps: count(m.gaps)?,
    })
}

pub(super) fn greeks_cells<'a>(r: &'a GreeksRecord, out: &mut Vec<Cell<'a>>) {
    let g = r.greeks;
    let greek = |f: fn(&Greeks) -> f64| Cell::opt_f64(g.as_ref().map(f));
    out.extend([
        Cell::key(&r.key),
        Cell::BigInt(r.minute.timestamp_millis()),
        Cell::Double(r.underlying_price),
        Cell::Double(r.forward),
        Cell::str(r.forward_source.as_str()),
        Cell::opt_f64(r.option_price),
        Cell::opt_str(r.price_source.map(|p| p.as_str())),
        Cell::opt_f64(r.iv),
        Cell::opt_str(r.iv_error.map(|e| e.code())),
        greek(|g| g.delta),
        greek(|g| g.gamma),
        greek(|g| g.theta_per_year),
        greek(|g| g.vega_per_unit),
        greek(|g| g.rho_per_unit),
        greek(|g| g.vanna),
        greek(|g| g.volga),
        greek(|g| g.charm_per_year),
        greek(|g| g.speed),
        Cell::str(r.model.as_str()),
        Cell::Double(r.rate),
        Cell::str(r.time_basis.as_str()),
        Cell::Double(r.t_years),
    ]);
}

pub(super) fn greeks_record(m: greeks::Model) -> Result<GreeksRecord, PortError> {
    let greeks = match (m.delta, m.gamma, m.theta_per_year, m.vega_per_unit, m.rho_per_unit) {
        (Some(delta), Some(gamma), Some(theta_per_year), Some(vega_per_unit), Some(rho_per_unit)) => Some(Greeks {
            delta,
            gamma,
            theta_per_year,
            vega_per_unit,
            rho_per_unit,
            vanna: m.vanna.unwrap_or(0.0),
            volga: m.volga.unwrap_or(0.0),
            charm_per_year: m.charm_per_year.unwrap_or(0.0),
            speed: m.speed.unwrap_or(0.0),
        }),
        _ => None,
    };
    Ok(GreeksRecord {
        key: key(&m.instrument_key)?,
        minute: time(m.minute_ms)?,
        underlying_price: m.underlying_price,
        forward: m.forward,
        forward_source: parse(&m.forward_source, "forward source")?,
        option_price: m.option_price,
        price_source: m
            .price_source
            .as_deref()
            .map(|s| parse(s, "price source"))
            .transpose()?,
        iv: m.iv,
        iv_error: m.iv_error.as_deref().map(|s| parse(s, "iv error")).transpose()?,
        greeks,
        model: parse(&m.model, "model")?,
        rate: m.rate,
        time_basis: parse(&m.time_basis, "time basis")?,
        t_years: m.t_years,
    })
}

/// The stored form of an expiry date: `YYYY-MM-DD`.
pub(super) fn expiry_text(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

pub(super) fn moneyness_cells<'a>(r: &'a MoneynessRecord, out: &mut Vec<Cell<'a>>) {
    let a: &LevelAggregate = &r.aggregate;
    let g = a.greeks_oi_weighted;
    let count = |n: u32| Cell::Int(i32::try_from(n).unwrap_or(i32::MAX));
    out.extend([
        Cell::key(&r.underlying),
        Cell::Text(Cow::Owned(expiry_text(r.expiry))),
        Cell::str(r.right.as_str()),
        Cell::Text(Cow::Owned(r.level.to_string())),
        Cell::BigInt(r.minute.timestamp_millis()),
        count(a.count),
        count(a.count_with_iv),
        Cell::opt_f64(a.mean_iv),
        Cell::Double(g.delta),
        Cell::Double(g.gamma),
        Cell::Double(g.theta_per_year),
        Cell::Double(g.vega_per_unit),
        Cell::Double(g.rho_per_unit),
        Cell::Double(g.vanna),
        Cell::Double(g.volga),
        Cell::Double(g.charm_per_year),
        Cell::Double(g.speed),
        Cell::Double(a.total_volume),
        Cell::Double(a.total_oi),
        Cell::opt_f64(r.atm_iv),
        Cell::opt_f64(r.chain.map(|c| c.forward.value)),
        r.chain.map_or(Cell::Null, |c| Cell::str(c.forward.source.as_str())),
        Cell::opt_f64(r.chain.map(|c| c.t_years)),
        Cell::opt_f64(r.chain.and_then(|c| c.spot)),
    ]);
}

pub(super) fn moneyness_record(m: moneyness::Model) -> Result<MoneynessRecord, PortError> {
    let count = |v: i32| u32::try_from(v).unwrap_or(0);
    Ok(MoneynessRecord {
        underlying: key(&m.underlying)?,
        expiry: chrono::NaiveDate::parse_from_str(&m.expiry, "%Y-%m-%d")
            .map_err(|e| PortError::Invalid(format!("stored expiry {}: {e}", m.expiry)))?,
        minute: time(m.minute_ms)?,
        right: parse(&m.option_right, "option right")?,
        level: parse(&m.level, "moneyness level")?,
        aggregate: LevelAggregate {
            count: count(m.count),
            count_with_iv: count(m.count_with_iv),
            mean_iv: m.mean_iv,
            greeks_oi_weighted: Greeks {
                delta: m.delta,
                gamma: m.gamma,
                theta_per_year: m.theta_per_year,
                vega_per_unit: m.vega_per_unit,
                rho_per_unit: m.rho_per_unit,
                vanna: m.vanna,
                volga: m.volga,
                charm_per_year: m.charm_per_year,
                speed: m.speed,
            },
            total_volume: m.total_volume,
            total_oi: m.total_oi,
        },
        atm_iv: m.atm_iv,
        chain: match (m.chain_forward, m.chain_forward_source, m.chain_t_years) {
            (Some(value), Some(source), Some(t_years)) => Some(ChainInputs {
                forward: Forward {
                    value,
                    source: parse(&source, "forward source")?,
                },
                t_years,
                spot: m.chain_spot,
            }),
            _ => None,
        },
    })
}

pub(super) fn instrument_cells<'a>(c: &'a OptionContract, market: &'a str, now_ms: i64, out: &mut Vec<Cell<'a>>) {
    out.extend([
        Cell::key(&c.key),
        Cell::str("option"),
        Cell::key(&c.underlying),
        Cell::str(market),
        Cell::BigInt(c.expiry.timestamp_millis()),
        Cell::Double(c.strike.value()),
        Cell::str(c.right.as_str()),
        Cell::Int(i32::try_from(c.lot_size.units()).unwrap_or(i32::MAX)),
        Cell::Double(c.tick_size),
        Cell::BigInt(now_ms),
    ]);
}
