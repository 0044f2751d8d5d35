#!/usr/bin/env bash
# Vendors uPlot (MIT) from the npm registry into the page's assets, or with --check verifies that
# the committed copy is byte for byte the registry's (CI runs the check).
#
# The tarball's integrity is checked against the registry's published sha512 before use.
# Usage: scripts/vendor-uplot.sh [--check]
set -euo pipefail
VERSION=1.6.32
INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
DEST="$(cd "$(dirname "$0")/.." && pwd)/adapters/src/inbound/http/page/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent "uplot@$VERSION" > /dev/null )
tgz="$tmp/uplot-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "uplot@$VERSION: integrity $got, expected $INTEGRITY"; exit 1
fi
tar -xzf "$tgz" -C "$tmp"
pairs=("dist/uPlot.iife.min.js:uPlot.iife.min.js" "dist/uPlot.min.css:uPlot.min.css" "LICENSE:uPlot.LICENSE")
for p in "${pairs[@]}"; do
  src="$tmp/package/${p%%:*}"; dst="$DEST/${p##*:}"
  if [ "${1:-}" = "--check" ]; then
    cmp -s "$src" "$dst" || { echo "$dst differs from uplot@$VERSION's ${p%%:*}: run scripts/vendor-uplot.sh"; exit 1; }
  else
    mkdir -p "$DEST"; cp "$src" "$dst"
  fi
done
echo "ok: uplot@$VERSION ($INTEGRITY) $([ "${1:-}" = "--check" ] && echo "matches the vendored copy" || echo "vendored into $DEST")"
