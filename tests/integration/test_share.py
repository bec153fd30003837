"""Cross-job serialization (bounce_share): jobs of one fio run that write
misaligned ranges sharing blocks of one device never lose each other's bytes,
whether they run as threads (one overlap table for the process) or as
processes (open file description locks on a file in /dev/shm).

The oracle is the buffered reference of test_rmw: the same job file through
buffered stock io_uring on a regular file. Job k of numjobs=4 writes the
1000-byte ranges k*1000 + 4000*i (rw=write:3000, offset_increment=1000), so
every 4 KiB block holds bytes of several jobs and no byte is written twice:
the image does not depend on the order the jobs ran in. With refill_buffers,
each job draws its data from its own RNG in issue order, so the reference is
deterministic (test_rmw.differential_reference_is_deterministic).

The negative control runs the same job with bounce_share=off: it must lose
bytes at least once in a few tries, or the differential could not fail.
"""
import os

from fiobtest import Fail, check, expect_ok, fio, fio_job, targets, test

from .test_rmw import (DEV_SIZE, bounce_and_reference, diff_offsets,
                       read_direct, sector_pattern, write_image)

JOBS = 4
INTERLEAVED = ['rw=write:%d' % (1000 * (JOBS - 1)), 'bs=1000',
               f'numjobs={JOBS}', 'offset_increment=1000', 'size=3M',
               'iodepth=32', 'randseed=4242', 'refill_buffers=1',
               'scramble_buffers=0']
THREADS = ['thread=1']
PROCESSES = []


def run_interleaved(ctx, mode, share=None):
    """The interleaved job on a fresh 4Kn device; returns (fio result,
    device image, reference image)."""
    return bounce_and_reference(
        ctx, INTERLEAVED + mode, [f'bounce_share={share}'] if share else [])


def where(got, ref):
    return ', '.join(f'{o} (block {o // 4096}, job {o // 1000 % JOBS})'
                     for o in diff_offsets(got, ref))


def _shared_test(mode, kind):
    def fn(ctx):
        r, got, ref = run_interleaved(ctx, mode)
        c = r.counters()
        if got != ref:
            raise Fail(f'device image differs from the buffered reference '
                       f'at {where(got, ref)}: jobs lost each other\'s bytes; '
                       f'counters {c}')
        check(len(r.stats) == JOBS, f'{len(r.stats)} jobs reported, not '
              f'{JOBS}')
        check(c['rmw_writes'] == c['user_bytes_write'] // 1000 > 0,
              f'not every write went through read-modify-write: {c}')
        check(c['share_waits'] > 0, f'no write ever waited for another '
              f'job\'s window, so the cross-job race was not exercised: {c}')
        check('warning' not in r.err and 'warning' not in r.out,
              f'a warning although sharing covers the case: '
              f'{r.err[-400:]!r}')
    fn.__name__ = f'numjobs{JOBS}_{kind}_interleaved_bs1000_matches_buffered'
    return fn


for _mode, _kind, _how in ((THREADS, 'threads', 'one shared overlap table'),
                           (PROCESSES, 'processes',
                            'lock files in /dev/shm')):
    test(f'numjobs={JOBS} {_kind} writing interleaved bs=1000 ranges of one '
         f'4Kn device at QD32 (blocks shared across jobs, bytes never) '
         f'leave exactly the image of the same writes done buffered: '
         f'{_how} serializes read-modify-write across jobs, and writes did '
         f'wait for another job (share_waits), with no shared-file warning',
         timeout=240)(_shared_test(_mode, _kind))


def _negative_control(mode, kind):
    def fn(ctx):
        tries = []
        for _ in range(5):
            r, got, ref = run_interleaved(ctx, mode, share='off')
            c = r.counters()
            check(c['share_waits'] == 0, f'bounce_share=off shared: {c}')
            bad = sum(1 for a, b in zip(got, ref) if a != b) if got != ref \
                else 0
            tries.append(bad)
            if bad:
                return
        raise Fail(f'bounce_share=off never lost a byte in {len(tries)} runs '
                   f'({tries}): the interleaved differential cannot tell '
                   f'sharing from no sharing')
    fn.__name__ = f'numjobs{JOBS}_{kind}_share_off_loses_bytes'
    return fn


for _mode, _kind in ((THREADS, 'threads'), (PROCESSES, 'processes')):
    test(f'negative control: the same interleaved numjobs={JOBS} {_kind} job '
         f'with bounce_share=off loses another job\'s bytes in at least one '
         f'of five runs, so the differential above can fail',
         timeout=600)(_negative_control(_mode, _kind))


def _lock_calls(ctx, dev, share):
    """fcntl(F_OFD_SETLK) calls of one job alone writing 1000-byte ranges,
    and its counters."""
    trace = os.path.join(ctx.tmpdir(), 'strace.out')
    r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'rw=randwrite',
                            'bs=1000', 'size=1M', 'iodepth=8',
                            f'bounce_share={share}'],
                      wrap=['strace', '-f', '-qq', '-e', 'trace=fcntl',
                            '-o', trace]), f'bounce_share={share}')
    with open(trace) as f:
        lines = f.readlines()
    blocking = [ln for ln in lines if 'F_OFD_SETLKW' in ln]
    check(not blocking, f'bounce_share={share} blocked on a lock: '
          f'{blocking[:2]}')
    return sum(1 for ln in lines if 'F_OFD_SETLK,' in ln), r.counters()


@test('a job alone with bounce_share=auto (the default) makes no lock call: '
      'sharing costs a single job no system call; with bounce_share=on the '
      'same job locks and unlocks every write\'s range (F_OFD_SETLK, never '
      'the blocking F_OFD_SETLKW)', timeout=120)
def single_job_auto_makes_no_lock_call(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    calls, c = _lock_calls(ctx, dev, 'auto')
    check(c['rmw_writes'] > 0, f'no read-modify-write happened: {c}')
    check(calls == 0, f'{calls} F_OFD_SETLK calls for a job alone with '
          f'bounce_share=auto')
    calls, c = _lock_calls(ctx, dev, 'on')
    writes = c['rmw_writes']
    check(calls >= 2 * writes > 0, f'bounce_share=on: {calls} F_OFD_SETLK '
          f'calls for {writes} writes (want a lock and an unlock each)')
    check(c['share_waits'] == 0, f'a job alone waited for another: {c}')


# Mixed writes: each job replays its own iolog in which 1000-byte writes
# interleaved with the other jobs' (blocks shared, bytes never) alternate
# with aligned 4 KiB writes to a region of the job's own. The aligned ones
# go straight through (pass-through): a request id that served one must
# give its shared range back before the id serves a read-modify-write, or
# that RMW would run unserialized against the other jobs. Each job writes
# its own byte (buffer_pattern), so the expected image is known without a
# reference run (iolog replay with refill_buffers is not deterministic).
MIXED_N = 600
MIXED_PRIVATE = 4 << 20


def _mixed_writes(k):
    for i in range(MIXED_N):
        yield k * 1000 + 4000 * i, 1000
        if i % 2 == 0:
            yield MIXED_PRIVATE + (k * MIXED_N // 2 + i // 2) * 4096, 4096


def _mixed_iologs(ctx):
    paths = []
    for k in range(JOBS):
        lines = ['fio version 2 iolog', 'f add', 'f open',
                 *(f'f write {off} {n}' for off, n in _mixed_writes(k)),
                 'f close']
        path = os.path.join(ctx.tmpdir(), f'mixed{k}.log')
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        paths.append(path)
    return paths


def mixed_pass_and_rmw(ctx, share):
    logs = _mixed_iologs(ctx)
    pattern = sector_pattern(DEV_SIZE)
    want = bytearray(pattern)
    for k in range(JOBS):
        for off, n in _mixed_writes(k):
            want[off:off + n] = bytes([0x11 * (k + 1)]) * n
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    write_image(dev, pattern)
    text = (f'thread=1\ndirect=1\niodepth=32\nreplay_redirect={dev}\n'
            f'bounce_share={share}\n')
    for k, log in enumerate(logs):
        text += (f'[mixed{k}]\nread_iolog={log}\n'
                 f'buffer_pattern=0x{0x11 * (k + 1):02x}\n')
    r = expect_ok(fio_job(ctx, text), 'fio-bounce on the 4Kn device')
    got = read_direct(dev, DEV_SIZE)
    c = r.counters()
    if got != bytes(want):
        raise Fail(f'device image differs from the writes\' own bytes at '
                   f'{where(got, bytes(want))}: jobs lost each other\'s '
                   f'bytes; counters {c}')
    check(c['passthrough'] > 0 and c['rmw_writes'] > 0,
          f'the replays did not mix pass-through and RMW writes: {c}')
    check(c['share_waits'] > 0, f'no write ever waited for another job: {c}')


def _mixed_test(share):
    def fn(ctx):
        mixed_pass_and_rmw(ctx, share)
    fn.__name__ = f'mixed_pass_and_rmw_threads_share_{share}_keeps_every_byte'
    return fn


# bounce_share=on: the jobs' files come from their iologs (replay_redirect),
# which auto does not see when it looks for other jobs at open.
test(f'{JOBS} thread jobs with bounce_share=on, each replaying 1000-byte '
     f'writes interleaved with the others\' (blocks shared, bytes never) '
     f'alternating with aligned 4 KiB writes of its own, leave every '
     f'job\'s bytes on the device: a request id that served a pass-through '
     f'write gives its shared range back before it serves an RMW',
     timeout=240)(_mixed_test('on'))
