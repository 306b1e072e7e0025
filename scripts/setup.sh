#!/usr/bin/env bash
# What the llmops CLI and the demo need, on a Debian machine with Node.js >= 22.13: python3 (runs
# the flows' own Python code) and the npm dependencies from the committed lock. What only the
# tests need is in scripts/setup-tests.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

require_node

need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
apt_install setup "${need[@]}"

# `npm ci` (exactly the committed lock), only when node_modules is absent or older than the lock.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
