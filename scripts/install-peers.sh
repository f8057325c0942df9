#!/usr/bin/env bash
# Installs the ACME clients `npm run bench` compares acmecli with, on Debian 12:
#   - certbot 2.1 and uacme 1.7 from bookworm (apt-get install; certbot is a Python application
#     with a dozen python3-* dependencies, so it is installed the ordinary way);
#   - lego from Debian sid (4.35 at the time of writing; bookworm's 4.9 is three years old and far
#     slower on many names), a static Go binary, fetched without touching the system's apt
#     sources (a private sources list, lists and archive folders) and unpacked into
#     .cache/lego-sid/root/usr/bin/lego, the same way scripts/testbed/install.sh fetches Pebble;
#   - GNU `time` (peak resident memory, /usr/bin/time -f %M) and openssl.
# Idempotent (nothing is fetched when everything is there); run as root. Prints one line per peer.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LEGO_DIR="${ACMECLI_LEGO_SID_DIR:-${REPO_ROOT}/.cache/lego-sid}"
PACKAGES=(certbot uacme time openssl)

log() { printf 'install-peers: %s\n' "$*"; }
warn() { printf '\ninstall-peers: WARNING: %s\n\n' "$*" >&2; }
# shellcheck source=testbed/sid-package.sh
. "${REPO_ROOT}/scripts/testbed/sid-package.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers: must run as root (try: sudo $0)" >&2
  exit 1
fi

# --- bookworm packages ---------------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [ "$status" != "install ok installed" ]; then missing+=("$pkg"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} from Debian"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
# (Debian's certbot package also enables certbot.timer for /etc/letsencrypt; the benchmark never
# uses that directory — it passes --config-dir — so the timer is left as the package set it.)

# --- lego from sid ---------------------------------------------------------------------------------
fetch_sid_lego() {
  fetch_sid_package lego "$LEGO_DIR" || return 1
  local work="${LEGO_DIR}.tmp"
  if [ ! -x "$work/root/usr/bin/lego" ]; then
    echo "the sid package has no usr/bin/lego" >&2
    return 1
  fi
  if ! "$work/root/usr/bin/lego" --version >/dev/null 2>&1; then
    echo "the sid lego binary does not run on this system" >&2
    return 1
  fi
  commit_sid_package "$LEGO_DIR" || return 1
}

if [ ! -x "${LEGO_DIR}/root/usr/bin/lego" ]; then
  mkdir -p "$(dirname "$LEGO_DIR")"
  if ! ( fetch_sid_lego ); then
    rm -rf "${LEGO_DIR}.tmp"
    warn "could not fetch lego from Debian sid: the benchmark's lego column will say n/a.
         Re-run scripts/install-peers.sh (bookworm's lego 4.9 is deliberately not used)."
  fi
fi

# --- summary ---------------------------------------------------------------------------------------
log "certbot $(dpkg-query -W -f='${Version}' certbot 2>/dev/null || echo missing) (/usr/bin/certbot)"
log "uacme $(dpkg-query -W -f='${Version}' uacme 2>/dev/null || echo missing) (/usr/bin/uacme)"
if [ -x "${LEGO_DIR}/root/usr/bin/lego" ]; then
  log "lego $(cat "${LEGO_DIR}/VERSION" 2>/dev/null || echo '?') (${LEGO_DIR}/root/usr/bin/lego)"
else
  log "lego missing"
fi
