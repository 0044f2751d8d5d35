//! `serve` with `instruments.source = "http"`: the listing comes from the instrument service (a
//! real HTTP server on port 0 answering its documented endpoints), and the service keeps
//! asking it for moneyness mappings in the background.

use chrono::{Duration, Utc};
use e2e_tests::fake_http::{Answer, FakeServer, recorded};

use super::*;

#[test]
#[allow(clippy::disallowed_methods)] // the listing must be in the future of the server's clock
fn serve_lists_the_instrument_service_s_contracts_and_asks_it_for_mappings() {
    let expiry = (Utc::now() + Duration::days(30)).date_naive();
    let ymd = expiry.format("%Y%m%d");
    let contract = |strike: u32, right: &str| {
        format!(
            r#"{{"key":"NSE:NIFTY-{ymd}-{strike}-{right}","underlying":"NSE:NIFTY","expiry":"{expiry}T10:00:00Z","strike":{strike}.0,"right":"{right}","lot_size":65,"tick_size":0.05}}"#
        )
    };
    let chain = format!(
        r#"{{"underlying":"NSE:NIFTY","expiry":"{expiry}","contracts":[{},{},{},{}]}}"#,
        contract(26_000, "CE"),
        contract(26_000, "PE"),
        contract(26_050, "CE"),
        contract(26_050, "PE"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(FakeServer::start());
    fake.route("/v1/underlyings", recorded("underlyings.json"));
    fake.route(
        "/v1/underlyings/NSE:NIFTY/expiries",
        Answer::json(&format!(r#"{{"underlying":"NSE:NIFTY","expiries":["{expiry}"]}}"#)),
    );
    fake.route(
        "/v1/underlyings/NSE:BANKNIFTY/expiries",
        Answer::json(r#"{"underlying":"NSE:BANKNIFTY","expiries":[]}"#),
    );
    fake.route("/v1/underlyings/NSE:NIFTY/chain", Answer::json(&chain));
    fake.route("/v1/underlyings/NSE:NIFTY/moneyness-mapping", Answer::status(404));

    let (dir, db_url) = crate::scratch("instrument-service");
    let server = Server::start_env(
        &db_url,
        false,
        &[],
        &[
            ("SIGNAL__INSTRUMENTS__SOURCE", "http"),
            ("SIGNAL__INSTRUMENTS__SERVICE_URL", fake.base.as_str()),
        ],
    );
    let (status, u) = server.request("GET", "/api/v2/instruments/underlyings", None);
    assert_eq!(status, 200, "{u}");
    let keys: Vec<&str> = u["underlyings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["key"].as_str())
        .collect();
    assert_eq!(keys, ["NSE:BANKNIFTY", "NSE:NIFTY"], "{u}");
    assert_eq!(u["underlyings"][1]["options"], 4, "the chain's four contracts: {u}");
    let (status, c) = server.request(
        "GET",
        &format!("/api/v2/instruments/NSE:NIFTY/chain?expiry={expiry}"),
        None,
    );
    assert_eq!(status, 200, "{c}");
    let strikes: Vec<f64> = c["strikes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["strike"].as_f64())
        .collect();
    assert_eq!(strikes, [26_000.0, 26_050.0], "{c}");
    assert_eq!(
        c["strikes"][0]["call"]["instrument_key"]
            .as_str()
            .or(c["strikes"][0]["call"]["key"].as_str()),
        Some(format!("NSE:NIFTY-{ymd}-26000-CE").as_str()),
        "{c}"
    );
    assert!(fake.hits("/v1/underlyings/NSE:NIFTY/chain") >= 1);
    // A contract the service does not list is not accepted.
    let (status, e) = server.request("GET", "/api/v2/instruments/NSE:NIFTY/chain?expiry=2020-01-02", None);
    assert_eq!((status, e["field"].as_str()), (404, Some("expiry")), "{e}");
    assert!(server.stop().success());
    let _ = std::fs::remove_dir_all(dir);
}

/// `serve` with `instruments.source = "file"`: the contract master is the listing.
#[test]
fn serve_lists_a_configured_contract_master_file() {
    let (dir, db_url) = crate::scratch("contract-master-serve");
    let path = dir.join("master.csv");
    std::fs::write(
        &path,
        "key,underlying,expiry,strike,right,lot_size,tick_size\n\
         NSE:ABC-20270128-100-CE,NSE:ABC,2027-01-28T15:30:00+05:30,100,CE,10,0.05\n\
         NSE:ABC-20270128-100-PE,NSE:ABC,2027-01-28T15:30:00+05:30,100,PE,10,0.05\n",
    )
    .unwrap();
    let server = Server::start_env(
        &db_url,
        false,
        &[],
        &[
            ("SIGNAL__INSTRUMENTS__SOURCE", "file"),
            ("SIGNAL__INSTRUMENTS__CONTRACT_MASTER", path.to_str().unwrap()),
        ],
    );
    let (status, u) = server.request("GET", "/api/v2/instruments/underlyings", None);
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["underlyings"][0]["key"], "NSE:ABC", "{u}");
    assert_eq!(u["underlyings"][0]["options"], 2, "{u}");
    assert_eq!(
        u["underlyings"].as_array().map(Vec::len),
        Some(1),
        "only the file's: {u}"
    );
    assert!(server.stop().success());
    let _ = std::fs::remove_dir_all(dir);
}
