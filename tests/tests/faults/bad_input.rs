//! The bad-input matrix: every operation of the committed OpenAPI document, and the routes
//! outside it, sent malformed JSON, wrong types, huge and absurd numbers, unknown parameters,
//! huge paths, invalid UTF-8 and mismatched `Content-Length`, against the real binary on its
//! embedded default. No answer may be a 5xx (or none at all); every 4xx the service writes is
//! the JSON error naming its field. (Requests hyper refuses before the service sees them — a
//! request line it cannot parse, headers over its limits — get hyper's bare 400/431 and a
//! closed connection; they are counted apart.)

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{self, Answer, Service, parse_answer};

/// Sends raw bytes; the answer, or `None` when the connection closed without one.
async fn raw(port: u16, bytes: &[u8]) -> Option<Answer> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    s.write_all(bytes).await.ok()?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    parse_answer(&out).ok()
}

fn request(method: &str, target: &[u8], headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(method.as_bytes());
    r.push(b' ');
    r.extend_from_slice(target);
    r.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")) && (method == "POST" || !body.is_empty())
    {
        r.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(body);
    r
}

/// A concrete path for a template of the document (which carries `/api/v2`): each `{param}` a
/// plausible value.
fn path_of(template: &str) -> String {
    let mut out = String::new();
    for seg in template.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(match seg {
            "{instrument_key}" | "{underlying}" => "NSE:NIFTY",
            "{level}" => "ATM",
            "{indicator}" => "rsi",
            "{dataset}" => "candles",
            s if s.starts_with('{') => "x",
            s => s,
        });
    }
    out
}

#[derive(Default)]
struct Tally {
    sent: usize,
    server_errors: Vec<String>,
    no_answer: Vec<String>,
    four_xx: usize,
    unnamed: Vec<String>,
    bare: usize,
}

impl Tally {
    fn record(&mut self, what: &str, answer: Option<Answer>) {
        self.sent += 1;
        let Some(a) = answer else {
            self.no_answer.push(what.to_owned());
            return;
        };
        if a.status >= 500 {
            self.server_errors.push(format!("{what}: {} {}", a.status, a.body));
        } else if a.status >= 400 {
            self.four_xx += 1;
            let json = a.json();
            let named = json["code"].is_string()
                && json["message"].is_string()
                && json["field"].as_str().is_some_and(|f| !f.is_empty());
            if a.body.is_empty() && a.header("content-type").is_none() {
                self.bare += 1;
            } else if !named {
                self.unnamed.push(format!("{what}: {} {}", a.status, a.body));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_bad_input_with_a_4xx_naming_the_field() {
    let _serial = harness::SERIAL.lock().await;
    let env: Vec<(String, String)> = [
        ("SIGNAL__SERVER__HOST", "127.0.0.1"),
        ("SIGNAL__SERVER__BODY_READ_TIMEOUT_MS", "1000"),
        ("SIGNAL__FEED__INTERVAL_MS", "200"),
        ("SIGNAL__RATE_LIMIT__ENABLED", "false"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let svc = Service::start_env(&env);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/signal-service.json")).unwrap(),
    )
    .unwrap();
    let port = svc.port;
    let mut t = Tally::default();
    let json = ("Content-Type", "application/json".to_owned());
    let huge = "9".repeat(400);
    let long = "A".repeat(8_000);
    let values: Vec<&str> = vec![
        "x",
        "",
        "-1",
        "0",
        "1e400",
        "1.7e308",
        "-9223372036854775809",
        &huge,
        "%FF%FE",
        "%ZZ",
        "NaN",
        "inf",
        "true",
        "2026-13-45T99:99:99Z",
        "0001-01-01T00:00:00Z",
        &long,
    ];
    let mut operations = 0;
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            operations += 1;
            let method = method.to_ascii_uppercase();
            let path = path_of(template);
            let params: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            let base_body: &[u8] = if method == "POST" { b"[]" } else { b"" };
            let headers = if method == "POST" { vec![json.clone()] } else { vec![] };
            // Unknown parameters.
            let target = format!("{path}?zzz_unknown=1");
            let a = raw(port, &request(&method, target.as_bytes(), &headers, base_body)).await;
            assert_eq!(
                a.as_ref().map(|a| (a.status, a.json()["field"].clone())),
                Some((400, serde_json::json!("zzz_unknown"))),
                "{method} {target}: {a:?}"
            );
            t.record(&format!("{method} {target}"), a);
            // Each query parameter with each malformed value.
            for p in &params {
                for v in &values {
                    let target = format!("{path}?{p}={v}");
                    let a = raw(port, &request(&method, target.as_bytes(), &headers, base_body)).await;
                    t.record(&format!("{method} {path}?{p}=<{} bytes>", v.len()), a);
                }
            }
            // Path parameters: huge, broken escapes, invalid UTF-8 (escaped and raw).
            if template.contains('{') {
                for v in [long.as_str(), "%ZZ", "%FF%FE", "NSE:", ":::", "%00"] {
                    let target = path.replace("NSE:NIFTY", v).replace("/ATM", &format!("/{v}"));
                    let a = raw(port, &request(&method, target.as_bytes(), &headers, base_body)).await;
                    t.record(&format!("{method} {template} path=<{} bytes>", v.len()), a);
                }
                let mut target = path.clone().into_bytes();
                target.extend_from_slice(b"\xff\xfe");
                let a = raw(port, &request(&method, &target, &headers, base_body)).await;
                t.record(&format!("{method} {template} raw invalid UTF-8"), a);
            }
            if method == "POST" {
                let bodies: Vec<Vec<u8>> = vec![
                    b"{not json".to_vec(),
                    b"".to_vec(),
                    b"null".to_vec(),
                    b"42".to_vec(),
                    b"[1, \"x\", null, {}]".to_vec(),
                    b"{\"rows\": \"x\"}".to_vec(),
                    b"{\"rows\": [{\"type\": 1}]}".to_vec(),
                    br#"[{"key": "NSE:NIFTY", "ts": "2026-11-24T10:00:00+05:30", "last": 1e400}]"#.to_vec(),
                    br#"[{"key": "NSE:NIFTY", "ts": "2026-11-24T10:00:00+05:30", "last": 1.7e308, "oi": -1}]"#.to_vec(),
                    br#"[{"key": "NSE:NIFTY", "start": "0001-01-01T00:00:00Z", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 0}]"#.to_vec(),
                    br#"{"model": "bsm", "rows": [{"type": "call", "spot": 1e308, "strike": 1e-308, "t_years": 1e308, "rate": 1e308, "price": 1e308}]}"#.to_vec(),
                    b"\xff\xfe\xfd".to_vec(),
                    b"[\"\xff\"]".to_vec(),
                    "[".repeat(100_000).into_bytes(),
                ];
                for b in &bodies {
                    let a = raw(port, &request(&method, path.as_bytes(), &headers, b)).await;
                    t.record(&format!("POST {path} body <{} bytes>", b.len()), a);
                }
                // CSV and an unsupported type.
                let csv = ("Content-Type", "text/csv".to_owned());
                for b in [&b"key,ts\nNSE:NIFTY,x\n"[..], b"nope\n", b"\xff,\xfe\n"] {
                    let a = raw(port, &request(&method, path.as_bytes(), std::slice::from_ref(&csv), b)).await;
                    t.record(&format!("POST {path} csv"), a);
                }
                let xml = ("Content-Type", "application/xml".to_owned());
                let a = raw(
                    port,
                    &request(&method, path.as_bytes(), std::slice::from_ref(&xml), b"<a/>"),
                )
                .await;
                t.record(&format!("POST {path} xml"), a);
                // A Content-Length longer than the body: answered within the body timeout.
                let started = std::time::Instant::now();
                let mut h = headers.clone();
                h.push(("Content-Length", "1000".to_owned()));
                let a = raw(port, &request(&method, path.as_bytes(), &h, b"[]")).await;
                assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
                assert_eq!(a.as_ref().map(|a| a.status), Some(408), "{a:?}");
                t.record(&format!("POST {path} short body"), a);
                // A body larger than its declared length: the rest is a malformed next request.
                let mut h = headers.clone();
                h.push(("Content-Length", "1".to_owned()));
                let a = raw(port, &request(&method, path.as_bytes(), &h, b"[]garbage")).await;
                t.record(&format!("POST {path} long body"), a);
            }
        }
    }
    // Outside the document: the WebSocket route, health, metrics, unknown routes, wrong methods.
    for (method, target) in [
        ("GET", "/api/v2/subscriptions/websocket"),
        ("GET", "/api/v2/subscriptions/websocket?batch_ms=x"),
        ("POST", "/health/ready"),
        ("GET", "/metrics?x=1"),
        ("GET", "/nope"),
        ("DELETE", "/api/v2/realtime/greeks/NSE:NIFTY"),
        ("GET", "/api/v2/ingest/ticks"),
    ] {
        let a = raw(port, &request(method, target.as_bytes(), &[], b"")).await;
        t.record(&format!("{method} {target}"), a);
    }
    // Headers hyper itself refuses: a request head over its buffer.
    let a = raw(
        port,
        &request("GET", b"/health/live", &[("X-Huge", "h".repeat(1 << 20))], b""),
    )
    .await;
    t.record("GET /health/live with a 1 MiB header", a);

    println!(
        "scenario bad-input: {} requests over {operations} operations and 8 other routes: {} answers >= 500, {} \
         without an answer, {} 4xx ({} of them hyper's bare framing refusals), {} 4xx not naming a field",
        t.sent,
        t.server_errors.len(),
        t.no_answer.len(),
        t.four_xx,
        t.bare,
        t.unnamed.len()
    );
    assert!(t.server_errors.is_empty(), "{:#?}", t.server_errors);
    assert!(t.unnamed.is_empty(), "{:#?}", t.unnamed);
    assert!(t.no_answer.len() <= 1, "{:#?}", t.no_answer);
    let (exit, log) = svc.terminate();
    assert!(exit.success(), "{log}");
}
