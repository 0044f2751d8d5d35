//! The plans of every historical query the store issues on PostgreSQL, checked: each statement
//! the store runs for a read is captured (sea-orm's metric callback) and explained
//! (`EXPLAIN (FORMAT JSON)`, with its own bound values) over a database holding three months,
//! half of it sealed into packs. Every plan must
//!
//! - touch only the monthly partitions of the read's range (pruning), and
//! - read every table through an index: with sequential scans disabled (`enable_seqscan = off`)
//!   a plan that still has a `Seq Scan` node has no index to use.
//!
//! The data is small, so the planner's cost choices are not what is tested; whether an index
//! and pruning serve each statement is.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use adapters::outbound::store::{SeaStore, connect_options};
use chrono::NaiveDate;
use domain::candles::Timeframe;
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::MoneynessLevel;
use domain::ports::{HistoryUpkeep, SignalStore};
use e2e_tests::FreshDatabase;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

use super::compaction::{OPTIONS, key, range, store, t, write_days};

/// The nodes of a plan, depth first.
fn nodes(plan: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    out.push(plan.clone());
    if let Some(children) = plan.get("Plans").and_then(|p| p.as_array()) {
        for c in children {
            nodes(c, out);
        }
    }
}

/// The month suffix (`y2026m02`) of a partition's name, if it is one.
fn month_of(relation: &str) -> Option<String> {
    let at = relation.rfind("_y")?;
    let suffix = &relation[at + 1..];
    (suffix.len() == 8 && suffix.as_bytes()[5] == b'm').then(|| suffix.to_owned())
}

struct Checker {
    captured: Arc<Mutex<Vec<Statement>>>,
    explain: sea_orm::DatabaseConnection,
    checked: usize,
}

impl Checker {
    /// Explains every statement captured since the last call; `months` are the partitions the
    /// read may touch (`None`: any, for a read with no time bound).
    async fn check(&mut self, read: &str, months: Option<&[&str]>) {
        let statements: Vec<Statement> = std::mem::take(&mut *self.captured.lock().unwrap());
        assert!(!statements.is_empty(), "{read}: no statement captured");
        for st in statements {
            let explain = Statement {
                sql: format!("EXPLAIN (FORMAT JSON) {}", st.sql),
                ..st.clone()
            };
            let row = self
                .explain
                .query_one_raw(explain)
                .await
                .unwrap_or_else(|e| panic!("{read}: EXPLAIN {}: {e}", st.sql))
                .unwrap();
            let plan: serde_json::Value = row.try_get("", "QUERY PLAN").unwrap();
            let mut all = Vec::new();
            nodes(&plan[0]["Plan"], &mut all);
            let text = plan.to_string();
            for n in &all {
                assert_ne!(
                    n["Node Type"], "Seq Scan",
                    "{read}: a sequential scan of {} in\n{}\nplan: {text}",
                    n["Relation Name"], st.sql
                );
            }
            let touched: BTreeSet<String> = all
                .iter()
                .filter_map(|n| n["Relation Name"].as_str())
                .filter_map(month_of)
                .collect();
            if let Some(months) = months {
                let allowed: BTreeSet<String> = months.iter().map(|m| (*m).to_owned()).collect();
                assert!(
                    touched.is_subset(&allowed),
                    "{read}: partitions of {touched:?} touched, only {allowed:?} in range:\n{}\nplan: {text}",
                    st.sql
                );
            }
            self.checked += 1;
        }
    }
}

#[tokio::test]
async fn every_historical_read_prunes_to_its_months_and_uses_an_index() {
    let db = FreshDatabase::postgres().await;
    let seed = store(&db).await;
    write_days(&seed, &["2026-01-30", "2026-02-02", "2026-02-03", "2026-03-02"]).await;
    // January 30 and February 2 sealed into packs; February 3 and March 2 stay rows.
    seed.compact(t("2026-02-03T01:00:00Z"), 1_000).await.unwrap();
    // A cached custom-timeframe bucket or two, so that table has rows in February too.
    let nifty = key("NSE:NIFTY");
    let tf: Timeframe = "5m".parse().unwrap();
    let feb3 = range("2026-02-03T00:00:00Z", "2026-02-04T00:00:00Z");
    let bars = application::candles::TimeframeBars::new(
        Arc::new(seed.clone()),
        Arc::new(domain::ports::ManualClock::new(t("2026-03-10T00:00:00Z"))),
    );
    bars.bars(&nifty, &domain::instrument::Market::nse(), tf, feb3)
        .await
        .unwrap();

    let captured: Arc<Mutex<Vec<Statement>>> = Arc::default();
    let mut conn = Database::connect(connect_options(&db.url)).await.unwrap();
    let sink = captured.clone();
    conn.set_metric_callback(move |info| sink.lock().unwrap().push(info.statement.clone()));
    let s = SeaStore::new(conn);
    let explain = Database::connect(connect_options(&db.url)).await.unwrap();
    explain
        .execute_raw(Statement::from_string(DbBackend::Postgres, "SET enable_seqscan = off"))
        .await
        .unwrap();
    let mut c = Checker {
        captured,
        explain,
        checked: 0,
    };
    let option = key(OPTIONS[0]);
    let keys: Vec<InstrumentKey> = OPTIONS.iter().chain(&["NSE:NIFTY"]).map(|k| key(k)).collect();
    let expiry = NaiveDate::from_ymd_opt(2026, 2, 24).unwrap();
    let feb2 = range("2026-02-02T00:00:00Z", "2026-02-03T00:00:00Z");
    let jan_feb = range("2026-01-30T00:00:00Z", "2026-02-04T00:00:00Z");
    let mar2 = range("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z");
    let feb = ["y2026m02"];

    s.greeks(&option, feb2, usize::MAX).await.unwrap();
    c.check("greeks of a sealed day", Some(&feb)).await;
    s.greeks(&option, jan_feb, 5_000).await.unwrap();
    c.check("greeks across two months", Some(&["y2026m01", "y2026m02"]))
        .await;
    s.greeks(&option, mar2, 100).await.unwrap();
    c.check("greeks of a day in rows", Some(&["y2026m03"])).await;
    s.candles(&option, feb2).await.unwrap();
    c.check("candles of a sealed day", Some(&feb)).await;
    s.candles(&nifty, mar2).await.unwrap();
    c.check("candles of a day in rows", Some(&["y2026m03"])).await;
    s.candles_of(&keys, feb3).await.unwrap();
    c.check("candles of several instruments", Some(&feb)).await;
    s.timeframe_bars(&nifty, tf, feb3).await.unwrap();
    c.check("cached custom-timeframe bars", Some(&feb)).await;
    for level in [MoneynessLevel::Atm, MoneynessLevel::OtmGroup] {
        s.moneyness(&nifty, expiry, OptionRight::Call, level, feb2, usize::MAX)
            .await
            .unwrap();
        c.check("moneyness of a sealed day", Some(&feb)).await;
    }
    s.moneyness(&nifty, expiry, OptionRight::Call, MoneynessLevel::Itm(1), mar2, 10)
        .await
        .unwrap();
    c.check("moneyness of a day in rows", Some(&["y2026m03"])).await;
    s.last_atm(&nifty, expiry, jan_feb).await.unwrap();
    c.check("last ATM across two months", Some(&["y2026m01", "y2026m02"]))
        .await;
    s.latest_greeks(&keys, feb2).await.unwrap();
    c.check("latest Greeks in a sealed day", Some(&feb)).await;
    s.latest_greeks(&keys, mar2).await.unwrap();
    c.check("latest Greeks in a day in rows", Some(&["y2026m03"])).await;
    s.moneyness_expiries(&nifty, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
        .await
        .unwrap();
    // By underlying and expiry, with no time bound: every month, each through its index.
    c.check("expiries with history", None).await;
    assert!(c.checked >= 25, "{} statements explained", c.checked);
}
