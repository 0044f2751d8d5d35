#!/usr/bin/env python3
"""The metrics, the dashboard and the alert rules, checked against the running service.

Starts `serve` with the simulated market on the production topology — a fresh PostgreSQL
database, Redis for the fan-out, the mapping cache and the stream consumer, under a key prefix of
its own — so every series a production instance exposes is there (on a machine with neither, and
`CI` unset, it falls back to the embedded default and says so). It sends the traffic a desk would
(realtime and historical reads, WebSocket subscriptions, an ingest batch with one bad row), then:

1. `promtool check metrics` on a live scrape (Prometheus text 0.0.4): clean;
2. starts a real Prometheus (a temporary directory, a free port, a scrape every second of that
   `serve`, the alert rules of docker/prometheus/alerts.yml) and waits for two scrapes;
3. runs every panel query of docker/grafana/dashboards/signal-service.json and every alert
   expression through Prometheus's HTTP API: each must be valid and name only series the
   service exposes; the KPI panels (the first row) must return data.

Needs `prometheus` and `promtool` (Debian's `prometheus` package; .ci/run installs it), and a
Python with `websockets` and `yaml` (the CI venv, target/ci-venv). Exits non-zero on the first
failure, naming it.

Usage: scripts/observability-check.py [BIN]   (default target/debug/signal-service)
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import websockets
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import call, fail, free_port, wait_for  # noqa: E402


def get(url, headers=None):
    status, body = call(url, headers=headers)
    return status, body.decode()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))






async def websocket_traffic(base, key, seconds=3):
    url = base.replace("http", "ws", 1) + "/api/v2/subscriptions/websocket"
    async with websockets.connect(url) as ws:
        topics = ["chain:NSE:NIFTY", "atm_iv:NSE:NIFTY", f"greeks:{key}", "not:a:topic"]
        await ws.send(json.dumps({"action": "subscribe", "topics": topics}))
        end = time.time() + seconds
        while time.time() < end:
            try:
                await asyncio.wait_for(ws.recv(), 1)
            except asyncio.TimeoutError:
                pass


def traffic(base):
    status, chain = get(f"{base}/api/v2/realtime/chain/NSE:NIFTY")
    if status != 200:
        fail(f"the chain: {status} {chain}")
    chain = json.loads(chain)
    as_of = chain["meta"]["as_of"]
    day = as_of[:10]
    key = next(s["call"]["instrument_key"] for s in chain["strikes"] if s["strike"] == chain["meta"]["atm_strike"])
    for _ in range(20):
        get(f"{base}/api/v2/realtime/greeks/{key}")
        get(f"{base}/api/v2/realtime/chain/NSE:NIFTY/stats")
        get(f"{base}/api/v2/historical/candles/NSE:NIFTY?from={day}&to={day}&timeframe=5m")
    get(f"{base}/api/v2/realtime/greeks/NSE:NOPE")
    body = json.dumps([{"key": "NSE:NIFTY", "ts": as_of, "last": 26000}, {"key": "NSE:NIFTY", "ts": "x", "last": 1}])
    req = urllib.request.Request(f"{base}/api/v2/ingest/ticks", data=body.encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    urllib.request.urlopen(req, timeout=10).read()
    asyncio.run(websocket_traffic(base, key))


def names_in(expr):
    """The metric names an expression reads (not functions, labels or keywords)."""
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {w for w in words if w.startswith(("signal_", "process_")) or w == "up"}


def production_topology(work):
    """Settings for a fresh PostgreSQL database and a Redis key prefix of this run's own, and the
    clean-up; None when neither answers on this machine (allowed only without CI)."""
    name = f"signal_observability_{os.getpid()}"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc"]
    try:
        made = subprocess.run(psql + [f"CREATE DATABASE {name}"], capture_output=True, text=True, timeout=30)
        redis = subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        made = redis = None
        why = str(e)
    if made is None or made.returncode != 0 or redis.stdout.strip() != "PONG":
        why = why if made is None else (made.stderr.strip() or redis.stdout.strip() or redis.stderr.strip())
        if os.environ.get("CI"):
            fail(f"PostgreSQL and Redis on 127.0.0.1 are needed under CI: {why}")
        print(f"note: no PostgreSQL and Redis here ({why}); checking the embedded default, without "
              "the Redis series")
        return {"SIGNAL__DATABASE__URL": f"sqlite://{work}/signal.db?mode=rwc"}, lambda: None
    prefix = f"signal-observability-{os.getpid()}:"
    env = {
        "SIGNAL__DATABASE__URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "SIGNAL__REDIS__URL": "redis://127.0.0.1:6379",
        "SIGNAL__REDIS__KEY_PREFIX": prefix,
        "SIGNAL__STREAMS__ENABLED": "true",
    }

    def clean():
        subprocess.run(psql + [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True, timeout=30)
        keys = subprocess.run(["redis-cli", "--scan", "--pattern", prefix + "*"], capture_output=True, text=True)
        for k in keys.stdout.split():
            subprocess.run(["redis-cli", "del", k], capture_output=True)

    print(f"ok: production topology: PostgreSQL database {name}, Redis prefix {prefix}")
    return env, clean


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/signal-service"))
    for tool in ("prometheus", "promtool"):
        if not shutil.which(tool):
            fail(f"{tool} not found (apt-get install prometheus)")
    work = tempfile.mkdtemp(prefix="signal-observability-")
    procs = []
    topology, clean = production_topology(work)
    try:
        port = free_port()
        env = dict(os.environ, SIGNAL__SERVER__HOST="127.0.0.1", SIGNAL__SERVER__PORT=str(port), **topology)
        log = open(os.path.join(work, "serve.log"), "w")
        procs.append(subprocess.Popen([binary, "serve"], cwd=work, env=env, stdout=log, stderr=log))
        base = f"http://127.0.0.1:{port}"
        wait_for("serve ready", lambda: get(f"{base}/health/ready")[0] == 200)
        wait_for("the first chain", lambda: get(f"{base}/api/v2/realtime/chain/NSE:NIFTY")[0] == 200)
        traffic(base)

        # 1. promtool on a live scrape.
        status, scrape = get(f"{base}/metrics")
        if status != 200:
            fail(f"/metrics answered {status}")
        checked = subprocess.run(["promtool", "check", "metrics"], input=scrape, text=True, capture_output=True)
        if checked.returncode != 0 or checked.stdout.strip() or checked.stderr.strip():
            fail(f"promtool check metrics:\n{checked.stdout}{checked.stderr}")
        exposed = {l.split(" ")[2] for l in scrape.splitlines() if l.startswith("# TYPE ")}
        series = {re.split(r"[{ ]", l)[0] for l in scrape.splitlines() if l and not l.startswith("#")}
        print(f"ok: promtool check metrics clean on a live scrape ({len(exposed)} metrics, {len(series)} series names)")

        # 2. A real Prometheus scraping it every second, with the alert rules.
        prom_port = free_port()
        shutil.copy(os.path.join(ROOT, "docker/prometheus/alerts.yml"), work)
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            yaml.safe_dump({
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": ["alerts.yml"],
                "scrape_configs": [{"job_name": "signal-service", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
            }, f)
        plog = open(os.path.join(work, "prometheus.log"), "w")
        procs.append(subprocess.Popen([
            "prometheus", f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/tsdb",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ], cwd=work, stdout=plog, stderr=plog))
        prom = f"http://127.0.0.1:{prom_port}"

        def query(q):
            status, body = get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
            return status, json.loads(body) if body.startswith("{") else {"error": body}

        def scrapes():
            status, r = query('count_over_time(up{job="signal-service"}[1m])')
            return status == 200 and r["data"]["result"] and float(r["data"]["result"][0]["value"][1]) >= 2

        wait_for("two scrapes by Prometheus", scrapes, seconds=60)
        traffic(base)  # more, between scrapes, so rates have two points
        time.sleep(3)
        print("ok: Prometheus scraped the service twice")

        # 3. Every panel query and alert expression.
        dashboard = json.load(open(os.path.join(ROOT, "docker/grafana/dashboards/signal-service.json")))
        rules = yaml.safe_load(open(os.path.join(ROOT, "docker/prometheus/alerts.yml")))
        exprs = []
        first_row = True
        for p in dashboard["panels"]:
            if p["type"] == "row":
                first_row = first_row and not exprs
                continue
            for t in p["targets"]:
                exprs.append((f"panel '{p['title']}'", t["expr"], first_row))
        for g in rules["groups"]:
            for r in g["rules"]:
                exprs.append((f"alert {r['alert']}", r["expr"], False))
        # Declared metrics count too (a family with no sample yet, e.g. no close so far), with a
        # histogram's series.
        histograms = {l.split(" ")[2] for l in scrape.splitlines() if l.startswith("# TYPE ") and l.endswith(" histogram")}
        known = series | exposed | {"up"} | {h + s for h in histograms for s in ("_bucket", "_sum", "_count")}
        for what, expr, kpi in exprs:
            unknown = {n for n in names_in(expr) if n not in known}
            if unknown:
                fail(f"{what} reads series the service does not expose: {sorted(unknown)}\n  {expr}")
            status, r = query(expr)
            if status != 200 or r.get("status") != "success":
                fail(f"{what}: Prometheus refused the query ({status}): {r}\n  {expr}")
            if kpi and not r["data"]["result"]:
                fail(f"{what} returned no data\n  {expr}")
            shown = [s["value"][1] for s in r["data"]["result"][:3]]
            print(f"ok: {what}: {len(r['data']['result'])} series {shown if kpi else ''}".rstrip())
        print(f"observability check passed: {sum(1 for e in exprs if e[0].startswith('panel'))} panel queries, "
              f"{sum(1 for e in exprs if e[0].startswith('alert'))} alert expressions")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        clean()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
