//! The surface, gamma exposure, the historical chain and IV rank, each checked against what the
//! domain or a hand computation says.

use domain::expiry::{Forward, ForwardSource};
use domain::instrument::Market;
use domain::moneyness::{LevelAggregate, MoneynessLevel};
use domain::ports::{ChainInputs, MoneynessRecord, SignalStore};

use super::*;

const MARCH_FORWARD: f64 = 26_050.0;
const MARCH_VOL: f64 = 0.17;

fn march() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 31, 10, 0, 0).unwrap()
}

fn march_key(strike: f64, right: OptionRight) -> InstrumentKey {
    let suffix = if right == OptionRight::Call { "CE" } else { "PE" };
    InstrumentKey::parse(&format!("NSE:NIFTY-20260331-{strike}-{suffix}")).unwrap()
}

/// The March chain at [`MARCH_VOL`] on [`MARCH_FORWARD`], one minute before the clock.
async fn ingest_march(h: &Harness) {
    register_strikes(&h.registry, march(), &march_key);
    let quoting = Quoting {
        expiry: march(),
        key: &march_key,
        forward: MARCH_FORWARD,
        vol: MARCH_VOL,
        volume: 5.0,
        ..february()
    };
    ingest_all(h, &quoting.ticks(now() - Duration::minutes(1))).await;
}

/// `√(w(T)/T)` with `w = σ²t` linear in `t` between the two points.
fn total_variance_iv(t1: f64, iv1: f64, t2: f64, iv2: f64, t: f64) -> f64 {
    let (w1, w2) = (iv1 * iv1 * t1, iv2 * iv2 * t2);
    ((w1 + (w2 - w1) * (t - t1) / (t2 - t1)) / t).sqrt()
}

pub(super) async fn the_surface_gives_each_expiry_s_smile_and_the_30_day_iv_in_total_variance(db: FreshDatabase) {
    let h = harness(db).await;
    let (status, e) = h.get("/api/v2/realtime/surface/NSE:NIFTY").await;
    assert_eq!((status, e["field"].as_str()), (404, Some("underlying")), "{e}");
    ingest_chain(&h).await;
    ingest_march(&h).await;
    let (status, s) = h.get("/api/v2/realtime/surface/NSE:NIFTY").await;
    assert_eq!(status, 200, "{s}");
    let expiries = s["expiries"].as_array().unwrap();
    assert_eq!(expiries.len(), 2, "{s}");
    assert_eq!(
        (expiries[0]["expiry"].as_str(), expiries[1]["expiry"].as_str()),
        (Some("2026-02-24"), Some("2026-03-31"))
    );
    for (x, vol, fwd) in [(&expiries[0], VOL, FORWARD), (&expiries[1], MARCH_VOL, MARCH_FORWARD)] {
        assert!((f(&x["forward"]["value"]) - fwd).abs() < 1e-6, "{x}");
        assert!((f(&x["atm_iv"]) - vol).abs() < 1e-9, "{x}");
        let strikes = x["strikes"].as_array().unwrap();
        assert_eq!(strikes.len(), 5);
        for k in strikes {
            for side in ["call_iv", "put_iv", "otm_iv"] {
                assert!((f(&k[side]) - vol).abs() < 1e-9, "{k}");
            }
            assert!((f(&k["log_moneyness"]) - (f(&k["strike"]) / fwd).ln()).abs() < 1e-12);
        }
    }
    let (t1, t2) = (f(&expiries[0]["t_years"]), f(&expiries[1]["t_years"]));
    let ts = now() - Duration::minutes(1);
    assert!((t1 - (expiry() - ts).num_seconds() as f64 / (365.0 * 86_400.0)).abs() < 1e-12);
    assert!(
        t1 < 30.0 / 365.0 && 30.0 / 365.0 < t2,
        "the two expiries bracket 30 days: {t1} {t2}"
    );
    let term = s["term_structure"].as_array().unwrap();
    assert_eq!(term.len(), 2);
    assert!((f(&term[1]["atm_iv"]) - MARCH_VOL).abs() < 1e-9);
    let cm = &s["constant_maturity"];
    let by_hand = total_variance_iv(t1, VOL, t2, MARCH_VOL, 30.0 / 365.0);
    assert!((f(&cm["atm_iv"]) - by_hand).abs() < 1e-12, "{cm} vs {by_hand}");
    assert_eq!(
        (cm["maturity_days"].as_u64(), cm["extrapolated"].as_bool()),
        (Some(30), Some(false))
    );
    assert!(
        (f(&cm["atm_iv"]) - (VOL + (MARCH_VOL - VOL) * (30.0 / 365.0 - t1) / (t2 - t1))).abs() > 1e-5,
        "not linear in IV"
    );
}

/// The net exposure with every option of `chain` re-priced at spot `x` (the forward moved with it).
fn net_by_hand(chain: &Value, spot: f64, x: f64) -> f64 {
    let meta = &chain["meta"];
    let (fwd, t, rate) = (
        f(&meta["forward"]["value"]),
        f(&meta["t_years"]),
        f(&meta["conventions"]["rate"]),
    );
    let mut net = 0.0;
    for s in chain["strikes"].as_array().unwrap() {
        for (side, right, sign) in [("call", OptionRight::Call, 1.0), ("put", OptionRight::Put, -1.0)] {
            let o = &s[side];
            let inputs = OptionInputs {
                right,
                underlying: fwd * x / spot,
                strike: f(&s["strike"]),
                t_years: t,
                rate,
                div_yield: 0.0,
                vol: f(&o["iv"]),
            };
            let gamma = price_and_greeks(PricingModel::Black76, &inputs).unwrap().greeks.gamma;
            net += sign * f(&o["oi"]) * gamma * x * x * 0.01;
        }
    }
    net
}

pub(super) async fn gex_per_strike_is_oi_times_gamma_times_spot_squared_and_the_flip_re_prices(db: FreshDatabase) {
    let h = harness(db).await;
    ingest_chain(&h).await;
    let (_, chain) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    let (status, g) = h.get("/api/v2/realtime/gex/NSE:NIFTY").await;
    assert_eq!(status, 200, "{g}");
    let spot = 25_950.0;
    assert_eq!(
        (f(&g["gex_spot"]), g["gex_spot_source"].as_str(), f(&g["units_per_oi"])),
        (spot, Some("spot"), 1.0)
    );
    let strikes = g["strikes"].as_array().unwrap();
    assert_eq!(strikes.len(), 5);
    let (mut calls, mut puts) = (0.0, 0.0);
    let mut best = (0.0, 0.0, 0.0, 0.0);
    for (s, c) in strikes.iter().zip(chain["strikes"].as_array().unwrap()) {
        let k = f(&s["strike"]);
        assert_eq!(k, f(&c["strike"]));
        let call = oi(k, OptionRight::Call) * f(&c["call"]["greeks"]["gamma"]) * spot * spot * 0.01;
        let put = -oi(k, OptionRight::Put) * f(&c["put"]["greeks"]["gamma"]) * spot * spot * 0.01;
        assert!(
            (f(&s["call_gex_per_pct_move"]) - call).abs() < 1e-9 * call.abs(),
            "{s}: {call}"
        );
        assert!(
            (f(&s["put_gex_per_pct_move"]) - put).abs() < 1e-9 * put.abs(),
            "{s}: {put}"
        );
        assert!((f(&s["net_gex_per_pct_move"]) - (call + put)).abs() < 1e-9 * put.abs());
        calls += call;
        puts += put;
        if call > best.0 {
            best = (call, k, best.2, best.3);
        }
        if -put > best.2 {
            best = (best.0, best.1, -put, k);
        }
    }
    assert!((f(&g["net_gex_per_pct_move"]) - (calls + puts)).abs() < 1e-9 * puts.abs());
    assert!(calls + puts < 0.0, "puts outweigh calls at the spot");
    assert_eq!((f(&g["call_wall_strike"]), f(&g["put_wall_strike"])), (best.1, best.3));
    // These OIs never change sign over ±15 %: no flip, and none made up.
    assert!(g.get("zero_gamma_level").is_none(), "{g}");
    let (low, high) = (f(&g["flip_search_low"]), f(&g["flip_search_high"]));
    assert!((high - spot * 1.15).abs() < 1e-6 && (low - spot * 0.85).abs() < 1e-6);
    for x in [low, spot, high] {
        assert!(net_by_hand(&chain, spot, x) < 0.0, "net at {x}");
    }

    // The next minute, 20 000 calls open at 25 800: below the spot their gamma takes over.
    let oi_then = |k: f64, right: OptionRight| {
        if k == 25_800.0 && right == OptionRight::Call {
            20_000.0
        } else {
            oi(k, right)
        }
    };
    let quoting = Quoting {
        oi: &oi_then,
        volume: 20.0,
        ..february()
    };
    ingest_all(&h, &quoting.ticks(now())).await;
    let (_, chain) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    let (status, g) = h.get("/api/v2/realtime/gex/NSE:NIFTY?expiry=2026-02-24").await;
    assert_eq!(status, 200, "{g}");
    assert_eq!(g["meta"]["as_of"], chain["meta"]["as_of"]);
    // The flip lies within one grid step (0.25 % of the spot) of the true sign change, which
    // the options re-priced by hand show.
    let flip = f(&g["zero_gamma_level"]);
    let step = 0.0025 * spot;
    let (below, above) = (
        net_by_hand(&chain, spot, flip - step),
        net_by_hand(&chain, spot, flip + step),
    );
    assert!(
        below.signum() != above.signum(),
        "net {below} at {} and {above} at {}",
        flip - step,
        flip + step
    );
    assert!((flip - spot).abs() < 0.05 * spot, "{flip}");
}

pub(super) async fn a_historical_chain_equals_what_the_realtime_chain_said_at_that_minute(db: FreshDatabase) {
    let h = harness(db).await;
    ingest_chain(&h).await;
    let (_, then) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    // The next minute the whole chain moves to 16 %.
    let oi_then = |k: f64, right: OptionRight| oi(k, right) + 100.0;
    let quoting = Quoting {
        oi: &oi_then,
        vol: 0.16,
        volume: 30.0,
        ..february()
    };
    ingest_all(&h, &quoting.ticks(now())).await;
    let (_, live) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    assert!((f(&live["atm_iv"]) - 0.16).abs() < 1e-9, "the live chain moved on");

    let at = (now() - Duration::seconds(30)).to_rfc3339().replace('+', "%2B");
    let (status, past) = h.get(&format!("/api/v2/historical/chain/NSE:NIFTY?at={at}")).await;
    assert_eq!(status, 200, "{past}");
    // Bid and ask are not stored; everything else is what the live chain said then.
    let mut want = then.clone();
    for s in want["strikes"].as_array_mut().unwrap() {
        for side in ["call", "put"] {
            let o = s[side].as_object_mut().unwrap();
            o.remove("bid");
            o.remove("ask");
        }
    }
    assert_eq!(past, want);
    // At the later minute, with the expiry named: the 16 % chain, its session volume summed.
    let at = now().to_rfc3339().replace('+', "%2B");
    let (status, later) = h
        .get(&format!("/api/v2/historical/chain/NSE:NIFTY?at={at}&expiry=2026-02-24"))
        .await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["strikes"][2]["call"]["iv"], live["strikes"][2]["call"]["iv"]);
    assert_eq!(
        later["strikes"][2]["call"]["volume"], 30.0,
        "cumulative volume 30: bars of 10 and 20"
    );
    assert_eq!(later["meta"]["as_of"], live["meta"]["as_of"]);

    let early = (now() - Duration::days(3)).to_rfc3339().replace('+', "%2B");
    let (status, e) = h.get(&format!("/api/v2/historical/chain/NSE:NIFTY?at={early}")).await;
    assert_eq!((status, e["field"].as_str()), (404, Some("at")), "{e}");
    let (status, e) = h.get("/api/v2/historical/chain/NSE:NIFTY?at=yesterday").await;
    assert_eq!((status, e["field"].as_str()), (400, Some("at")), "{e}");
    for edge in ["%2B262142-12-31T23:59:59Z", "-262143-01-01T00:00:00Z"] {
        let (status, e) = h.get(&format!("/api/v2/historical/chain/NSE:NIFTY?at={edge}")).await;
        assert!(status == 400 || status == 404, "{edge}: {status} {e}");
        assert_eq!(e["field"].as_str(), Some("at"), "{e}");
    }
}

pub(super) async fn iv_rank_ranks_today_s_30_day_iv_against_each_stored_day(db: FreshDatabase) {
    let h = harness(db).await;
    let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
    let market = Market::nse();
    let today = market.local_date(now());
    // The four sessions before today (26 January is a holiday), then today.
    let mut sessions = vec![];
    let mut d = today;
    while sessions.len() < 5 {
        if let Some(s) = market.session_on(d) {
            sessions.push(s);
        }
        d = d.pred_opt().unwrap();
    }
    sessions.reverse();
    let (t1, t2) = (20.0 / 365.0, 45.0 / 365.0);
    let near = [0.12, 0.16, 0.14, 0.10, 0.135];
    let mut by_hand = vec![];
    let mut rows = vec![];
    for (s, iv1) in sessions.iter().zip(near) {
        let iv2 = iv1 + 0.02;
        by_hand.push(total_variance_iv(t1, iv1, t2, iv2, 30.0 / 365.0));
        let minute = if s.date == today {
            now() - Duration::minutes(30)
        } else {
            s.close - Duration::minutes(1)
        };
        for (days, t, iv) in [(20, t1, iv1), (45, t2, iv2)] {
            // An earlier minute with another IV: the session's last one counts.
            for (m, v) in [(minute - Duration::minutes(5), 0.5), (minute, iv)] {
                rows.push(MoneynessRecord {
                    underlying: nifty.clone(),
                    expiry: s.date + Duration::days(days),
                    minute: m,
                    right: OptionRight::Call,
                    level: MoneynessLevel::Atm,
                    aggregate: LevelAggregate::default(),
                    atm_iv: Some(v),
                    chain: Some(ChainInputs {
                        forward: Forward {
                            value: 26_000.0,
                            source: ForwardSource::PutCallParity,
                        },
                        t_years: t,
                        spot: Some(25_990.0),
                    }),
                });
            }
        }
    }
    h.store.save_moneyness(&rows).await.unwrap();
    let (status, r) = h.get("/api/v2/historical/moneyness/NSE:NIFTY/iv-rank").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["window_trading_days"].as_u64(), r["history_days"].as_u64()),
        (Some(252), Some(4))
    );
    let history = r["history"].as_array().unwrap();
    for (day, (s, want)) in history.iter().zip(sessions.iter().zip(&by_hand)) {
        assert_eq!(day["date"].as_str(), Some(s.date.to_string().as_str()));
        assert!((f(&day["atm_iv_30d"]) - want).abs() < 1e-12, "{day} vs {want}");
        assert_eq!(day["extrapolated"], false);
    }
    let today_iv = by_hand[4];
    assert!((f(&r["today"]["atm_iv_30d"]) - today_iv).abs() < 1e-12, "{r}");
    let (low, high) = (
        by_hand.iter().copied().fold(f64::MAX, f64::min),
        by_hand.iter().copied().fold(f64::MIN, f64::max),
    );
    assert!(
        (f(&r["iv_rank"]) - (today_iv - low) / (high - low)).abs() < 1e-12,
        "{r}"
    );
    assert_eq!(f(&r["iv_percentile"]), 0.5, "two of four days lower (12 % and 10 %)");

    let (status, r) = h.get("/api/v2/historical/moneyness/NSE:NIFTY/iv-rank?window=2").await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["history_days"].as_u64(), Some(2));
    assert_eq!(f(&r["iv_percentile"]), 0.5, "of 14 % and 10 %, one lower");
    let (status, e) = h.get("/api/v2/historical/moneyness/NSE:NIFTY/iv-rank?window=0").await;
    assert_eq!((status, e["field"].as_str()), (400, Some("window")), "{e}");
    let (status, e) = h.get("/api/v2/historical/moneyness/NSE:BANKNIFTY/iv-rank").await;
    assert_eq!((status, e["field"].as_str()), (404, Some("underlying")), "{e}");
}

pub(super) async fn changes_are_against_the_previous_session_s_close(db: FreshDatabase) {
    let h = harness(db).await;
    // Friday 30 January, two minutes before the close: the chain at 14 %, 500 fewer open.
    let friday = Utc.with_ymd_and_hms(2026, 1, 30, 9, 57, 0).unwrap();
    h.clock.set(friday + Duration::minutes(1));
    let oi_then = |k: f64, right: OptionRight| oi(k, right) - 500.0;
    let quoting = Quoting {
        oi: &oi_then,
        vol: 0.14,
        ..february()
    };
    let mut ticks = quoting.ticks(friday);
    ticks.push(Tick {
        key: InstrumentKey::parse("NSE:NIFTY").unwrap(),
        ts: friday,
        last: Some(25_900.0),
        bid: None,
        ask: None,
        volume: None,
        oi: None,
    });
    ingest_all(&h, &ticks).await;
    let (_, then) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    assert!(
        then["strikes"][0]["call"].get("last_change").is_none(),
        "no session before: {then}"
    );
    // Monday.
    h.clock.set(now());
    ingest_chain(&h).await;
    let (status, c) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["meta"]["session_open"], "2026-02-02T03:45:00+00:00");
    for (s, old) in c["strikes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(then["strikes"].as_array().unwrap())
    {
        for side in ["call", "put"] {
            let (o, was) = (&s[side], &old[side]);
            let want = f(&o["last"]) - f(&was["last"]);
            assert!((f(&o["last_change"]) - want).abs() < 1e-9, "{o} vs {was}");
            assert!(want > 0.0, "15 % is dearer than 14 %");
            assert_eq!(f(&o["oi_change"]), 500.0);
        }
    }
}
