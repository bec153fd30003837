"""Option parity with fio's own io_uring engine, on the running fio.

Every option fio's io_uring lists must be one of ours too, and mean the same
thing. Each family is proved from what reached the kernel (io_uring and block
tracepoints), compared with fio's io_uring on the same job in the same run:
never against a list of names or a fio version written down here.
"""
import re
import subprocess

from fiobtest import check, expect_ok, fio, fio_job, targets, test
from fiobtest.fio import engine_path
from fiobtest.trace import (BLOCK_ISSUE, FAILED, SUBMIT, Trace,
                            kernel_dev)

DEV_SIZE = 16 << 20
IOSQE_ASYNC = 0x10	# REQ_F_FORCE_ASYNC: the SQE flag as the kernel keeps it


def enghelp(engine):
    """{option: help} as fio --enghelp lists them for @engine."""
    r = subprocess.run(['fio', f'--enghelp={engine}'], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 0, f'fio --enghelp={engine} failed: {r.stderr!r}')
    opts = {}
    for ln in r.stdout.splitlines():
        name, sep, text = ln.partition(':')
        if sep and re.fullmatch(r'[a-z0-9_]+', name.strip()):
            opts[name.strip()] = text.strip()
    check(opts, f'fio --enghelp={engine} listed nothing: {r.stdout!r}')
    return opts


@test('every option fio --enghelp=io_uring lists on the running fio is '
      'listed for fio-bounce too, with help text, and every option fio-bounce '
      'adds is named bounce*', timeout=60)
def enghelp_has_every_io_uring_option(ctx):
    uring, ours = enghelp('io_uring'), enghelp(engine_path())
    missing = sorted(set(uring) - set(ours))
    check(not missing, f'io_uring options fio-bounce lacks: {missing}')
    no_help = sorted(n for n, h in ours.items() if not h)
    check(not no_help, f'options without help text: {no_help}')
    extra = sorted(n for n in set(ours) - set(uring)
                   if not n.startswith('bounce'))
    check(not extra, f'options of ours that io_uring lacks and that are not '
          f'named bounce*: {extra}')


# A value for each io_uring option that leaves an aligned job on a loop
# device able to run on any kernel (cmdprio_bssplit has its own test: it
# excludes cmdprio_percentage). An io_uring option missing here fails the
# test, so a new fio cannot slip past it.
HARMLESS = {
    'hipri': '0', 'fixedbufs': '1', 'registerfiles': '1',
    'sqthread_poll': '0', 'sqthread_poll_cpu': '0', 'nonvectored': '1',
    'uncached': '0', 'nowait': '0', 'force_async': '4', 'cmd_type': 'nvme',
    'cmdprio_percentage': '20', 'cmdprio_class': '2', 'cmdprio': '3',
    'cmdprio_hint': '0', 'md_per_io_size': '0', 'pi_act': '1',
    'pi_chk': 'GUARD', 'apptag': '0x1234', 'apptag_mask': '0xffff',
    'readfua': '0', 'writefua': '0', 'write_mode': 'write',
    'verify_mode': 'read', 'deac': '0',
}


@test('a job file setting every option the running fio\'s io_uring has '
      '(cmdprio_bssplit aside) runs and passes crc32c verify on a loop '
      'device through fio-bounce exactly as through io_uring: same exit, '
      'same I/O counts', timeout=120)
def every_io_uring_option_accepted(ctx):
    names = sorted(set(enghelp('io_uring')) - {'cmdprio_bssplit'})
    unknown = [n for n in names if n not in HARMLESS]
    check(not unknown, f'io_uring options this test has no value for: '
          f'{unknown}')
    dev = targets.loop(ctx, 512, DEV_SIZE)
    text = (f'[job]\nfilename={dev}\ndirect=1\nrw=randwrite\nbs=4k\n'
            f'size=2M\niodepth=8\nverify=crc32c\nrandseed=7\n' +
            ''.join(f'{n}={HARMLESS[n]}\n' for n in names))
    ref = expect_ok(fio_job(ctx, text, engine='io_uring'), 'io_uring')
    got = expect_ok(fio_job(ctx, text), 'fio-bounce')
    for d in ('read', 'write'):
        want, have = (x.jobs()[0][d]['total_ios'] for x in (ref, got))
        check(want == have, f'{d}: io_uring did {want} I/Os, fio-bounce '
              f'{have}')


def _same_job_both(ctx, trace, args, what, ours=()):
    """The job through io_uring, then fio-bounce (with @ours added):
    [(result, trace text)]."""
    out = []
    for engine, extra in (('io_uring', []), ('bounce', list(ours))):
        r = expect_ok(fio(ctx, args + extra, engine=engine),
                      f'{what} ({engine})')
        out.append((r, trace.text()))
    return out


def _aligned(dev, extra):
    return [f'filename={dev}', 'direct=1', 'rw=randrw', 'bs=4k',
            'size=2M', 'iodepth=8', 'verify=crc32c', 'randseed=3', *extra]


@test('nonvectored=0 sends each pass-through read and write as READV/WRITEV, '
      'nonvectored=1 as READ/WRITE, and the default as the kernel allows: '
      'on an aligned job the opcodes fio-bounce submits equal io_uring\'s '
      'exactly, in each setting', timeout=180)
def nonvectored_opcodes(ctx):
    dev = targets.loop(ctx, 512, DEV_SIZE)
    trace = Trace(ctx)
    for setting in (['nonvectored=0'], ['nonvectored=1'], []):
        what = ' '.join(setting) or 'default'
        (_, ref), (r, got) = _same_job_both(ctx, trace,
                                            _aligned(dev, setting), what)
        want, have = trace.opcodes(ref), trace.opcodes(got)
        check(want == have, f'{setting}: io_uring submitted {want}, '
              f'fio-bounce {have}')
        if setting == ['nonvectored=0']:
            check(have.get('READV') and have.get('WRITEV') and
                  not have.get('READ') and not have.get('WRITE'),
                  f'nonvectored=0 did not give READV/WRITEV only: {have}')
        if setting == ['nonvectored=1']:
            check(have.get('READ') and have.get('WRITE') and
                  not have.get('READV') and not have.get('WRITEV'),
                  f'nonvectored=1 did not give READ/WRITE only: {have}')
        c = r.counters()
        check(c['passthrough'] > 0 and not c.get('mem_bounced') and
              not c.get('rmw_writes'), f'not all pass-through: {c}')


@test('force_async=3 sets IOSQE_ASYNC on exactly every third SQE of an '
      'aligned job, in submission order, as io_uring does on the same job; '
      'without it no SQE has the flag', timeout=180)
def force_async_every_n(ctx):
    dev = targets.loop(ctx, 512, DEV_SIZE)
    trace = Trace(ctx)
    (_, ref), (_, got) = _same_job_both(
        ctx, trace, _aligned(dev, ['force_async=3']), 'force_async=3')
    for who, text in (('io_uring', ref), ('fio-bounce', got)):
        subs = trace.submits(text)
        check(len(subs) > 300, f'{who}: only {len(subs)} SQEs traced')
        flagged = [i for i, (_, fl) in enumerate(subs) if fl & IOSQE_ASYNC]
        want = list(range(2, len(subs), 3))
        check(flagged == want, f'{who}: IOSQE_ASYNC on SQEs {flagged[:12]}'
              f'... of {len(subs)}, want every third ({want[:12]}...)')
    expect_ok(fio(ctx, _aligned(dev, [])), 'without force_async')
    subs = trace.submits()
    check(subs and not any(fl & IOSQE_ASYNC for _, fl in subs),
          'IOSQE_ASYNC set without force_async')


def _device_trace(ctx, sector):
    """A fresh loop device, and a trace of the block requests it is sent
    (from any task: the loop driver may issue them from a worker)."""
    dev = targets.loop(ctx, sector, DEV_SIZE)
    return dev, Trace(ctx, events=(BLOCK_ISSUE,), pid=False,
                      filters={BLOCK_ISSUE: f'dev == {kernel_dev(dev)}'})


def _prio_bytes(trace, text, cls, level):
    """Bytes the device was asked for at (cls, level), and at others."""
    hit = other = 0
    for (_, c, lvl), n in trace.block_bytes(text).items():
        if (c, lvl) == (cls, level):
            hit += n
        else:
            other += n
    return hit, other


def _fio_prio_ios(r, cls, level):
    """I/Os fio filed under priority (cls, level) in its JSON report."""
    n = 0
    for d in ('read', 'write'):
        for p in r.jobs()[0][d].get('prios', []):
            if (p['prioclass'], p['prio']) == (cls, level):
                n += p['clat_ns']['N']
    return n


CLASS_NAMES = {1: 'rt', 2: 'be', 3: 'idle'}


def _prio_like_io_uring(ctx, sector, args, cls, level, ours=()):
    """@args (4k I/Os at priority @cls/@level and others) through io_uring,
    then fio-bounce (with @ours): for each, the device's bytes at that
    priority are 4k per I/O fio filed there, some went elsewhere, and both
    engines agree. Returns fio-bounce's result."""
    dev, trace = _device_trace(ctx, sector)
    res = _same_job_both(ctx, trace, [f'filename={dev}', *args],
                         f'{cls}/{level}', ours)
    seen = []
    for who, (r, text) in zip(('io_uring', 'fio-bounce'), res):
        hit, other = _prio_bytes(trace, text, CLASS_NAMES[cls], level)
        ios = _fio_prio_ios(r, cls, level)
        check(hit > 0 and other > 0, f'{who}: {hit} bytes at {cls}/{level} '
              f'and {other} at other priorities: the job should give both')
        check(hit == ios * 4096, f'{who}: fio filed {ios} I/Os under '
              f'{cls}/{level}, the device saw {hit} bytes there')
        seen.append(hit)
    check(seen[0] == seen[1], f'bytes at {cls}/{level}: io_uring {seen[0]}, '
          f'fio-bounce {seen[1]}')
    return res[1][0]


# No verify here: fio files verify reads under the priority their io_u had
# before, not the one they were sent with, so only a job without verify has
# a report to hold the device's counts against.
@test('cmdprio_percentage=40 cmdprio_class=1 cmdprio=2: the chosen I/Os '
      'reach the block device with ioprio RT/2 (block_rq_issue), as many '
      'bytes as fio files under that priority in its report, and exactly as '
      'many as io_uring sends at RT/2 on the same job and seed', timeout=180)
def cmdprio_reaches_the_device(ctx):
    _prio_like_io_uring(ctx, 512, [
        'direct=1', 'rw=randrw', 'bs=4k', 'size=2M', 'iodepth=8',
        'randseed=3', 'cmdprio_percentage=40', 'cmdprio_class=1',
        'cmdprio=2'], 1, 2)


@test('an I/O sent back busy (bounce=always with one slot at iodepth 8) '
      'keeps the priority drawn for it: fio-bounce sends exactly the bytes '
      'at RT/2 that io_uring sends on the same job and seed, with the slot '
      'running out (ring_empty > 0)', timeout=180)
def cmdprio_draw_survives_busy(ctx):
    r = _prio_like_io_uring(ctx, 512, [
        'direct=1', 'rw=randrw', 'bs=4k', 'size=2M', 'iodepth=8',
        'randseed=8', 'cmdprio_percentage=40', 'cmdprio_class=1',
        'cmdprio=2'], 1, 2, ours=['bounce=always', 'bounce_slots=1'])
    c = r.counters()
    check(c['ring_empty'] > 0 and c['mem_bounced'] > 0,
          f'the slot never ran out: {c}')


@test('cmdprio_bssplit=4k/100:1k/0 with cmdprio_class=3 picks the priority '
      'by block size: the device sees 4k bytes at class idle per I/O fio '
      'files under idle, the 1k I/Os elsewhere, and exactly as many idle '
      'bytes as io_uring sends on the same job and seed', timeout=180)
def cmdprio_bssplit_by_size(ctx):
    _prio_like_io_uring(ctx, 512, [
        'direct=1', 'rw=randwrite', 'bssplit=4k/50:1k/50', 'size=2M',
        'iodepth=8', 'randseed=5', 'cmdprio_class=3',
        'cmdprio_bssplit=4k/100:1k/0'], 3, 0)


@test('cmdprio_percentage=100 on misaligned I/O (bs=1000 randrw on a 4Kn '
      'device): every block request of the job, window reads, RMW reads and '
      'window writes included, carries ioprio RT/2', timeout=180)
def cmdprio_on_bounced_io(ctx):
    dev, trace = _device_trace(ctx, 4096)
    # bounce_zero_copy=0: no zero-copy probe, which reads the first block at
    # open, before any I/O of the job and outside cmdprio (bs=1000 could
    # never go zero copy anyway). Only the job's own I/O reaches the trace.
    r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'rw=randrw',
                            'bs=1000', 'size=1M', 'iodepth=8', 'randseed=2',
                            'cmdprio_percentage=100', 'cmdprio_class=1',
                            'cmdprio=2', 'bounce_zero_copy=0']))
    c = r.counters()
    check(c['rmw_writes'] > 0 and c['rmw_reads'] > 0 and
          c['window_reads'] > 0, f'the bounce paths did not all run: {c}')
    rt, other = _prio_bytes(trace, trace.text(), 'rt', 2)
    check(rt > 0 and other == 0, f'{rt} bytes at RT/2, {other} at other '
          f'priorities')


def _sync_ops(trace, text):
    """SYNC_FILE_RANGE SQEs the kernel took, and those it refused."""
    took = trace.opcodes(text).get('SYNC_FILE_RANGE', 0)
    refused = text.count('opcode SYNC_FILE_RANGE') - took
    return took, refused


@test('sync_file_range=write:4 goes through IORING_OP_SYNC_FILE_RANGE, the '
      'opcode io_uring sends on the same job: at iodepth 1, one SQE per sync '
      'fio counts, none refused by the kernel, and the writes verify',
      timeout=180)
def sync_file_range_opcode(ctx):
    path = f'{targets.ext4(ctx, 4096, 64 << 20)}/sfr.bin'
    trace = Trace(ctx, events=(SUBMIT, FAILED))
    job = [f'filename={path}', 'direct=1', 'rw=write', 'bs=4k', 'size=1M',
           'iodepth=1', 'sync_file_range=write:4', 'verify=crc32c']
    # fio's io_uring leaves a stale buffer address in the SQE, which the
    # kernel refuses (README, Options); whether fio then reports it depends
    # on the version. Only the opcode is io_uring's reference here.
    fio(ctx, job, engine='io_uring')
    took, refused = _sync_ops(trace, trace.text())
    check(took + refused > 0, 'io_uring sent no SYNC_FILE_RANGE SQE')
    r = expect_ok(fio(ctx, job))
    took, refused = _sync_ops(trace, trace.text())
    counted = r.jobs()[0]['sync']['lat_ns']['N']
    check(counted > 0 and took == counted and refused == 0,
          f'fio counted {counted} syncs; the kernel took {took} '
          f'SYNC_FILE_RANGE SQEs of ours and refused {refused}')


@test('sync_file_range on misaligned writes at iodepth 8 (bs=1000 on a 4Kn '
      'ext4 file): the job verifies and RMW runs; every sync the engine '
      'runs is a SYNC_FILE_RANGE SQE the kernel takes (none refused: a sync '
      'whose range is still empty, its writes in flight, makes no call, as '
      'in fio\'s own do_sync_file_range())', timeout=180)
def sync_file_range_bounced(ctx):
    path = f'{targets.ext4(ctx, 4096, 64 << 20)}/sfr.bin'
    trace = Trace(ctx, events=(SUBMIT, FAILED))
    r = expect_ok(fio(ctx, [f'filename={path}', 'direct=1', 'rw=randwrite',
                            'bs=1000', 'size=1M', 'iodepth=8',
                            'sync_file_range=write:8', 'verify=crc32c',
                            'randseed=4']))
    c = r.counters()
    check(c['rmw_writes'] > 0, f'the RMW path did not run: {c}')
    took, refused = _sync_ops(trace, trace.text())
    counted = r.jobs()[0]['sync']['lat_ns']['N']
    check(0 < took <= counted and refused == 0 and c['syncs'] == took,
          f'fio counted {counted} syncs, the engine ran {c["syncs"]}; the '
          f'kernel took {took} SYNC_FILE_RANGE SQEs and refused {refused}')


def _outcome(r):
    """Exit and per-job errors; I/O counts too when the job succeeded (how
    many I/Os a failing job had in flight is timing)."""
    if r.rc or any(r.errors()):
        return (r.rc, r.errors())
    j = r.jobs()[0]
    return (r.rc, r.errors(), j['read']['total_ios'],
            j['write']['total_ios'])


@test('uncached=1 means what it means to the running fio\'s io_uring: on '
      'buffered I/O to a file it ends exactly as io_uring ends (exit, error, '
      'I/O counts), and differs from uncached=0 exactly when io_uring\'s '
      'does; with direct=1 it changes nothing', timeout=180)
def uncached_like_io_uring(ctx):
    path = f'{targets.ext4(ctx, 4096, 64 << 20)}/unc.bin'
    base = [f'filename={path}', 'rw=randrw', 'bs=4k', 'size=1M',
            'iodepth=4', 'randseed=6']
    res = {}
    for direct in ('0', '1'):
        for unc in ('0', '1'):
            for engine in ('io_uring', 'bounce'):
                r = fio(ctx, base + [f'direct={direct}', f'uncached={unc}'],
                        engine=engine)
                res[direct, unc, engine] = _outcome(r)
            check(res[direct, unc, 'io_uring'] == res[direct, unc, 'bounce'],
                  f'direct={direct} uncached={unc}: io_uring ended '
                  f'{res[direct, unc, "io_uring"]}, fio-bounce '
                  f'{res[direct, unc, "bounce"]}')
    check(res['1', '1', 'bounce'] == res['1', '0', 'bounce'] and
          res['1', '0', 'bounce'][0] == 0,
          f'uncached=1 changed a direct=1 job: {res}')


@test('atomic=1 on a direct write job ends through fio-bounce exactly as '
      'through io_uring on the running fio (where fio has no atomic= both '
      'refuse the option; where it does, both run or fail alike)',
      timeout=120)
def atomic_like_io_uring(ctx):
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    job = [f'filename={dev}', 'direct=1', 'rw=write', 'bs=4k', 'size=1M',
           'atomic=1']
    ref = _outcome(fio(ctx, job, engine='io_uring'))
    got = _outcome(fio(ctx, job))
    check(ref == got, f'io_uring ended {ref}, fio-bounce {got}')


def _protection_lines(r):
    return sorted(ln for ln in r.err.splitlines() if 'protection' in ln)


@test('md_per_io_size=64 on a loop device and on a regular file (no '
      'protection information) ends through fio-bounce exactly as through '
      'io_uring on the running fio: same exit, same errors, the same '
      'protection-information messages (where fio has no such option, both '
      'refuse it)', timeout=120)
def md_per_io_size_like_io_uring(ctx):
    dev = targets.loop(ctx, 512, DEV_SIZE)
    path = f'{ctx.tmpdir(base="/dev/shm")}/md.bin'
    with open(path, 'wb') as f:
        f.truncate(DEV_SIZE)
    for target in (dev, path):
        job = [f'filename={target}', 'direct=1', 'rw=write', 'bs=4k',
               'size=1M', 'md_per_io_size=64']
        ref, got = (fio(ctx, job, engine=e) for e in ('io_uring', 'bounce'))
        check(_outcome(ref) == _outcome(got) and
              _protection_lines(ref) == _protection_lines(got),
              f'{target}: io_uring ended {_outcome(ref)} '
              f'{_protection_lines(ref)}, fio-bounce {_outcome(got)} '
              f'{_protection_lines(got)}')
