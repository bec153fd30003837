#!/usr/bin/env bash
# Build fio-engine-bounce_<version>_<arch>.deb from a 'make install' staging
# root (PREFIX=/usr): strips the engine, compresses the man page, adds the
# Debian docs and control data, and runs dpkg-deb. 'make deb' calls it.
#
# Usage: tools/mkdeb.sh STAGING_ROOT VERSION FIO_TREE OUT_DIR
#
# The engine only runs under the fio it was built against, so the package
# depends on exactly that fio: the installed Debian fio, once its upstream
# version is checked against the tree the engine was built from.
set -euo pipefail

root=${1:?usage: tools/mkdeb.sh ROOT VERSION FIO_TREE OUT_DIR}
version=${2:?version}
fio_tree=${3:?fio tree}
out=${4:?out dir}
pkg=fio-engine-bounce
root=$(cd "$root" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)

die() {
	printf 'mkdeb: %s\n' "$*" >&2
	exit 1
}

arch=$(dpkg --print-architecture)
built_for=$(sed -n 's/^FIO_VERSION = fio-//p' "$fio_tree/FIO-VERSION-FILE")
[ -n "$built_for" ] || die "no FIO_VERSION in $fio_tree/FIO-VERSION-FILE"
fio_deb=$(dpkg-query -W -f='${Version}' fio 2>/dev/null) ||
	die "the Debian fio package is not installed: the package must depend on the exact fio the engine was built for"
upstream=${fio_deb#*:}
upstream=${upstream%-*}
[ "$upstream" = "$built_for" ] ||
	die "the engine was built for fio $built_for, but the installed Debian fio is $fio_deb"

so=$(find "$root/usr/lib" -name fio-bounce.so)
[ -n "$so" ] || die "no fio-bounce.so under $root/usr/lib"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$so"
chmod 0644 "$so"

gzip -9nf "$root/usr/share/man/man7/fio-bounce.7" \
	"$root/usr/share/man/man1/fio-bounce-compare.1"

doc=$root/usr/share/doc/$pkg
install -d "$doc"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fio-bounce
Comment: The engine is built against fio's headers (GPL-2.0-only) and is
 loaded into fio's address space.

Files: *
Copyright: 2026 the fio-bounce developers
License: GPL-2
 This program is free software; you can redistribute it and/or modify it
 under the terms of the GNU General Public License, version 2, as published
 by the Free Software Foundation.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in '/usr/share/common-licenses/GPL-2'.
EOF
date_r=$(date -R -d "@$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)")
cat >"$doc/changelog.gz.tmp" <<EOF
$pkg ($version) unstable; urgency=medium

  * Built from fio-bounce $(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
    for fio $fio_deb.

 -- fio-bounce developers <dev@fio-bounce.org>  $date_r
EOF
gzip -9nc "$doc/changelog.gz.tmp" >"$doc/changelog.gz"
rm "$doc/changelog.gz.tmp"

# Shared-library dependencies, as dpkg-shlibdeps finds them.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O "$so" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies for $so"

find "$root" -name __pycache__ -prune -exec rm -rf {} +
find "$root" -type d -exec chmod 0755 {} +
install -d "$root/DEBIAN"
(cd "$root" && find usr -type f -printf '%P\n' | sort | sed 's|^|usr/|' |
	xargs md5sum) >"$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: fio-bounce developers <dev@fio-bounce.org>
Installed-Size: $size
Depends: fio (= $fio_deb), $shlibs, python3
Recommends: python3-matplotlib
Section: utils
Priority: optional
Homepage: https://github.com/axboe/fio
Description: fio ioengine that runs misaligned O_DIRECT I/O via bounce buffers
 fio-bounce is an external ioengine for fio, built on liburing. It runs the
 O_DIRECT jobs stock engines refuse with EINVAL (bs=1000, iomem_align=7,
 blockalign=512 on 4Kn devices): aligned I/O goes straight to io_uring,
 misaligned I/O goes through page-aligned bounce buffers, with
 read-modify-write for partial blocks.
 .
 The package also ships a job library (a misaligned integrity matrix and
 A/B workloads) and fio-bounce-compare, which runs stock io_uring against
 fio-bounce and writes a Markdown report with plots.
 .
 The engine is built for exactly one fio version; use it as
 --ioengine=external:/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/fio/fio-bounce.so
EOF
mkdir -p "$out"
deb=$out/${pkg}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
