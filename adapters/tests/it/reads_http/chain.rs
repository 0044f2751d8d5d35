//! The chain, its statistics, and moneyness levels, ATM IV and skew.

use super::*;

pub(super) async fn the_chain_answers_every_strike_with_both_rights_at_the_quoted_volatility(db: FreshDatabase) {
    let h = harness(db).await;
    ingest_chain(&h).await;
    let (status, c) = h.get("/api/v2/realtime/chain/NSE:NIFTY").await;
    assert_eq!(status, 200, "{c}");
    let meta = &c["meta"];
    assert_eq!(meta["expiry"], "2026-02-24", "the nearest expiry by default");
    assert_eq!(meta["stale"], false);
    assert_eq!(meta["forward"]["source"], "put_call_parity");
    assert!((f(&meta["forward"]["value"]) - FORWARD).abs() < 1e-6, "{meta}");
    assert_eq!(meta["atm_strike"], 26_000.0);
    assert_eq!(meta["strike_step"], 100.0);
    assert_eq!(meta["conventions"]["model"], "black76");
    assert!(
        meta["conventions"]["units"]
            .as_str()
            .unwrap()
            .contains("per calendar day")
    );
    let strikes = c["strikes"].as_array().unwrap();
    assert_eq!(strikes.len(), 5);
    for (s, k) in strikes.iter().zip(STRIKES) {
        assert_eq!(f(&s["strike"]), k);
        for side in ["call", "put"] {
            let o = &s[side];
            assert!((f(&o["iv"]) - VOL).abs() < 1e-9, "{k} {side}: {o}");
            assert_eq!(
                o["oi"],
                oi(
                    k,
                    if side == "call" {
                        OptionRight::Call
                    } else {
                        OptionRight::Put
                    }
                )
            );
            assert!(o["greeks"]["gamma"].as_f64().unwrap() > 0.0);
        }
    }
    assert_eq!(strikes[0]["call"]["level"], "ITM2");
    assert_eq!(strikes[0]["put"]["level"], "OTM2");
    assert_eq!(strikes[2]["call"]["level"], "ATM");
    assert_eq!(strikes[4]["call"]["instrument_key"], "NSE:NIFTY-20260224-26200-CE");
    assert!((f(&c["atm_iv"]) - VOL).abs() < 1e-9);

    let (status, named) = h.get("/api/v2/realtime/chain/NSE:NIFTY?expiry=2026-02-24").await;
    assert_eq!((status, &named["strikes"]), (200, &c["strikes"]));
}

pub(super) async fn chain_stats_give_the_ratios_max_pain_and_every_level_with_the_groups(db: FreshDatabase) {
    let h = harness(db).await;
    ingest_chain(&h).await;
    let (status, s) = h.get("/api/v2/realtime/chain/NSE:NIFTY/stats").await;
    assert_eq!(status, 200, "{s}");
    let calls: f64 = STRIKES.iter().map(|k| oi(*k, OptionRight::Call)).sum();
    let puts: f64 = STRIKES.iter().map(|k| oi(*k, OptionRight::Put)).sum();
    assert!((f(&s["pcr_by_oi"]) - puts / calls).abs() < 1e-12, "{s}");
    assert_eq!(f(&s["pcr_by_volume"]), 1.0);
    // Payout at K*: Σ call OI·(K*−K)⁺ + Σ put OI·(K−K*)⁺, smallest over the listed strikes.
    let pain = |x: f64| -> f64 {
        STRIKES
            .iter()
            .map(|k| oi(*k, OptionRight::Call) * (x - k).max(0.0) + oi(*k, OptionRight::Put) * (k - x).max(0.0))
            .sum()
    };
    let want = STRIKES
        .iter()
        .copied()
        .min_by(|a, b| pain(*a).total_cmp(&pain(*b)))
        .unwrap();
    assert_eq!(f(&s["max_pain_strike"]), want);
    assert_eq!(s["options"], 10);
    assert_eq!(s["without_iv"], Value::Array(vec![]));
    let levels = s["levels"].as_array().unwrap();
    assert_eq!(
        levels.len(),
        10 + 4,
        "five single levels per right, then ITM and OTM per right"
    );
    let itm_calls = levels
        .iter()
        .find(|l| l["right"] == "call" && l["level"] == "ITM")
        .unwrap();
    assert_eq!(itm_calls["count"], 2);
    assert_eq!(
        f(&itm_calls["total_oi"]),
        oi(25_800.0, OptionRight::Call) + oi(25_900.0, OptionRight::Call)
    );
    assert!((f(&itm_calls["mean_iv"]) - VOL).abs() < 1e-9);
    let delta = f(&itm_calls["greeks_oi_weighted"]["delta"]);
    assert!(delta > 0.5 && delta < 1.0, "ITM calls' delta {delta}");
}

pub(super) async fn moneyness_level_greeks_atm_iv_and_skew(db: FreshDatabase) {
    let h = harness(db).await;
    ingest_chain(&h).await;
    let (status, l) = h.get("/api/v2/realtime/moneyness/NSE:NIFTY/greeks/OTM1").await;
    assert_eq!(status, 200, "{l}");
    let rights = l["rights"].as_array().unwrap();
    assert_eq!(rights.len(), 2);
    assert_eq!(rights[0]["aggregate"]["right"], "call");
    assert_eq!(rights[0]["strikes"], serde_json::json!([26_100.0]));
    assert_eq!(
        rights[1]["strikes"],
        serde_json::json!([25_900.0]),
        "a put below ATM is OTM"
    );

    let (status, l) = h.get("/api/v2/realtime/moneyness/NSE:NIFTY/greeks/ITM?right=put").await;
    assert_eq!(status, 200, "{l}");
    let rights = l["rights"].as_array().unwrap();
    assert_eq!(rights.len(), 1);
    assert_eq!(rights[0]["strikes"], serde_json::json!([26_100.0, 26_200.0]));
    assert_eq!(rights[0]["aggregate"]["count"], 2);

    let (status, a) = h.get("/api/v2/realtime/moneyness/NSE:NIFTY/atm-iv").await;
    assert_eq!(status, 200, "{a}");
    assert!((f(&a["atm_iv"]) - VOL).abs() < 1e-9);
    assert_eq!((f(&a["lower_strike"]), f(&a["upper_strike"])), (25_900.0, 26_000.0));

    let (status, s) = h.get("/api/v2/realtime/moneyness/NSE:NIFTY/skew").await;
    assert_eq!(status, 200, "{s}");
    let by_strike = s["by_strike"].as_array().unwrap();
    assert_eq!(by_strike.len(), 5);
    assert!((f(&by_strike[0]["log_moneyness"]) - (25_800.0_f64 / FORWARD).ln()).abs() < 1e-9);
    assert!((f(&by_strike[0]["otm_iv"]) - VOL).abs() < 1e-9);
    assert_eq!(s["by_level"].as_array().unwrap().len(), 10);
    // Five strikes ±0.8 % around the forward all have |delta| between 0.3 and 0.7: no 25-delta
    // wing to interpolate, so none is made up.
    assert!(s["risk_reversal_25d"].is_null() && s["butterfly_25d"].is_null(), "{s}");
}
