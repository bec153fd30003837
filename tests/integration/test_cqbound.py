"""The completion bound under stress: deep queues with SQPOLL, every bounce
path in one ring, and submits issued from the middle of a reap, lose no
completion and no byte.

The ring's CQ is sized for the bound derived in engine/fiob_core.c
(cq_bound: at most depth + min(bounce_slots, depth) CQEs outstanding), which
holds because every CQE leaves the CQ before its handler runs. These jobs
push that: QD 128 and 256, bounce_slots from 1 to iodepth, a randrw mix of
RMW writes and window reads (1000- and 12544-byte I/O), aligned 4 KiB I/O
passed through, and aligned 4 KiB I/O on misaligned buffers (memory
bounced), with crc32c verify on a 4Kn loop device. fio's buffers sit at
page + i * max_bs, and max_bs = 12544 = 24.5 * 512, so every other buffer
is 256 bytes off the 512-byte memory rule: that is what splits the aligned
4 KiB I/O between pass-through and memory bounce.

The smallest SQ the engine allows is one entry (test hook
FIOB_TEST_SQ_ENTRIES=1): every SQE past the first in a batch finds the SQ
full and goes out from fiob_ring_wait_sqe(), also while completions are being
handled; the mid_reap_submits counter proves that path ran.

Each job must end with no error and no verify complaint, with every path
counted, fio's reads covering at least what it wrote, and the kernel never
having held a completion back (cq_overflows == 0) or dropped one
(cq_dropped == 0).

fio quirk worked around: when the engine pushes back (FIO_Q_BUSY, no free
bounce slot: bounce_slots < iodepth), fio 3.33's verify phase regenerates
the write seeds in an order that no longer matches the order it drew them,
and crc32c fails with "bad header rand_seed ..., wanted <the previous
block's seed>" (main's engine fails the same job the same way). Those jobs
get verify_backlog, which makes fio take the seed from the header
(verify.c: TD_F_VER_BACKLOG) and still check the crc32c over the data and
the header's offset, as test_integrity does for its overlap quirk.
"""
import os

from fiobtest import Fail, check, expect_error, expect_ok, fio, targets, test

EINVAL = 22
DEV_SIZE = 32 << 20
HOOK = 'FIOB_TEST_SQ_ENTRIES'
# 512 in the split keeps min_bs (and so the offset grid) at 512 bytes: one
# 4 KiB I/O in eight lands on a 4 KiB boundary. bs_unaligned lets 1000 and
# 12544 sit on that grid.
STRESS = ['rw=randrw', 'bssplit=512/10:1000/30:4096/40:12544/20',
          'bs_unaligned=1', 'verify=crc32c',
          'randseed=4711', 'direct=1']


def stress_size(slots):
    """Bytes per job: with few slots the bounced I/O mostly runs one or two
    at a time (and SQPOLL's thread shares 2 vCPUs with fio), so those jobs
    are smaller to stay well under a minute; never fewer I/Os than the
    deepest queue many times over (about 5 KiB per I/O)."""
    return min(16 << 20, max(2 << 20, slots * (512 << 10)))


def stress_args(dev, qd, slots, sqpoll):
    args = [f'filename={dev}', *STRESS, f'size={stress_size(slots)}',
            f'iodepth={qd}', f'bounce_slots={slots}']
    if sqpoll:
        args.append('sqthread_poll=1')
    if slots < qd:
        args.append('verify_backlog=64')    # the FIO_Q_BUSY quirk above
    return args


def verify_complaints(r):
    return [ln for ln in r.text.splitlines()
            if 'verify' in ln and ('bad' in ln or 'fail' in ln)]


def run_stress(ctx, qd, slots, sqpoll=True, sq_entries=None):
    """One stress job on a fresh 4Kn device; returns (counters, ios)."""
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    env = {HOOK: str(sq_entries)} if sq_entries else None
    r = fio(ctx, stress_args(dev, qd, slots, sqpoll), env=env, timeout=50)
    bad = verify_complaints(r)
    if bad:
        raise Fail(f'{len(bad)} verify complaints, first: {bad[:3]}; '
                   f'counters {r.counters()}')
    expect_ok(r, f'QD{qd} bounce_slots={slots} sqpoll={int(sqpoll)} '
              f'sq_entries={sq_entries or "default"}')
    c = r.counters()
    size = stress_size(slots)
    job = r.jobs()[0]
    wrote, read = job['write']['io_bytes'], job['read']['io_bytes']
    ios = job['read']['total_ios'] + job['write']['total_ios']
    # randrw: size counts both directions, so reads past size - wrote are
    # the verify phase's. That undercounts them a little (the mixed phase
    # ends when the random map is full, a few I/Os short of size), so the
    # floor is 9/10 of what was written: verify ran over nearly all of it.
    verified = read - max(0, size - wrote)
    check(wrote > 0 and verified >= wrote * 9 // 10,
          f'fio wrote {wrote} bytes but read back only about {verified} '
          f'in verify')
    for k in ('rmw_writes', 'window_reads'):
        check(c[k] > 0, f'the {k} path never ran: {c}')
    # Which fio buffer an aligned I/O gets decides pass or memory bounce.
    # With one slot, fio mostly waits for it and keeps reusing the same few
    # io_us, so one of the two can all but vanish (seen: pass=1 mem=27);
    # from two slots on both show up (seen: 14 and 14 at 2 MiB).
    aligned = (('passthrough', 'mem_bounced') if slots > 1 else
               ('passthrough+mem_bounced',))
    for k in aligned:
        check(sum(c[x] for x in k.split('+')) > 0,
              f'the {k} path never ran: {c}')
    check(c['cq_overflows'] == 0 and c['cq_dropped'] == 0,
          f'the kernel held back or dropped completions although the CQ '
          f'is sized for the bound: {c}')
    if sq_entries:
        check(c['sq_full_submits'] > 0,
              f'a {sq_entries}-entry SQ never filled up: {c}')
    # The figures, for a note: FIOB_FIGURES=PATH appends one line per job.
    if os.environ.get('FIOB_FIGURES'):
        with open(os.environ['FIOB_FIGURES'], 'a') as f:
            f.write(f'{ctx.test.name}: I/Os {ios}, verify errors 0, '
                    + ' '.join(f'{k}={c[k]}' for k in (
                        'passthrough', 'mem_bounced', 'rmw_writes',
                        'window_reads', 'zero_copy', 'ring_empty',
                        'sq_full_submits', 'mid_reap_submits',
                        'submit_retries', 'cq_overflows', 'cq_dropped'))
                    + '\n')
    return c, ios


def _sqpoll_test(qd, slots):
    def fn(ctx):
        run_stress(ctx, qd, slots)
    fn.__name__ = f'sqpoll_qd{qd}_slots{slots}'
    return fn


# bounce_slots from 1 to iodepth at both depths.
for _qd, _slots in ((128, 1), (128, 16), (128, 128), (256, 7), (256, 256)):
    test(f'SQPOLL, QD{_qd}, bounce_slots={_slots}: mixed RMW/window/'
         f'aligned/memory-bounced randrw on a 4Kn device passes crc32c '
         f'verify with every path counted and no completion held back or '
         f'dropped', timeout=60)(_sqpoll_test(_qd, _slots))


def _small_sq_test(qd, slots, sqpoll):
    def fn(ctx):
        c, _ = run_stress(ctx, qd, slots, sqpoll, sq_entries=1)
        check(c['mid_reap_submits'] > 0,
              f'no submit was issued while completions were handled: {c}')
    fn.__name__ = f'small_sq_{"sqpoll_" if sqpoll else ""}qd{qd}_slots{slots}'
    return fn


# One bounce slot is left out: with a single slot at most one request
# prepares SQEs from a reap, so a reap need not find the SQ full.
for _qd, _slots, _poll in ((128, 2, True), (128, 128, True),
                           (256, 16, True), (256, 256, True),
                           (256, 256, False)):
    test(f'a one-entry SQ{" with SQPOLL" if _poll else ""}, QD{_qd}, '
         f'bounce_slots={_slots}: the stress job submits from the middle of '
         f'reaps (mid_reap_submits > 0) and still passes crc32c verify with '
         f'no completion held back or dropped', timeout=60)(
        _small_sq_test(_qd, _slots, _poll))


@test('stock io_uring refuses the stress job on the 4Kn device (EINVAL): '
      'the stress jobs above really need the bounce paths', timeout=60)
def stress_job_fails_on_stock_io_uring(ctx):
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    args = [a for a in stress_args(dev, 128, 128, True)
            if not a.startswith('bounce_')]
    expect_error(fio(ctx, args, engine='io_uring', timeout=50), EINVAL,
                 'stock io_uring on the misaligned stress job')


def hook_job(ctx):
    """An aligned QD8 job that queues all 8 before it submits: with the
    default 8-entry SQ it never fills the SQ."""
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    return [f'filename={dev}', 'direct=1', 'rw=randread', 'bs=4k',
            'iodepth=8', 'iodepth_batch_submit=8', 'size=1M']


@test('the test hook FIOB_TEST_SQ_ENTRIES takes only 1 .. iodepth: junk, '
      'empty, 0, -1 and a value past iodepth keep the default SQ (no '
      'SQ-full submit on an aligned QD8 job that queues 8 at a time)',
      timeout=120)
def sq_hook_ignores_bad_values(ctx):
    job = hook_job(ctx)
    for val in ('junk', '', '0', '-1', '9'):
        c = expect_ok(fio(ctx, job, env={HOOK: val}),
                      f'{HOOK}={val!r}').counters()
        check(c['sq_full_submits'] == 0,
              f'{HOOK}={val!r} changed the SQ: {c}')


@test('FIOB_TEST_SQ_ENTRIES=1 makes the aligned QD8 job that queues 8 at a '
      'time submit for a full SQ', timeout=60)
def sq_hook_one_entry(ctx):
    c = expect_ok(fio(ctx, hook_job(ctx), env={HOOK: '1'}),
                  f'{HOOK}=1').counters()
    check(c['sq_full_submits'] > 0, f'{HOOK}=1 never filled the SQ: {c}')
