#!/usr/bin/env bash
# The demo lifecycle on examples/web_classification, offline. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs
exec node dist/demo.js "$@"
