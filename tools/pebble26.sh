#!/bin/sh
# Unpack Debian trixie's pebble (2.6, serves ACME Renewal Information) into
# /opt/pebble26 for the ARI integration tests, without touching the system's
# bookworm packages: apt runs on a private source list, list cache and archive
# cache under a temporary folder, downloads the one .deb and `dpkg -x` unpacks
# it. Nothing is installed, no apt source or pin is added to /etc.
#
# Usage (root or sudo): tools/pebble26.sh [TARGET]   (default /opt/pebble26)
# Idempotent: does nothing when TARGET/usr/bin/pebble already exists.
set -eu

TARGET=${1:-/opt/pebble26}
BIN="$TARGET/usr/bin/pebble"
if [ -x "$BIN" ]; then
    exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# The Debian mirror this machine already uses (deb822 or one-line format),
# so CI machines behind a local mirror keep using it.
mirror=""
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    case "$f" in
    *.sources) m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' "$f" | head -n 1) ;;
    *) m=$(sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' "$f" | head -n 1) ;;
    esac
    if [ -n "$m" ]; then mirror=$m; break; fi
done
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [signed-by=$keyring] $mirror trixie main" > "$work/sources.list"

# Private apt: only the trixie source, lists and caches in $work.
apt() {
    apt-get -q -o Dir::Etc::SourceList="$work/sources.list" \
        -o Dir::Etc::SourceParts="$work/parts" \
        -o Dir::State::Lists="$work/lists" \
        -o Dir::Cache="$work/cache" \
        -o APT::Get::List-Cleanup=0 \
        -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

echo "pebble26: fetching the trixie package list from $mirror"
apt update >/dev/null
cd "$work"
apt download pebble/trixie >/dev/null
deb=$(ls "$work"/pebble_*.deb)
echo "pebble26: unpacking $(basename "$deb") into $TARGET"
$SUDO mkdir -p "$TARGET"
$SUDO dpkg -x "$deb" "$TARGET"
[ -x "$BIN" ] || { echo "pebble26: $BIN missing after unpacking" >&2; exit 1; }
echo "pebble26: $BIN ready"
