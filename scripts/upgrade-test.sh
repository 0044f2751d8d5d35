#!/usr/bin/env bash
# An upgrade under load from the previous release to this one (issue 17, schema changes during a
# rollout): builds the commit in scripts/previous-release (once; kept under
# target/previous-release), then runs scripts/rollout-test.py with --from-binary: two instances of
# the previous release serve on their database, this release's `migrate up` runs while they
# serve, and each is replaced by this release (target/debug/signal-service, built first).
# Extra arguments go to rollout-test.py. Usage: scripts/upgrade-test.sh [--rounds 1 …]
set -euo pipefail
cd "$(dirname "$0")/.."
prev=$(grep -v '^#' scripts/previous-release | head -n 1)
dir=target/previous-release
binary="$dir/$prev/signal-service"
if [ ! -x "$binary" ]; then
  echo "building the previous release $prev (debug; its own target directory)"
  rm -rf "$dir/src" && mkdir -p "$dir/src"
  git archive "$prev" | tar -x -C "$dir/src"
  (cd "$dir/src" && SIGNAL_GIT_HASH="${prev:0:12}" CARGO_TARGET_DIR="$PWD/../target" cargo build -q -p bootstrap)
  mkdir -p "$dir/$prev"
  cp "$dir/target/debug/signal-service" "$binary"
fi
cargo build -q -p bootstrap
echo "from: $("$binary" --version)"
echo "to:   $(target/debug/signal-service --version)"
exec target/ci-venv/bin/python scripts/rollout-test.py --from-binary "$binary" --binary target/debug/signal-service "$@"
