#!/usr/bin/env bash
# The demo lifecycle on one example of examples/ (default web_classification; `npm run demo -- math_coding`), offline.
# Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
# Debian's Node.js is older than package.json declares: take Node 24 from npm, as the test command does.
use_declared_node
bash scripts/setup.sh
node scripts/build.mjs
exec node dist/demo.js "$@"
