#!/usr/bin/env bash
# Installs the integration test bed on Debian 12: BIND (nsupdate target), dig/nsupdate, openssl,
# socat and Pebble. bookworm ships Pebble 2.4 (no ARI, no profiles), so Pebble 2.10 is also fetched
# from sid into the repo's ignored .cache/ without touching the system's apt sources.
# Idempotent; run as root.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Both overridable for trying the script without disturbing the cache tests use.
SID_DIR="${ACMECLI_PEBBLE_SID_DIR:-${REPO_ROOT}/.cache/pebble-sid}"
PACKAGES=(bind9 bind9-dnsutils openssl socat pebble strace curl e2fsprogs systemd hyperfine)

log() { printf 'testbed: %s\n' "$*"; }
warn() { printf '\ntestbed: WARNING: %s\n\n' "$*" >&2; }
# shellcheck source=sid-package.sh
. "${REPO_ROOT}/scripts/testbed/sid-package.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "testbed: install.sh must run as root (try: sudo $0)" >&2
  exit 1
fi

# --- bookworm packages ---------------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [ "$status" != "install ok installed" ]; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  # Only refresh the lists when something is actually missing: update is the slow, networked part.
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
  log "Debian packages already installed: ${PACKAGES[*]}"
fi

# Debian confines /usr/sbin/named with AppArmor (enforced on a stock Debian 12), which would deny
# the tests' own named its config under the temp dir. The profile includes local/usr.sbin.named for
# site additions: allow test/helpers/bind.ts's folders there (os.tmpdir(), /tmp unless TMPDIR).
APPARMOR_LOCAL=/etc/apparmor.d/local/usr.sbin.named
APPARMOR_MARK="# acmecli test bed (scripts/testbed/install.sh)"
if [ -f /etc/apparmor.d/usr.sbin.named ] && ! grep -qF "$APPARMOR_MARK" "$APPARMOR_LOCAL" 2>/dev/null; then
  mkdir -p "$(dirname "$APPARMOR_LOCAL")"
  tmp_root="${TMPDIR:-/tmp}"
  tmp_root="${tmp_root%/}"
  {
    echo "$APPARMOR_MARK"
    echo "${tmp_root}/acmecli-bind-*/ r,"
    echo "${tmp_root}/acmecli-bind-*/** rwk,"
  } >> "$APPARMOR_LOCAL"
  log "allowed named to use ${tmp_root}/acmecli-bind-* in ${APPARMOR_LOCAL}"
  if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = "Y" ] && command -v apparmor_parser >/dev/null 2>&1; then
    apparmor_parser -r /etc/apparmor.d/usr.sbin.named || warn "could not reload the AppArmor profile of named"
  fi
fi

# --- Pebble 2.10 from sid ------------------------------------------------------------------------
if [ -x "${SID_DIR}/root/usr/bin/pebble" ] && [ -x "${SID_DIR}/root/usr/bin/pebble-challtestsrv" ]; then
  log "sid pebble already cached in ${SID_DIR}: $(cat "${SID_DIR}/VERSION" 2>/dev/null || echo unknown version)"
  exit 0
fi

fetch_sid_pebble() {
  fetch_sid_package pebble "$SID_DIR" || return 1
  local work="${SID_DIR}.tmp"
  for bin in pebble pebble-challtestsrv; do
    if [ ! -x "$work/root/usr/bin/$bin" ]; then
      echo "the sid package has no usr/bin/$bin" >&2
      return 1
    fi
  done
  # The binaries must actually run on this release (they need only glibc, but check).
  if ! "$work/root/usr/bin/pebble" -version >/dev/null 2>&1 && ! "$work/root/usr/bin/pebble" -h >/dev/null 2>&1; then
    echo "the sid pebble binary does not run on this system" >&2
    return 1
  fi
  # Indexes and the .deb are only needed once; keep the cache small.
  commit_sid_package "$SID_DIR" || return 1
}

mkdir -p "$(dirname "$SID_DIR")"
if ( fetch_sid_pebble ); then
  log "sid pebble $(cat "${SID_DIR}/VERSION") cached in ${SID_DIR}"
else
  rm -rf "${SID_DIR}.tmp"
  # Record the attempt: tests that need ARI/profiles fail (rather than skip) when this exists
  # without a binary.
  mkdir -p "$SID_DIR"
  warn "could not fetch pebble from Debian sid; falling back to bookworm's pebble $(dpkg-query -W -f='${Version}' pebble 2>/dev/null || echo '?').
         Tests that need ARI or certificate profiles (Pebble >= 2.5) will FAIL until this succeeds:
         re-run scripts/testbed/install.sh."
fi
