//! The chain as it stood at a past minute (`GET /historical/chain`), evaluated again from the
//! store: the expiry's `ATM` row at or before that minute gives the minute and what the chain
//! was evaluated on (forward, time, spot; [`domain::ports::ChainInputs`]); each option's latest
//! Greeks record up to it gives the premium its IV was solved from; its 1-minute bars give OI,
//! last price and the session's volume. The same evaluation as the live chain on the same
//! inputs gives the same IVs, Greeks and statistics.
//!
//! What the store does not keep: bid and ask (left out), and the instrument service's mapping
//! of that minute (levels are the local strike ladder's).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::chain::ChainQuote;
use domain::instrument::{InstrumentKey, OptionRight};
use domain::ports::{Clock, SignalStore, TimeRange};

use crate::history::HistoryError;
use crate::ingest::moneyness::evaluate_records;
use crate::ingest::pricing::minute_of;
use crate::market::{ChainSnapshot, ExpiryState, InstrumentKind, InstrumentRegistry, QuoteState};
use crate::realtime::{ChainRead, STALE_AFTER_SECS};
use crate::sync::LockOrRecover;

/// How far before the minute asked for a stored chain (and an option's last quote) is looked
/// for: four days, so that a minute before a session's open finds the previous session's close
/// across a weekend and a holiday.
pub const LOOKBACK_HOURS: i64 = 96;

/// How many of the expiries from the minute's date on are tried when none is named.
const NEAREST_TRIED: usize = 3;

/// An option's last price and open interest at a session's close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Close {
    /// Last traded price, price units.
    pub last: Option<f64>,
    /// Open interest, units.
    pub oi: f64,
}

/// Each option's close, by instrument key.
pub type Closes = Arc<HashMap<InstrumentKey, Close>>;

/// (underlying, expiry, session open).
type SessionSlot = (InstrumentKey, NaiveDate, DateTime<Utc>);

/// A session's closes not found are looked for again after this long.
const MISSING_CLOSE_RETRY: std::time::Duration = std::time::Duration::from_secs(60);
/// Closes kept in memory (one entry per underlying, expiry and session); past it, start again.
const REMEMBERED_CLOSES: usize = 4_096;

/// The historical chain reads.
pub struct PastChains {
    store: Arc<dyn SignalStore>,
    registry: Arc<InstrumentRegistry>,
    clock: Arc<dyn Clock>,
    /// Previous-session closes by (underlying, expiry, session open): found ones for good,
    /// missing ones with when they were last looked for.
    closes: Mutex<HashMap<SessionSlot, (Option<Closes>, std::time::Instant)>>,
}

fn not_found(field: &'static str, message: String) -> HistoryError {
    HistoryError::NotFound { field, message }
}

impl PastChains {
    /// Reads `store`, with each instrument's market and conventions from `registry`.
    #[must_use]
    pub fn new(store: Arc<dyn SignalStore>, registry: Arc<InstrumentRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            registry,
            clock,
            closes: Mutex::default(),
        }
    }

    /// Each option's last price and OI at the close of the session before the one opening at
    /// `session_open`: the stored chain a minute before that open ([`Self::chain_at`]), kept in
    /// memory once found. `None` when none is stored (or the store cannot say now: a chain
    /// read must not fail for want of its changes; the failure is logged).
    pub async fn previous_close(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
        session_open: DateTime<Utc>,
    ) -> Option<Closes> {
        let slot = (underlying.clone(), expiry, session_open);
        if let Some((found, at)) = self.closes.lock_or_recover().get(&slot)
            && (found.is_some() || at.elapsed() < MISSING_CLOSE_RETRY)
        {
            return found.clone();
        }
        let found = match self
            .chain_at(underlying, session_open - Duration::minutes(1), Some(expiry))
            .await
        {
            Ok(read) => Some(Arc::new(
                read.quotes
                    .quotes
                    .values()
                    .map(|(key, _, q)| (key.clone(), Close { last: q.last, oi: q.oi }))
                    .collect(),
            )),
            Err(HistoryError::Store(e)) => {
                tracing::warn!(error = %e, %underlying, %expiry, "previous session's close not read");
                None
            }
            Err(_) => None,
        };
        let mut closes = self.closes.lock_or_recover();
        if closes.len() >= REMEMBERED_CLOSES {
            closes.clear();
        }
        closes.insert(slot, (found.clone(), std::time::Instant::now()));
        found
    }

    /// The chain of `underlying` for `expiry` (default: the nearest one with a chain stored
    /// then) as last evaluated at or before `at`, within [`LOOKBACK_HOURS`].
    ///
    /// # Errors
    /// [`HistoryError::NotFound`] naming `underlying`, `expiry` or `at` when nothing was
    /// stored; [`HistoryError::Store`] when the store fails.
    pub async fn chain_at(
        &self,
        underlying: &InstrumentKey,
        at: DateTime<Utc>,
        expiry: Option<NaiveDate>,
    ) -> Result<ChainRead, HistoryError> {
        let reg = self
            .registry
            .get(underlying)
            .ok_or_else(|| not_found("underlying", format!("unknown underlying {underlying}")))?;
        let market = reg.market().clone();
        let conventions = *reg.conventions();
        // Instants near the ends of the representable range have no lookback window.
        let range = minute_of(at)
            .checked_add_signed(Duration::minutes(1))
            .and_then(|end| {
                Some(TimeRange {
                    from: end.checked_sub_signed(Duration::hours(LOOKBACK_HOURS))?,
                    to: end,
                })
            })
            .ok_or_else(|| HistoryError::BadParam {
                field: "at",
                message: format!("{at} is outside the range of stored minutes"),
            })?;
        let candidates = match expiry {
            Some(e) => vec![e],
            None => self
                .store
                .moneyness_expiries(underlying, market.local_date(at))
                .await?
                .into_iter()
                .take(NEAREST_TRIED)
                .collect(),
        };
        let mut found = None;
        for e in candidates {
            if let Some(row) = self.store.last_atm(underlying, e, range).await? {
                found = Some((e, row));
                break;
            }
        }
        let (expiry, row) = found.ok_or_else(|| {
            let (field, what) = match expiry {
                Some(e) => ("expiry", format!("expiring {e}")),
                None => ("at", "of any expiry".to_owned()),
            };
            not_found(
                field,
                format!("no chain of {underlying} {what} stored in the {LOOKBACK_HOURS} hours up to {at}"),
            )
        })?;
        let inputs = row.chain.ok_or_else(|| {
            not_found(
                "at",
                format!(
                    "the chain of {underlying} expiring {expiry} at {} was stored without its inputs (before this version)",
                    row.minute
                ),
            )
        })?;
        let minute = row.minute;
        let through = TimeRange {
            from: minute + Duration::minutes(1) - Duration::hours(LOOKBACK_HOURS),
            to: minute + Duration::minutes(1),
        };
        let options = self.options_of(underlying, expiry);
        let keys: Vec<InstrumentKey> = options.values().map(|(k, _)| k.clone()).collect();
        let greeks: BTreeMap<InstrumentKey, _> = self
            .store
            .latest_greeks(&keys, through)
            .await?
            .into_iter()
            .map(|r| (r.key.clone(), r))
            .collect();
        let session_from = market.session_containing(minute).map_or(through.from, |d| d.open);
        let mut bars: BTreeMap<InstrumentKey, QuoteState> = BTreeMap::new();
        let candles = self
            .store
            .candles_of(
                &keys,
                TimeRange {
                    from: session_from,
                    to: through.to,
                },
            )
            .await?;
        for c in candles {
            let q = bars.entry(c.key).or_insert(QuoteState {
                ts: c.bar.start,
                last: None,
                bid: None,
                ask: None,
                volume: 0.0,
                oi: 0.0,
            });
            q.volume += c.bar.volume;
            if c.bar.start >= q.ts {
                q.ts = c.bar.start;
                q.last = Some(c.bar.close);
                q.oi = c.bar.oi.unwrap_or(q.oi);
            }
        }
        // The live chain's quotes in its order (strike, then right), with the stored premium.
        let mut state = ExpiryState::default();
        let mut quotes = Vec::new();
        for (slot, (key, strike)) in &options {
            let Some(g) = greeks.get(key) else { continue };
            let q = bars.get(key).copied().unwrap_or(QuoteState {
                ts: g.minute,
                last: None,
                bid: None,
                ask: None,
                volume: 0.0,
                oi: 0.0,
            });
            quotes.push(ChainQuote {
                strike: *strike,
                right: slot.1,
                price: g.option_price,
                oi: q.oi,
                volume: q.volume,
            });
            state.quotes.insert(*slot, (key.clone(), *strike, q));
        }
        let (analytics, records) = evaluate_records(&conventions, underlying, expiry, minute, &quotes, inputs, None);
        Ok(ChainRead {
            underlying: underlying.clone(),
            expiry,
            snapshot: ChainSnapshot {
                minute,
                forward: inputs.forward,
                t_years: inputs.t_years,
                spot: inputs.spot,
                analytics,
                mapping: None,
                levels: records.iter().map(|r| (r.right, r.level, r.aggregate)).collect(),
            },
            quotes: state,
            stale: self.clock.now() - minute > Duration::seconds(STALE_AFTER_SECS),
            session_open: market.session_containing(minute).map(|d| d.open),
            conventions,
        })
    }

    /// The registered options of one expiry, by (strike bits, right) as the live state keys them.
    fn options_of(
        &self,
        underlying: &InstrumentKey,
        expiry: NaiveDate,
    ) -> BTreeMap<(u64, OptionRight), (InstrumentKey, f64)> {
        self.registry
            .all()
            .into_iter()
            .filter_map(|(key, reg)| match &reg.kind {
                InstrumentKind::Option(c) if &c.underlying == underlying && reg.chain_date() == Some(expiry) => {
                    let strike = c.strike.value();
                    Some(((strike.to_bits(), c.right), (key, strike)))
                }
                _ => None,
            })
            .collect()
    }
}
