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

from fiobtest import Fail, check, expect_ok, fio, targets, test

from .test_rmw import (DEV_SIZE, buffered_image, diff_offsets, read_direct,
                       sector_pattern, write_image)

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
    job = INTERLEAVED + mode
    pattern = sector_pattern(DEV_SIZE)
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    write_image(dev, pattern)
    r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', *job,
                            *([f'bounce_share={share}'] if share else [])]),
                  'fio-bounce on the 4Kn device')
    got = read_direct(dev, DEV_SIZE)
    ref = buffered_image(ctx, job)
    check(ref != pattern, 'the reference job wrote nothing')
    return r, got, ref


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
