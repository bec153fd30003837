#!/usr/bin/env bash
# Make sure everything needed to build fio-bounce is present, installing only
# what is missing:
#   - Debian's fio and liburing-dev;
#   - the source of the *installed* fio version, configured (config-host.h),
#     because fio ships no headers and an engine must match its fio exactly.
#
# Usage: tools/setup.sh BUILD_DIR [extra Debian packages...]
# Prints the path of the configured fio tree on its last line.
# FIO_SRC=/path/to/configured/fio skips the source download entirely.
#
#        tools/setup.sh --deps PACKAGE...
# Installs only the Debian packages named (no fio, no source): 'make deps'.
set -euo pipefail

deps_only=0
if [ "${1:-}" = "--deps" ]; then
	deps_only=1
	shift
else
	build_dir=${1:?usage: tools/setup.sh BUILD_DIR [packages...] | --deps PACKAGE...}
	shift
	mkdir -p "$build_dir"
	build_dir=$(cd "$build_dir" && pwd)
fi
extra_pkgs=("$@")

die() {
	printf 'fio-bounce setup: %s\n' "$*" >&2
	exit 1
}

manual_help() {
	cat >&2 <<EOF
fio-bounce setup: cannot install automatically ($1).
Install these yourself:
  - fio and liburing (headers): e.g. 'apt-get install fio liburing-dev'
  - the source tree of the same fio version as 'fio --version', configured:
      cd /path/to/fio-source && ./configure
Then build with: make FIO_SRC=/path/to/fio-source
EOF
	exit 1
}

have_pkg() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

can_install() {
	[ "$(id -u)" -eq 0 ] || return 1
	command -v apt-get >/dev/null 2>&1 || return 1
	command -v dpkg-query >/dev/null 2>&1 || return 1
}

apt_updated=0
apt_update_once() {
	if [ "$apt_updated" -eq 0 ]; then
		apt-get update -qq >&2 || die "apt-get update failed"
		apt_updated=1
	fi
}

install_pkgs() {
	local missing=() p
	for p in "$@"; do
		have_pkg "$p" || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	can_install || manual_help "missing packages: ${missing[*]}; not root or not Debian"
	echo "fio-bounce setup: installing ${missing[*]}" >&2
	apt_update_once
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
}

# A deb-src twin of the machine's own 'deb' entries, so that 'apt-get source'
# fetches from wherever this machine already fetches its binaries.
ensure_deb_src() {
	local src_list=/etc/apt/sources.list.d/fio-bounce-deb-src.sources
	local legacy_list=/etc/apt/sources.list.d/fio-bounce-deb-src.list
	if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
		return 0
	fi
	local f wrote=0
	: >"$src_list.tmp"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822 stanzas: keep each stanza that has 'Types: deb', as deb-src.
		awk 'BEGIN { RS=""; ORS="\n\n" }
		     /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|$|\n)/ {
			sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >>"$src_list.tmp"
	done
	if [ -s "$src_list.tmp" ]; then
		mv "$src_list.tmp" "$src_list"
		wrote=1
	else
		rm -f "$src_list.tmp"
	fi
	if [ -f /etc/apt/sources.list ] && grep -qE '^deb ' /etc/apt/sources.list; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$legacy_list"
		wrote=1
	fi
	[ "$wrote" -eq 1 ] || die "no 'deb' entry found in /etc/apt to derive a deb-src entry from"
	echo "fio-bounce setup: added deb-src entries derived from this machine's apt sources" >&2
	apt_updated=0
	apt_update_once
}

configured_tree_ok() {
	[ -f "$1/fio.h" ] && [ -f "$1/ioengines.h" ] && [ -f "$1/config-host.h" ]
}

# --- --deps: packages only ------------------------------------------------
if [ "$deps_only" -eq 1 ]; then
	if ! command -v dpkg-query >/dev/null 2>&1; then
		# Not Debian: nothing to install with, so only insist on liburing.
		[ -f /usr/include/liburing.h ] ||
			manual_help "this is not a Debian system and liburing's headers are missing"
		exit 0
	fi
	[ "${#extra_pkgs[@]}" -eq 0 ] || install_pkgs "${extra_pkgs[@]}"
	exit 0
fi

# --- FIO_SRC: a tree the user built or configured themselves -------------
if [ -n "${FIO_SRC:-}" ]; then
	configured_tree_ok "$FIO_SRC" ||
		die "FIO_SRC=$FIO_SRC is not a configured fio tree (need fio.h and config-host.h: run ./configure there)"
	[ -f /usr/include/liburing.h ] || install_pkgs liburing-dev
	[ "${#extra_pkgs[@]}" -eq 0 ] || install_pkgs "${extra_pkgs[@]}"
	echo "$FIO_SRC"
	exit 0
fi

# --- Debian: packages, then the source of exactly the installed fio ------
command -v dpkg-query >/dev/null 2>&1 || manual_help "this is not a Debian system"
install_pkgs fio liburing-dev "${extra_pkgs[@]}"

fio_deb_version=$(dpkg-query -W -f='${Version}' fio)
tree="$build_dir/fio-$fio_deb_version"
if configured_tree_ok "$tree" && [ -f "$tree/.fio-bounce-configured" ]; then
	echo "$tree"
	exit 0
fi

can_install || manual_help "the fio source is needed and this user cannot fetch it"
install_pkgs dpkg-dev
ensure_deb_src
mkdir -p "$build_dir/dl"
(cd "$build_dir/dl" &&
	apt-get source -qq --download-only "fio=$fio_deb_version" >&2) || die "could not download the source of fio $fio_deb_version (apt-get source fio=$fio_deb_version)"
rm -rf "$tree"
dpkg-source --no-check -x "$build_dir"/dl/fio_"${fio_deb_version#*:}".dsc "$tree" >&2 ||
	die "dpkg-source could not unpack fio $fio_deb_version"
# Same switches as Debian's build (debian/rules) where they matter to us:
# no -march=native, so the headers describe the distributed binary.
(cd "$tree" && ./configure --disable-native --prefix=/usr >configure.out 2>&1 &&
	./FIO-VERSION-GEN >/dev/null 2>&1) ||
	die "fio ./configure failed; see $tree/configure.out"
touch "$tree/.fio-bounce-configured"
echo "$tree"
