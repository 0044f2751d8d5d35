//! One pack per table: a series' rows of one day (sea-orm models, in minute order) to bytes
//! and back, every column in the entity's field order except the series key, which the pack's
//! row holds (the moneyness pack, which refers to options' Greeks, is `levels.rs`'s). The
//! layout of the bytes is `codec.rs`'s.

use super::codec::{CodecError, PackReader, PackWriter};
use super::levels::{LevelSeries, Packed, Referred, pack_moneyness, unpack_moneyness};
use crate::outbound::store::entities::{candle, greeks, moneyness};

/// Greeks rows of one option.
pub(crate) fn pack_greeks(rows: &[greeks::Model]) -> Vec<u8> {
    let mut w = PackWriter::new(rows.len());
    w.i64s(rows.iter().map(|r| r.minute_ms));
    w.f64s(rows.iter().map(|r| r.underlying_price));
    w.f64s(rows.iter().map(|r| r.forward));
    w.strs(rows.iter().map(|r| r.forward_source.as_str()));
    w.opt_f64s(&rows.iter().map(|r| r.option_price).collect::<Vec<_>>());
    w.opt_strs(&rows.iter().map(|r| r.price_source.as_deref()).collect::<Vec<_>>());
    w.opt_f64s(&rows.iter().map(|r| r.iv).collect::<Vec<_>>());
    w.opt_strs(&rows.iter().map(|r| r.iv_error.as_deref()).collect::<Vec<_>>());
    for greek in [
        |r: &greeks::Model| r.delta,
        |r: &greeks::Model| r.gamma,
        |r: &greeks::Model| r.theta_per_year,
        |r: &greeks::Model| r.vega_per_unit,
        |r: &greeks::Model| r.rho_per_unit,
        |r: &greeks::Model| r.vanna,
        |r: &greeks::Model| r.volga,
        |r: &greeks::Model| r.charm_per_year,
        |r: &greeks::Model| r.speed,
    ] {
        w.opt_f64s(&rows.iter().map(greek).collect::<Vec<_>>());
    }
    w.strs(rows.iter().map(|r| r.model.as_str()));
    w.f64s(rows.iter().map(|r| r.rate));
    w.strs(rows.iter().map(|r| r.time_basis.as_str()));
    w.f64s(rows.iter().map(|r| r.t_years));
    w.finish()
}

/// The rows of [`pack_greeks`], keyed `instrument_key`.
///
/// # Errors
/// [`CodecError`] on a corrupt pack.
pub(crate) fn unpack_greeks(instrument_key: &str, pack: &[u8]) -> Result<Vec<greeks::Model>, CodecError> {
    let mut r = PackReader::new(pack)?;
    let minute = r.i64s()?;
    let underlying = r.f64s()?;
    let forward = r.f64s()?;
    let forward_source = r.strs()?;
    let option_price = r.opt_f64s()?;
    let price_source = r.opt_strs()?;
    let iv = r.opt_f64s()?;
    let iv_error = r.opt_strs()?;
    let mut g: Vec<Vec<Option<f64>>> = Vec::with_capacity(9);
    for _ in 0..9 {
        g.push(r.opt_f64s()?);
    }
    let model = r.strs()?;
    let rate = r.f64s()?;
    let time_basis = r.strs()?;
    let t_years = r.f64s()?;
    r.end()?;
    let mut out = Vec::with_capacity(r.rows());
    let mut forward_source = forward_source.into_iter();
    let mut price_source = price_source.into_iter();
    let mut iv_error = iv_error.into_iter();
    let mut model = model.into_iter();
    let mut time_basis = time_basis.into_iter();
    for i in 0..r.rows() {
        out.push(greeks::Model {
            instrument_key: instrument_key.to_owned(),
            minute_ms: minute[i],
            underlying_price: underlying[i],
            forward: forward[i],
            forward_source: forward_source.next().unwrap_or_default(),
            option_price: option_price[i],
            price_source: price_source.next().flatten(),
            iv: iv[i],
            iv_error: iv_error.next().flatten(),
            delta: g[0][i],
            gamma: g[1][i],
            theta_per_year: g[2][i],
            vega_per_unit: g[3][i],
            rho_per_unit: g[4][i],
            vanna: g[5][i],
            volga: g[6][i],
            charm_per_year: g[7][i],
            speed: g[8][i],
            model: model.next().unwrap_or_default(),
            rate: rate[i],
            time_basis: time_basis.next().unwrap_or_default(),
            t_years: t_years[i],
        });
    }
    Ok(out)
}

/// 1-minute bars of one instrument.
pub(crate) fn pack_candles(rows: &[candle::Model]) -> Vec<u8> {
    let mut w = PackWriter::new(rows.len());
    w.i64s(rows.iter().map(|r| r.start_ms));
    w.f64s(rows.iter().map(|r| r.open));
    w.f64s(rows.iter().map(|r| r.high));
    w.f64s(rows.iter().map(|r| r.low));
    w.f64s(rows.iter().map(|r| r.close));
    w.f64s(rows.iter().map(|r| r.volume));
    w.opt_f64s(&rows.iter().map(|r| r.vwap).collect::<Vec<_>>());
    w.opt_f64s(&rows.iter().map(|r| r.oi).collect::<Vec<_>>());
    w.i64s(rows.iter().map(|r| r.updated_at_ms));
    w.finish()
}

/// The rows of [`pack_candles`], keyed `instrument_key`.
///
/// # Errors
/// [`CodecError`] on a corrupt pack.
pub(crate) fn unpack_candles(instrument_key: &str, pack: &[u8]) -> Result<Vec<candle::Model>, CodecError> {
    let mut r = PackReader::new(pack)?;
    let start = r.i64s()?;
    let open = r.f64s()?;
    let high = r.f64s()?;
    let low = r.f64s()?;
    let close = r.f64s()?;
    let volume = r.f64s()?;
    let vwap = r.opt_f64s()?;
    let oi = r.opt_f64s()?;
    let updated = r.i64s()?;
    r.end()?;
    Ok((0..r.rows())
        .map(|i| candle::Model {
            instrument_key: instrument_key.to_owned(),
            start_ms: start[i],
            open: open[i],
            high: high[i],
            low: low[i],
            close: close[i],
            volume: volume[i],
            vwap: vwap[i],
            oi: oi[i],
            updated_at_ms: updated[i],
        })
        .collect())
}

/// Rows of a series (its key columns' values) from a pack and the options it refers to.
pub(crate) type Unpack<M> = fn(&[String], &[u8], &Referred) -> Result<Vec<M>, CodecError>;

/// How one table is packed: its row and pack tables, series key and time columns, and
/// whether its packs refer to options' Greeks packs (`levels.rs`: a `refs` column).
pub(crate) struct Spec<M> {
    pub(crate) rows: &'static str,
    pub(crate) packs: &'static str,
    pub(crate) keys: &'static [&'static str],
    pub(crate) time: &'static str,
    pub(crate) pack: fn(&[M], &Referred) -> Packed,
    pub(crate) unpack: Unpack<M>,
    pub(crate) minute: fn(&M) -> i64,
    pub(crate) refers: bool,
    /// Other packs refer to this table's (the Greeks: see `references.rs`).
    pub(crate) referred: bool,
}

/// A pack that refers to nothing.
fn plain(bytes: Vec<u8>) -> Packed {
    Packed {
        bytes,
        refs: Vec::new(),
    }
}

pub(crate) fn greeks_spec() -> Spec<greeks::Model> {
    Spec {
        rows: "signal_greeks",
        packs: "signal_greeks_packs",
        keys: &["instrument_key"],
        time: "minute_ms",
        pack: |rows, _| plain(pack_greeks(rows)),
        unpack: |k, p, _| unpack_greeks(&k[0], p),
        minute: |m| m.minute_ms,
        refers: false,
        referred: true,
    }
}

pub(crate) fn candles_spec() -> Spec<candle::Model> {
    Spec {
        rows: "candles_1m",
        packs: "candles_1m_packs",
        keys: &["instrument_key"],
        time: "start_ms",
        pack: |rows, _| plain(pack_candles(rows)),
        unpack: |k, p, _| unpack_candles(&k[0], p),
        minute: |m| m.start_ms,
        refers: false,
        referred: false,
    }
}

pub(crate) fn moneyness_spec() -> Spec<moneyness::Model> {
    Spec {
        rows: "signal_moneyness_greeks",
        packs: "signal_moneyness_packs",
        keys: &["underlying", "expiry", "option_right", "level"],
        time: "minute_ms",
        pack: pack_moneyness,
        unpack: |k, p, refs| {
            unpack_moneyness(
                &LevelSeries {
                    underlying: k[0].clone(),
                    expiry: k[1].clone(),
                    option_right: k[2].clone(),
                    level: k[3].clone(),
                },
                p,
                refs,
            )
        },
        minute: |m| m.minute_ms,
        refers: true,
        referred: false,
    }
}
