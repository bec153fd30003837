"""One comparison: a corpus job on one target kind, stage and direct= value.

Stages:
  512n  raw jobs on a 512-byte-sector loop device
  ext4  fs jobs in a directory of an ext4 on a 512-byte-sector loop device
  4kn   direct=1 on a 4096-byte-sector loop device (raw jobs) or an ext4
        on one (fs-only jobs).

On any stage, where the reference engine fails a direct=1 job with EINVAL
(the alignment fio-bounce exists for), fio-bounce must pass and match the
reference engine run buffered (direct=0) on a regular file (or a tmpfs
directory) of the same size.

fio-bounce is compared with the job's reference engine (io_uring, or
posixaio where the job says why); --self-check compares the reference with
itself, which proves the job and the comparison are deterministic.
"""
import os

from fiobtest import targets

from .differ import Target, differences, run

STAGES = ('512n', 'ext4', '4kn')
# Every run uses this randseed unless told otherwise (--seed).
SEED = 20261130
DEV_SIZE = 16 << 20
FS_SIZE = 64 << 20


class Slot:
    """One worker's targets, made on first use, released with its ctx."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._made = {}

    def target(self, stage, kind):
        key = (stage, kind)
        if key in self._made:
            return self._made[key]
        ctx = self.ctx
        sector = 4096 if stage == '4kn' else 512
        if stage == 'ref' and kind == 'raw':
            path = targets.backing_file(ctx, DEV_SIZE)
            t = Target('raw', path, 'regular file')
        elif stage == 'ref':
            t = Target('fs', ctx.tmpdir(base='/dev/shm'), 'tmpfs dir')
        elif kind == 'raw':
            t = Target('raw', targets.loop(ctx, sector, DEV_SIZE),
                       f'{sector}-byte-sector loop device')
        else:
            mnt = targets.ext4(ctx, sector, FS_SIZE)
            d = os.path.join(mnt, 'fidelity')
            os.mkdir(d)
            t = Target('fs', d, f'ext4 on a {sector}-byte-sector loop')
        self._made[key] = t
        return t


def variants(job, stages, directs):
    """(stage, kind, direct) for every comparison @job takes part in."""
    for stage in stages:
        if stage == '512n':
            kind = 'raw' if 'raw' in job.targets else None
        elif stage == 'ext4':
            kind = 'fs' if 'fs' in job.targets else None
        else:
            kind = 'raw' if 'raw' in job.targets else 'fs'
        if kind is None:
            continue
        for d in job.directs(['1'] if stage == '4kn' else directs):
            yield stage, kind, d


def compare(slot, job, stage, kind, direct, layout, seed, self_check,
            with_self_check=False):
    """Returns [(status, label, detail)]: with @self_check, the reference
    against itself; otherwise fio-bounce against the reference, and with
    @with_self_check first the self-check too (one more run of the
    reference per comparison instead of a whole pass)."""
    label = f'{stage}-d{direct}/{job.name}'
    tgt = slot.target(stage, kind)
    refeng = job.reference
    candeng = 'bounce'
    ctx = slot.ctx
    ref = run(ctx, job, refeng, tgt, direct, layout, seed)
    notes = []
    if job.reference != 'io_uring':
        notes.append(f'reference {refeng}: {job.reference_why}')
    results = []
    if self_check or with_self_check:
        results += self_checks(slot, job, tgt, kind, direct, layout, seed, ref,
                               ('' if self_check else 'self-check/') + label,
                               notes)
        if self_check:
            return results
    cand = run(ctx, job, candeng, tgt, direct, layout, seed)
    problems = []
    if direct == '1' and ref.einval:
        # The reference refuses the alignment (EINVAL): it is then the same
        # engine, buffered, on a regular file of the same size, and
        # fio-bounce must pass.
        failed = ref.brief()
        if job.fallback_device:
            ref = run(ctx, job, refeng, tgt, '0', layout, seed)
            notes.append(f'{refeng} direct=1 fails here ({failed}); '
                         f'reference: {refeng} direct=0 on this device '
                         f'({job.fallback_device})')
        else:
            ref = run(ctx, job, refeng, slot.target('ref', kind), '0',
                      layout, seed)
            notes.append(f'{refeng} direct=1 fails here ({failed}); '
                         f'reference: {refeng} direct=0 on a '
                         f'{ref_label(kind)}')
            if not cand.ok:
                problems.append(f'fio-bounce did not pass: {cand.brief()}')
        c = cand.counters()
        notes.append(f'bounced: {c.get("window_reads", 0)} window reads, '
                     f'{c.get("rmw_writes", 0)} RMW writes, '
                     f'{c.get("mem_bounced", 0)} memory bounces')
    results.append(verdict(job, ref, cand, label, notes, problems))
    return results


def self_checks(slot, job, tgt, kind, direct, layout, seed, ref, label,
                notes):
    """The reference @ref against a second run of itself: what proves the
    job and the comparison deterministic.

    Where the reference fails direct=1 with EINVAL, the comparison takes
    from that run only that it failed so, and compares fio-bounce with the
    reference run buffered instead: that failing run must fail alike (exit
    status, errors, verify failures; how many I/Os a failing job finished
    first is a race: ex-jesd219 on 4Kn, four jobs at iodepth 256, differed
    by one write), and the buffered reference is self-checked in full."""
    ctx = slot.ctx
    again = run(ctx, job, job.reference, tgt, direct, layout, seed)
    if not (direct == '1' and ref.einval):
        return [verdict(job, ref, again, label, list(notes), [])]
    out = [verdict(job, ref, again, label,
                   notes + ['failing with EINVAL alike: I/O counts and '
                            'image not compared, the buffered reference '
                            'is'], [], counts=False, image=False)]
    fb = tgt if job.fallback_device else slot.target('ref', kind)
    one, two = (run(ctx, job, job.reference, fb, '0', layout, seed)
                for _ in range(2))
    out.append(verdict(job, one, two, f'{label}/buffered-reference',
                       list(notes), []))
    return out


def verdict(job, ref, cand, label, notes, problems, counts=True,
            image=True):
    """(status, label, detail) for @cand against @ref (@counts, @image:
    whether those are compared at all)."""
    if not ref.jobs_ran and job.refused:
        # This fio refuses the job up front (another fio may not: then it
        # is compared like any other).
        notes.append(f'refused by {ref.engine} ({job.refused})')
    elif not ref.jobs_ran:
        problems.append(f'the reference ran nothing: {ref.brief()}')
    problems += differences(job, ref, cand, counts, image)
    if problems:
        if job.pending:
            problems.append(f'[pending: {job.pending}]')
        return 'FAIL', label, '; '.join(problems)
    what = [f'{"both pass" if ref.ok else "both fail alike: " + ref.brief()}']
    if counts:
        what.append('I/O counts equal' if not job.counts_off
                    else f'counts not compared ({job.counts_off})')
    if image:
        what.append(f'image not compared ({job.image_off})' if job.image_off
                    else f'image equal ({ref.headers} verify headers '
                         f'blanked)')
    return 'PASS', label, '; '.join(what + notes)


def ref_label(kind):
    return 'regular file' if kind == 'raw' else 'tmpfs directory'
