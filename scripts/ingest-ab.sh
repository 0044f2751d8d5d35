#!/usr/bin/env bash
# Ingest throughput of two builds, alternated (docs/benchmarks.md, "History storage"): the
# replay's ticks/s of the same synthetic chain into a fresh PostgreSQL database, BEFORE then
# AFTER, RUNS times. A build that has `history upkeep` gets its partitions made first, as a
# running service has them ahead (`history.partitions_ahead_months`); the chain lies in one
# month (START, a month's first weekday by default) so that those are the partitions written.
#
#   scripts/ingest-ab.sh BEFORE_BINARY AFTER_BINARY [RUNS] [START]
#
# Prints one line per replay, then each build's median and mean.
set -euo pipefail
before=$1 after=$2 runs=${3:-8} start=${4:-2026-12-01}
pg_host=${PG_HOST:-127.0.0.1} pg_user=${PG_USER:-postgres}
db=signal_ingest_ab
url=postgres://$pg_user@$pg_host:5432/$db
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb -h "$pg_host" -U "$pg_user" --if-exists "$db" >/dev/null 2>&1 || true' EXIT
python3 "$(dirname "$0")/synthetic-chain.py" --days 5 --start "$start" > "$work/chain.csv"
for i in $(seq 1 "$runs"); do
  for which in before after; do
    bin=${!which}
    dropdb -h "$pg_host" -U "$pg_user" --if-exists "$db" >/dev/null 2>&1
    createdb -h "$pg_host" -U "$pg_user" "$db"
    "$bin" migrate up --database-url "$url" > /dev/null
    if "$bin" history --help > /dev/null 2>&1; then "$bin" history upkeep --database-url "$url" > /dev/null 2>&1; fi
    rate=$("$bin" replay "$work/chain.csv" --format nse-chain --database-url "$url" 2>/dev/null | tail -1 | grep -o '[0-9]* ticks/s' | cut -d' ' -f1)
    echo "$i $which $rate" | tee -a "$work/rates"
  done
done
for which in before after; do
  awk -v w="$which" '$2 == w { print $3 }' "$work/rates" | sort -n | awk -v w="$which" \
    '{ v[NR] = $1; s += $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
       printf "%s: median %.0f, mean %.0f ticks/s over %d runs\n", w, m, s / NR, NR }'
done
