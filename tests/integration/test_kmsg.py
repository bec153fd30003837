"""The runner's kernel-log check (fiobtest/kmsg.py) can fail: its matcher
flags every kind of splat and nothing benign, and its reader sees exactly
the records logged since the last look. (A real splat is not written to
/dev/kmsg here: it would fail whatever else runs on the machine.)"""
import os
import re

from fiobtest import Skip, check, test
from fiobtest import kmsg

SPLATS = (
    'WARNING: CPU: 1 PID: 4242 at io_uring/rw.c:123 io_req_rw_complete',
    'BUG: kernel NULL pointer dereference, address: 0000000000000008',
    'Oops: 0000 [#1] PREEMPT SMP NOPTI',
    'general protection fault, probably for non-canonical address',
    'io_uring: io-wq worker exited with an error',
    ' io_uring_enter+0x2b1/0x9d0 [io_uring]',
)
BENIGN = (
    'loop3: detected capacity change from 0 to 131072',
    'EXT4-fs (loop3): mounted filesystem with ordered data mode.',
    'fuse: init (API version 7.39)',
    'warning: not a splat in lower case',
    # A user program's crash, reported by the kernel (not a kernel splat).
    'traps: fio[10111] general protection fault ip:560b5ec99715 '
    'sp:7ffeae953410 error:0 in fio[29715,560b5ec8d000+80000]',
)


@test('the kernel-log matcher flags WARNING:, BUG:, Oops, general '
      'protection and io_uring lines, and no benign line', timeout=10)
def kmsg_matcher(ctx):
    missed = [m for m in SPLATS if not kmsg.is_splat(m)]
    check(not missed, f'splats not flagged: {missed}')
    wrong = [m for m in BENIGN if kmsg.is_splat(m)]
    check(not wrong, f'benign lines flagged: {wrong}')
    check(kmsg.parse_record('4,1234,5678,-;WARNING: x\n SUBSYSTEM=y\n') ==
          'WARNING: x', 'a /dev/kmsg record does not parse to its message')


@test('the kernel-log reader sees a line written to /dev/kmsg after its '
      'mark, once, and a reader opened later does not see it: a splat '
      'logged during a test reaches the check', timeout=10)
def kmsg_reader_sees_new_records(ctx):
    log = kmsg.KernelLog()
    if log.unreadable():
        raise Skip(f'kernel log unreadable: {log.unreadable()}')
    ctx.defer(log.close)
    nonce = f'fiob-kmsg-selftest-{os.getpid()}-{os.urandom(4).hex()}'
    mine = re.compile(re.escape(nonce))
    log.mark()
    with open('/dev/kmsg', 'w') as f:
        f.write(f'<6>{nonce}\n')
    found = log.splats(extra=mine)
    check(len(found) == 1 and nonce in found[0],
          f'the marker line was not seen: {found}')
    check(not log.splats(extra=mine), 'the same record was seen twice')
    later = kmsg.KernelLog()
    ctx.defer(later.close)
    check(not later.splats(extra=mine),
          'a reader opened after the line still saw it')
    # judge() turns a splat into a FAIL that quotes it.
    with open('/dev/kmsg', 'w') as f:
        f.write(f'<6>{nonce}-judge\n')
    orig = kmsg.SPLAT
    kmsg.SPLAT = mine
    try:
        status, detail = kmsg.judge(log, 'PASS', '')
    finally:
        kmsg.SPLAT = orig
    check(status == 'FAIL' and nonce in detail,
          f'judge() passed a test during which a splat was logged: '
          f'{status} {detail}')
