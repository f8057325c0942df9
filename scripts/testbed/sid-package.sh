# Sourced by scripts/testbed/install.sh and scripts/install-peers.sh: fetch one package from
# Debian sid without touching the system's apt sources (a private sources list and apt state in a
# scratch folder), unpacked with dpkg -x. The caller defines log(), checks the binaries it needs in
# "<dest>.tmp/root", then calls commit_sid_package, so a half-finished fetch never looks cached.

# fetch_sid_package PACKAGE DEST: leaves DEST.tmp/root (the unpacked package) and DEST.tmp/VERSION.
fetch_sid_package() {
  local package="$1" dest="$2"
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
  local work="${dest}.tmp"
  rm -rf "$work"
  mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/root" || return 1
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} sid main" > "$work/sources.list"
  local apt_opts=(
    -o "Dir::Etc::sourcelist=${work}/sources.list"
    -o "Dir::Etc::sourceparts=/dev/null"
    -o "Dir::State::Lists=${work}/lists"
    -o "Dir::Cache::Archives=${work}/archives"
  )
  log "fetching ${package} from ${mirror} sid"
  # (set -e does not apply inside an `if` condition, hence the explicit returns.)
  apt-get "${apt_opts[@]}" update || return 1
  # apt-get download writes into the current directory as the unprivileged _apt user.
  if id _apt >/dev/null 2>&1; then chown _apt "$work/archives"; fi
  # "/sid": never fall back to the installed bookworm version when the sid index is missing.
  (cd "$work/archives" && apt-get "${apt_opts[@]}" download "${package}/sid") || return 1
  local deb
  deb="$(ls "$work"/archives/"${package}"_*.deb 2>/dev/null | head -n 1)"
  if [ -z "$deb" ]; then
    echo "apt-get download produced no ${package}_*.deb" >&2
    return 1
  fi
  dpkg -x "$deb" "$work/root" || return 1
  dpkg-deb -f "$deb" Version > "$work/VERSION" || return 1
}

# commit_sid_package DEST: DEST.tmp becomes DEST (indexes and the .deb are dropped: needed once).
commit_sid_package() {
  local dest="$1" work="${1}.tmp"
  rm -rf "$work/lists" "$work/archives"
  rm -rf "$dest"
  mv "$work" "$dest"
}
