#!/usr/bin/env bash
# Proves the committed package-lock.json is the one npm produces and installs everywhere:
#  1. `npm ci` in a clean clone of HEAD (a lock out of sync with package.json fails here);
#  2. `npm install` afterwards leaves `git status` clean (the lock is what npm itself writes);
#  3. `npm ci --dry-run` as npm runs it on macOS (arm64, x64), Windows x64 and Linux arm64: npm
#     checks every non-optional package's os/cpu against process.platform/arch, so a package
#     for one platform only, or an optional binding missing from the lock, fails there.
# Uses only the committed files (HEAD), not the working tree.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

git clone -q --no-hardlinks "$repo" "$work/clone"
cd "$work/clone"
echo "check-lock: npm ci in a clean clone of $(git rev-parse --short HEAD)" >&2
npm ci --no-audit --no-fund --loglevel=error
npm install --no-audit --no-fund --loglevel=error >/dev/null
if [ -n "$(git status --porcelain)" ]; then
  echo "check-lock: npm install changed the committed files; commit what npm writes:" >&2
  git status --porcelain >&2
  git diff --stat >&2
  exit 1
fi

for target in darwin:arm64 darwin:x64 win32:x64 linux:arm64; do
  os="${target%%:*}" cpu="${target##*:}"
  mkdir -p "$work/$os-$cpu"
  cp package.json package-lock.json "$work/$os-$cpu/"
  printf "Object.defineProperty(process, 'platform', { value: '%s' });\nObject.defineProperty(process, 'arch', { value: '%s' });\n" "$os" "$cpu" >"$work/as-$os-$cpu.cjs"
  echo "check-lock: npm ci --dry-run as $os-$cpu" >&2
  if ! (cd "$work/$os-$cpu" && NODE_OPTIONS="--require $work/as-$os-$cpu.cjs" npm ci --dry-run --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null); then
    echo "check-lock: npm ci would fail on $os-$cpu" >&2
    exit 1
  fi
done
echo "check-lock: ok" >&2
