#!/usr/bin/env bash
# The server load benchmark (figures in docs/benchmarks.md). Needs a release build, oha
# (`cargo install oha --locked`), the local PostgreSQL, and nothing else listening on 18180.
#
#   cargo build --release -p bootstrap && docs/load-bench.sh
#
# 1. Realtime Greeks of one option on the embedded default (SQLite, simulated feed), open loop
#    at a fixed offered rate with oha's latency correction, and a trivial endpoint (/health/live)
#    under the same load as the ceiling.
# 2. One trading day of 1-minute Greeks aggregated to 5m, from PostgreSQL holding a month of a
#    100-strike chain (22 sessions × 375 minutes × 200 options = 1.65 M rows).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/target/release/signal-service
oha=${OHA:-oha}
rate=${RATE:-10000}
secs=${SECS:-20}
port=18180
work=$(mktemp -d)
pg_admin=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
db=signal_load

start() {
  (cd "$work" && SIGNAL__SERVER__HOST=127.0.0.1 SIGNAL__SERVER__PORT=$port SIGNAL__RATE_LIMIT__ENABLED=false RUST_LOG=warn exec "$bin" serve "$@") \
    > "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && return; sleep 0.2; done
  cat "$work/server.log"; exit 1
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; }
trap 'kill ${server:-0} 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== 1. realtime Greeks, embedded default, $rate req/s offered for ${secs}s"
start
key=""
for _ in $(seq 1 100); do
  key=$(curl -s "http://127.0.0.1:$port/api/v2/realtime/chain/NSE:NIFTY" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(next(s["call"]["instrument_key"] for s in d["strikes"] if s["strike"]==d["meta"]["atm_strike"]))' 2>/dev/null) && break
  sleep 0.3
done
echo "option: $key"
"$oha" --no-tui -q "$rate" -z "${secs}s" --latency-correction -c 50 "http://127.0.0.1:$port/api/v2/realtime/greeks/$key"
echo "-- the ceiling: /health/live under the same load"
"$oha" --no-tui -q "$rate" -z "${secs}s" --latency-correction -c 50 "http://127.0.0.1:$port/health/live"
stop

echo "== 2. historical Greeks, one day 1m -> 5m, PostgreSQL with a month of a 100-strike chain"
psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
url="postgres://postgres@127.0.0.1:5432/$db"
"$bin" migrate up --database-url "$url" >/dev/null
psql "${url}" -qc "
INSERT INTO signal_greeks (instrument_key, minute_ms, underlying_price, forward, forward_source, option_price,
  price_source, iv, iv_error, delta, gamma, theta_per_year, vega_per_unit, rho_per_unit, vanna, volga,
  charm_per_year, speed, model, rate, time_basis, t_years)
SELECT 'NSE:NIFTY-20261027-' || (22500 + 50 * s) || '-' || r,
       (extract(epoch FROM d + time '03:45' + m * interval '1 minute') * 1000)::bigint,
       25000 + m, 25010 + m, 'put_call_parity', 100 + s, 'mid', 0.12 + s * 1e-4, NULL,
       0.5, 0.0012, -9000, 800, -0.2, 0.01, 3, -0.5, -1e-7, 'black76', 0.065, 'exact', 0.05
FROM generate_series(0, 99) s, unnest(array['CE', 'PE']) r,
     generate_series('2026-10-01'::date, '2026-10-30'::date, interval '1 day') d, generate_series(0, 374) m
WHERE extract(isodow FROM d) < 6;
ANALYZE signal_greeks;"
psql "$url" -tAc "SELECT count(*) || ' Greeks rows' FROM signal_greeks"
start --database-url "$url"
q="from=2026-10-15T00:00:00Z&to=2026-10-16T00:00:00Z&timeframe=5m"
"$oha" --no-tui -q "${HIST_RATE:-500}" -z "${secs}s" --latency-correction -c 20 \
  "http://127.0.0.1:$port/api/v2/historical/greeks/NSE:NIFTY-20261027-25000-CE?$q"
stop
