#!/usr/bin/env bash
# Installs everything llmops' tests and demo need on a fresh Debian machine with Node.js:
# Debian packages (python3 for flows' Python code, chromium for the HTML report test, openssl for a
# test certificate, unzip to inspect the .vsix) and npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages first (as root): ${need[*]}" >&2
    exit 1
  fi
fi

# Install only when the lock file changed since the last install. `npm install` (which keeps the
# locked versions) rather than `npm ci`: npm 11 rejects this lock in ci mode because jest's
# unrs-resolver lists platform binaries that the registry never resolves into the lock.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm install (locked versions)" >&2
  npm install --no-audit --no-fund --loglevel=error
fi
