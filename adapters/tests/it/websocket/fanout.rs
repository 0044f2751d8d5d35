//! Updates across instances (Redis fan-out), the realtime state as a topic's opening snapshot,
//! and the minute snapshots' chain, ATM IV and moneyness topics.

use super::*;

/// Production shape: two instances on one PostgreSQL database and one Redis (a key prefix of
/// this test's own). A tick ingested through A reaches a subscriber of B, numbered once.
#[tokio::test]
async fn a_tick_ingested_through_one_instance_reaches_a_subscriber_of_another() {
    let prefix = format!("signal-test:{}:ws-two-instances:", std::process::id());
    let db = FreshDatabase::postgres().await;
    let url = db.url.clone();
    let mut instances = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..2 {
        let hub = Arc::new(SubscriptionHub::default());
        let fanout = RedisFanout::new(
            "redis://127.0.0.1:6379/0",
            &prefix,
            Arc::new(adapters::outbound::clock::SystemClock),
        )
        .unwrap();
        // As in the service: the fan-out delivers to the derived feeds, and they to the hub.
        let slot = Arc::new(Slot::default());
        receivers.push(tokio::spawn(
            fanout.clone().receive(slot.clone(), std::future::pending()),
        ));
        let publisher: Arc<dyn SignalPublisher> = Arc::new(fanout);
        // Both share the database, dropped by this test at its end.
        let instance = serve(None, &url, hub, publisher, WsLimits::default(), None).await;
        let _ = slot.0.set(instance.derived.clone());
        instances.push(instance);
    }
    let (a, b) = (&instances[0], &instances[1]);
    let topic = format!("greeks:{CALL}");
    let mut on_b = subscribed(&b.url, "r1", json!([topic])).await;
    assert_eq!(next(&mut on_b).await["frame"], "snapshot");
    // Give B's pub/sub subscription a moment to be registered at Redis.
    tokio::time::sleep(Duration::from_millis(300)).await;
    tick(&a.ingest, 1).await;
    tick(&a.ingest, 2).await;
    let (first, second) = (next(&mut on_b).await, next(&mut on_b).await);
    assert_eq!(first["topic"], topic.as_str());
    assert_eq!(first["data"]["instrument_key"], CALL);
    let epoch = first["epoch"].as_u64().unwrap();
    assert!(epoch > 0);
    assert_eq!(second["epoch"].as_u64(), Some(epoch));
    assert_eq!(
        second["seq"].as_u64().unwrap(),
        first["seq"].as_u64().unwrap() + 1,
        "one sequence per topic across instances"
    );

    // A derived topic is numbered alike on both instances: each derives it from the same
    // 1-minute updates, and a derived update carries the number of the one it came from.
    let five = format!("candles:{CALL}:5m");
    let mut clients = Vec::new();
    for instance in [a, b] {
        let mut c = subscribed(&instance.url, "r2", json!([five])).await;
        assert_eq!(next(&mut c).await["frame"], "snapshot");
        clients.push(c);
    }
    for n in 3..6 {
        tick(&a.ingest, n).await;
    }
    let mut seen = Vec::new();
    for c in &mut clients {
        let frames: Vec<(u64, u64, bool, f64)> = until_quiet(c, 500)
            .await
            .iter()
            .filter(|f| f["topic"] == five.as_str())
            .map(|f| {
                (
                    f["epoch"].as_u64().unwrap(),
                    f["seq"].as_u64().unwrap(),
                    f["forming"].as_bool().unwrap(),
                    f["data"]["close"].as_f64().unwrap(),
                )
            })
            .collect();
        assert!(frames.len() >= 3, "{frames:?}");
        seen.push(frames);
    }
    assert_eq!(seen[0], seen[1], "the same updates, numbered alike, on A and B");
    for r in receivers {
        r.abort();
    }
    drop(db);
}

/// The resume history is shared through Redis: a client that followed a topic on A, and
/// missed updates while it was away, resumes on B — started after those updates went out —
/// with exactly the updates it missed, then the live ones, one numbering throughout.
#[tokio::test]
async fn a_client_resumes_on_an_instance_started_after_the_updates_it_missed() {
    let prefix = format!("signal-test:{}:ws-shared-history:", std::process::id());
    let db = FreshDatabase::postgres().await;
    let url = db.url.clone();
    let mut receivers = Vec::new();
    let mut start = async || {
        let hub = Arc::new(SubscriptionHub::default());
        let fanout = RedisFanout::new(
            "redis://127.0.0.1:6379/0",
            &prefix,
            Arc::new(adapters::outbound::clock::SystemClock),
        )
        .unwrap()
        .with_history(8);
        let instance = serve(None, &url, hub, Arc::new(fanout.clone()), WsLimits::default(), None).await;
        // As in the service: subscribed, and the history loaded, before clients come.
        receivers.push(tokio::spawn(
            fanout.clone().receive(instance.derived.clone(), std::future::pending()),
        ));
        assert!(fanout.history_loaded(Duration::from_secs(5)).await);
        (instance, fanout)
    };
    let (a, _) = start().await;
    let topic = format!("greeks:{CALL}");
    let mut client = subscribed(&a.url, "r1", json!([topic])).await;
    assert_eq!(next(&mut client).await["frame"], "snapshot");
    tick(&a.ingest, 1).await;
    let seen = next(&mut client).await;
    let (epoch, seq) = (seen["epoch"].as_u64().unwrap(), seen["seq"].as_u64().unwrap());
    drop(client);
    // Away: three updates go out, then B starts and loads the shared history.
    for m in 2..5 {
        tick(&a.ingest, m).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (b, b_fanout) = start().await;
    // What B loaded: every topic's history, the call's four Greeks updates among them.
    let loaded = SubscriptionHub::default();
    let load = b_fanout.load_history(&loaded).await.unwrap();
    assert!(load.topics > 1 && load.updates >= 4, "{load:?}");
    let held: Vec<u64> = loaded.recent(&topic).iter().map(|u| u.seq).collect();
    assert_eq!(held, (0..4).map(|n| seq + n).collect::<Vec<_>>());

    let mut resumed = connect(&b.url).await;
    send(
        &mut resumed,
        json!({"action": "subscribe", "id": "r2", "topics": [topic], "resume": {topic.clone(): {"epoch": epoch, "seq": seq}}}),
    )
    .await;
    assert_eq!(next(&mut resumed).await["type"], "ack");
    let mut missed = Vec::new();
    for _ in 0..3 {
        let f = next(&mut resumed).await;
        missed.push((
            f["frame"].as_str().unwrap().to_owned(),
            f["epoch"].as_u64().unwrap(),
            f["seq"].as_u64().unwrap(),
        ));
    }
    assert_eq!(
        missed,
        (1..=3)
            .map(|n| ("update".to_owned(), epoch, seq + n))
            .collect::<Vec<_>>(),
        "exactly the updates missed, from an instance that never received them live"
    );
    tick(&a.ingest, 5).await;
    let live = next(&mut resumed).await;
    assert_eq!(
        (live["epoch"].as_u64(), live["seq"].as_u64()),
        (Some(epoch), Some(seq + 4))
    );
    assert!(quiet(&mut resumed, 300).await, "nothing twice");
    for r in receivers {
        r.abort();
    }
    drop(db);
}

/// An instance whose hub has seen no update of a topic (here: its updates go elsewhere) still
/// opens a subscription with the topic's current state, from the realtime state, position 0.
#[tokio::test]
async fn a_topic_without_updates_here_opens_with_the_realtime_state() {
    let db = FreshDatabase::sqlite();
    let url = db.url.clone();
    let elsewhere: Arc<dyn SignalPublisher> = Arc::new(InProcessFanout::new(1, Arc::new(SubscriptionHub::default())));
    let s = serve(
        Some(db),
        &url,
        Arc::new(SubscriptionHub::default()),
        elsewhere,
        WsLimits::default(),
        None,
    )
    .await;
    tick(&s.ingest, 1).await;
    let mut c = subscribed(&s.url, "r1", json!([format!("greeks:{CALL}")])).await;
    let snap = next(&mut c).await;
    assert_eq!(
        (snap["frame"].as_str(), snap["seq"].as_u64()),
        (Some("snapshot"), Some(0))
    );
    assert_eq!(snap["data"]["kind"], "greeks");
    assert_eq!(snap["data"]["instrument_key"], CALL);
}

#[tokio::test]
async fn minute_snapshots_publish_chain_atm_iv_and_moneyness_topics() {
    let s = server(WsLimits::default()).await;
    // A three-strike chain, both rights, so the strike step, ATM and levels exist.
    let nifty = InstrumentKey::parse("NSE:NIFTY").unwrap();
    let key = |k: f64, r: OptionRight| {
        InstrumentKey::parse(&format!(
            "NSE:NIFTY-20260224-{k}-{}",
            if r == OptionRight::Call { "CE" } else { "PE" }
        ))
        .unwrap()
    };
    let strikes = [25_900.0, 26_000.0, 26_100.0];
    for k in strikes {
        for r in [OptionRight::Call, OptionRight::Put] {
            s.registry
                .register_option(
                    OptionContract {
                        key: key(k, r),
                        underlying: nifty.clone(),
                        expiry: Utc.with_ymd_and_hms(2026, 2, 24, 10, 0, 0).unwrap(),
                        strike: Strike::new(k).unwrap(),
                        right: r,
                        lot_size: LotSize::new(65).unwrap(),
                        tick_size: 0.05,
                    },
                    "NSE",
                )
                .unwrap();
        }
    }
    let (atm, level, chain) = (
        "atm_iv:NSE:NIFTY:2026-02-24",
        "moneyness:NSE:NIFTY:2026-02-24:ATM",
        "chain:NSE:NIFTY:2026-02-24",
    );
    // The nearest expiry's shorthands, as REST's `/realtime/chain/NSE:NIFTY` has it.
    let (near_atm, near_chain) = ("atm_iv:NSE:NIFTY", "chain:NSE:NIFTY");
    let mut c = connect(&s.url).await;
    send(
        &mut c,
        json!({"action": "subscribe", "id": "r1", "topics": [atm, level, chain, near_atm, near_chain]}),
    )
    .await;
    assert_eq!(
        next(&mut c).await["accepted"],
        json!([atm, level, chain, near_atm, near_chain])
    );
    for _ in 0..5 {
        assert_eq!(next(&mut c).await["frame"], "snapshot");
    }
    let ts = now() - Minutes::minutes(29);
    let quote = |k: InstrumentKey, px: f64| Tick {
        key: k,
        ts,
        last: Some(px),
        bid: Some(px - 1.0),
        ask: Some(px + 1.0),
        volume: Some(10.0),
        oi: Some(100.0),
    };
    let mut ticks = vec![quote(nifty.clone(), 26_000.0)];
    for k in strikes {
        ticks.push(quote(key(k, OptionRight::Call), 400.0 - (k - 26_000.0) / 2.0));
        ticks.push(quote(key(k, OptionRight::Put), 400.0 + (k - 26_000.0) / 2.0));
    }
    assert!(s.ingest.execute(&ticks).await.unwrap().rejected.is_empty());
    s.ingest.flush().await.unwrap();
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 5 {
        let u = next(&mut c).await;
        assert_eq!(u["frame"], "update");
        seen.insert(u["topic"].as_str().unwrap().to_owned(), u["data"].clone());
    }
    assert_eq!(seen[atm]["kind"], "atm_iv");
    assert_eq!(seen[atm]["expiry"], "2026-02-24");
    assert!(seen[atm]["atm_iv"].as_f64().unwrap() > 0.0, "{}", seen[atm]);
    assert_eq!(seen[level]["kind"], "moneyness_level");
    assert_eq!(seen[level]["level"], "ATM");
    assert!(
        seen[level]["call"]["count"].as_u64() == Some(1) && seen[level]["put"]["count"].as_u64() == Some(1),
        "{}",
        seen[level]
    );
    let ch = &seen[chain];
    assert_eq!(
        (ch["kind"].as_str(), ch["atm_strike"].as_f64()),
        (Some("chain"), Some(26_000.0))
    );
    assert_eq!(ch["by_strike"].as_array().unwrap().len(), 3, "{ch}");
    assert!(ch["by_strike"][1]["call_iv"].as_f64().unwrap() > 0.0, "{ch}");
    assert_eq!(ch["atm_iv"], seen[atm]["atm_iv"]);
    assert!(ch["forward"]["value"].as_f64().unwrap() > 25_000.0, "{ch}");
    // The shorthands carry the nearest expiry's data, which names its expiry; REST agrees.
    assert_eq!(seen[near_chain], seen[chain]);
    assert_eq!(seen[near_atm], seen[atm]);
    let (status, rest) = http_get(&s.url, "/api/v2/realtime/chain/NSE:NIFTY").await;
    assert_eq!(
        (status, &rest["meta"]["expiry"]),
        (200, &seen[near_chain]["expiry"]),
        "{rest}"
    );

    // A new connection opens with the topic's latest update, the shorthand's too.
    let mut d = subscribed(&s.url, "r2", json!([chain, near_chain])).await;
    for _ in 0..2 {
        let snap = next(&mut d).await;
        assert_eq!(
            (snap["frame"].as_str(), snap["data"]["kind"].as_str()),
            (Some("snapshot"), Some("chain")),
            "{snap}"
        );
    }
}
