#!/usr/bin/env bash
# The demo lifecycle on one example of examples/ (default web_classification; `npm run demo -- math_coding`), offline.
# Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
# Debian's Node.js is older than package.json declares: take Node 24 from npm, as the test command does.
use_declared_node
bash scripts/setup.sh
if [ "${1:-}" = chat_with_pdf ]; then
  # Its flow code needs pypdf and hnswlib: Debian's packages, run with the interpreter that sees them.
  need=()
  /usr/bin/python3 -c 'import pypdf' >/dev/null 2>&1 || need+=(python3-pypdf)
  /usr/bin/python3 -c 'import hnswlib' >/dev/null 2>&1 || need+=(python3-hnswlib)
  apt_install demo "${need[@]}"
  export LLMOPS_PYTHON="${LLMOPS_PYTHON:-/usr/bin/python3}"
fi
node scripts/build.mjs
exec node dist/demo.js "$@"
