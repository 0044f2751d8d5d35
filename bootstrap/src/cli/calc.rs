//! `signal-service calc greeks|iv|indicators|aggregate`.

use std::io::{BufWriter, stdin, stdout};

use adapters::inbound::calc_csv::{run_aggregate, run_greeks, run_indicators, run_iv};
use clap::{Subcommand, ValueEnum};
use domain::candles::Timeframe;
use domain::indicators::IndicatorSpec;
use domain::instrument::Market;
use domain::pricing::PricingModel;

use crate::settings::Settings;

/// Pricing model flag.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelArg {
    /// Black–Scholes–Merton on spot with dividend yield.
    Bsm,
    /// Black-76 on the forward (`spot` column holds the forward; `div_yield` ignored).
    Black76,
}

impl From<ModelArg> for PricingModel {
    fn from(m: ModelArg) -> Self {
        match m {
            ModelArg::Bsm => Self::Bsm,
            ModelArg::Black76 => Self::Black76,
        }
    }
}

/// A parsed `--indicators` list.
#[derive(Debug, Clone)]
pub struct SpecList(Vec<IndicatorSpec>);

fn parse_specs(s: &str) -> Result<SpecList, String> {
    let specs = IndicatorSpec::parse_list(s).map_err(|e| e.to_string())?;
    if specs.is_empty() {
        return Err("name at least one indicator, e.g. ema:20".into());
    }
    Ok(SpecList(specs))
}

/// The calculators.
#[derive(Debug, Subcommand)]
pub enum CalcCommand {
    /// Price and Greeks. Input: type,spot,strike,t_years,rate,div_yield,vol.
    Greeks {
        /// Pricing model.
        #[arg(long, value_enum, default_value = "bsm")]
        model: ModelArg,
    },
    /// Implied volatility. Input: type,spot,strike,t_years,rate,div_yield,price.
    Iv {
        /// Pricing model.
        #[arg(long, value_enum, default_value = "bsm")]
        model: ModelArg,
    },
    /// Technical indicators. Input: ts,open,high,low,close,volume (ts RFC 3339 with offset, bar start).
    Indicators {
        /// Comma-separated specs, e.g. ema:20,rsi:14,macd:12:26:9,bbands:20:2:2,stoch:14:3:3,vwap_session.
        #[arg(long, value_parser = parse_specs)]
        indicators: SpecList,
        /// Market whose sessions reset session VWAP: a shipped one (NSE) or one `[markets.CODE]`
        /// defines.
        #[arg(long, default_value = "NSE")]
        market: String,
    },
    /// Session-anchored aggregation of 1-minute bars. Input: ts,open,high,low,close,volume.
    Aggregate {
        /// Target timeframe: Nm, Nh, Nd or 1w.
        #[arg(long)]
        timeframe: Timeframe,
        /// Market whose sessions anchor the buckets: a shipped one (NSE) or one `[markets.CODE]`
        /// defines.
        #[arg(long, default_value = "NSE")]
        market: String,
    },
}

/// The market `code` names among the run's markets (shipped or configured).
fn market(settings: &Settings, code: &str) -> Result<Market, String> {
    let markets = settings.markets_with(None)?;
    Ok(markets
        .require(code)
        .map_err(|e| format!("--market: {e}"))?
        .market
        .clone())
}

/// Runs one calculator over stdin/stdout.
///
/// # Errors
/// An unknown `--market`; the calculator's error (bad row, missing column, I/O).
pub fn run(cmd: CalcCommand, settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let input = stdin().lock();
    let output = BufWriter::new(stdout().lock());
    match cmd {
        CalcCommand::Greeks { model } => run_greeks(model.into(), input, output)?,
        CalcCommand::Iv { model } => run_iv(model.into(), input, output)?,
        CalcCommand::Indicators {
            indicators,
            market: code,
        } => {
            run_indicators(indicators.0, &market(settings, &code)?, input, output)?;
        }
        CalcCommand::Aggregate {
            timeframe,
            market: code,
        } => {
            run_aggregate(timeframe, &market(settings, &code)?, input, output)?;
        }
    }
    Ok(())
}
