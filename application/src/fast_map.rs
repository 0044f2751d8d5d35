//! Hash maps of the hot path (instrument keys, topics), hashed with foldhash instead of the
//! standard library's SipHash: every tick looks an instrument up several times, and SipHash
//! was about 5 % of the ingest's CPU in perf (docs/benchmarks.md). foldhash is seeded per
//! process, so the keys clients choose (topics) cannot be crafted to collide offline.

/// A `HashMap` with foldhash's per-process random seed.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` with foldhash's per-process random seed.
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
