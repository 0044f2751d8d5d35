#!/usr/bin/env python3
"""A trading desk's screens against `serve`, and the aggregate cache's hit rate they get.

Starts `serve` on the embedded default (a temporary SQLite file, a free port), stores the week
before the simulated session as 1-minute candles of NIFTY and BANKNIFTY (five sessions through
the REST ingest), then runs CLIENTS screens for SECONDS: each polls, once a second, the nearest
chain, 5- and 15-minute candles over the week, and RSI(14) on 15-minute bars over the week, as
a desk's charts refresh (the week up to the simulated session: see `screen`). The hit rate is read from `/metrics` (`signal_aggregate_cache_hits_total`
and `_misses_total`), in steady state: the counts after a warm-up of WARMUP seconds, minus the
counts at its end.

Usage: scripts/desk-workload.py [--clients 8] [--seconds 180] [--warmup 10] [BIN]
CI runs a short form (`--seconds 20`); docs/benchmarks.md holds a long run's figure.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import free_port  # noqa: E402
from harness import call as harness_call  # noqa: E402


def call(url, body=None):
    return harness_call(url, body, timeout=30)


IST = dt.timezone(dt.timedelta(hours=5, minutes=30))




def cache_counters(base):
    """Every `signal_aggregate_cache_*` sample, by its name without the prefix."""
    _, text = call(f"{base}/metrics")
    prefix = "signal_aggregate_cache_"
    return {
        line.split()[0][len(prefix):]: float(line.split()[1])
        for line in text.decode().splitlines()
        if line.startswith(prefix)
    }


def counters(base):
    c = cache_counters(base)
    return c["hits_total"], c["misses_total"]


def sessions_before(day, n):
    """The n weekdays before `day` (holidays are refused per row and simply not stored)."""
    out, d = [], day
    while len(out) < n:
        d -= dt.timedelta(days=1)
        if d.weekday() < 5:
            out.append(d)
    return sorted(out)


def store_week(base, day):
    stored = 0
    for key, level in (("NSE:NIFTY", 26000.0), ("NSE:BANKNIFTY", 59000.0)):
        for d in sessions_before(day, 5):
            open_ = dt.datetime.combine(d, dt.time(9, 15), IST)
            rows = []
            for m in range(375):
                px = level + (m % 23) - (m % 7)
                rows.append({"key": key, "start": (open_ + dt.timedelta(minutes=m)).isoformat(),
                             "open": px, "high": px + 3, "low": px - 3, "close": px + 1, "volume": 100})
            status, body = call(f"{base}/api/v2/ingest/candles", json.dumps(rows).encode())
            if status != 200:
                sys.exit(f"storing {key} {d}: {status} {body[:300]}")
            stored += json.loads(body)["accepted"]
    return stored


def screen(base, day, stop, errors):
    # The week up to the simulated session, not into it: the simulated market replays its last
    # session on the wall clock's later day, so that session counts as closed while its bars keep
    # arriving (each one drops the day from the cache). Live, today's session is open and read
    # through the table, outside the cache, as here.
    week, day = (day - dt.timedelta(days=8)).isoformat(), (day - dt.timedelta(days=1)).isoformat()
    paths = [
        "/api/v2/realtime/chain/NSE:NIFTY",
        f"/api/v2/historical/candles/NSE:NIFTY?from={week}&to={day}&timeframe=5m&limit=5000",
        f"/api/v2/historical/candles/NSE:BANKNIFTY?from={week}&to={day}&timeframe=15m&limit=5000",
        f"/api/v2/historical/indicators/NSE:NIFTY/rsi:14?from={week}&to={day}&timeframe=15m&limit=5000",
    ]
    while not stop.is_set():
        started = time.time()
        for p in paths:
            status, body = call(base + p)
            if status != 200:
                errors.append(f"{p}: {status} {body[:200]}")
        stop.wait(max(0.0, 1.0 - (time.time() - started)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=180)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--goal", type=float, default=0.99)
    ap.add_argument("bin", nargs="?", default=os.path.join(ROOT, "target/debug/signal-service"))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="signal-desk-")
    port = free_port()
    env = dict(os.environ, SIGNAL__SERVER__HOST="127.0.0.1", SIGNAL__SERVER__PORT=str(port),
               SIGNAL__DATABASE__URL=f"sqlite://{work}/signal.db?mode=rwc")
    log = open(os.path.join(work, "serve.log"), "w")
    serve = subprocess.Popen([os.path.abspath(a.bin), "serve"], cwd=work, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if call(f"{base}/api/v2/realtime/chain/NSE:NIFTY")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        _, chain = call(f"{base}/api/v2/realtime/chain/NSE:NIFTY")
        day = dt.date.fromisoformat(json.loads(chain)["meta"]["as_of"][:10])
        stored = store_week(base, day)
        stop, errors = threading.Event(), []
        threads = [threading.Thread(target=screen, args=(base, day, stop, errors)) for _ in range(a.clients)]
        for t in threads:
            t.start()
        time.sleep(a.warmup)
        h0, m0 = counters(base)
        time.sleep(a.seconds)
        h1, m1 = counters(base)
        stop.set()
        for t in threads:
            t.join()
        hits, misses = h1 - h0, m1 - m0
        rate = hits / (hits + misses) if hits + misses else float("nan")
        print(f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} desk workload: {a.clients} screens, "
              f"{a.seconds} s after a {a.warmup} s warm-up, the week before {day} ({stored} candles stored)")
        print(f"aggregate cache: {hits:.0f} hits, {misses:.0f} misses in steady state: hit rate {rate:.4%} "
              f"(goal {a.goal:.0%}); since start {h1:.0f} hits, {m1:.0f} misses")
        others = {k: int(v) for k, v in cache_counters(base).items() if k not in ("hits_total", "misses_total")}
        print("aggregate cache, since start: " + ", ".join(f"{k} {v}" for k, v in sorted(others.items())))
        if errors:
            sys.exit(f"FAILED: {len(errors)} errors, first: {errors[0]}")
        if not rate >= a.goal:
            sys.exit(f"FAILED: hit rate {rate:.4%} under the goal {a.goal:.0%}")
    finally:
        serve.terminate()
        serve.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
