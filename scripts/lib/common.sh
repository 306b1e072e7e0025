# Shared by scripts/setup.sh and scripts/setup-tests.sh (sourced, not run).

# The Node.js range package.json declares (engines.node is ">=22.13").
LLMOPS_NODE_MIN_MAJOR=22
LLMOPS_NODE_MIN_MINOR=13

# Exits 1 with what to do when the `node` on PATH is older than the declared range.
require_node() {
  local v major minor
  if ! v="$(node -p 'process.versions.node' 2>/dev/null)"; then
    echo "setup: Node.js is not installed; llmops needs Node.js >= $LLMOPS_NODE_MIN_MAJOR.$LLMOPS_NODE_MIN_MINOR (24 recommended)" >&2
    exit 1
  fi
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  if [ "$major" -lt "$LLMOPS_NODE_MIN_MAJOR" ] || { [ "$major" -eq "$LLMOPS_NODE_MIN_MAJOR" ] && [ "$minor" -lt "$LLMOPS_NODE_MIN_MINOR" ]; }; then
    echo "setup: llmops needs Node.js >= $LLMOPS_NODE_MIN_MAJOR.$LLMOPS_NODE_MIN_MINOR (24 recommended); this machine runs $v." >&2
    echo "setup: on Linux x64 you can take Node 24 from npm:  export PATH=\"\$(bash scripts/node-runtimes.sh)/node_modules/node24/bin:\$PATH\"" >&2
    exit 1
  fi
}

# True when the `node` on PATH is in the declared range.
node_is_declared() {
  node -e "const [a, b] = process.versions.node.split('.').map(Number); process.exit(a > $LLMOPS_NODE_MIN_MAJOR || (a === $LLMOPS_NODE_MIN_MAJOR && b >= $LLMOPS_NODE_MIN_MINOR) ? 0 : 1)" 2>/dev/null
}

# For the tests and CI: when the machine's Node is older than declared (Debian's is), put Node 24
# from npm (scripts/node-runtimes.sh, Linux x64) first on PATH; elsewhere stop with what to do.
use_declared_node() {
  node_is_declared && return 0
  local found
  found="$(node --version 2>/dev/null || echo 'no Node.js')"
  if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
    PATH="$(bash "$(dirname "${BASH_SOURCE[0]}")/../node-runtimes.sh")/node_modules/node24/bin:$PATH"
    export PATH
    echo "note: $found is older than package.json declares (>= $LLMOPS_NODE_MIN_MAJOR.$LLMOPS_NODE_MIN_MINOR); running on $(node --version) from scripts/runtimes" >&2
  else
    require_node
  fi
}

# apt_get LOG ARGS...: apt-get with output to LOG, retried while another apt/dpkg process holds
# a lock, until $deadline (seconds since the epoch). DPkg::Lock::Timeout makes the install wait
# on the dpkg lock; `apt-get update` gives up at once on the lists lock, hence the loop.
apt_get() {
  local log="$1"; shift
  while true; do
    if "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=10 "$@" >"$log" 2>&1; then return 0; fi
    grep -qi 'could not get lock\|unable to acquire\|unable to lock' "$log" || return 1
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 3
  done
}

# apt_install WHO PACKAGE...: installs the given Debian packages. Waits up to LLMOPS_APT_WAIT
# seconds (default 120) for another apt/dpkg process to release its lock, and when the lock is
# still held, or when not root, says so plainly instead of apt's raw failure.
apt_install() {
  local who="$1"; shift
  [ $# -gt 0 ] || return 0
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    # A CI runner's user usually has password-less sudo; anyone else is asked to install them.
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "$who: please install these Debian packages first (as root): apt-get install $*" >&2
      exit 1
    fi
  fi
  local wait="${LLMOPS_APT_WAIT:-120}" log
  local deadline=$(( $(date +%s) + wait ))
  log="$(mktemp)"
  echo "$who: installing Debian packages: $* (waiting up to ${wait}s for a held apt lock)" >&2
  if ! apt_get "$log" -qq update || ! apt_get "$log" install -y -qq --no-install-recommends "$@"; then
    if grep -qi 'could not get lock\|unable to acquire\|unable to lock' "$log"; then
      echo "$who: another apt/dpkg process still holds the package lock after ${wait}s:" >&2
      grep -i 'lock' "$log" | sed 's/^/  /' >&2
      echo "$who: let it finish (or raise LLMOPS_APT_WAIT) and run this again." >&2
    else
      echo "$who: apt-get failed installing: $*" >&2
      sed 's/^/  /' "$log" >&2
    fi
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}
