//! The snapshot backlog through the use case: a failing table keeps its snapshots without holding
//! the other back, a full backlog refuses new batches (nothing dropped), and everything is written
//! once the store is back (store mocked).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Duration;
use domain::ports::{MockSignalStore, PortError};

use crate::forward::{options, pipeline_on, t0};

#[tokio::test]
async fn a_failing_table_keeps_its_snapshots_a_full_backlog_refuses_and_recovery_writes_all() {
    let greeks_down = Arc::new(AtomicBool::new(false));
    let moneyness_down = Arc::new(AtomicBool::new(true));
    let greeks_written = Arc::new(Mutex::new(0usize));
    let moneyness_written = Arc::new(Mutex::new(0usize));
    let mut store = MockSignalStore::new();
    store.expect_candles_of().returning(|_, _| Ok(Vec::new()));
    store.expect_save_candles().returning(|_| Ok(()));
    store.expect_save_computation().returning(|_| Ok(()));
    {
        let (down, written) = (greeks_down.clone(), greeks_written.clone());
        store.expect_save_greeks().returning(move |rows| {
            if down.load(Ordering::SeqCst) {
                return Err(PortError::Unavailable("database: connection refused".into()));
            }
            *written.lock().unwrap() += rows.len();
            Ok(())
        });
    }
    {
        let (down, written) = (moneyness_down.clone(), moneyness_written.clone());
        store.expect_save_moneyness().returning(move |rows| {
            if down.load(Ordering::SeqCst) {
                return Err(PortError::Unavailable("database: connection refused".into()));
            }
            // One write never carries a key twice (PostgreSQL refuses that upsert).
            let mut keys: Vec<_> = rows
                .iter()
                .map(|r| (r.underlying.clone(), r.expiry, r.right, r.level, r.minute))
                .collect();
            let n = keys.len();
            keys.sort_by_key(|k| format!("{k:?}"));
            keys.dedup();
            assert_eq!(keys.len(), n, "a moneyness key twice in one write");
            *written.lock().unwrap() += n;
            Ok(())
        });
    }
    let ingest = pipeline_on(store).0.with_backlog_limit(6);

    // The moneyness table fails: the Greeks snapshots are written all the same.
    ingest.execute(&options(t0())).await.unwrap();
    ingest.execute(&options(t0() + Duration::seconds(30))).await.unwrap();
    assert!(ingest.flush().await.is_err());
    assert_eq!(
        *greeks_written.lock().unwrap(),
        2,
        "both options' minute, despite moneyness failing"
    );
    let b = ingest.backlog();
    assert_eq!(b.greeks, 0, "{b:?}");
    assert!(b.failing_for.is_some());
    assert!(
        b.last_error
            .as_deref()
            .unwrap()
            .starts_with("signal_moneyness_greeks: "),
        "{b:?}"
    );

    // Now the Greeks table fails too: its snapshots wait, one per option and minute.
    greeks_down.store(true, Ordering::SeqCst);
    *greeks_written.lock().unwrap() = 0;
    // More minutes until the backlog is full: then batches are refused, not dropped.
    let mut minute = 1;
    let refused = loop {
        minute += 1;
        match ingest.execute(&options(t0() + Duration::minutes(minute))).await {
            Ok(_) => {
                let _ = ingest.flush().await;
            }
            Err(e) => break e,
        }
        assert!(minute < 20, "the backlog never filled");
    };
    assert!(matches!(refused, PortError::Overloaded(_)), "{refused:?}");
    let full = ingest.backlog();
    assert!(full.pending() >= 6, "{full:?}");
    let pending = full.greeks;

    // The store is back: everything pending is written, and ingest is accepted again.
    greeks_down.store(false, Ordering::SeqCst);
    moneyness_down.store(false, Ordering::SeqCst);
    ingest.flush().await.unwrap();
    let b = ingest.backlog();
    assert_eq!((b.pending(), b.failing_for), (0, None), "{b:?}");
    assert_eq!(*greeks_written.lock().unwrap(), pending);
    ingest
        .execute(&options(t0() + Duration::minutes(minute)))
        .await
        .unwrap();
}
