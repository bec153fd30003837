#!/usr/bin/env bash
# make demo: the same misaligned job on stock io_uring (EINVAL), then on
# fio-bounce (passes verify, prints its bounce summary). The target is a
# scratch file; nothing to configure.
set -euo pipefail

engine=${1:?usage: tools/demo.sh ENGINE.so}
top=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp "$top/build/demo-scratch.XXXXXX")
trap 'rm -f "$scratch"' EXIT
export TARGET=$scratch SIZE=64m
job=$top/jobs/demo-misaligned.fio
# fio leaves verify state files in its working directory.
cd "$top/build"

echo "== 1/2: stock io_uring, direct=1 ($job)"
if fio --ioengine=io_uring "$job" >"$scratch.log" 2>&1; then
	cat "$scratch.log"
	echo "demo: stock io_uring accepted the misaligned job on $scratch;" \
	     "this file system takes any alignment, so there is nothing to show" >&2
	rm -f "$scratch.log"
	exit 1
fi
grep -m 3 -E 'Invalid argument|err=' "$scratch.log" || true
rm -f "$scratch.log"

echo
echo "== 2/2: fio-bounce, same job"
fio --ioengine="external:$engine" "$job"
