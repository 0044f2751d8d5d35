//! Where a pack's bytes go: every column of every Greeks and moneyness pack of a database
//! re-encoded on its own, bytes per row printed (docs/benchmarks.md, "History storage"). The
//! moneyness columns are measured as if every value were kept (no references to Greeks);
//! "(as packed, all columns)" is what the packs take.
//!
//! `PACK_DB=postgres://… cargo test -p adapters --lib pack_column_sizes -- --ignored --nocapture`
#[cfg(test)]
mod tests {
    use super::super::codec::PackWriter;
    use super::super::levels::{ChainDay, LevelSeries, OptionDay, Referred, unpack_moneyness};
    use super::super::packs::unpack_greeks;
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

    fn size(f: impl FnOnce(&mut PackWriter), n: usize) -> usize {
        let mut w = PackWriter::new(n);
        f(&mut w);
        w.finish().len() - 5
    }

    #[tokio::test]
    #[ignore]
    async fn pack_column_sizes() {
        let url = std::env::var("PACK_DB").unwrap();
        let db = Database::connect(url).await.unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT instrument_key, day_ms, pack FROM signal_greeks_packs",
            ))
            .await
            .unwrap();
        let mut tot = std::collections::BTreeMap::<&str, usize>::new();
        let mut n_all = 0;
        let mut days = std::collections::HashMap::new();
        for r in &rows {
            let k: String = r.try_get("", "instrument_key").unwrap();
            let day: i64 = r.try_get("", "day_ms").unwrap();
            let p: Vec<u8> = r.try_get("", "pack").unwrap();
            let m = unpack_greeks(&k, &p).unwrap();
            days.insert(
                (k.clone(), day),
                OptionDay {
                    key: k.clone(),
                    rows: std::sync::Arc::new(m.clone()),
                },
            );
            let n = m.len();
            n_all += n;
            macro_rules! col { ($name:literal, $e:expr) => { *tot.entry($name).or_default() += size($e, n); } }
            col!("minute", |w| w.i64s(m.iter().map(|r| r.minute_ms)));
            col!("underlying", |w| w.f64s(m.iter().map(|r| r.underlying_price)));
            col!("forward", |w| w.f64s(m.iter().map(|r| r.forward)));
            col!("option_price", |w| w
                .opt_f64s(&m.iter().map(|r| r.option_price).collect::<Vec<_>>()));
            col!("iv", |w| w.opt_f64s(&m.iter().map(|r| r.iv).collect::<Vec<_>>()));
            col!("delta", |w| w.opt_f64s(&m.iter().map(|r| r.delta).collect::<Vec<_>>()));
            col!("gamma", |w| w.opt_f64s(&m.iter().map(|r| r.gamma).collect::<Vec<_>>()));
            col!("theta", |w| w
                .opt_f64s(&m.iter().map(|r| r.theta_per_year).collect::<Vec<_>>()));
            col!("vega", |w| w
                .opt_f64s(&m.iter().map(|r| r.vega_per_unit).collect::<Vec<_>>()));
            col!("rho", |w| w
                .opt_f64s(&m.iter().map(|r| r.rho_per_unit).collect::<Vec<_>>()));
            col!("vanna", |w| w.opt_f64s(&m.iter().map(|r| r.vanna).collect::<Vec<_>>()));
            col!("volga", |w| w.opt_f64s(&m.iter().map(|r| r.volga).collect::<Vec<_>>()));
            col!("charm", |w| w
                .opt_f64s(&m.iter().map(|r| r.charm_per_year).collect::<Vec<_>>()));
            col!("speed", |w| w.opt_f64s(&m.iter().map(|r| r.speed).collect::<Vec<_>>()));
            col!("t_years", |w| w.f64s(m.iter().map(|r| r.t_years)));
            col!("texts", |w| {
                w.strs(m.iter().map(|r| r.forward_source.as_str()));
                w.opt_strs(&m.iter().map(|r| r.price_source.as_deref()).collect::<Vec<_>>());
                w.opt_strs(&m.iter().map(|r| r.iv_error.as_deref()).collect::<Vec<_>>());
                w.strs(m.iter().map(|r| r.model.as_str()));
                w.f64s(m.iter().map(|r| r.rate));
                w.strs(m.iter().map(|r| r.time_basis.as_str()));
            });
        }
        for (k, v) in &tot {
            println!("greeks {k:>14}: {:.2} B/row", *v as f64 / n_all as f64);
        }
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT underlying, expiry, option_right, level, day_ms, refs, pack, (SELECT c.pack FROM signal_chain_packs c \
                 WHERE c.underlying = p.underlying AND c.expiry = p.expiry AND c.day_ms = p.day_ms) AS chain \
                 FROM signal_moneyness_packs p",
            ))
            .await
            .unwrap();
        let mut tot = std::collections::BTreeMap::<&str, usize>::new();
        let mut n_all = 0;
        for r in &rows {
            let s = LevelSeries {
                underlying: r.try_get("", "underlying").unwrap(),
                expiry: r.try_get("", "expiry").unwrap(),
                option_right: r.try_get("", "option_right").unwrap(),
                level: r.try_get("", "level").unwrap(),
            };
            let p: Vec<u8> = r.try_get("", "pack").unwrap();
            let day: i64 = r.try_get("", "day_ms").unwrap();
            let refs: Vec<String> = r.try_get("", "refs").unwrap();
            let chain: Option<Vec<u8>> = r.try_get("", "chain").unwrap();
            let referred = Referred {
                options: refs.iter().map(|k| days[&(k.clone(), day)].clone()).collect(),
                chain: chain.map(|c| ChainDay::unpack(&c).unwrap()).unwrap_or_default(),
            };
            let m = unpack_moneyness(&s, &p, &referred).unwrap();
            let n = m.len();
            *tot.entry("(as packed, all columns)").or_default() += p.len();
            n_all += n;
            macro_rules! col { ($name:literal, $e:expr) => { *tot.entry($name).or_default() += size($e, n); } }
            col!("counts", |w| {
                w.i32s(m.iter().map(|r| r.count));
                w.i32s(m.iter().map(|r| r.count_with_iv));
            });
            col!("mean_iv", |w| w
                .opt_f64s(&m.iter().map(|r| r.mean_iv).collect::<Vec<_>>()));
            col!("delta", |w| w.f64s(m.iter().map(|r| r.delta)));
            col!("gamma", |w| w.f64s(m.iter().map(|r| r.gamma)));
            col!("theta", |w| w.f64s(m.iter().map(|r| r.theta_per_year)));
            col!("vega", |w| w.f64s(m.iter().map(|r| r.vega_per_unit)));
            col!("rho", |w| w.f64s(m.iter().map(|r| r.rho_per_unit)));
            col!("vanna", |w| w.f64s(m.iter().map(|r| r.vanna)));
            col!("volga", |w| w.f64s(m.iter().map(|r| r.volga)));
            col!("charm", |w| w.f64s(m.iter().map(|r| r.charm_per_year)));
            col!("speed", |w| w.f64s(m.iter().map(|r| r.speed)));
            col!("volume", |w| w.f64s(m.iter().map(|r| r.total_volume)));
            col!("oi", |w| w.f64s(m.iter().map(|r| r.total_oi)));
            col!("atm_iv", |w| w
                .opt_f64s(&m.iter().map(|r| r.atm_iv).collect::<Vec<_>>()));
            col!("chain", |w| {
                w.opt_f64s(&m.iter().map(|r| r.chain_forward).collect::<Vec<_>>());
                w.opt_f64s(&m.iter().map(|r| r.chain_t_years).collect::<Vec<_>>());
                w.opt_f64s(&m.iter().map(|r| r.chain_spot).collect::<Vec<_>>());
            });
        }
        for (k, v) in &tot {
            println!("moneyness {k:>10}: {:.2} B/row", *v as f64 / n_all as f64);
        }
        println!("moneyness rows {n_all}, packs {}", rows.len());
    }
}
