//! Stage 4, chain snapshots: when an expiry's minute closes (a later minute's tick, or a flush),
//! its chain is evaluated on the state as it stood — IV and Greeks of every option, ATM IV, skew,
//! wings, put–call ratios, max pain — kept as the expiry's latest chain, turned into per-level
//! moneyness records (by the instrument service's current mapping when configured, else by the
//! local strike ladder), and, for subscribers, into `chain`, `atm_iv` and `moneyness` updates.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use domain::instrument::{InstrumentKey, OptionRight};
use domain::moneyness::{LevelAggregate, MappingBasis, MoneynessLevel};
use domain::ports::{MoneynessRecord, Outgoing, SignalEvent};
use domain::subscriptions::Topic;

use super::moneyness::chain_records;
use super::pricing::OpenMinute;
use crate::market::{ChainSnapshot, ExpiryKey, InstrumentRegistry, RealtimeState};
use crate::moneyness::MappingService;

/// One level's call and put aggregates and the expiry's ATM IV, for a `moneyness` update.
type BothRights = (Option<LevelAggregate>, Option<LevelAggregate>, Option<f64>);

/// The chain-snapshot stage.
pub(super) struct ChainSnapshots {
    registry: Arc<InstrumentRegistry>,
    state: Arc<RealtimeState>,
    /// The instrument service's mappings, when configured.
    pub(super) mappings: Option<Arc<MappingService>>,
}

impl ChainSnapshots {
    pub(super) fn new(registry: Arc<InstrumentRegistry>, state: Arc<RealtimeState>) -> Self {
        Self {
            registry,
            state,
            mappings: None,
        }
    }

    /// Snapshots each expiry at its minute: kept in the state; returns the moneyness records
    /// and, when `updates` is set, the subscribers' updates.
    /// `today` (the clock's date) picks the nearest expiry, whose updates are also published
    /// under `chain:{u}` and `atm_iv:{u}`.
    pub(super) fn take(
        &self,
        expiries: Vec<(ExpiryKey, OpenMinute)>,
        updates: bool,
        today: NaiveDate,
    ) -> (Vec<MoneynessRecord>, Vec<Outgoing>) {
        let (mut records, mut out) = (Vec::new(), Vec::new());
        let mut underlyings: Vec<InstrumentKey> = Vec::new();
        for ((u, e), (forward, t, minute)) in expiries {
            let Some(conventions) = self.registry.get(&u).map(|r| *r.conventions()) else {
                continue;
            };
            let spot = self.state.spot(&u).map(|(_, s)| s);
            let state = self.state.expiry(&u, e);
            let service = self
                .mappings
                .as_ref()
                .and_then(|m| m.current(&u, e))
                .filter(|m| m.basis == MappingBasis::InstrumentService);
            let (analytics, recs) = chain_records(
                &conventions,
                &u,
                e,
                minute,
                &state,
                spot,
                forward,
                t,
                service.as_deref(),
            );
            let snapshot = ChainSnapshot {
                minute,
                forward,
                t_years: t,
                spot,
                analytics,
                levels: recs.iter().map(|r| (r.right, r.level, r.aggregate)).collect(),
                mapping: service,
            };
            if updates {
                out.extend(chain_updates(&u, e, &snapshot, &recs));
                if !underlyings.contains(&u) {
                    underlyings.push(u.clone());
                }
            }
            self.state.set_chain(&u, e, snapshot);
            records.extend(recs);
        }
        for u in underlyings {
            if let Some(nearest) = self.state.nearest_expiry(&u, today) {
                out.extend(nearest_aliases(&u, nearest, &out));
            }
        }
        (records, out)
    }
}

/// The updates of `chain:{u}` and `atm_iv:{u}`: copies of the nearest expiry's, when this
/// round published them (the data names its expiry).
fn nearest_aliases(underlying: &InstrumentKey, nearest: NaiveDate, published: &[Outgoing]) -> Vec<Outgoing> {
    let pairs = [
        (
            Topic::Chain {
                underlying: underlying.clone(),
                expiry: Some(nearest),
            },
            Topic::Chain {
                underlying: underlying.clone(),
                expiry: None,
            },
        ),
        (
            Topic::AtmIv {
                underlying: underlying.clone(),
                expiry: Some(nearest),
            },
            Topic::AtmIv {
                underlying: underlying.clone(),
                expiry: None,
            },
        ),
    ];
    pairs
        .into_iter()
        .filter_map(|(dated, alias)| {
            let dated = dated.to_string();
            published.iter().find(|o| o.topic == dated).map(|o| Outgoing {
                topic: alias.to_string(),
                ..o.clone()
            })
        })
        .collect()
}

/// The subscribers' updates of one expiry's minute snapshot: `chain:{u}:{e}`, `atm_iv:{u}:{e}`
/// and `moneyness:{u}:{e}:{level}` (both rights in one update).
fn chain_updates(
    underlying: &InstrumentKey,
    expiry: NaiveDate,
    snapshot: &ChainSnapshot,
    records: &[MoneynessRecord],
) -> Vec<Outgoing> {
    let minute = snapshot.minute;
    let atm_iv = snapshot.analytics.atm_iv;
    let mut out = Vec::with_capacity(records.len() + 2);
    let update = |topic: Topic, event: SignalEvent| Outgoing {
        topic: topic.to_string(),
        source_ts: minute,
        received: None,
        forming: false,
        event,
    };
    let (u, e) = (underlying.clone(), expiry);
    out.push(update(
        Topic::Chain {
            underlying: u.clone(),
            expiry: Some(e),
        },
        snapshot.event(underlying, expiry),
    ));
    out.push(update(
        Topic::AtmIv {
            underlying: u.clone(),
            expiry: Some(e),
        },
        SignalEvent::AtmIv {
            underlying: u.clone(),
            expiry: e,
            minute,
            atm_iv,
        },
    ));
    let mut levels: BTreeMap<MoneynessLevel, BothRights> = BTreeMap::new();
    for r in records {
        let entry = levels.entry(r.level).or_default();
        match r.right {
            OptionRight::Call => entry.0 = Some(r.aggregate),
            OptionRight::Put => entry.1 = Some(r.aggregate),
        }
        entry.2 = entry.2.or(r.atm_iv);
    }
    let (mapping_source, mapping_as_of) = (snapshot.mapping_source(), snapshot.mapping_as_of());
    out.extend(levels.into_iter().map(|(level, (call, put, atm_iv))| {
        update(
            Topic::Moneyness {
                underlying: u.clone(),
                expiry: e,
                level,
            },
            SignalEvent::MoneynessLevel {
                underlying: u.clone(),
                expiry: e,
                level,
                minute,
                call,
                put,
                atm_iv,
                mapping_source,
                mapping_as_of: Some(mapping_as_of),
            },
        )
    }));
    out
}
