#!/usr/bin/env python3
"""A rolling restart under load, on this machine, with the real binary (issue 17).

Starts a PostgreSQL and a Redis of its own (temporary directories, free ports), migrates, runs two
instances in production mode behind HAProxy (Debian's package, docker/haproxy/haproxy.cfg with its
server lines pointed at them), and puts steady load through HAProxy:

- REST reads (`/api/v2/realtime/greeks/{key}`, and `/health/live`) at `--reads` per second;
- `--subscribers` WebSocket clients through HAProxy, each following one `greeks:` topic,
  reconnecting on close after the server's hint and resuming from the last (epoch, seq) they saw
  (HAProxy sends them to the instance still running);
- `--direct` more such clients connected to one instance's own port, half to each: when their
  instance stops they reconnect to the same port, so they resume on the new process, started
  after the updates they missed (it answers from the resume history shared through Redis);
- ingest: a batch (the index and `--options` options) every 200 ms, with the API key; a batch
  answered 503 or cut off is retried (the client's documented retry).

After a steady phase it replaces each instance in turn (SIGTERM, wait for the exit, start a new
process on the same port, wait until it is ready), `--rounds` times, then stops the load and
reports:

- HTTP reads that did not end in a 2xx (by status), and ingest batches that never did;
- WebSocket updates lost: a resumed topic whose next update is not seq + 1 of the same epoch, or
  a snapshot/resync instead of the missed updates;
- accepted ingest rows missing from the database: each (instrument, minute) accepted must hold
  the last accepted price as its 1-minute bar's close;
- read latency p50/p99 in the steady phase and during the rollout.

`--from-binary OLD` makes it an upgrade: the instances start as the previous release OLD (on a
database OLD migrated), this release's `migrate up` runs while they serve (the migration Job
before a rollout), and each replacement starts `--binary`: the rollout moves every instance from
OLD to this release, and OLD keeps serving on the new schema meanwhile.

Exit 0 when nothing failed, 1 otherwise. Needs: PostgreSQL 15's server binaries, redis-server,
haproxy, a Python with `websockets`.

Usage: scripts/rollout-test.py [--binary target/release/signal-service] [--rounds 2]
       [--subscribers 1000] [--direct 200] [--reads 300] [--steady 15] [--from-binary OLD]
"""

import argparse
import asyncio
import datetime as dt
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import free_port, status_of, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_BIN = "/usr/lib/postgresql/15/bin"
API_KEY = "rollout-key"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))



def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)




# ---------------------------------------------------------------------------------------------
# The parts: PostgreSQL, Redis, the instances, HAProxy.

class Postgres:
    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        self.port = free_port()
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postgres", "postgres")
        self.as_pg(f"{PG_BIN}/initdb -D {self.dir} -A trust -U postgres >/dev/null")
        self.as_pg(f"{PG_BIN}/pg_ctl -D {self.dir} -l {self.dir}/log -w -o "
                   f"'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200' start >/dev/null")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def as_pg(cmd):
        subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", cmd], check=True)

    def query(self, sql):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-At", "-F", "\t",
                            "-c", sql], capture_output=True, text=True, check=True)
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def stop(self):
        self.as_pg(f"{PG_BIN}/pg_ctl -D {self.dir} -m fast stop >/dev/null 2>&1 || true")


class Instance:
    def __init__(self, name, binary, work, env):
        self.name, self.binary, self.work, self.env = name, binary, work, env
        self.port = free_port()
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        logf = open(os.path.join(self.work, f"{self.name}-{self.starts}.log"), "w")
        env = dict(self.env, SIGNAL__SERVER__PORT=str(self.port))
        self.proc = subprocess.Popen([self.binary, "serve"], env=env, stdout=logf, stderr=logf, cwd=self.work)
        wait_for(f"{self.name} ready", lambda: status_of(f"http://127.0.0.1:{self.port}/health/ready") == 200, 60)

    def stop(self):
        """SIGTERM; the seconds until it exited, its exit code, and whether it logged that its
        pending snapshots were written (the drain's last step)."""
        t = time.time()
        self.proc.terminate()
        code = self.proc.wait(60)
        took = time.time() - t
        with open(os.path.join(self.work, f"{self.name}-{self.starts}.log")) as f:
            flushed = "stopped; pending snapshots written" in f.read()
        return took, code, flushed


class Haproxy:
    def __init__(self, work, instances):
        self.port = free_port()
        cfg = open(os.path.join(ROOT, "docker/haproxy/haproxy.cfg")).read()
        cfg = cfg.replace("bind :8080", f"bind 127.0.0.1:{self.port}")
        # Within this process's descriptor limit (HAProxy needs two per connection).
        cfg = cfg.replace("maxconn 20000", "maxconn 5000")
        lines = [l for l in cfg.splitlines() if not l.strip().startswith("server ")]
        lines += [f"    server {i.name} 127.0.0.1:{i.port} check" for i in instances]
        path = os.path.join(work, "haproxy.cfg")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(["haproxy", "-f", path, "-db"], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(work, "haproxy.log"), "w"))
        wait_for("haproxy", lambda: status_of(f"http://127.0.0.1:{self.port}/health/live") == 200, 60)


# ---------------------------------------------------------------------------------------------
# The load.

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reads = []  # (t, status, seconds)
        self.ingest_batches = 0
        self.ingest_retries = 0
        self.ingest_failed = 0
        self.accepted = {}  # (key, minute_ms) -> last accepted price
        self.accepted_rows = 0
        self.ws_updates = 0
        self.ws_reconnects = 0
        self.ws_lost = []  # (group, topic, why)
        self.ws_resumes_ok = {"balanced": 0, "direct": 0}
        self.ws_hinted = 0


def last_session_open(now):
    """The latest weekday's 09:15 IST before today (the ingest's market time runs from there)."""
    holidays = set()
    for line in open(os.path.join(ROOT, "domain/calendars/nse.csv")):
        parts = line.split(",")
        if parts[0] == "holiday":
            holidays.add(parts[1])
    d = now.astimezone(IST).date()
    while True:
        d -= dt.timedelta(days=1)
        if d.weekday() < 5 and d.isoformat() not in holidays:
            return dt.datetime.combine(d, dt.time(9, 15), IST)


def options_near_atm(base, n):
    with urllib.request.urlopen(f"{base}/api/v2/instruments/NSE:NIFTY/chain") as r:
        chain = json.load(r)
    strikes = chain["strikes"]
    mid = min(range(len(strikes)), key=lambda i: abs(strikes[i]["strike"] - 26000))
    keys = []
    for s in strikes[max(0, mid - n // 4): mid + n // 4 + 1]:
        keys += [s["call"]["key"], s["put"]["key"]]
    return keys[:n]


def ingest_loop(base, options, stats, stop, start_ts):
    host, port = base.replace("http://", "").split(":")
    conn = None
    k = 0
    while not stop.is_set():
        ts = start_ts + dt.timedelta(milliseconds=200 * k)
        k += 1
        spot = 26000 + 20 * (k % 50) / 50
        rows = [{"key": "NSE:NIFTY", "ts": ts.isoformat(), "last": round(spot, 2)}]
        for i, key in enumerate(options):
            strike = float(key.split("-")[2])
            intrinsic = max(0.0, spot - strike) if key.endswith("CE") else max(0.0, strike - spot)
            px = round(intrinsic + 80 + (k % 7) + i * 0.05, 2)
            rows.append({"key": key, "ts": ts.isoformat(), "last": px, "bid": round(px - 0.5, 2),
                         "ask": round(px + 0.5, 2), "volume": 10, "oi": 1000})
        body = json.dumps(rows)
        for attempt in range(40):
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, int(port), timeout=10)
                conn.request("POST", "/api/v2/ingest/ticks", body,
                             {"content-type": "application/json", "x-api-key": API_KEY})
                r = conn.getresponse()
                answer = r.read()
                if r.status == 200:
                    report = json.loads(answer)
                    rejected = {x["index"] for x in report.get("rejected", [])}
                    with stats.lock:
                        stats.ingest_batches += 1
                        for i, row in enumerate(rows):
                            if i in rejected:
                                continue
                            minute = int(dt.datetime.fromisoformat(row["ts"]).timestamp() // 60 * 60_000)
                            stats.accepted[(row["key"], minute)] = row["last"]
                            stats.accepted_rows += 1
                    break
                stats.ingest_retries += 1
                time.sleep(float(r.getheader("retry-after") or 0.2))
            except (OSError, http.client.HTTPException):
                stats.ingest_retries += 1
                conn = None
                time.sleep(0.2)
        else:
            stats.ingest_failed += 1
        time.sleep(max(0.0, 0.2 - 0.01))


def read_loop(base, keys, stats, stop, per_second):
    host, port = base.replace("http://", "").split(":")
    conn = None
    gap = 1.0 / per_second
    nxt = time.time()
    while not stop.is_set():
        path = f"/api/v2/realtime/greeks/{random.choice(keys)}"
        t = time.time()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            status = r.status
            if r.getheader("connection", "").lower() == "close":
                conn = None
        except (OSError, http.client.HTTPException) as e:
            status = f"error: {type(e).__name__}"
            conn = None
        with stats.lock:
            stats.reads.append((t, status, time.time() - t))
        nxt += gap
        time.sleep(max(0.0, nxt - time.time()))


async def subscriber(url, topic, stats, stop, group):
    position = None  # (epoch, seq)
    while not stop.is_set():
        try:
            async with websockets.connect(url, open_timeout=10, max_queue=None) as ws:
                req = {"action": "subscribe", "topics": [topic]}
                if position:
                    req["resume"] = {topic: {"epoch": position[0], "seq": position[1]}}
                await ws.send(json.dumps(req))
                resumed = position is not None
                while not stop.is_set():
                    try:
                        msg = json.loads(await asyncio.wait_for(ws.recv(), 1))
                    except asyncio.TimeoutError:
                        continue
                    if msg.get("type") != "data":
                        continue
                    frame, epoch, seq = msg.get("frame"), msg.get("epoch"), msg.get("seq")
                    if frame == "update":
                        if position and (epoch != position[0] or seq != position[1] + 1):
                            stats.ws_lost.append((group, topic, f"after {position} came {(epoch, seq)}"))
                        elif resumed and position:
                            stats.ws_resumes_ok[group] += 1
                        resumed = False
                        position = (epoch, seq)
                        stats.ws_updates += 1
                    elif frame in ("snapshot", "resync"):
                        # A resync always follows lost updates; a snapshot does after a resume.
                        if resumed or frame == "resync":
                            stats.ws_lost.append((group, topic, f"{frame} (epoch {epoch}, seq {seq}) instead of the updates after {position}"))
                        resumed = False
                        position = (epoch, seq) if seq else None
        except websockets.exceptions.ConnectionClosed as e:
            # The server's hint: `…; reconnect_after_ms=N` (docs/websocket.md, Shutdown).
            reason = e.rcvd.reason if e.rcvd else ""
            wait = reason.rsplit("reconnect_after_ms=", 1)[-1] if "reconnect_after_ms=" in reason else None
            stats.ws_hinted += wait is not None
            delay = int(wait) / 1000 if wait and wait.isdigit() else random.uniform(0.1, 0.6)
            if not stop.is_set():
                stats.ws_reconnects += 1
                await asyncio.sleep(delay)
            continue
        except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError):
            pass
        if not stop.is_set():
            stats.ws_reconnects += 1
            await asyncio.sleep(random.uniform(0.1, 0.6))


def ws_thread(clients, topics, stats, stop, ready):
    """`clients`: (url, group) per subscriber."""
    async def main():
        tasks = []
        for i, (url, group) in enumerate(clients):
            tasks.append(asyncio.create_task(subscriber(url, f"greeks:{topics[i % len(topics)]}", stats, stop, group)))
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    asyncio.run(main())


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True).stdout


def percentile(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/signal-service"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--direct", type=int, default=200)
    ap.add_argument("--reads", type=int, default=300)
    ap.add_argument("--options", type=int, default=20)
    ap.add_argument("--steady", type=float, default=15)
    ap.add_argument("--from-binary", help="start as this (previous) release, roll out --binary")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    first = os.path.abspath(args.from_binary) if args.from_binary else args.binary

    work = tempfile.mkdtemp(prefix="signal-rollout-")
    os.chmod(work, 0o755)
    pg = redis = proxy = None
    instances = []
    stop = threading.Event()
    try:
        pg = Postgres(work)
        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no"], stdout=subprocess.DEVNULL)
        env = dict(os.environ, SIGNAL__MODE="production", SIGNAL__SERVER__HOST="127.0.0.1",
                   SIGNAL__DATABASE__URL=pg.url, SIGNAL__REDIS__URL=f"redis://127.0.0.1:{redis_port}",
                   SIGNAL__INGEST__API_KEYS=API_KEY, SIGNAL__FEED__ENABLED="false",
                   SIGNAL__RATE_LIMIT__ENABLED="false", SIGNAL__SERVER__DRAIN_DELAY_MS="3000",
                   SIGNAL__LOG__FORMAT="text")
        subprocess.run([first, "migrate", "up"], env=env, check=True, capture_output=True)
        instances = [Instance("a", first, work, env), Instance("b", first, work, env)]
        for i in instances:
            i.start()
        proxy = Haproxy(work, instances)
        base = f"http://127.0.0.1:{proxy.port}"
        log(f"PostgreSQL :{pg.port}, Redis :{redis_port}, instances :{instances[0].port} :{instances[1].port}, "
            f"HAProxy :{proxy.port}; binary {first}")

        options = options_near_atm(base, args.options)
        stats = Stats()
        start_ts = last_session_open(dt.datetime.now(dt.timezone.utc))
        threads = [threading.Thread(target=ingest_loop, args=(base, options, stats, stop, start_ts), daemon=True)]
        ready = threading.Event()
        path = "/api/v2/subscriptions/websocket"
        clients = [(base.replace("http", "ws", 1) + path, "balanced")] * args.subscribers
        clients += [(f"ws://127.0.0.1:{instances[i % 2].port}{path}", "direct") for i in range(args.direct)]
        threads.append(threading.Thread(target=ws_thread, args=(clients, options, stats, stop, ready), daemon=True))
        for t in threads:
            t.start()
        ready.wait(60)
        time.sleep(3)  # every option quoted on both instances' ingest before reads start
        readers = 6
        for _ in range(readers):
            t = threading.Thread(target=read_loop, args=(base, options, stats, stop, args.reads / readers), daemon=True)
            t.start()
            threads.append(t)

        steady_from = time.time()
        time.sleep(args.steady)
        if first != args.binary:
            # The migration Job of the new release, while the previous one serves.
            m = subprocess.run([args.binary, "migrate", "up"], env=env, capture_output=True, text=True)
            log(f"this release's migrate up while {first} serves: exit {m.returncode}")
            if m.returncode != 0:
                print(m.stdout + m.stderr)
                return 1
            for inst in instances:
                inst.binary = args.binary
        rollout_from = time.time()
        log(f"steady phase done; rolling: {args.rounds} round(s) over {len(instances)} instances")
        stops = []
        for rnd in range(args.rounds):
            for inst in instances:
                took, code, flushed = inst.stop()
                stops.append((inst.name, took, code, flushed))
                log(f"round {rnd + 1}: {inst.name} stopped in {took:.1f} s (exit {code}); starting again")
                inst.start()
                log(f"round {rnd + 1}: {inst.name} ready")
                time.sleep(5)
        rollout_to = time.time()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(15)
        time.sleep(1)

        # The database: each accepted (instrument, minute) holds the last accepted price.
        rows = pg.query("SELECT instrument_key, start_ms, close FROM candles_1m")
        stored = {(k, int(m)): float(c) for k, m, c in rows}
        missing = [(k, m, p) for (k, m), p in stats.accepted.items() if stored.get((k, m)) is None]
        wrong = [(k, m, p, stored[(k, m)]) for (k, m), p in stats.accepted.items()
                 if (k, m) in stored and abs(stored[(k, m)] - p) > 1e-9]

        def window(a, b):
            return [r for r in stats.reads if a <= r[0] < b]

        steady, rolling = window(steady_from, rollout_from), window(rollout_from, rollout_to)
        failed = [r for r in stats.reads if not (isinstance(r[1], int) and 200 <= r[1] < 300)]
        by_status = {}
        for r in failed:
            by_status[str(r[1])] = by_status.get(str(r[1]), 0) + 1
        ok = lambda rs: [r[2] * 1000 for r in rs if isinstance(r[1], int) and r[1] < 300]
        print()
        print(f"reads: {len(stats.reads)} ({len(stats.reads) / (rollout_to + 3 - steady_from):.0f}/s), "
              f"failed {len(failed)} {by_status}")
        print(f"read latency steady: p50 {percentile(ok(steady), 0.5):.2f} ms, p99 {percentile(ok(steady), 0.99):.2f} ms "
              f"({len(steady)} reads); during the rollout: p50 {percentile(ok(rolling), 0.5):.2f} ms, "
              f"p99 {percentile(ok(rolling), 0.99):.2f} ms ({len(rolling)} reads)")
        print(f"ingest: {stats.ingest_batches} batches answered 200, {stats.accepted_rows} rows accepted, "
              f"{stats.ingest_retries} retries (503 or cut off), {stats.ingest_failed} batches never accepted")
        print(f"database: {len(stats.accepted)} accepted (instrument, minute) bars; missing {len(missing)}, "
              f"wrong close {len(wrong)}")
        breaks = lambda g: len([b for b in stats.ws_lost if b[0] == g])
        print(f"websocket: {args.subscribers} + {args.direct} subscribers, {stats.ws_updates} updates, "
              f"{stats.ws_reconnects} reconnects, {stats.ws_hinted} closes with a reconnect hint")
        print(f"  through HAProxy (resumed on a running instance): {stats.ws_resumes_ok['balanced']} resumes continued "
              f"exactly, {breaks('balanced')} breaks")
        print(f"  direct (resumed on the instance started after the updates they missed): "
              f"{stats.ws_resumes_ok['direct']} resumes continued exactly, {breaks('direct')} breaks")
        for group, topic, why in stats.ws_lost[:5]:
            print(f"  {group} {topic}: {why}")
        keys = redis_cli(redis_port, "--scan", "--pattern", "signal:fanout:history:*").split()
        memory = dict(l.split(":", 1) for l in redis_cli(redis_port, "info", "memory").splitlines() if ":" in l)
        print(f"redis: {len(keys)} topic histories, used_memory {int(memory['used_memory']) / 2**20:.1f} MiB")
        print("instance stops: " + ", ".join(f"{n} {t:.1f} s exit {c}{'' if w else ' (snapshots not written)'}"
                                             for n, t, c, w in stops) + "; each logged its pending snapshots written"
              * all(w for *_, w in stops))
        bad = (failed or missing or wrong or stats.ws_lost or stats.ingest_failed
               or any(c != 0 or not w for _, _, c, w in stops))
        print("rollout test: " + ("FAILED" if bad else "passed"))
        return 1 if bad else 0
    finally:
        stop.set()
        for i in instances:
            if i.proc and i.proc.poll() is None:
                i.proc.kill()
        if proxy:
            proxy.proc.kill()
        if redis:
            redis.kill()
        if pg:
            pg.stop()
        if os.environ.get("KEEP_WORK"):
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
