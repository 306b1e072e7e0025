#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, builds the CLI, runs Jest
# on a declared Node (Node 24 from npm when the machine's is older). Extra arguments go to Jest
# (e.g. `bash scripts/test.sh tests/config`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
use_declared_node
bash scripts/setup-tests.sh
exec node --experimental-vm-modules node_modules/jest/bin/jest.js --ci "$@"
