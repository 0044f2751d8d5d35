#!/usr/bin/env bash
# Runs the README's example commands as a new user would, against a fresh `serve` on the
# embedded default, and fails on the first one that fails: a command exiting non-zero, an HTTP
# answer of 400 or more, or an ingest answer rejecting a row.
#
# Every ```sh block of README.md but the first (run and test, which CI runs as such) is run
# from the repository's root, in order, with `set -euo pipefail`. Two substitutions, both
# stated here: `cargo run -q --release -p bootstrap --` becomes the binary given in BIN (CI has
# the debug build already; the commands are the same), and `localhost:8080` the fresh server's
# address. The database is a temporary SQLite file (SIGNAL__DATABASE__URL), so nothing is left
# in the checkout.
#
# Usage: scripts/readme-examples.sh            (BIN defaults to target/debug/signal-service)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$(realpath "${BIN:-target/debug/signal-service}")
[ -x "$bin" ] || { echo "no binary at $bin: cargo build -p bootstrap"; exit 1; }

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export SIGNAL__DATABASE__URL="sqlite://$work/signal.db?mode=rwc"
(cd "$work" && SIGNAL__SERVER__HOST=127.0.0.1 SIGNAL__SERVER__PORT=$port exec "$bin" serve) > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
  sleep 0.2
done
# The first chain evaluation lands with the feed's first flush.
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/api/v2/realtime/chain/NSE:NIFTY" >/dev/null && break
  sleep 0.2
done

# The README's blocks, as one script.
python3 - "$root/README.md" "$bin" "$port" > "$work/examples.sh" <<'EOF'
import re, sys
readme, binary, port = sys.argv[1:]
blocks = re.findall(r"^```sh\n(.*?)^```", open(readme).read(), re.S | re.M)[1:]
text = "\n".join(blocks)
text = text.replace("cargo run -q --release -p bootstrap --", binary)
text = text.replace("localhost:8080", f"127.0.0.1:{port}")
print(text)
EOF

# curl as the README uses it, answering like a careful user: the body is printed, and an HTTP
# error or a rejected ingest row stops the run, naming the command.
cat > "$work/prelude.sh" <<'EOF'
set -euo pipefail
curl() {
  local out code
  out=$(command curl -w '\n%{http_code}' "$@") || { echo "FAILED: curl $*" >&2; return 1; }
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  printf '%s\n' "$out"
  if [ "$code" -ge 400 ]; then echo "FAILED: HTTP $code from curl $*" >&2; return 1; fi
  case $out in *'"rejected":[{'*) echo "FAILED: rows rejected by curl $*" >&2; return 1 ;; esac
}
trap 'echo "FAILED at README command: $BASH_COMMAND" >&2' ERR
EOF
n=$(grep -cv '^\s*\(#.*\)\?$' "$work/examples.sh")
echo "== README examples: $n commands against 127.0.0.1:$port"
bash -c "source '$work/prelude.sh'; source '$work/examples.sh'" 2>&1 | tee "$work/run.log" | cut -c1-200
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  grep FAILED "$work/run.log" || true
  tail -20 "$work/server.log"
  exit "$status"
fi
echo "README examples passed ($n commands)"
