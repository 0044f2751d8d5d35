#!/usr/bin/env python3
"""How SQLite's cost of storing one minute of per-option rows grows with the history, for two
layouts (figures in docs/benchmarks.md, "Ingest: the live feed").

  python3 scripts/sqlite-layout-probe.py

- direct: 640 Greeks-shaped rows a minute upserted into a table keyed (instrument, minute), as
  the service's history tables are: each minute dirties about one B-tree leaf per instrument.
- two-tier: the same rows upserted into a table keyed (minute, instrument), where they append,
  and moved into the (instrument, minute) table in key order every N minutes.

Prints the mean cost per simulated minute over each 40 minutes of a 4-hour run (WAL,
synchronous = NORMAL, as the service runs SQLite). Uses Python's bundled sqlite3 module, so the
figures are the engine's plus a small binding cost, not the service's.
"""
import os
import sqlite3
import tempfile
import time

MINUTES = 240
KEYS = [f"NSE:NIFTY-20260224-{25000 + 50 * i}-{r}" for i in range(320) for r in ("CE", "PE")]
COLS = [f"c{i}" for i in range(18)]


def connect(path):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("pragma journal_mode=wal")
    c.execute("pragma synchronous=normal")
    cols = ", ".join(f"{n} double" for n in COLS)
    c.execute(f"create table g (k text not null, m integer not null, {cols}, primary key (k, m))")
    c.execute(f"create table r (m integer not null, k text not null, {cols}, primary key (m, k))")
    return c


def run(compact_every):
    with tempfile.TemporaryDirectory() as d:
        c = connect(os.path.join(d, "probe.db"))
        marks = ",".join("?" * len(COLS))
        names = ", ".join(COLS)
        if compact_every is None:
            q = f"insert into g values (?, ?, {marks}) on conflict (k, m) do update set c0 = excluded.c0"
        else:
            q = f"insert into r values (?, ?, {marks}) on conflict (m, k) do update set c0 = excluded.c0"
        times = []
        for m in range(MINUTES):
            rows = [((k, m * 60_000) if compact_every is None else (m * 60_000, k)) + (1.5,) * len(COLS) for k in KEYS]
            t = time.perf_counter()
            c.execute("begin")
            c.executemany(q, rows)
            c.execute("commit")
            if compact_every is not None and (m + 1) % compact_every == 0:
                c.execute("begin")
                c.execute(
                    f"insert into g (k, m, {names}) select k, m, {names} from r order by k, m "
                    "on conflict (k, m) do update set c0 = excluded.c0"
                )
                c.execute("delete from r")
                c.execute("commit")
            times.append(time.perf_counter() - t)
        c.close()
    label = "direct" if compact_every is None else f"two-tier, moved every {compact_every} min"
    means = " ".join(f"{1000 * sum(times[i:i + 40]) / 40:.1f}" for i in range(0, MINUTES, 40))
    print(f"{label:32} {means}  ms per minute of {len(KEYS)} rows (40-minute means)")


if __name__ == "__main__":
    run(None)
    for every in (15, 30, 60):
        run(every)
