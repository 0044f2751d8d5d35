//! Criterion benchmarks of the domain kernels; figures and commands in docs/benchmarks.md.
//!
//! Run: `cargo bench -p domain --bench kernels`.

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use domain::candles::{Bar, aggregate};
use domain::chain::{ChainQuote, ChainSpec, evaluate_chain};
use domain::expiry::{Forward, ForwardSource};
use domain::indicators::{Indicator, IndicatorSpec};
use domain::instrument::{Market, OptionRight};
use domain::moneyness::ReferencePrice;
use domain::pricing::kernel::price_and_greeks_unchecked;
use domain::pricing::{OptionInputs, PricingContext, PricingModel, implied_volatility, price_and_greeks};

const N: usize = 1024;

/// NIFTY-like options: strikes ±10 % around 24 350, 1–30 days, smile 11–25 %.
fn options() -> Vec<OptionInputs> {
    (0..N)
        .map(|i| {
            let x = i as f64 / N as f64;
            OptionInputs {
                right: if i % 2 == 0 {
                    OptionRight::Call
                } else {
                    OptionRight::Put
                },
                underlying: 24_350.0,
                strike: 21_900.0 + 4_900.0 * x,
                t_years: (1.0 + 29.0 * ((i * 7) % N) as f64 / N as f64) / 365.0,
                rate: 0.065,
                div_yield: 0.012,
                vol: 0.11 + 0.14 * (x - 0.5).abs(),
            }
        })
        .collect()
}

fn pricing(c: &mut Criterion) {
    let opts = options();
    let mut g = c.benchmark_group("pricing");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("price_and_greeks_bsm", |b| {
        b.iter(|| {
            for o in &opts {
                black_box(price_and_greeks_unchecked(PricingModel::Bsm, black_box(o)));
            }
        });
    });
    g.bench_function("price_and_greeks_black76", |b| {
        b.iter(|| {
            for o in &opts {
                black_box(price_and_greeks_unchecked(PricingModel::Black76, black_box(o)));
            }
        });
    });
    // The chain path: one expiry, constants computed once (PricingContext), strikes and vols vary.
    let ctx = PricingContext::new(PricingModel::Bsm, 24_350.0, 7.0 / 365.0, 0.065, 0.012);
    g.bench_function("price_and_greeks_bsm_one_expiry", |b| {
        b.iter(|| {
            for o in &opts {
                black_box(ctx.value(o.right, black_box(o.strike), o.vol));
            }
        });
    });
    let prices: Vec<f64> = opts
        .iter()
        .map(|o| price_and_greeks(PricingModel::Bsm, o).unwrap().price)
        .collect();
    g.bench_function("implied_volatility_bsm", |b| {
        b.iter(|| {
            for (o, p) in opts.iter().zip(&prices) {
                black_box(implied_volatility(PricingModel::Bsm, black_box(o), black_box(*p)).ok());
            }
        });
    });
    let ctx_prices: Vec<f64> = opts.iter().map(|o| ctx.value(o.right, o.strike, o.vol).price).collect();
    g.bench_function("implied_volatility_bsm_one_expiry", |b| {
        b.iter(|| {
            for (o, p) in opts.iter().zip(&ctx_prices) {
                black_box(ctx.implied_vol(o.right, black_box(o.strike), black_box(*p)).ok());
            }
        });
    });
    g.finish();
}

fn chain(c: &mut Criterion) {
    let (f, t, r) = (24_480.0, 6.0 / 365.0, 0.065);
    let mut quotes = Vec::new();
    for i in 0..200 {
        let k = 19_500.0 + 50.0 * f64::from(i);
        for right in [OptionRight::Call, OptionRight::Put] {
            let m = (k / f).ln();
            let vol = 0.12 + 0.8 * m * m - 0.1 * m;
            let o = OptionInputs {
                right,
                underlying: f,
                strike: k,
                t_years: t,
                rate: r,
                div_yield: 0.0,
                vol,
            };
            let price = price_and_greeks(PricingModel::Black76, &o).unwrap().price;
            let price = (price > 0.05).then_some(price);
            quotes.push(ChainQuote {
                strike: k,
                right,
                price,
                oi: 1e5 * (-m * m * 200.0).exp(),
                volume: 1e4,
            });
        }
    }
    let spec = ChainSpec {
        model: PricingModel::Black76,
        rate: r,
        div_yield: 0.0,
        t_years: t,
        spot: Some(24_400.0),
        forward: Forward {
            value: f,
            source: ForwardSource::Future,
        },
        reference: ReferencePrice::Forward,
        strike_step: None,
    };
    c.bench_function("chain_200_strikes_iv_greeks_moneyness_atm_iv", |b| {
        b.iter(|| black_box(evaluate_chain(black_box(&spec), black_box(&quotes))));
    });
}

fn session_bars(days: usize) -> Vec<Bar> {
    let market = Market::nse();
    let mut bars = Vec::with_capacity(days * 375);
    let mut date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut px = 100.0_f64;
    let mut n = 0_u64;
    while bars.len() < days * 375 {
        if let Some(s) = market.session_on(date) {
            for m in 0..375 {
                n = n
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let step = ((n >> 33) as f64 / f64::from(1u32 << 31) - 0.5) * 0.2;
                let t: DateTime<Utc> = s.open + Duration::minutes(m);
                let (o, c) = (px, px + step);
                bars.push(Bar::ohlcv(
                    t,
                    o,
                    o.max(c) + 0.05,
                    o.min(c) - 0.05,
                    c,
                    1000.0 + (n >> 50) as f64,
                ));
                px = c;
            }
        }
        date = date.succ_opt().unwrap();
    }
    bars
}

fn candles(c: &mut Criterion) {
    let bars = session_bars(250);
    let market = Market::nse();
    let tf = "7m".parse().unwrap();
    let mut g = c.benchmark_group("candles");
    g.throughput(Throughput::Elements(bars.len() as u64));
    g.bench_function("aggregate_year_of_1m_bars_to_7m", |b| {
        b.iter(|| black_box(aggregate(black_box(&bars), tf, &market).unwrap()));
    });
    g.finish();

    let mut g = c.benchmark_group("indicators");
    g.throughput(Throughput::Elements(64));
    for spec in [
        "ema:20",
        "rsi:14",
        "macd:12:26:9",
        "bbands:20:2:2",
        "adx:14",
        "supertrend:10:3",
        "vwap_session",
    ] {
        let spec: IndicatorSpec = spec.parse().unwrap();
        let mut live = Indicator::new(spec.clone(), &market).unwrap();
        for b in &bars[..1000] {
            live.update(b).unwrap();
        }
        let next = &bars[1000..];
        g.bench_function(format!("update_{spec}"), |b| {
            b.iter_batched(
                || live.clone(),
                |mut ind| {
                    for bar in &next[..64] {
                        black_box(ind.update(black_box(bar)).unwrap());
                    }
                    ind
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, pricing, chain, candles);
criterion_main!(benches);
