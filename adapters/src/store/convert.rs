//! Domain records ↔ table rows. Enum codes are the serde names the API uses.

use chrono::{DateTime, Utc};
use domain::candles::{AggregatedBar, Bar, Timeframe};
use domain::instrument::{InstrumentKey, OptionContract};
use domain::moneyness::LevelAggregate;
use domain::ports::{GreeksRecord, InstrumentCandle, MoneynessRecord, PortError};
use domain::pricing::Greeks;
use serde::de::DeserializeOwned;

use super::entities::{candle, custom_timeframe, greeks, instrument, moneyness};

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

pub(super) fn candle_model(c: &InstrumentCandle, updated_at_ms: i64) -> candle::Model {
    let b = &c.bar;
    candle::Model {
        instrument_key: c.key.as_str().to_owned(),
        start_ms: b.start.timestamp_millis(),
        open: b.open,
        high: b.high,
        low: b.low,
        close: b.close,
        volume: b.volume,
        vwap: b.vwap,
        oi: b.oi,
        updated_at_ms,
    }
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

pub(super) fn timeframe_model(
    key: &InstrumentKey,
    timeframe: Timeframe,
    b: &AggregatedBar,
    computed_at_ms: i64,
) -> custom_timeframe::Model {
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    custom_timeframe::Model {
        instrument_key: key.as_str().to_owned(),
        timeframe: timeframe.to_string(),
        bucket_start_ms: b.start.timestamp_millis(),
        bucket_end_ms: b.end.timestamp_millis(),
        open: b.open,
        high: b.high,
        low: b.low,
        close: b.close,
        volume: b.volume,
        vwap: b.vwap,
        oi: b.oi,
        n_bars: count(b.n_bars),
        expected_bars: count(b.expected_bars),
        partial: b.partial,
        gaps: count(b.gaps),
        computed_at_ms,
    }
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

pub(super) fn greeks_model(r: &GreeksRecord) -> greeks::Model {
    let g = r.greeks;
    greeks::Model {
        instrument_key: r.key.as_str().to_owned(),
        minute_ms: r.minute.timestamp_millis(),
        underlying_price: r.underlying_price,
        forward: r.forward,
        forward_source: r.forward_source.as_str().to_owned(),
        option_price: r.option_price,
        price_source: r.price_source.map(|p| p.as_str().to_owned()),
        iv: r.iv,
        iv_error: r.iv_error.map(|e| e.code().to_owned()),
        delta: g.map(|g| g.delta),
        gamma: g.map(|g| g.gamma),
        theta_per_year: g.map(|g| g.theta_per_year),
        vega_per_unit: g.map(|g| g.vega_per_unit),
        rho_per_unit: g.map(|g| g.rho_per_unit),
        vanna: g.map(|g| g.vanna),
        volga: g.map(|g| g.volga),
        charm_per_year: g.map(|g| g.charm_per_year),
        speed: g.map(|g| g.speed),
        model: r.model.as_str().to_owned(),
        rate: r.rate,
        time_basis: r.time_basis.as_str().to_owned(),
        t_years: r.t_years,
    }
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

pub(super) fn moneyness_model(r: &MoneynessRecord) -> moneyness::Model {
    let a: &LevelAggregate = &r.aggregate;
    let g = a.greeks_oi_weighted;
    moneyness::Model {
        underlying: r.underlying.as_str().to_owned(),
        expiry: r.expiry.format("%Y-%m-%d").to_string(),
        option_right: r.right.as_str().to_owned(),
        level: r.level.to_string(),
        minute_ms: r.minute.timestamp_millis(),
        count: i32::try_from(a.count).unwrap_or(i32::MAX),
        count_with_iv: i32::try_from(a.count_with_iv).unwrap_or(i32::MAX),
        mean_iv: a.mean_iv,
        delta: g.delta,
        gamma: g.gamma,
        theta_per_year: g.theta_per_year,
        vega_per_unit: g.vega_per_unit,
        rho_per_unit: g.rho_per_unit,
        vanna: g.vanna,
        volga: g.volga,
        charm_per_year: g.charm_per_year,
        speed: g.speed,
        total_volume: a.total_volume,
        total_oi: a.total_oi,
        atm_iv: r.atm_iv,
    }
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
    })
}

pub(super) fn instrument_model(c: &OptionContract, market: &str, now_ms: i64) -> instrument::Model {
    instrument::Model {
        key: c.key.as_str().to_owned(),
        kind: "option".into(),
        underlying: c.underlying.as_str().to_owned(),
        market: market.to_owned(),
        expiry_ms: Some(c.expiry.timestamp_millis()),
        strike: Some(c.strike.value()),
        option_right: Some(c.right.as_str().to_owned()),
        lot_size: i32::try_from(c.lot_size.units()).unwrap_or(i32::MAX),
        tick_size: c.tick_size,
        registered_at_ms: now_ms,
    }
}
