//! What reaches the client: MessagePack against JSON, 1-minute candles forming then closed,
//! derived timeframes and indicators, and the bytes of every delivery choice.

use super::*;

/// `?encoding=msgpack`: every server frame is binary MessagePack with the JSON's maps and names.
/// Prints the bytes of one Greeks update in each encoding (docs/benchmarks.md quotes them).
#[tokio::test]
async fn msgpack_frames_carry_the_same_maps_in_fewer_bytes() {
    let s = server(WsLimits::default()).await;
    assert_eq!(refused_status(format!("{}?encoding=cbor", s.url)).await, 400);
    let topic = format!("greeks:{CALL}");
    let mut json_client = connect(&s.url).await;
    let mut packed = connect(&format!("{}?encoding=msgpack", s.url)).await;
    for c in [&mut json_client, &mut packed] {
        send(c, json!({"action": "subscribe", "id": "r1", "topics": [topic]})).await;
    }
    // Each client's ack and snapshot first, so the tick's update comes after both.
    let (mut binary, mut as_json) = (Vec::new(), Vec::new());
    for (want, ticked) in [(2, false), (3, true)] {
        if ticked {
            tick(&s.ingest, 1).await;
        }
        while binary.len() < want {
            match tokio::time::timeout(Duration::from_secs(5), packed.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
            {
                Message::Binary(b) => binary.push(b),
                other => assert!(!other.is_text(), "no text frames: {other:?}"),
            }
        }
        while as_json.len() < want {
            let msg = tokio::time::timeout(Duration::from_secs(5), json_client.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Message::Text(t) = msg {
                as_json.push(t.to_string());
            }
        }
    }
    let frames: Vec<Value> = binary.iter().map(|b| rmp_serde::from_slice(b).unwrap()).collect();
    assert_eq!(frames[0]["type"], "ack");
    assert_eq!(frames[1]["frame"], "snapshot");
    assert_eq!(frames[2]["frame"], "update");
    assert_eq!(frames[2]["data"]["instrument_key"], CALL);
    // Both through the same (not bit-exact) JSON number parser before comparing.
    let json_update: Value = serde_json::from_str(&as_json[2]).unwrap();
    let packed_update: Value = serde_json::from_str(&frames[2].to_string()).unwrap();
    assert_eq!(json_update, packed_update, "the same frame in both encodings");
    let (j, m) = (as_json[2].len(), binary[2].len());
    eprintln!(
        "bytes per greeks update: json {j}, msgpack {m} ({:.0} %)",
        100.0 * m as f64 / j as f64
    );
    assert!(m < j);
}

/// `candles:{key}:1m`: the bar as it forms, then once more as closed when a later minute starts.
#[tokio::test]
async fn one_minute_candles_are_sent_forming_then_closed() {
    let s = server(WsLimits::default()).await;
    let topic = format!("candles:{CALL}:1m");
    let mut c = subscribed(&s.url, "r1", json!([topic])).await;
    assert_eq!(next(&mut c).await["frame"], "snapshot");
    tick_at(&s.ingest, 1, Minutes::seconds(60)).await;
    tick_at(&s.ingest, 2, Minutes::seconds(90)).await;
    tick_at(&s.ingest, 3, Minutes::seconds(125)).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        let u = next(&mut c).await;
        assert_eq!(u["topic"], topic.as_str());
        got.push((
            u["data"]["start"].as_str().unwrap().to_owned(),
            u["forming"].as_bool().unwrap(),
            u["data"]["close"].as_f64().unwrap(),
        ));
    }
    let (m1, m2) = ("2026-02-02T04:01:00+00:00", "2026-02-02T04:02:00+00:00");
    assert_eq!(
        got,
        vec![
            (m1.to_owned(), true, 302.0),
            (m1.to_owned(), true, 303.0),
            (m1.to_owned(), false, 303.0),
            (m2.to_owned(), true, 304.0),
        ]
    );
}

/// `candles:{key}:5m` and an indicator on it, derived from the 1-minute candles: the forming
/// 5-minute bar on every 1-minute update, closed when a later bucket starts, numbered with the
/// 1-minute topic's sequence; the indicator peeks at the forming bar and commits closed ones.
#[tokio::test]
async fn candles_of_any_timeframe_and_indicators_are_derived_from_the_minute_bars() {
    let s = server(WsLimits::default()).await;
    let (five, sma, one) = (
        format!("candles:{CALL}:5m"),
        format!("indicators:{CALL}:sma:2:5m"),
        format!("candles:{CALL}:1m"),
    );
    let mut c = connect(&s.url).await;
    send(
        &mut c,
        json!({"action": "subscribe", "id": "r1", "topics": [five, sma, one, format!("candles:XYZ:FOO:5m")]}),
    )
    .await;
    let ack = next(&mut c).await;
    assert_eq!(ack["accepted"], json!([five, sma, one]));
    assert_eq!(ack["refused"][0]["topic"], "candles:XYZ:FOO:5m");
    assert!(
        ack["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("XYZ:FOO is not a listed instrument"),
        "{ack}"
    );
    for _ in 0..3 {
        assert_eq!(next(&mut c).await["frame"], "snapshot");
    }
    assert_eq!(s.derived.topics().len(), 2);
    // 04:00 is the start of a 5-minute bucket (the session opens at 03:45 UTC). Minutes 0, 2
    // and 4 of it, then minute 5, which starts the next bucket.
    for (n, at) in [(0, 10), (2, 130), (4, 250), (5, 305), (6, 370)] {
        tick_at(&s.ingest, n, Minutes::seconds(at)).await;
    }
    let frames = until_quiet(&mut c, 500).await;
    let on = |topic: &str| -> Vec<&Value> { frames.iter().filter(|f| f["topic"] == topic).collect() };
    let seqs = |topic: &str| -> Vec<(u64, u64)> {
        on(topic)
            .iter()
            .map(|f| (f["epoch"].as_u64().unwrap(), f["seq"].as_u64().unwrap()))
            .collect()
    };
    assert!(seqs(&one).len() >= 9, "{frames:#?}");
    assert_eq!(seqs(&five), seqs(&one), "one 5m update per 1m update, numbered alike");
    assert_eq!(seqs(&sma), seqs(&one));
    let bars: Vec<(String, bool, f64)> = on(&five)
        .iter()
        .map(|f| {
            assert_eq!(f["data"]["kind"], "bar");
            (
                f["data"]["start"].as_str().unwrap()[11..16].to_owned(),
                f["forming"].as_bool().unwrap(),
                f["data"]["close"].as_f64().unwrap(),
            )
        })
        .collect();
    let closed: Vec<_> = bars.iter().filter(|b| !b.1).collect();
    assert_eq!(closed, vec![&("04:00".to_owned(), false, 305.0)], "{bars:?}");
    let last = on(&five).last().copied().unwrap().clone();
    assert_eq!(last["data"]["start"], "2026-02-02T04:05:00+00:00");
    assert_eq!(
        (
            last["forming"].as_bool(),
            last["data"]["open"].as_f64(),
            last["data"]["close"].as_f64()
        ),
        (Some(true), Some(306.0), Some(307.0))
    );
    let closed_5m = on(&five)
        .iter()
        .find(|f| f["forming"] == false)
        .copied()
        .unwrap()
        .clone();
    assert_eq!(
        (closed_5m["data"]["open"].as_f64(), closed_5m["data"]["high"].as_f64()),
        (Some(301.0), Some(305.0))
    );
    // SMA(2): nothing while one bar exists; then the closed 04:00 bar and the forming one.
    let sma_at = |seq: u64| on(&sma).into_iter().find(|f| f["seq"] == seq).unwrap().clone();
    let at_close = sma_at(closed_5m["seq"].as_u64().unwrap());
    assert_eq!(
        (at_close["forming"].as_bool(), at_close["data"]["values"].clone()),
        (Some(false), json!([null]))
    );
    let now = sma_at(last["seq"].as_u64().unwrap());
    assert_eq!(now["data"]["kind"], "indicator");
    assert_eq!(now["data"]["columns"], json!(["sma_2"]));
    assert_eq!(
        (now["forming"].as_bool(), now["data"]["values"].clone()),
        (Some(true), json!([306.0]))
    );

    // A second connection opens with the feeds' state; leaving stops the feeds.
    let mut d = subscribed(&s.url, "r2", json!([sma])).await;
    let snap = next(&mut d).await;
    assert_eq!(
        (snap["frame"].as_str(), snap["seq"].as_u64()),
        (Some("snapshot"), now["seq"].as_u64())
    );
    assert_eq!(snap["data"]["values"], json!([306.0]));
    send(
        &mut c,
        json!({"action": "unsubscribe", "id": "r3", "topics": [five, sma]}),
    )
    .await;
    assert_eq!(next(&mut c).await["accepted"], json!([five, sma]));
    assert_eq!(s.derived.topics(), vec![sma.clone()], "d still follows it");
    drop(d);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(s.derived.topics().is_empty());
}

/// One client's view in [`bytes_per_update_of_each_delivery_choice`]: wire bytes and frames.
struct Measured {
    name: &'static str,
    client: Client,
    zstd: bool,
    bytes: usize,
    frames: Vec<Value>,
}

impl Measured {
    /// Reads until nothing comes for `ms`, counting payload bytes and decoding the frames
    /// (arrays of frames when batching; zstd-compressed when asked).
    async fn read(&mut self, ms: u64) {
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(ms), self.client.next()).await {
            let (len, value): (usize, Value) = match msg {
                Message::Text(t) => (t.len(), serde_json::from_str(&t).unwrap()),
                Message::Binary(b) => {
                    let plain = if self.zstd {
                        zstd::bulk::decompress(&b, 1 << 22).unwrap()
                    } else {
                        b.to_vec()
                    };
                    let value = match serde_json::from_slice(&plain) {
                        Ok(v) => v,
                        Err(_) => rmp_serde::from_slice(&plain).unwrap(),
                    };
                    (b.len(), value)
                }
                _ => continue,
            };
            self.bytes += len;
            match value {
                Value::Array(frames) => self.frames.extend(frames),
                v => self.frames.push(v),
            }
        }
    }

    fn updates(&self) -> usize {
        self.frames.iter().filter(|f| f["frame"] == "update").count()
    }

    /// The last sequence number seen on each topic.
    fn last_seqs(&self) -> std::collections::BTreeMap<String, u64> {
        self.frames
            .iter()
            .filter(|f| f["frame"] == "update")
            .map(|f| (f["topic"].as_str().unwrap().to_owned(), f["seq"].as_u64().unwrap()))
            .collect()
    }
}

/// Bytes per update of every delivery choice (encoding, batching window, compression), for
/// docs/benchmarks.md: `cargo test -p adapters --test it websocket::delivery::bytes_per_update -- --nocapture`.
#[tokio::test]
async fn bytes_per_update_of_each_delivery_choice() {
    let s = server(WsLimits::default()).await;
    assert_eq!(refused_status(format!("{}?batch_ms=5000", s.url)).await, 400);
    assert_eq!(refused_status(format!("{}?compress=br", s.url)).await, 400);
    {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut old_version = s.url.as_str().into_client_request().unwrap();
        old_version
            .headers_mut()
            .insert("sec-websocket-version", "8".parse().unwrap());
        assert_eq!(refused_status(old_version).await, 400, "only version 13 is spoken");
    }
    let topics = json!([
        format!("greeks:{CALL}"),
        format!("candles:{CALL}:1m"),
        "candles:NSE:NIFTY:1m"
    ]);
    let choices = [
        ("json", "", false),
        ("msgpack", "encoding=msgpack", false),
        ("json, zstd", "compress=zstd", true),
        ("json, 50 ms window", "batch_ms=50", false),
        ("msgpack, 50 ms window", "encoding=msgpack&batch_ms=50", false),
        ("json, 50 ms window, zstd", "batch_ms=50&compress=zstd", true),
        (
            "msgpack, 50 ms window, zstd",
            "encoding=msgpack&batch_ms=50&compress=zstd",
            true,
        ),
    ];
    let mut clients = Vec::new();
    for (name, query, zstd) in choices {
        let mut client = connect(&format!("{}?{query}", s.url)).await;
        send(
            &mut client,
            json!({"action": "subscribe", "id": "r1", "topics": topics}),
        )
        .await;
        let mut m = Measured {
            name,
            client,
            zstd,
            bytes: 0,
            frames: Vec::new(),
        };
        m.read(300).await;
        assert_eq!(m.frames[0]["type"], "ack", "{name}");
        assert_eq!(m.frames.len(), 4, "{name}: the ack and three snapshots");
        (m.bytes, m.frames) = (0, Vec::new());
        clients.push(m);
    }
    // 40 ticks, one every 10 ms: each publishes the three topics.
    for n in 0..40 {
        tick_at(&s.ingest, n, Minutes::milliseconds(1500 * n)).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for m in &mut clients {
        m.read(300).await;
    }
    let published = clients[0].updates();
    assert!(published >= 80, "{published}");
    let newest = clients[0].last_seqs();
    let json_per_update = clients[0].bytes as f64 / published as f64;
    eprintln!("{published} updates published on the 3 topics (greeks and two 1-minute candles)");
    eprintln!(
        "| delivery | messages' bytes | updates delivered | bytes per update delivered | bytes per update published |"
    );
    for m in &clients {
        let delivered = m.updates();
        assert_eq!(
            m.last_seqs(),
            newest,
            "{}: the newest of each topic always arrives",
            m.name
        );
        assert!(delivered <= published, "{}", m.name);
        eprintln!(
            "| {} | {} | {} | {:.0} | {:.0} |",
            m.name,
            m.bytes,
            delivered,
            m.bytes as f64 / delivered as f64,
            m.bytes as f64 / published as f64
        );
    }
    let zstd_batched = clients.last().unwrap();
    assert!(
        (zstd_batched.bytes as f64 / published as f64) < json_per_update / 3.0,
        "compressed batches cost a fraction of JSON per update"
    );
}
