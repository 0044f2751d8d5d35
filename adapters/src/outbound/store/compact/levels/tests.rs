use std::sync::Arc;

use super::*;
use domain::instrument::OptionRight;
use domain::moneyness::OptionPoint;
use domain::moneyness::aggregate_by_level;
use domain::pricing::Greeks;

fn option(key: &str, minute_ms: i64, x: f64) -> greeks::Model {
    greeks::Model {
        instrument_key: key.to_owned(),
        minute_ms,
        underlying_price: 25_000.0,
        forward: 25_010.5,
        forward_source: "futures".to_owned(),
        option_price: Some(101.25),
        price_source: Some("last".to_owned()),
        iv: Some(0.1 + x * 1e-3),
        iv_error: None,
        delta: Some(0.5 + x / 7.0),
        gamma: Some(1.3e-4 * x),
        theta_per_year: Some(-1234.5 / x),
        vega_per_unit: Some(12.3 * x.sqrt()),
        rho_per_unit: Some(3.21 * x),
        vanna: Some(-1e-3 / x),
        volga: Some(0.37 * x),
        charm_per_year: Some(-0.11 * x),
        speed: Some(-1e-8 * x),
        model: "black76".to_owned(),
        rate: 0.065,
        time_basis: "exact".to_owned(),
        t_years: 0.05,
    }
}

/// The level row `aggregate_by_level` makes of one option with open interest `oi`.
fn level_of(o: &greeks::Model, oi: f64) -> moneyness::Model {
    let point = OptionPoint {
        strike: 25_000.0,
        right: OptionRight::Call,
        iv: o.iv,
        greeks: Some(Greeks {
            delta: o.delta.unwrap(),
            gamma: o.gamma.unwrap(),
            theta_per_year: o.theta_per_year.unwrap(),
            vega_per_unit: o.vega_per_unit.unwrap(),
            rho_per_unit: o.rho_per_unit.unwrap(),
            vanna: o.vanna.unwrap(),
            volga: o.volga.unwrap(),
            charm_per_year: o.charm_per_year.unwrap(),
            speed: o.speed.unwrap(),
        }),
        oi,
        volume: 10.0,
    };
    let a = aggregate_by_level(&[point], 25_000.0, 50.0)[0].aggregate;
    let g = a.greeks_oi_weighted;
    moneyness::Model {
        underlying: "NSE:NIFTY".to_owned(),
        expiry: "2026-10-27".to_owned(),
        option_right: "call".to_owned(),
        level: "ATM".to_owned(),
        minute_ms: o.minute_ms,
        count: 1,
        count_with_iv: 1,
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
        atm_iv: Some(0.12),
        chain_forward: Some(25_010.5),
        chain_forward_source: Some("futures".to_owned()),
        chain_t_years: Some(0.05),
        chain_spot: Some(25_000.0),
    }
}

fn series() -> LevelSeries {
    LevelSeries {
        underlying: "NSE:NIFTY".to_owned(),
        expiry: "2026-10-27".to_owned(),
        option_right: "call".to_owned(),
        level: "ATM".to_owned(),
    }
}

fn debug(rows: &[moneyness::Model]) -> String {
    format!("{rows:?}")
}

fn options(options: Vec<OptionDay>) -> Referred {
    Referred {
        options,
        chain: ChainDay::default(),
    }
}

/// Two options; the level is one, then the other (the ATM strike moved), with OI growing and
/// at zero for a while; one minute's values differ in the last bit from any option's.
fn day() -> (Vec<OptionDay>, Vec<moneyness::Model>) {
    let a = OptionDay {
        key: "A".to_owned(),
        rows: Arc::new((0..60).map(|m| option("A", m * 60_000, 1.0 + m as f64 / 7.0)).collect()),
    };
    let b = OptionDay {
        key: "B".to_owned(),
        rows: Arc::new(
            (0..60)
                .map(|m| option("B", m * 60_000, 3.0 + m as f64 / 11.0))
                .collect(),
        ),
    };
    let mut levels: Vec<moneyness::Model> = (0..60)
        .map(|m| {
            let o = if m < 30 { &a.rows[m] } else { &b.rows[m] };
            let oi = if (10..15).contains(&m) {
                0.0
            } else {
                75.0 * (m as f64 + 1.0) / 3.0
            };
            level_of(o, oi)
        })
        .collect();
    levels[42].delta = f64::from_bits(levels[42].delta.to_bits() ^ 1);
    (vec![a, b], levels)
}

#[test]
fn a_level_of_one_option_is_taken_from_its_greeks_to_the_bit() {
    let (day_options, levels) = day();
    // Candidates in any number and order: a third option that never fits is left out.
    let c = OptionDay {
        key: "C".to_owned(),
        rows: Arc::new((0..60).map(|m| option("C", m * 60_000, 9.0)).collect()),
    };
    let candidates = vec![c, day_options[1].clone(), day_options[0].clone()];
    let packed = pack_moneyness(&levels, &options(candidates));
    assert_eq!(packed.refs, ["B", "A"], "the options used, in candidate order");
    let refs = options(vec![day_options[1].clone(), day_options[0].clone()]);
    let back = unpack_moneyness(&series(), &packed.bytes, &refs).unwrap();
    assert_eq!(debug(&back), debug(&levels));
    // Nearly all of it is references: far smaller than every value kept.
    let kept = pack_moneyness(&levels, &Referred::default());
    assert!(kept.refs.is_empty());
    assert_eq!(
        debug(&unpack_moneyness(&series(), &kept.bytes, &Referred::default()).unwrap()),
        debug(&levels)
    );
    assert!(
        packed.bytes.len() * 3 < kept.bytes.len(),
        "{} against {}",
        packed.bytes.len(),
        kept.bytes.len()
    );
}

#[test]
fn a_pack_read_against_other_greeks_is_an_error_not_a_wrong_value() {
    let (day_options, levels) = day();
    let packed = pack_moneyness(&levels, &options(day_options.clone()));
    assert_eq!(packed.refs, ["A", "B"]);
    let e = unpack_moneyness(&series(), &packed.bytes, &options(day_options[..1].to_vec())).unwrap_err();
    assert_eq!(e.to_string(), "corrupt pack: reference 1 of 1 options");
    let mut short = day_options.clone();
    Arc::make_mut(&mut short[1].rows).truncate(40);
    let e = unpack_moneyness(&series(), &packed.bytes, &options(short)).unwrap_err();
    assert_eq!(e.to_string(), "corrupt pack: B has no Greeks at minute 2400000");
}

#[test]
fn special_values_and_missing_greeks_round_trip() {
    let (day_options, mut levels) = day();
    levels[3].mean_iv = None;
    levels[4].delta = -0.0;
    levels[5].gamma = f64::NAN;
    levels[6].speed = 5e-324;
    levels[7].count = 2;
    let mut day_options = day_options;
    Arc::make_mut(&mut day_options[0].rows)[8].delta = None; // a level of an option without Greeks holds zeros
    levels[8] = moneyness::Model {
        delta: 0.0,
        ..levels[8].clone()
    };
    let referred = options(day_options);
    let packed = pack_moneyness(&levels, &referred);
    let back = unpack_moneyness(&series(), &packed.bytes, &referred).unwrap();
    assert_eq!(debug(&back), debug(&levels));
    assert_eq!(back[5].gamma.to_bits(), levels[5].gamma.to_bits());
}

#[test]
fn version_1_packs_are_read_as_they_were() {
    let (_, levels) = day();
    let mut w = PackWriter::new(levels.len());
    w.i64s(levels.iter().map(|r| r.minute_ms));
    w.i32s(levels.iter().map(|r| r.count));
    w.i32s(levels.iter().map(|r| r.count_with_iv));
    w.opt_f64s(&levels.iter().map(|r| r.mean_iv).collect::<Vec<_>>());
    for value in [
        |r: &moneyness::Model| r.delta,
        |r: &moneyness::Model| r.gamma,
        |r: &moneyness::Model| r.theta_per_year,
        |r: &moneyness::Model| r.vega_per_unit,
        |r: &moneyness::Model| r.rho_per_unit,
        |r: &moneyness::Model| r.vanna,
        |r: &moneyness::Model| r.volga,
        |r: &moneyness::Model| r.charm_per_year,
        |r: &moneyness::Model| r.speed,
        |r: &moneyness::Model| r.total_volume,
        |r: &moneyness::Model| r.total_oi,
    ] {
        w.f64s(levels.iter().map(value));
    }
    w.opt_f64s(&levels.iter().map(|r| r.atm_iv).collect::<Vec<_>>());
    w.opt_f64s(&levels.iter().map(|r| r.chain_forward).collect::<Vec<_>>());
    w.opt_strs(
        &levels
            .iter()
            .map(|r| r.chain_forward_source.as_deref())
            .collect::<Vec<_>>(),
    );
    w.opt_f64s(&levels.iter().map(|r| r.chain_t_years).collect::<Vec<_>>());
    w.opt_f64s(&levels.iter().map(|r| r.chain_spot).collect::<Vec<_>>());
    let mut bytes = w.finish();
    bytes[0] = 1;
    assert_eq!(
        debug(&unpack_moneyness(&series(), &bytes, &Referred::default()).unwrap()),
        debug(&levels)
    );
}

#[test]
fn the_atm_iv_is_taken_from_the_chain_day_where_it_is_the_same() {
    let (day_options, mut levels) = day();
    for (i, l) in levels.iter_mut().enumerate() {
        l.atm_iv = Some(0.12 + (i as f64).sqrt() / 3e3);
    }
    // The chain knows minutes 0..50; minute 7's level has another ATM IV, minute 9's none.
    let chain = ChainDay {
        atm_iv: levels[..50].iter().map(|l| (l.minute_ms, l.atm_iv)).collect(),
    };
    levels[7].atm_iv = Some(0.5);
    levels[9].atm_iv = None;
    let referred = Referred {
        options: day_options.clone(),
        chain: chain.clone(),
    };
    let packed = pack_moneyness(&levels, &referred);
    let back = unpack_moneyness(&series(), &packed.bytes, &referred).unwrap();
    assert_eq!(debug(&back), debug(&levels));
    let alone = pack_moneyness(&levels, &options(day_options.clone()));
    assert!(
        packed.bytes.len() < alone.bytes.len(),
        "{} against {}",
        packed.bytes.len(),
        alone.bytes.len()
    );
    // Read without its chain day: an error, never a wrong value.
    let e = unpack_moneyness(&series(), &packed.bytes, &options(day_options)).unwrap_err();
    assert_eq!(e.to_string(), "corrupt pack: the chain has no ATM IV at minute 0");
    assert_eq!(ChainDay::unpack(&chain.pack()).unwrap(), chain);
}
