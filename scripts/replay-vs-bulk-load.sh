#!/usr/bin/env bash
# Backfill (`replay`) against the database's own bulk-load floor for the same rows, side by side,
# on SQLite and PostgreSQL (figures in docs/benchmarks.md, "Ingest: backfill against the bulk-load floor").
#
#   cargo build --release -p bootstrap && scripts/replay-vs-bulk-load.sh [RUNS]
#
# For each database and run:
# 1. `signal-service replay` of the real NSE chain file (51,699 ticks) into a fresh database;
#    its own line gives the seconds.
# 2. The floor: the rows that replay stored (Greeks snapshots, 1-minute bars, moneyness
#    aggregates), loaded into a fresh database of the same schema by the database's own bulk
#    path — the sqlite3 shell's `INSERT … SELECT` from the replayed file attached (WAL,
#    synchronous = NORMAL, as the service runs), PostgreSQL's `COPY … FROM` CSV files.
# 3. The ratio replay / floor (the goal is ≤ 1.5). For SQLite also, for reference, the shell's
#    `.import` of the same rows as CSV: the shell's own way in for rows from outside, as
#    PostgreSQL's floor is `COPY` from CSV (INSERT … SELECT copies records already stored).
# Needs: the sqlite3 shell (Debian: `apt-get install sqlite3`), psql and createdb/dropdb on the
# local PostgreSQL (trust auth). A long measurement: not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/target/release/signal-service
data=${DATA:-$(pwd)/../shared/data/nse_index_options_chain_2019-05_2019-06_30min.csv}
runs=${1:-3}
pg_host=${PG_HOST:-127.0.0.1}
pg_user=${PG_USER:-postgres}
tables="signal_greeks candles_1m signal_moneyness_greeks"
work=$(mktemp -d)
trap 'rm -rf "$work"; dropdb -h "$pg_host" -U "$pg_user" --if-exists replay_floor_a >/dev/null 2>&1 || true; dropdb -h "$pg_host" -U "$pg_user" --if-exists replay_floor_b >/dev/null 2>&1 || true' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
replay_secs() { sed -n 's/.* stored in \([0-9.]*\) s .*/\1/p'; }

echo "== $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(nproc) cores, $(basename "$data")"
for run in $(seq "$runs"); do
  # SQLite
  rm -f "$work"/*.db* "$work"/*.sqlite.csv
  line=$("$bin" replay "$data" --format nse-chain --database-url "sqlite://$work/full.db?mode=rwc" 2>/dev/null | tail -1)
  r=$(echo "$line" | replay_secs)
  "$bin" migrate up --database-url "sqlite://$work/floor.db?mode=rwc" >/dev/null
  sql="pragma journal_mode=wal; pragma synchronous=normal; attach '$work/full.db' as src; begin;"
  for t in $tables; do sql="$sql insert into main.$t select * from src.$t order by rowid;"; done
  t0=$(now); sqlite3 "$work/floor.db" "$sql commit;" >/dev/null; t1=$(now)
  f=$(secs "$t0" "$t1")
  rows=$(for t in $tables; do sqlite3 "$work/full.db" "select count(*) from $t"; done | paste -sd+ | bc)
  # For reference, the shell's own way in for rows from outside (what `COPY … FROM` CSV is to
  # PostgreSQL): `.import` of the same rows as CSV into a third fresh database. (It stores the
  # NULLs as empty texts; the time is what counts here.)
  "$bin" migrate up --database-url "sqlite://$work/import.db?mode=rwc" >/dev/null
  imports=()
  for t in $tables; do
    sqlite3 -csv "$work/full.db" "select * from $t order by rowid" >"$work/$t.sqlite.csv"
    imports+=(".import --csv $work/$t.sqlite.csv $t")
  done
  t0=$(now); sqlite3 "$work/import.db" "pragma journal_mode=wal" "pragma synchronous=normal" "begin" "${imports[@]}" "commit" >/dev/null; t1=$(now)
  i=$(secs "$t0" "$t1")
  awk -v r="$r" -v f="$f" -v i="$i" -v n="$rows" -v run="$run" 'BEGIN { printf "SQLite     run %d: replay %.3f s, INSERT … SELECT %.3f s for %d rows, ratio %.2f (.import of the rows as CSV %.3f s, ratio %.2f)\n", run, r, f, n, r / f, i, r / i }'

  # PostgreSQL
  for db in replay_floor_a replay_floor_b; do
    dropdb -h "$pg_host" -U "$pg_user" --if-exists "$db" >/dev/null 2>&1
    createdb -h "$pg_host" -U "$pg_user" "$db"
  done
  line=$("$bin" replay "$data" --format nse-chain --database-url "postgres://$pg_user@$pg_host:5432/replay_floor_a" 2>/dev/null | tail -1)
  r=$(echo "$line" | replay_secs)
  # The floor's database: the replayed one's schema, partitions included (the months a
  # replay writes into are made by the service as it writes), emptied.
  dropdb -h "$pg_host" -U "$pg_user" --if-exists replay_floor_b >/dev/null 2>&1
  createdb -h "$pg_host" -U "$pg_user" -T replay_floor_a replay_floor_b
  psql -qAt -h "$pg_host" -U "$pg_user" -d replay_floor_b -c "TRUNCATE $(echo $tables | tr ' ' ',')" >/dev/null
  copy=""
  for t in $tables; do
    psql -qAt -h "$pg_host" -U "$pg_user" -d replay_floor_a -c "\\copy (SELECT * FROM $t) to '$work/$t.csv' csv" >/dev/null
    copy="$copy \\copy $t from '$work/$t.csv' csv
"
  done
  t0=$(now); printf '%s' "$copy" | psql -q -h "$pg_host" -U "$pg_user" -d replay_floor_b -v ON_ERROR_STOP=1 >/dev/null; t1=$(now)
  f=$(secs "$t0" "$t1")
  awk -v r="$r" -v f="$f" -v n="$rows" -v run="$run" 'BEGIN { printf "PostgreSQL run %d: replay %.3f s, COPY %.3f s for %d rows, ratio %.2f\n", run, r, f, n, r / f }'
done
