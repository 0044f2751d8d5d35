//! One batch's durable bar write on the embedded SQLite store, alone: 642 instruments' bars of
//! the same minute upserted (the forming bars of a live feed, updated every second).
//!
//! Run: `cargo bench -p bench --bench store_write`.

use std::time::{Duration as StdDuration, Instant};

use adapters::outbound::store::SeaStore;
use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domain::candles::Bar;
use domain::instrument::InstrumentKey;
use domain::ports::{InstrumentCandle, SignalStore};
use migration::{Migrator, MigratorTrait};

fn bars(minute: i64, second: i64) -> Vec<InstrumentCandle> {
    let start = Utc.with_ymd_and_hms(2026, 2, 2, 3, 45, 0).unwrap() + Duration::minutes(minute);
    (0..642)
        .map(|i| {
            let px = 100.0 + i as f64 + second as f64 * 0.01;
            InstrumentCandle {
                key: InstrumentKey::parse(&format!("NSE:OPT{i:04}")).unwrap(),
                bar: Bar::ohlcv(start, px, px + 1.0, px - 1.0, px, 10.0 + second as f64),
            }
        })
        .collect()
}

fn store_write(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("store-write-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/signal.db?mode=rwc", dir.display());
    let store = rt.block_on(async {
        let s = SeaStore::connect(&url).await.unwrap();
        Migrator::up(s.connection(), None).await.unwrap();
        // A morning of history first, so the tables are not trivially small.
        for m in 0..120 {
            s.save_candles(&bars(m, 0)).await.unwrap();
        }
        s
    });
    let mut g = c.benchmark_group("store_write");
    g.throughput(Throughput::Elements(642));
    g.sample_size(20);
    let mut second = 0i64;
    g.bench_function("642_forming_bars_of_one_minute", |b| {
        b.iter_custom(|iters| {
            let mut spent = StdDuration::ZERO;
            for _ in 0..iters {
                second += 1;
                let batch = bars(120 + second / 60, second);
                let t = Instant::now();
                rt.block_on(store.save_candles(&batch)).unwrap();
                spent += t.elapsed();
            }
            spent
        });
    });
    g.finish();
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group!(benches, store_write);
criterion_main!(benches);
