#!/usr/bin/env bash
# What only the tests need, on top of scripts/setup.sh: chromium (the HTML report's screenshots),
# openssl (test certificates), unzip (inspects the .vsix), python3-venv (the serving image's
# virtual environment), python3-pypdf and python3-hnswlib (the chat_with_pdf example's flow code, run
# with Debian's /usr/bin/python3: CI has no PyPI), redis-server (the serving cache's shared store), and Node.js 22 and 24 from npm (scripts/node-runtimes.sh), the versions
# package.json declares, which the bundle tests run on.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

bash scripts/setup.sh

need=()
# LLMOPS_CHROMIUM: another Chromium or Chrome binary (a CI image's own) instead of Debian's.
[ -x "${LLMOPS_CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
/usr/bin/python3 -c 'import pypdf' >/dev/null 2>&1 || need+=(python3-pypdf)
/usr/bin/python3 -c 'import hnswlib' >/dev/null 2>&1 || need+=(python3-hnswlib)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
apt_install setup-tests "${need[@]}"

if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
  bash scripts/node-runtimes.sh >/dev/null
else
  echo "setup-tests: the Node 22/24 bundle tests need Linux x64; they are skipped on $(uname -s)-$(uname -m)" >&2
fi
