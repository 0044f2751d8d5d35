//! The upsert target of each table the store writes: its name, conflict key and the columns
//! an upsert replaces.

use super::bulk::Table;
use super::entities::{candle, custom_timeframe, greeks, instrument, moneyness};

/// The upsert target of each table written.
#[derive(Debug)]
pub(super) struct Tables {
    /// Targets aimed at monthly partitions (`Table::aimed_at`), by partition name.
    partitions: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Table>>>,
    pub(super) candles: Table,
    pub(super) timeframes: Table,
    pub(super) greeks: Table,
    pub(super) instruments: Table,
    pub(super) moneyness: Table,
}

impl Tables {
    /// The target of the table named `base` aimed at its partition `partition` (made once).
    pub(super) fn aimed(&self, base: &str, partition: &str) -> Option<std::sync::Arc<Table>> {
        let base = [&self.candles, &self.timeframes, &self.greeks, &self.moneyness]
            .into_iter()
            .find(|t| t.name() == base)?;
        let mut known = self.partitions.lock().ok()?;
        Some(
            known
                .entry(partition.to_owned())
                .or_insert_with(|| std::sync::Arc::new(base.aimed_at(partition)))
                .clone(),
        )
    }

    pub(super) fn new() -> Self {
        Self {
            partitions: std::sync::Mutex::default(),
            candles: {
                use candle::Column as C;
                Table::of::<candle::Entity>(
                    &[C::InstrumentKey, C::StartMs],
                    &[
                        C::Open,
                        C::High,
                        C::Low,
                        C::Close,
                        C::Volume,
                        C::Vwap,
                        C::Oi,
                        C::UpdatedAtMs,
                    ],
                )
            },
            timeframes: {
                use custom_timeframe::Column as C;
                Table::of::<custom_timeframe::Entity>(
                    &[C::InstrumentKey, C::Timeframe, C::BucketStartMs],
                    &[
                        C::BucketEndMs,
                        C::Open,
                        C::High,
                        C::Low,
                        C::Close,
                        C::Volume,
                        C::Vwap,
                        C::Oi,
                        C::NBars,
                        C::ExpectedBars,
                        C::Partial,
                        C::Gaps,
                        C::ComputedAtMs,
                    ],
                )
            },
            greeks: {
                use greeks::Column as C;
                Table::of::<greeks::Entity>(
                    &[C::InstrumentKey, C::MinuteMs],
                    &[
                        C::UnderlyingPrice,
                        C::Forward,
                        C::ForwardSource,
                        C::OptionPrice,
                        C::PriceSource,
                        C::Iv,
                        C::IvError,
                        C::Delta,
                        C::Gamma,
                        C::ThetaPerYear,
                        C::VegaPerUnit,
                        C::RhoPerUnit,
                        C::Vanna,
                        C::Volga,
                        C::CharmPerYear,
                        C::Speed,
                        C::Model,
                        C::Rate,
                        C::TimeBasis,
                        C::TYears,
                    ],
                )
            },
            instruments: {
                use instrument::Column as C;
                Table::of::<instrument::Entity>(
                    &[C::Key],
                    &[
                        C::Kind,
                        C::Underlying,
                        C::Market,
                        C::ExpiryMs,
                        C::Strike,
                        C::OptionRight,
                        C::LotSize,
                        C::TickSize,
                    ],
                )
            },
            moneyness: {
                use moneyness::Column as C;
                Table::of::<moneyness::Entity>(
                    &[C::Underlying, C::Expiry, C::OptionRight, C::Level, C::MinuteMs],
                    &[
                        C::Count,
                        C::CountWithIv,
                        C::MeanIv,
                        C::Delta,
                        C::Gamma,
                        C::ThetaPerYear,
                        C::VegaPerUnit,
                        C::RhoPerUnit,
                        C::Vanna,
                        C::Volga,
                        C::CharmPerYear,
                        C::Speed,
                        C::TotalVolume,
                        C::TotalOi,
                        C::AtmIv,
                        C::ChainForward,
                        C::ChainForwardSource,
                        C::ChainTYears,
                        C::ChainSpot,
                    ],
                )
            },
        }
    }
}
