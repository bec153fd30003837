#!/bin/bash
# smoke.sh - prove that faultfs plus a 4096-byte-sector loop device behave
# the way the fault tests rely on. Run as root: bash tests/fuse/smoke.sh
#
# Everything it makes lives under one mktemp dir and is undone on every exit
# path. It only ever detaches the loop device it attached itself (and only
# while that device still points at its own disk.img), and only unmounts its
# own mount (plus fusectl, if it had to mount that).
#
# Teardown order, and why (see teardown_stack):
#   1. kill -KILL the daemon: the kernel aborts the FUSE connection, so every
#      request stuck in it (after "hang") fails and nothing below can block;
#      a plain "losetup -d" or umount of a hung stack could otherwise wait on
#      in-flight I/O or dirty pages for ever.
#   2. reap our own background readers (they now get EIO).
#   3. losetup -d our device; detach is lazy while anyone holds it open, so
#      wait until it is really gone.
#   4. fusermount3 -u -z (umount -l as fallback): a dead daemon leaves a mount
#      that answers ENOTCONN and can only be detached lazily.
#   5. rm the temp dir, but only once nothing is mounted under it.

set -u -o pipefail

SRC_DIR=$(cd "$(dirname "$0")" && pwd)
TMP=
FAILS=0
FUSECTL_MOUNTED=0
BG_PIDS=()

# Per-stack state; teardown_stack empties it.
DPID=
DEV=
MNT=
LOG=
CONN=

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
info() { echo "INFO $*"; }
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# Alive and not a zombie (kill -0 succeeds on zombies).
is_running() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $st != Z* ]]
}

# run_bg NAME cmd...: start cmd in the background; NAME.out gets its output,
# NAME.rc its exit status once it finishes. Sets BG (the subshell's pid).
run_bg() {
	local name=$1
	shift
	rm -f "$TMP/$name.rc"
	( "$@" >"$TMP/$name.out" 2>&1; echo $? >"$TMP/$name.rc" ) &
	BG=$!
	BG_PIDS+=("$BG")
}

# wait_bg NAME SECS: exit status of NAME, or 124 if still running after SECS.
# A process stuck in a hung FUSE request sleeps uninterruptibly (state D), so
# "timeout" could not kill it either; polling leaves it to teardown instead.
wait_bg() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ -s $TMP/$1.rc ]] && { return "$(cat "$TMP/$1.rc")"; }
		sleep 0.1
	done
	return 124
}

# run_capped SECS NAME cmd...: run_bg + wait_bg.
run_capped() {
	local secs=$1 name=$2
	shift 2
	run_bg "$name" "$@"
	wait_bg "$name" "$secs"
}

# log_hits TAGREGEX START END [FROMLINE]: log lines with a matching tag whose
# [OFFSET, OFFSET+LENGTH) overlaps [START, END).
log_hits() {
	tail -n +"${4:-1}" "$LOG" | awk -v re="^($1)\$" -v s="$2" -v e="$3" \
		'$1 ~ re && $2 < e && s < $2 + $3'
}

log_mark() { echo $(($(wc -l <"$LOG") + 1)); }

# dd through the loop device with O_DIRECT, 4096-byte blocks.
rd() { dd if="$DEV" of="$2" bs=4096 skip="$1" count="${3:-1}" iflag=direct status=none; }
wr() { dd if="$2" of="$DEV" bs=4096 seek="$1" skip="$1" count="${3:-1}" oflag=direct conv=notrunc status=none; }
page() { dd if="$1" bs=4096 skip="$2" count="${3:-1}" status=none; }
same_as() { cmp -s "$1" <(page "$2" "$3" "${4:-1}"); }
says_eio() { grep -q "Input/output error" "$TMP/$1.out"; }
# failed_eio NAME RC: NAME finished (no hang), non-zero, with EIO.
failed_eio() { [[ $2 -ne 0 && $2 -ne 124 ]] && says_eio "$1"; }
not() { ! "$@"; }

start_stack() {
	local name=$1 i
	MNT=$TMP/$name.mnt
	LOG=$TMP/$name.log
	mkdir -p "$MNT"
	"$TMP/faultfs" --size 64M --log "$LOG" --log-reads "$MNT" -f \
		>"$TMP/$name.daemon" 2>&1 &
	DPID=$!
	for ((i = 0; i < 50; i++)); do
		grep -q " $MNT fuse" /proc/mounts && break
		is_running "$DPID" || break
		sleep 0.1
	done
	if ! grep -q " $MNT fuse" /proc/mounts; then
		fail "$name: mount faultfs ($(cat "$TMP/$name.daemon"))"
		return 1
	fi
	# fusectl names connections by the kernel dev_t: (major << 20) | minor.
	CONN=$(mountpoint -d "$MNT" | awk -F: '{ print $1 * 1048576 + $2 }')
	DEV=$(losetup -f --show --sector-size 4096 "$MNT/disk.img") || {
		DEV=
		fail "$name: losetup"
		return 1
	}
	pass "$name: faultfs pid $DPID on $MNT (conn $CONN), loop $DEV" \
		"($(losetup -n -O LOG-SEC,SIZELIMIT,DIO "$DEV" | xargs) LOG-SEC/SIZELIMIT/DIO," \
		"$(blockdev --getsize64 "$DEV") bytes)"
}

# backing_file of loop device $1 ("" if unbound).
backing() { cat "/sys/block/${1#/dev/}/loop/backing_file" 2>/dev/null; }

# Is loop device $1 still bound to our disk.img? Once a FUSE lookup has
# failed (dead daemon) the kernel shows the file as "... (deleted)".
ours() {
	local b
	b=$(backing "$1")
	[[ $b == "$MNT/disk.img" || $b == "$MNT/disk.img (deleted)" ]]
}

teardown_stack() {
	local p i
	if [[ -n $DPID ]] && is_running "$DPID"; then
		kill -KILL "$DPID"
		# Reaped here so bash's "Killed" job notice goes nowhere.
		{ wait "$DPID"; } 2>/dev/null
	fi
	for p in "${BG_PIDS[@]}"; do
		i=0
		while is_running "$p" && ((i++ < 100)); do
			sleep 0.1
		done
		wait "$p" 2>/dev/null
	done
	BG_PIDS=()
	if [[ -n $DEV ]]; then
		ours "$DEV" && losetup -d "$DEV"
		for ((i = 0; i < 100; i++)); do
			ours "$DEV" || break
			sleep 0.1
		done
		ours "$DEV" && echo "WARN $DEV still attached: $(backing "$DEV")"
	fi
	if [[ -n $MNT ]] && grep -q " $MNT " /proc/mounts; then
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	[[ -n $DPID ]] && { wait "$DPID"; } 2>/dev/null
	DPID='' DEV='' CONN=''
}

# After teardown: our device and mount must be gone. A device still bound to
# a lazily unmounted faultfs would show "/disk.img (deleted)".
check_clean() {
	local name=$1 dev=$2 mnt=$3 b
	b=$(backing "$dev")
	check "$name: teardown left no loop device ($dev${b:+ -> $b})" \
		test "$b" != "$mnt/disk.img" -a "$b" != "$mnt/disk.img (deleted)" \
		-a "$b" != "/disk.img (deleted)"
	[[ -s $TMP/$name.daemon ]] &&
		info "$name: daemon said: $(xargs echo <"$TMP/$name.daemon")"
	check "$name: teardown left no mount ($mnt)" \
		bash -c "! grep -q ' $mnt ' /proc/mounts"
}

cleanup() {
	local rc=$?
	set +e
	teardown_stack
	if ((FUSECTL_MOUNTED)); then
		umount /sys/fs/fuse/connections
	fi
	if [[ -n $TMP ]]; then
		if grep -q " $TMP/" /proc/mounts; then
			echo "WARN something still mounted under $TMP; not removing it"
		else
			rm -rf "$TMP"
		fi
	fi
	exit "$rc"
}

[[ $(id -u) == 0 ]] || { echo "FAIL must run as root"; exit 1; }
for t in pkg-config losetup fusermount3 dd cmp blockdev mountpoint; do
	command -v $t >/dev/null || { echo "FAIL missing $t"; exit 1; }
done

TMP=$(mktemp -d /tmp/faultfs-smoke.XXXXXX) || exit 1
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build, exactly as the lead's Makefile does ---------------------------
${CC:-cc} -O2 -Wall $(pkg-config --cflags fuse3) "$SRC_DIR/faultfs.c" \
	$(pkg-config --libs fuse3) -o "$TMP/faultfs" 2>"$TMP/build.err"
check "build warning-free" test $? -eq 0 -a ! -s "$TMP/build.err"
[[ -s $TMP/build.err ]] && cat "$TMP/build.err"
[[ -x $TMP/faultfs ]] || exit 1

head -c 1M /dev/urandom >"$TMP/pat"
head -c 1M /dev/urandom >"$TMP/pat2"
head -c 4M /dev/urandom >"$TMP/big"

# ==== stack 1: data path, fail_read, fail_write, hang/unhang, die ==========
start_stack s1 || exit 1
check "s1: disk.img is 64 MiB" test "$(stat -c %s "$MNT/disk.img")" -eq 67108864

wr 0 "$TMP/pat" 256
check "s1: O_DIRECT write of 256 pages" test $? -eq 0
check "s1: log has 256 'W off 4096' lines for them" \
	test "$(grep -c '^W [0-9]* 4096$' "$LOG")" -eq 256
rd 0 "$TMP/back" 256 && cmp -s "$TMP/back" "$TMP/pat"
check "s1: read back matches" test $? -eq 0

# -- fail_read on page 10 = [40960, 45056)
echo "fail_read 40960 45056" >"$MNT/ctl"
check "s1: ctl fail_read accepted" test $? -eq 0
run_capped 10 r10 rd 10 /dev/null
rc=$?
check "s1: O_DIRECT read of failed page exits non-zero (rc=$rc)" test $rc -ne 0 -a $rc -ne 124
check "s1: ... with Input/output error" says_eio r10
check "s1: log has 'RFAIL 40960 4096'" grep -qx "RFAIL 40960 4096" "$LOG"
rd 9 "$TMP/p9" && same_as "$TMP/p9" "$TMP/pat" 9
check "s1: page 9 still reads fine" test $? -eq 0
rd 11 "$TMP/p11" && same_as "$TMP/p11" "$TMP/pat" 11
check "s1: page 11 still reads fine" test $? -eq 0
run_capped 10 rbig dd if="$DEV" of="$TMP/rbig" bs=1M count=1 iflag=direct
rc=$?
check "s1: 1 MiB read spanning it fails (rc=$rc), EIO, 0 bytes returned" \
	test $rc -ne 0 -a $rc -ne 124 -a ! -s "$TMP/rbig"
says_eio rbig || fail "s1: 1 MiB read error is not EIO: $(cat "$TMP/rbig.out")"

# -- writes next to (and onto) a read-failing range must not read it
m=$(log_mark)
wr 9 "$TMP/pat2" && wr 11 "$TMP/pat2" && wr 10 "$TMP/pat2"
check "s1: O_DIRECT writes to pages 9, 11 and 10 itself succeed" test $? -eq 0
dd if="$TMP/pat2" of="$DEV" bs=512 skip=88 seek=88 count=1 conv=notrunc,fsync status=none
check "s1: buffered 512-byte write into page 11 (+fsync) succeeds" test $? -eq 0
hits=$(log_hits 'R|RFAIL' 40960 45056 "$m")
check "s1: no read of the failed page was caused by those writes" test -z "$hits"
[[ -n $hits ]] && echo "$hits"
info "s1: reads those writes caused: $(log_hits 'R|RFAIL' 0 67108864 "$m" | xargs echo)"
echo clear >"$MNT/ctl"
rd 9 "$TMP/p" 3 && same_as "$TMP/p" "$TMP/pat2" 9 3
check "s1: after clear, pages 9-11 hold the new data" test $? -eq 0

# -- fail_write on page 20 = [81920, 86016)
echo "fail_write 81920 86016" >"$MNT/ctl"
m=$(log_mark)
run_capped 10 w20 wr 20 "$TMP/pat2"
rc=$?
check "s1: O_DIRECT write of failed page exits non-zero (rc=$rc)" test $rc -ne 0 -a $rc -ne 124
check "s1: ... with Input/output error" says_eio w20
check "s1: log has 'WFAIL 81920 4096'" grep -qx "WFAIL 81920 4096" "$LOG"
check "s1: log has no W touching page 20" test -z "$(log_hits W 81920 86016 "$m")"
wr 19 "$TMP/pat2" && wr 21 "$TMP/pat2"
check "s1: writes to pages 19 and 21 succeed" test $? -eq 0
echo clear >"$MNT/ctl"
rd 19 "$TMP/p" 3 && cmp -s <(page "$TMP/p" 0) <(page "$TMP/pat2" 19) &&
	cmp -s <(page "$TMP/p" 1) <(page "$TMP/pat" 20) &&
	cmp -s <(page "$TMP/p" 2) <(page "$TMP/pat2" 21)
check "s1: page 20 kept its old data, 19 and 21 have the new" test $? -eq 0

# -- a failing page at the end of one 1280 KiB loop request (= max_sectors_kb)
echo "fail_write $((2048 * 1024 + 1306624)) $((2048 * 1024 + 1310720))" >"$MNT/ctl"
m=$(log_mark)
run_capped 10 wbig dd if="$TMP/big" of="$DEV" bs=1280K seek=2M count=1 \
	oflag=direct,seek_bytes conv=notrunc
rc=$?
check "s1: 1280 KiB write ending in a failed page fails (rc=$rc) with EIO" \
	test $rc -ne 0 -a $rc -ne 124
says_eio wbig || fail "s1: 1280 KiB write error is not EIO: $(cat "$TMP/wbig.out")"
check "s1: ... and no W touches the failed page" \
	test -z "$(log_hits W $((2048 * 1024 + 1306624)) $((2048 * 1024 + 1310720)) "$m")"
info "s1: FUSE requests of that failed loop write: $(tail -n +"$m" "$LOG" | xargs echo)"
echo clear >"$MNT/ctl"

# -- writes past the end of disk.img (only reachable on the file itself)
run_capped 10 enospc dd if=/dev/zero of="$MNT/disk.img" bs=4096 seek=16384 \
	count=1 oflag=direct conv=notrunc
rc=$?
check "s1: write past the end of disk.img fails (rc=$rc) with ENOSPC" \
	grep -q "No space left on device" "$TMP/enospc.out"
run_capped 10 badcmd bash -c "echo bogus >'$MNT/ctl'"
check "s1: unknown ctl command fails with EINVAL" \
	grep -q "Invalid argument" "$TMP/badcmd.out"

# -- hang / unhang
echo hang >"$MNT/ctl"
run_bg hr rd 3 "$TMP/p3"
sleep 1
check "s1: after hang, a loop reader blocks" test ! -e "$TMP/hr.rc"
info "s1: blocked reader: $(ps -o stat=,wchan=,args= --ppid "$BG" | xargs echo)"
run_capped 5 unhang sh -c "echo unhang >'$MNT/ctl'"
check "s1: ctl unhang still works while hung" test $? -eq 0
wait_bg hr 5 && same_as "$TMP/p3" "$TMP/pat" 3
check "s1: after unhang the reader completes with correct data" test $? -eq 0

echo hang >"$MNT/ctl"
for i in $(seq 1 20); do
	run_bg "h$i" dd if="$MNT/disk.img" of=/dev/null bs=4096 skip=$i count=1 \
		iflag=direct status=none
done
sleep 1
n=0
for i in $(seq 1 20); do [[ -e $TMP/h$i.rc ]] || n=$((n + 1)); done
check "s1: 20 O_DIRECT readers of disk.img itself all block ($n)" test $n -eq 20
info "s1: daemon threads while 20 requests hang: $(ls /proc/$DPID/task | wc -l)"
run_capped 5 unhang sh -c "echo unhang >'$MNT/ctl'"
check "s1: ctl unhang still heard with 20 stuck requests (max_threads)" test $? -eq 0
n=0
for i in $(seq 1 20); do wait_bg "h$i" 5 && n=$((n + 1)); done
check "s1: all 20 complete after unhang ($n)" test $n -eq 20

# -- die (not hung)
m=$(log_mark)
run_capped 5 die bash -c "echo die >'$MNT/ctl'"
info "s1: the 'echo die >ctl' writer gets: $(tail -n 1 "$TMP/die.out")"
for ((i = 0; i < 50; i++)); do is_running "$DPID" || break; sleep 0.1; done
check "s1: daemon exited after die" not is_running "$DPID"
run_capped 10 rdead rd 0 /dev/null
rc=$?
check "s1: O_DIRECT loop read after die fails (rc=$rc), does not hang" \
	test $rc -ne 0 -a $rc -ne 124
check "s1: ... with Input/output error" says_eio rdead
run_capped 10 wdead wr 0 "$TMP/pat"
rc=$?
check "s1: O_DIRECT loop write after die fails (rc=$rc) with EIO" \
	failed_eio wdead $rc
run_capped 10 sdead stat "$MNT/disk.img"
info "s1: stat of disk.img after die: $(tail -n 1 "$TMP/sdead.out")"
info "s1: $DEV backing_file now: $(backing "$DEV")"
check "s1: no log line after die" test "$(log_mark)" -eq "$m"

s_dev=$DEV s_mnt=$MNT
teardown_stack
check_clean s1 "$s_dev" "$s_mnt"

# ==== stack 2: hang, then die releases the blocked reader ==================
start_stack s2 || exit 1
wr 0 "$TMP/pat" 4 || fail "s2: initial write"
echo hang >"$MNT/ctl"
run_bg hr2 rd 1 /dev/null
sleep 1
check "s2: after hang, a loop reader blocks" test ! -e "$TMP/hr2.rc"
run_capped 5 die2 sh -c "echo die >'$MNT/ctl'"
wait_bg hr2 10
rc=$?
check "s2: die releases the blocked reader with an error (rc=$rc)" \
	test $rc -ne 0 -a $rc -ne 124
check "s2: ... Input/output error" says_eio hr2
run_capped 10 r2 rd 0 /dev/null
rc=$?
check "s2: later reads fail (rc=$rc) with EIO, no hang" failed_eio r2 $rc
s_dev=$DEV s_mnt=$MNT
teardown_stack
check_clean s2 "$s_dev" "$s_mnt"

# ==== stack 3: hang, lazy losetup -d, then abort via fusectl ===============
if ! mountpoint -q /sys/fs/fuse/connections; then
	mount -t fusectl fusectl /sys/fs/fuse/connections && FUSECTL_MOUNTED=1
fi
start_stack s3 || exit 1
wr 0 "$TMP/pat" 4 || fail "s3: initial write"
echo hang >"$MNT/ctl"
run_bg hr3 rd 1 /dev/null
sleep 1
check "s3: after hang, a loop reader blocks" test ! -e "$TMP/hr3.rc"
info "s3: FUSE requests waiting: $(cat /sys/fs/fuse/connections/"$CONN"/waiting)"
run_capped 5 lazy losetup -d "$DEV"
check "s3: losetup -d with a hung reader returns at once (lazy)" test $? -eq 0
info "s3: $DEV after lazy detach: $(losetup -n -O NAME,AUTOCLEAR,BACK-FILE "$DEV" | xargs echo)"
echo 1 >/sys/fs/fuse/connections/"$CONN"/abort
check "s3: abort via /sys/fs/fuse/connections/$CONN/abort" test $? -eq 0
wait_bg hr3 10
rc=$?
check "s3: abort releases the blocked reader with an error (rc=$rc)" \
	test $rc -ne 0 -a $rc -ne 124
check "s3: ... Input/output error" says_eio hr3
for ((i = 0; i < 50; i++)); do
	ours "$DEV" || break
	sleep 0.1
done
check "s3: the lazily detached loop device is gone once the reader closed" \
	not ours "$DEV"
info "s3: daemon after abort: $(is_running "$DPID" && echo "still running (a worker is parked in hang); teardown kills it" || echo exited)"
s_dev=$DEV s_mnt=$MNT
teardown_stack
check_clean s3 "$s_dev" "$s_mnt"

echo
if ((FAILS)); then
	echo "smoke: $FAILS check(s) FAILED"
	exit 1
fi
echo "smoke: all checks passed"
exit 0
