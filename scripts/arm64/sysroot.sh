#!/usr/bin/env bash
# The arm64 runtime for running acmecli-linux-arm64 on an x64 Debian 12 with qemu-user:
# Debian 12's arm64 libc6, libstdc++6 and libgcc-s1 unpacked (dpkg -x) into
# .cache/arm64-sysroot, for `qemu-aarch64-static -L <sysroot> acmecli-linux-arm64 ...`.
# Also installs Debian's qemu-user-static when missing (as root). The system's apt sources and
# dpkg architectures are not touched: apt runs on a private list and status.
#
# Idempotent; prints the sysroot on the last line of stdout.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${ACMECLI_ARM64_SYSROOT:-${REPO_ROOT}/.cache/arm64-sysroot}"
PACKAGES=(libc6 libstdc++6 libgcc-s1)

log() { printf 'arm64-sysroot: %s\n' "$*" >&2; }

if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "arm64-sysroot: qemu-aarch64-static is missing: apt-get install qemu-user-static (as root)" >&2
    exit 1
  fi
  log "installing qemu-user-static (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends qemu-user-static >&2 \
    || { apt-get -o DPkg::Lock::Timeout=600 update >&2 \
      && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends qemu-user-static >&2; }
fi

if [ -f "${DIR}/.acmecli-complete" ] && [ -e "${DIR}/lib/ld-linux-aarch64.so.1" ]; then
  log "reusing ${DIR} ($(cat "${DIR}/.acmecli-complete"))"
  echo "$DIR"
  exit 0
fi

mirror="${ACMECLI_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror="$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)"
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

work="${DIR}.tmp"
rm -rf "$work"
mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial" "$work/root"
: > "$work/apt/status"
echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} bookworm main" > "$work/apt/sources.list"
apt_opts=(
  -o "APT::Architecture=arm64"
  -o "APT::Architectures::=arm64"
  -o "Dir::Etc::sourcelist=${work}/apt/sources.list"
  -o "Dir::Etc::sourceparts=/dev/null"
  -o "Dir::State::Lists=${work}/apt/lists"
  -o "Dir::State::status=${work}/apt/status"
  -o "Dir::Cache::Archives=${work}/apt/archives"
  -o "Debug::NoLocking=1"
)
log "fetching ${PACKAGES[*]} (arm64, bookworm) from ${mirror}"
apt-get "${apt_opts[@]}" update >&2
if id _apt >/dev/null 2>&1; then chown -R _apt "$work/apt/archives"; fi
(cd "$work/apt/archives" && apt-get "${apt_opts[@]}" download "${PACKAGES[@]/%/:arm64}" >&2)
versions=()
for deb in "$work"/apt/archives/*.deb; do
  dpkg -x "$deb" "$work/root"
  versions+=("$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)")
done
# Merged /usr: the loader is looked up at /lib/ld-linux-aarch64.so.1.
mv "$work/root" "${work}.root"
rm -rf "$work"
mv "${work}.root" "$work"
if [ ! -e "$work/lib/ld-linux-aarch64.so.1" ]; then
  mkdir -p "$work/lib"
  ln -sf ../usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 "$work/lib/ld-linux-aarch64.so.1"
fi
echo "${versions[*]}" > "$work/.acmecli-complete"
rm -rf "$DIR"
mv "$work" "$DIR"
log "ready: ${DIR} ($(cat "${DIR}/.acmecli-complete"))"
echo "$DIR"
