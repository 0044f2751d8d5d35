#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the domain modules listed in .cargo/mutants.toml:
# pricing and IV, moneyness, timeframes and buckets, indicators (docs/testing.md).
#
#   scripts/mutants.sh                 every mutant (about 800; ~1.5 h on 2 cores)
#   scripts/mutants.sh -f FILE ...     only the mutants of these files (cargo-mutants' own flags)
#
# Results in target/mutants/mutants.out/ (caught.txt, missed.txt, unviable.txt, timeout.txt).
# The score is caught / (caught + missed + timeout); unviable mutants (they do not build) are
# not counted. A missed mutant is either killed by a new test or listed in docs/testing.md with
# the reason it is equivalent.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants > /dev/null || cargo install --locked cargo-mutants@27.1.0
# The domain's reference tests read ../shared/reference; each mutant is built in a copy of the
# tree elsewhere, so point them back, and make its absence a failure rather than a skip.
[ -d ../shared/reference ] || { echo "../shared/reference is needed beside the checkout"; exit 1; }
export SIGNAL_SHARED_DIR=$PWD/../shared CI=1
status=0
cargo mutants --gitignore true --output target/mutants --jobs "${MUTANTS_JOBS:-2}" "$@" || status=$?
out=target/mutants/mutants.out
caught=$(wc -l < "$out/caught.txt"); missed=$(wc -l < "$out/missed.txt")
timeout=$(wc -l < "$out/timeout.txt"); unviable=$(wc -l < "$out/unviable.txt")
python3 -c "
c, m, t, u = $caught, $missed, $timeout, $unviable
print(f'mutants: {c} caught, {m} missed, {t} timeout, {u} unviable; score {100 * c / max(1, c + m + t):.1f}% of {c + m + t} viable')"
[ "$missed" -eq 0 ] || { echo "missed:"; cat "$out/missed.txt"; }
exit "$status"
