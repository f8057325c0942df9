#!/usr/bin/env bash
# Builds, once, a folder that runs Windows Node 24 programs on Debian 12: Debian 13 (trixie)
# debootstrapped into .cache/trixie-wine with Wine 10 installed inside (Debian 12's Wine 8 lacks
# MEM_RESERVE_PLACEHOLDER and kills every Node 24 .exe at start-up). Also initialises the Wine
# prefix (/root/.wine inside) so test runs do not pay for wineboot.
#
# Idempotent: a complete folder carries .acmecli-complete and is reused. Needs root (debootstrap,
# chroot) and a Debian mirror (the one in /etc/apt, or ACMECLI_DEBIAN_MIRROR). Nothing outside
# the folder is changed, except installing Debian 12's debootstrap package when it is missing.
#
#   scripts/windows/setup-wine.sh            prints the folder on the last line of stdout
#   ACMECLI_TRIXIE_DIR=/elsewhere scripts/windows/setup-wine.sh
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${ACMECLI_TRIXIE_DIR:-${REPO_ROOT}/.cache/trixie-wine}"
MARK="${DIR}/.acmecli-complete"
PACKAGES=(wine wine64)

log() { printf 'setup-wine: %s\n' "$*" >&2; }

# (usr/bin/wine is an absolute symlink into the chroot's /etc/alternatives: test a real file.)
if [ -f "$MARK" ] && [ -x "${DIR}/usr/bin/wine-stable" ]; then
  log "reusing ${DIR} ($(cat "$MARK"))"
  echo "$DIR"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-wine: needs root (debootstrap and chroot); try: sudo $0" >&2
  exit 1
fi

apt_install_host() {
  # Another apt run (a colleague's, unattended-upgrades) may hold the lock: wait for it.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@" >&2 \
    || { apt-get -o DPkg::Lock::Timeout=600 update >&2 \
      && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@" >&2; }
}
command -v debootstrap >/dev/null 2>&1 || { log "installing debootstrap"; apt_install_host debootstrap; }

mirror="${ACMECLI_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror="$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)"
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

# Built in a scratch folder and renamed when complete: a half-built folder never looks cached.
work="${DIR}.tmp"
cleanup() {
  # Never leave /proc mounted inside a folder that may be deleted.
  if mountpoint -q "${work}/proc" 2>/dev/null; then umount -l "${work}/proc" || true; fi
}
trap cleanup EXIT
cleanup
rm -rf "$work"
mkdir -p "$(dirname "$DIR")"

started=$SECONDS
log "debootstrap trixie (minbase) from ${mirror} into ${work}"
debootstrap --variant=minbase trixie "$work" "$mirror" >&2

in_chroot() {
  chroot "$work" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
mount -t proc proc "${work}/proc"
cp /etc/resolv.conf "${work}/etc/resolv.conf" 2>/dev/null || true
log "installing ${PACKAGES[*]} (Wine 10) inside"
in_chroot apt-get update >&2
in_chroot apt-get install -y --no-install-recommends "${PACKAGES[@]}" >&2
in_chroot apt-get clean
rm -rf "${work}/var/lib/apt/lists/"*

log "initialising the Wine prefix"
# wineboot creates C:\ProgramData, C:\windows\system32 (icacls.exe, schtasks.exe, whoami.exe...).
in_chroot sh -c 'WINEDEBUG=-all XDG_RUNTIME_DIR=/tmp wineboot --init >/tmp/wineboot.log 2>&1; wineserver -w' || true
wine_version="$(in_chroot wine --version 2>/dev/null || echo unknown)"
if [ ! -d "${work}/root/.wine/drive_c/windows" ]; then
  echo "setup-wine: wineboot did not create the prefix; see ${work}/tmp/wineboot.log" >&2
  exit 1
fi
umount "${work}/proc"

echo "trixie, ${wine_version}, built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - started)) s" > "${work}/.acmecli-complete"
rm -rf "$DIR"
mv "$work" "$DIR"
log "ready: ${DIR} ($(cat "$MARK"))"
echo "$DIR"
