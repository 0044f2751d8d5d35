use chrono::{DateTime, Utc};
use domain::ports::{ManualClock, MockHistoryUpkeep};
use mockall::Sequence;

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn keeper(store: MockHistoryUpkeep, policy: UpkeepPolicy) -> HistoryKeeper {
    HistoryKeeper::new(
        Arc::new(store),
        Arc::new(ManualClock::new(at("2026-12-06T18:00:00Z"))),
        policy,
    )
}

#[tokio::test]
async fn a_cycle_prepares_partitions_seals_until_done_then_drops_expired_months() {
    let mut store = MockHistoryUpkeep::new();
    let mut seq = Sequence::new();
    store
        .expect_prepare_partitions()
        .withf(|from, through| *from == at("2026-12-06T18:00:00Z") && *through == at("2027-02-06T18:00:00Z"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    let mut calls = 0;
    store
        .expect_compact()
        .withf(|before, batch| *before == at("2026-12-06T17:00:00Z") && *batch == 2_000)
        .times(3)
        .in_sequence(&mut seq)
        .returning(move |_, _| {
            calls += 1;
            Ok(CompactionReport {
                series_days: 10,
                rows_folded: 3_750,
                skipped_busy: 1,
                more: calls < 3,
            })
        });
    store
        .expect_drop_months_before()
        .withf(|t, before| *t == HistoryTable::Moneyness && *before == at("2026-09-07T18:00:00Z"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec!["signal_moneyness_packs_y2026m08".to_owned()]));
    let policy = UpkeepPolicy {
        retention_days: vec![(HistoryTable::Greeks, None), (HistoryTable::Moneyness, Some(90))],
        ..UpkeepPolicy::default()
    };
    let report = keeper(store, policy).cycle().await.unwrap();
    assert_eq!(
        report.compaction,
        CompactionReport {
            series_days: 30,
            rows_folded: 11_250,
            skipped_busy: 3,
            more: false
        }
    );
    assert_eq!(report.dropped, vec!["signal_moneyness_packs_y2026m08"]);
}

#[tokio::test]
async fn a_cycle_stops_at_its_call_bound_and_says_more_is_left() {
    let mut store = MockHistoryUpkeep::new();
    store.expect_prepare_partitions().returning(|_, _| Ok(()));
    store.expect_compact().times(2).returning(|_, _| {
        Ok(CompactionReport {
            series_days: 1,
            rows_folded: 1,
            skipped_busy: 0,
            more: true,
        })
    });
    store.expect_drop_months_before().never();
    let policy = UpkeepPolicy {
        max_calls_per_cycle: 2,
        ..UpkeepPolicy::default()
    };
    let report = keeper(store, policy).cycle().await.unwrap();
    assert!(report.compaction.more);
    assert_eq!(report.compaction.series_days, 2);
}

#[tokio::test]
async fn a_failing_step_ends_the_cycle_with_its_error() {
    let mut store = MockHistoryUpkeep::new();
    store
        .expect_prepare_partitions()
        .returning(|_, _| Err(PortError::Unavailable("database: connection refused".into())));
    store.expect_compact().never();
    let e = keeper(store, UpkeepPolicy::default()).cycle().await.unwrap_err();
    assert_eq!(e, PortError::Unavailable("database: connection refused".into()));
}
