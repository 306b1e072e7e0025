#!/usr/bin/env bash
# Jest on a declared Node (see use_declared_node): `npm run test:fast -- tests/<dir-or-file>`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
use_declared_node
exec node --experimental-vm-modules node_modules/jest/bin/jest.js "$@"
