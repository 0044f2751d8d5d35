#!/usr/bin/env bash
# History at a year's scale (docs/benchmarks.md, "History storage"): bytes per ingested
# option-minute once closed days are sealed, and the p99 of one option-day's Greeks read
# through the API. Needs a release build, the local PostgreSQL (trust auth: psql, createdb,
# dropdb) and oha (`cargo install oha --locked`, or OHA=path).
#
#   cargo build --release -p bootstrap && scripts/history-bench.sh [DAYS]
#
# 1. scripts/synthetic-chain.py: DAYS sessions (5 by default) of a 50-strike NIFTY chain, both
#    rights, one snapshot a minute (DAYS × 375 × 100 option-minutes).
# 2. `signal-service replay` of it into a fresh database (its own line gives ticks/s).
# 3. The service's tables (heap, TOAST and indexes of every table and partition) measured,
#    then `signal-service history upkeep` seals the closed days, autovacuum's work is done now
#    (`VACUUM`, which gives the emptied row tables' pages back), and they are measured again.
#    Bytes per option-minute = the tables' bytes ÷ option-minutes. The whole database less an
#    empty migrated one (PostgreSQL's catalogue, a fixed ~7.5 MB) is printed beside it.
# 4. `signal-service serve` on that database; oha asks for one option's day of 1-minute Greeks
#    (375 rows) on one connection, one request after another, for SECS seconds (default 20),
#    then for the ATM call level's day of moneyness (its minutes refer to the options' sealed
#    Greeks), first in row form (before sealing, on a copy), then sealed; p50/p99 from oha.
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-5}
bin=$(pwd)/target/release/signal-service
oha=${OHA:-oha}
secs=${SECS:-20}
port=${PORT:-18190}
pg_host=${PG_HOST:-127.0.0.1}
pg_user=${PG_USER:-postgres}
db=signal_history_bench
rows_db=signal_history_bench_rows
empty_db=signal_history_bench_empty
url=postgres://$pg_user@$pg_host:5432/$db
work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
  for d in "$db" "$rows_db" "$empty_db"; do dropdb -h "$pg_host" -U "$pg_user" --if-exists "$d" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
command -v "$oha" >/dev/null || { echo "oha not found: cargo install oha --locked (or OHA=path)"; exit 1; }
sql() { psql -h "$pg_host" -U "$pg_user" -d "$1" -qAtc "$2"; }
# Heap, TOAST and indexes of every table of the service, partitions included.
tables_bytes() {
  sql "$1" "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r'"
}
breakdown() {
  sql "$1" "SELECT coalesce(p.relname, c.relname) AS t, sum(pg_total_relation_size(c.oid))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
            WHERE n.nspname = 'public' AND c.relkind = 'r' GROUP BY 1 HAVING sum(pg_total_relation_size(c.oid)) > 16384
            ORDER BY 2 DESC" | awk -F'|' -v n="$2" '{ printf "  %-28s %12d bytes  %7.1f bytes/option-minute\n", $1, $2, $2 / n }'
}

echo "== $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(nproc) cores, $days days"
python3 scripts/synthetic-chain.py --days "$days" > "$work/chain.csv"
option_minutes=$(($(wc -l < "$work/chain.csv") - 1))
echo "chain: $option_minutes option-minutes"
for d in "$db" "$rows_db" "$empty_db"; do
  dropdb -h "$pg_host" -U "$pg_user" --if-exists "$d" >/dev/null 2>&1
  createdb -h "$pg_host" -U "$pg_user" "$d"
done
"$bin" migrate up --database-url "postgres://$pg_user@$pg_host:5432/$empty_db" > /dev/null
empty=$(sql "$empty_db" "SELECT pg_database_size(current_database())")
"$bin" replay "$work/chain.csv" --format nse-chain --database-url "$url" 2>/dev/null | tail -1
sql "$db" "VACUUM ANALYZE" 
before=$(tables_bytes "$db")
awk -v b="$before" -v n="$option_minutes" 'BEGIN { printf "rows only:   %d bytes of tables, %.1f bytes per option-minute\n", b, b / n }'
breakdown "$db" "$option_minutes"
# The same rows, unsealed, for the row-form read below.
sql postgres "DROP DATABASE $rows_db" && sql postgres "CREATE DATABASE $rows_db TEMPLATE $db"
"$bin" history upkeep --database-url "$url" --seal-after-minutes 0
sql "$db" "VACUUM ANALYZE"
after=$(tables_bytes "$db")
whole=$(sql "$db" "SELECT pg_database_size(current_database())")
awk -v b="$after" -v n="$option_minutes" 'BEGIN { printf "sealed:      %d bytes of tables, %.1f bytes per option-minute (goal <= 100)\n", b, b / n }'
breakdown "$db" "$option_minutes"
awk -v w="$whole" -v e="$empty" -v n="$option_minutes" 'BEGIN { printf "whole database %d bytes, less an empty migrated one (%d): %.1f bytes per option-minute\n", w, e, (w - e) / n }'

key=NSE:NIFTY-$(sed -n 2p "$work/chain.csv" | cut -d, -f3 | tr -d -)-25000-CE
expiry=$(sed -n 2p "$work/chain.csv" | cut -d, -f3)
day=$(sed -n 2p "$work/chain.csv" | cut -c1-10)
q="from=${day}T03:45:00Z&to=${day}T10:00:00Z&limit=5000"
greeks_path="/api/v2/historical/greeks/$key?$q"
# The ATM call level's day: its minutes refer to whichever option was at the money.
level_path="/api/v2/historical/moneyness/NSE:NIFTY/greeks/ATM?expiry=$expiry&$q"
# read_p99 DATABASE LABEL: oha on one option-day of Greeks, then one level-day of moneyness.
read_p99() {
  (cd "$work" && SIGNAL__DATABASE__URL="postgres://$pg_user@$pg_host:5432/$1" SIGNAL__SERVER__HOST=127.0.0.1 \
    SIGNAL__SERVER__PORT=$port SIGNAL__RATE_LIMIT__ENABLED=false SIGNAL__FEED__ENABLED=false SIGNAL__HISTORY__UPKEEP=false \
    SIGNAL__MODE=embedded RUST_LOG=warn exec "$bin" serve) > "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done
  rows=$(curl -sf "http://127.0.0.1:$port$greeks_path" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')
  echo "$2: one option-day read ($key, $day): $rows rows"
  "$oha" --no-tui -z "${secs}s" -c 1 "http://127.0.0.1:$port$greeks_path" |
    grep -E "Requests/sec|50.00%|99.00%|99.90%|\[200\]" | sed 's/^/  /'
  rows=$(curl -sf "http://127.0.0.1:$port$level_path" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')
  echo "$2: one level-day read (NSE:NIFTY ATM, expiry $expiry, $day): $rows rows"
  "$oha" --no-tui -z "${secs}s" -c 1 "http://127.0.0.1:$port$level_path" |
    grep -E "Requests/sec|50.00%|99.00%|99.90%|\[200\]" | sed 's/^/  /'
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}
read_p99 "$rows_db" "row form"
read_p99 "$db" "sealed"
