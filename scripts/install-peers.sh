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
  local mirror="${ACMECLI_DEBIAN_MIRROR:-}"
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
    mirror="$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)"
  fi
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)"
  fi
  if [ -z "$mirror" ]; then
    echo "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2
    return 1
  fi
  # A scratch folder moved into place only when complete: a half-finished fetch never looks cached.
  local work="${LEGO_DIR}.tmp"
  rm -rf "$work"
  mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/root" || return 1
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} sid main" > "$work/sources.list"
  local apt_opts=(
    -o "Dir::Etc::sourcelist=${work}/sources.list"
    -o "Dir::Etc::sourceparts=/dev/null"
    -o "Dir::State::Lists=${work}/lists"
    -o "Dir::Cache::Archives=${work}/archives"
  )
  log "fetching lego from ${mirror} sid"
  apt-get "${apt_opts[@]}" update || return 1
  # apt-get download writes into the current directory as the unprivileged _apt user.
  if id _apt >/dev/null 2>&1; then chown _apt "$work/archives"; fi
  (cd "$work/archives" && apt-get "${apt_opts[@]}" download lego/sid) || return 1
  local deb
  deb="$(ls "$work"/archives/lego_*.deb 2>/dev/null | head -n 1)"
  if [ -z "$deb" ]; then
    echo "apt-get download produced no lego_*.deb" >&2
    return 1
  fi
  dpkg -x "$deb" "$work/root" || return 1
  dpkg-deb -f "$deb" Version > "$work/VERSION" || return 1
  if [ ! -x "$work/root/usr/bin/lego" ]; then
    echo "the sid package has no usr/bin/lego" >&2
    return 1
  fi
  if ! "$work/root/usr/bin/lego" --version >/dev/null 2>&1; then
    echo "the sid lego binary does not run on this system" >&2
    return 1
  fi
  rm -rf "$work/lists" "$work/archives"
  rm -rf "$LEGO_DIR"
  mv "$work" "$LEGO_DIR" || return 1
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
