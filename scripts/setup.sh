#!/usr/bin/env bash
# One-time set-up for a fresh Debian 12 checkout: npm dependencies (Node 24 comes with them, as a
# devDependency) and the integration test bed (scripts/testbed/install.sh, as root).
# Safe to re-run; works from any directory.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

log() { printf 'setup: %s\n' "$*"; }

# --- npm ------------------------------------------------------------------------------------------
# npm ci wipes node_modules; only run it when the lock file changed since the last install
# (npm records the installed tree in node_modules/.package-lock.json).
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm is missing; install Node.js (Debian: apt-get install nodejs npm, or NodeSource) first" >&2
    exit 1
  fi
  log "installing npm dependencies (npm ci)"
  npm ci
else
  log "node_modules is up to date with package-lock.json"
fi

# --- test bed -------------------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  bash "$REPO_ROOT/scripts/testbed/install.sh"
elif command -v sudo >/dev/null 2>&1; then
  log "installing the test bed with sudo"
  sudo bash "$REPO_ROOT/scripts/testbed/install.sh"
else
  echo "setup: scripts/testbed/install.sh needs root and sudo is missing; run it as root" >&2
  exit 1
fi

log "done. Tests: npm test (Node $(node_modules/.bin/node --version 2>/dev/null || echo '?'))"
