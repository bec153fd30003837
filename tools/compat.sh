#!/usr/bin/env bash
# The compatibility matrix ('make compat'): the whole 'make test' under each
# fio release, with that fio first on PATH and the engine built (warnings as
# errors) against its own tree.
#
# Usage: tools/compat.sh COMPAT_DIR     (normally through 'make compat')
# Environment (the Makefile passes them on):
#   FIO_SHARED  directory of release tarballs with SHA256SUMS (default
#               ../shared/fio-src); every tarball listed there is tested
#   FIO_TREES   more fio source trees or tarballs, space-separated
#   SYSTEM_LOG  output of a 'make test' already run with the system fio: its
#               summary becomes the system row instead of running it again
#   SYSTEM=0    leave the system fio out
#   T           only the tests whose name contains T (as 'make test T=')
#
# Each release is unpacked (or copied) into COMPAT_DIR/<label>/fio, given
# FIO-VERSION-FILE, configured with --disable-native and built once: a tree
# that built before is reused. Prints one summary line per fio, then
# 'N passed, N failed, N skipped' over all of them; exits 1 if anything
# failed or did not build.
set -euo pipefail

compat_dir=${1:?usage: tools/compat.sh COMPAT_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$compat_dir"
compat_dir=$(cd "$compat_dir" && pwd)
make_cmd=${MAKE:-make}
shared_given=${FIO_SHARED:+1}
shared=${FIO_SHARED:-$top/../shared/fio-src}
filter=${T:-}

die() {
	printf 'fio-bounce compat: %s\n' "$*" >&2
	exit 1
}

now() { date +%s; }

mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

rows=()
total_pass=0 total_fail=0 total_skip=0

# add_row LABEL PASS FAIL SKIP NOTE
add_row() {
	rows+=("$(printf '%-22s %4d passed, %3d failed, %3d skipped   %s' \
		"$1" "$2" "$3" "$4" "$5")")
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
	total_skip=$((total_skip + $4))
}

# summary_of LOG: "P F S" from the runner's last line, or nothing.
summary_of() {
	sed -n 's/^\([0-9]\+\) passed, \([0-9]\+\) failed, \([0-9]\+\) skipped$/\1 \2 \3/p' \
		"$1" | tail -n 1
}

# --- the trees to test: (label, source) ----------------------------------
labels=() sources=()

add_source() {	# add_source PATH: a tarball or a directory
	local src=$1 key
	[ -e "$src" ] || die "$src: no such tree or tarball"
	src=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")
	if [ -f "$src" ]; then
		key=$(sha256sum "$src" | cut -c1-8)
	else
		key=$(printf '%s' "$src" | sha256sum | cut -c1-8)
	fi
	labels+=("$(basename "$src" | sed 's/\.tar\..*$//; s/\.tgz$//')-$key")
	sources+=("$src")
}

if [ -d "$shared" ]; then
	[ -f "$shared/SHA256SUMS" ] || die "$shared has no SHA256SUMS"
	(cd "$shared" && sha256sum --quiet -c SHA256SUMS) ||
		die "$shared: checksums do not match SHA256SUMS; refusing to build"
	for t in "$shared"/*.tar.*; do
		[ -e "$t" ] || continue
		grep -q " $(basename "$t")\$" "$shared/SHA256SUMS" ||
			die "$t is not listed in $shared/SHA256SUMS"
		add_source "$t"
	done
elif [ -n "$shared_given" ] || [ -z "${FIO_TREES:-}" ]; then
	die "$shared: no such directory (set FIO_SHARED=DIR, or give FIO_TREES=\"tree-or-tarball ...\")"
fi
for t in ${FIO_TREES:-}; do
	add_source "$t"
done

# --- building one fio -----------------------------------------------------
# version_of TREE NAME: what FIO-VERSION-FILE must say (fio-X.Y): the
# tree's own file, else git, else NAME (what the tree was called) if it
# looks like fio-X.Y.
version_of() {
	local tree=$1 name=$2 v
	v=$(sed -n 's/^FIO_VERSION = //p' "$tree/FIO-VERSION-FILE" 2>/dev/null || true)
	if [ -z "$v" ] && [ -d "$tree/.git" ]; then
		v=$(cd "$tree" && ./FIO-VERSION-GEN >/dev/null 2>&1 &&
			sed -n 's/^FIO_VERSION = //p' FIO-VERSION-FILE)
	fi
	[ -n "$v" ] || case $name in
		fio-[0-9]*) v=$name ;;
	esac
	printf '%s' "$v"
}

# build_fio SOURCE DIR: DIR/fio is a built fio tree afterwards (or return 1).
build_fio() {
	local src=$1 dir=$2 tree=$2/fio name v
	# Reuse a tree that built, with libaio (tests compare against it).
	if [ -f "$tree/.fiob-built" ] && grep -q CONFIG_LIBAIO "$tree/config-host.h"; then
		echo "  fio: reusing $tree"
		return 0
	fi
	rm -rf "$tree" "$dir/unpack"
	mkdir -p "$dir/unpack"
	if [ -f "$src" ]; then
		tar -xf "$src" -C "$dir/unpack" || return 1
		[ "$(ls "$dir/unpack" | wc -l)" -eq 1 ] ||
			{ echo "  $src does not unpack to one directory"; return 1; }
		name=$(ls "$dir/unpack")
		mv "$dir/unpack/$name" "$tree"
	else
		name=$(basename "$src")
		cp -a "$src" "$tree" || return 1
	fi
	rmdir "$dir/unpack"
	v=$(version_of "$tree" "$name")
	[ -n "$v" ] || { echo "  cannot tell the fio version of $src:" \
		"give it FIO-VERSION-FILE ('FIO_VERSION = fio-X.Y')"; return 1; }
	echo "FIO_VERSION = $v" >"$tree/FIO-VERSION-FILE"
	echo "  fio: building $v in $tree (./configure --disable-native; make -j2)"
	(cd "$tree" && ./configure --disable-native >configure.out 2>&1) ||
		{ tail -n 20 "$tree/configure.out"; return 1; }
	(cd "$tree" && make -j2 >make.out 2>&1) ||
		{ tail -n 30 "$tree/make.out"; return 1; }
	touch "$tree/.fiob-built"
}

# --- the matrix -------------------------------------------------------------
if [ "${SYSTEM:-1}" != 0 ]; then
	label="$(fio --version) (system)"
	echo "=== $label: make test ==="
	start=$(now)
	if [ -n "${SYSTEM_LOG:-}" ]; then
		log=$SYSTEM_LOG
		echo "  (from $log)"
		note="(ran before: $log)"
	else
		log=$compat_dir/system-test.log
		set +e
		(cd "$top" && "$make_cmd" --no-print-directory test T="$filter") 2>&1 |
			tee "$log"
		set -e
		note="test $(mmss $(($(now) - start)))"
	fi
	read -r p f s <<<"$(summary_of "$log")" || true
	if [ -n "${p:-}" ]; then
		add_row "$label" "$p" "$f" "$s" "$note"
	else
		add_row "$label" 0 1 0 "no summary line in $log"
	fi
fi

for i in "${!sources[@]}"; do
	dir=$compat_dir/${labels[$i]}
	mkdir -p "$dir/bin"
	echo "=== ${labels[$i]}: build fio, build the engine, make test ==="
	start=$(now)
	if ! build_fio "${sources[$i]}" "$dir"; then
		add_row "${labels[$i]}" 0 1 0 "fio did not build from ${sources[$i]}"
		continue
	fi
	version=$(sed -n 's/^FIO_VERSION = //p' "$dir/fio/FIO-VERSION-FILE")
	ln -sf "$dir/fio/fio" "$dir/bin/fio"
	running=$(PATH=$dir/bin:$PATH fio --version)
	[ "$running" = "$version" ] ||
		die "PATH gives $running, not the $version just built"
	# Everything the engine's build and tests write goes under $dir; the
	# engine builds with warnings as errors.
	vars=(BUILD="$dir/build" ENGINE="$dir/fio-bounce.so" FIO_SRC="$dir/fio"
	      CFLAGS="-O2 -g -Werror")
	if ! (cd "$top" && "$make_cmd" --no-print-directory "${vars[@]}" all) \
		>"$dir/engine.log" 2>&1; then
		tail -n 30 "$dir/engine.log"
		add_row "$version" 0 1 0 "the engine did not build (-Werror): $dir/engine.log"
		continue
	fi
	built=$(now)
	set +e
	(cd "$top" && PATH=$dir/bin:$PATH "$make_cmd" --no-print-directory \
		"${vars[@]}" test T="$filter") 2>&1 | tee "$dir/test.log"
	set -e
	read -r p f s <<<"$(summary_of "$dir/test.log")" || true
	note="build $(mmss $((built - start))), test $(mmss $(($(now) - built)))"
	if [ -n "${p:-}" ]; then
		add_row "$version" "$p" "$f" "$s" "$note"
	else
		add_row "$version" 0 1 0 "no summary line in $dir/test.log"
	fi
done

echo "=== compatibility matrix ==="
for r in "${rows[@]}"; do
	echo "$r"
done
[ "${#rows[@]}" -gt 0 ] || die "no fio to test"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
