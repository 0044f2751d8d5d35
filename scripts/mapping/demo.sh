#!/usr/bin/env bash
# The moneyness mapping against a running instance: a fake instrument service (recorded answers,
# scripts/mapping/fake_instrument_service.py), `signal-service serve` on it and a private SQLite
# file, one minute of NIFTY ticks posted, then the strikes at ITM1 by the service's mapping, again
# (from memory: the refresher fetched it once the chain was evaluated), and with the service down
# (stale once past the TTL, here 2 s).
#
#   cargo build -p bootstrap && scripts/mapping/demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-target/debug/signal-service}
work=$(mktemp -d)
export DOWN_FILE=$work/down
python3 scripts/mapping/fake_instrument_service.py 0 > "$work/fake.port" &
fake=$!
trap 'kill $fake $svc 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.5
port=18191
SIGNAL__INSTRUMENTS__SOURCE=http \
SIGNAL__INSTRUMENTS__SERVICE_URL="http://127.0.0.1:$(head -1 "$work/fake.port")/" \
SIGNAL__MAPPING_CACHE__TTL_SECS=2 \
SIGNAL__FEED__ENABLED=false \
SIGNAL__DATABASE__URL="sqlite://$work/signal.db?mode=rwc" \
SIGNAL__SERVER__PORT=$port RUST_LOG=warn "$bin" serve > "$work/serve.log" 2>&1 &
svc=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health/live" > /dev/null && break; sleep 0.2; done
ts=2026-02-02T09:30:00+05:30
curl -sS -X POST "http://127.0.0.1:$port/api/v2/ingest/ticks" -H 'Content-Type: application/json' -d "[
 {\"key\": \"NSE:NIFTY\", \"ts\": \"$ts\", \"last\": 26010},
 {\"key\": \"NSE:NIFTY-20260203-26000-CE\", \"ts\": \"$ts\", \"last\": 60, \"bid\": 59.5, \"ask\": 60.5, \"oi\": 1000},
 {\"key\": \"NSE:NIFTY-20260203-26000-PE\", \"ts\": \"$ts\", \"last\": 50, \"bid\": 49.5, \"ask\": 50.5, \"oi\": 1000},
 {\"key\": \"NSE:NIFTY-20260203-26050-CE\", \"ts\": \"$ts\", \"last\": 35, \"bid\": 34.5, \"ask\": 35.5, \"oi\": 1000},
 {\"key\": \"NSE:NIFTY-20260203-26050-PE\", \"ts\": \"$ts\", \"last\": 75, \"bid\": 74.5, \"ask\": 75.5, \"oi\": 1000}]"
echo
sleep 1.5   # the minute snapshot is evaluated at the next flush
url="http://127.0.0.1:$port/api/v2/realtime/moneyness/NSE:NIFTY/strikes/ITM1?expiry=2026-02-03"
echo "\$ curl '$url'"; curl -s "$url"; echo
echo "\$ curl '$url'   # again"; curl -s "$url"; echo
touch "$DOWN_FILE"; sleep 2.5
echo "\$ curl '$url'   # instrument service down, mapping past its 2 s TTL"; curl -s "$url"; echo
