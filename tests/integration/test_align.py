"""Alignment: what each target needs is learned per file, shown with
--debug=io and recorded in bounce_stats; bounce_align/bounce_mem_align raise
it (never lower it); several jobs writing one file misaligned are warned
about."""
import os

from fiobtest import (Fail, check, debug_align, expect_ok,
                      expect_passthrough, fio, targets, test)
from fiobtest.fio import engine_arg, run_fio

def fio_stdout(ctx, args, timeout=120):
    """fio() with the report on stdout instead of --output=FILE: the job
    process's own lines (--debug=io, the engine's) then always get out."""
    return fio(ctx, args, fmt='normal', timeout=timeout, stdout=True)


def stats_align(r, name):
    """(off_align, mem_align, source) recorded in bounce_stats for @name."""
    check(len(r.stats) == 1, f'{len(r.stats)} bounce_stats objects')
    files = r.stats[0].get('files')
    check(files, f'bounce_stats records no file at all: files={files!r} in '
          f'{r.stats[0]}')
    got = [f for f in files if f.get('name') == name]
    check(len(got) == 1, f'bounce_stats files {files} lack {name}')
    return got[0]['off_align'], got[0]['mem_align'], got[0]['source']


def _discovery(kind):
    def fn(ctx):
        if kind == 'loop4k':
            target = targets.loop(ctx, 4096, 16 << 20)
            want, sources = (4096, 512), ('statx', 'blkdev')
        elif kind == 'loop512':
            target = targets.loop(ctx, 512, 16 << 20)
            want, sources = (512, 512), ('statx', 'blkdev')
        else:
            # ext4 on a 4096-byte-sector loop: statx(STATX_DIOALIGN)
            # reports the device's logical block and DMA alignment.
            target = os.path.join(targets.ext4(ctx, 4096, 64 << 20), 'f')
            want, sources = (4096, 512), ('statx',)
        r = expect_ok(fio_stdout(ctx, [f'filename={target}', 'direct=1',
                                       'rw=write', 'bs=4k', 'size=256k',
                                       '--debug=io']))
        need_off, need_mem, src, off, mem = debug_align(r, target)
        check((need_off, need_mem) == want and src in sources,
              f'{kind}: needs off={need_off} mem={need_mem} ({src}), '
              f'expected {want} from {sources}')
        check((off, mem) == want, f'{kind}: in force {off}/{mem}, '
              f'expected {want}')
        check(stats_align(r, target) == (off, mem, src),
              f'{kind}: bounce_stats {stats_align(r, target)} != what '
              f'--debug=io showed {(off, mem, src)}')
    return fn


for _kind, _what in (('loop4k', '4096/512'), ('loop512', '512/512'),
                     ('ext4', '4096/512 (statx)')):
    test(f'a {_kind} target needs {_what}: shown by --debug=io and recorded '
         f'in bounce_stats', timeout=60,
         name=f'discovery_{_kind}')(_discovery(_kind))


@test('a tmpfs file with direct=1 (no STATX_DIOALIGN) is probed: any '
      'alignment works, so probe learns 1/1 and bs=1000 from 7-byte-'
      'misaligned buffers passes straight through', timeout=60)
def discovery_tmpfs_probe(ctx):
    mnt = targets.small_tmpfs(ctx, 64 << 20)
    path = os.path.join(mnt, 'f')
    r = expect_ok(fio_stdout(ctx, [f'filename={path}', 'direct=1',
                                   'rw=randrw', 'bs=1000', 'iomem_align=7',
                                   'size=1M', 'iodepth=4', 'verify=crc32c',
                                   '--debug=io']))
    need_off, need_mem, src, off, mem = debug_align(r, path)
    check(src == 'probe', f'tmpfs alignment came from {src}, not the probe')
    check((need_off, need_mem, off, mem) == (1, 1, 1, 1),
          f'probe learned off={need_off} mem={need_mem}, in force '
          f'{off}/{mem}; tmpfs takes any alignment')
    expect_passthrough(r, 'bs=1000 on tmpfs')
    check(stats_align(r, path) == (1, 1, 'probe'),
          f'bounce_stats records {stats_align(r, path)}')


@test('a file opened with direct=0 needs no alignment (source "buffered"): '
      'bs=1000 from 7-byte-misaligned buffers all passes through', timeout=60)
def discovery_buffered(ctx):
    path = os.path.join(targets.ext4(ctx, 4096, 64 << 20), 'f')
    r = expect_ok(fio_stdout(ctx, [f'filename={path}', 'direct=0',
                                   'rw=randrw', 'bs=1000', 'iomem_align=7',
                                   'size=1M', 'iodepth=4', 'verify=crc32c',
                                   '--debug=io']))
    check(debug_align(r, path) == (1, 1, 'buffered', 1, 1),
          f'direct=0: {debug_align(r, path)}')
    expect_passthrough(r, 'buffered I/O')
    check(stats_align(r, path) == (1, 1, 'buffered'),
          f'bounce_stats records {stats_align(r, path)}')


@test('bounce_align=8192 on a 512-byte-sector device emulates 8 KiB blocks: '
      'every 4k random write becomes an RMW and verify passes (without the '
      'option they all pass through)',
      timeout=120)
def bounce_align_8192_on_loop512(ctx):
    dev = targets.loop(ctx, 512, 32 << 20)
    r = expect_ok(fio_stdout(ctx, [f'filename={dev}', 'direct=1',
                                   'rw=randwrite', 'bs=4k', 'size=8M',
                                   'iodepth=16', 'verify=crc32c',
                                   'verify_fatal=1', 'bounce_align=8192',
                                   '--debug=io']))
    need_off, need_mem, _, off, mem = debug_align(r, dev)
    check((need_off, need_mem, off, mem) == (512, 512, 8192, 512),
          f'bounce_align=8192: needs {need_off}/{need_mem}, in force '
          f'{off}/{mem}; expected 512/512 raised to 8192/512')
    # A 4096-byte length is never a multiple of 8192: every write is an
    # RMW, every verify read a window read.
    c = r.counters()
    check(c['rmw_writes'] == 2048 and c['window_reads'] == 2048 and
          c['passthrough'] == 0,
          f'expected 2048 RMW writes and 2048 window reads: {c}')
    check(c['rmw_reads'] >= 2048, f'RMW writes without RMW reads: {c}')
    # The same job without the override is all pass-through.
    r0 = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'rw=randwrite',
                             'bs=4k', 'size=8M', 'iodepth=16']))
    check(r0.counters()['rmw_writes'] == 0,
          f'4k writes on 512-byte sectors bounced without bounce_align: '
          f'{r0.counters()}')


def _override_below_device(opt, needed):
    """@opt is below what a loop4k device needs: refused, naming the value,
    the @needed bytes and the device, and nothing is written."""
    def fn(ctx):
        dev = targets.loop(ctx, 4096, 16 << 20)
        r = fio(ctx, [f'filename={dev}', 'direct=1', 'rw=write', 'bs=4k',
                      'size=1M', opt])
        check(r.rc != 0, f'{opt} was accepted: {r.describe()}')
        msg = [ln for ln in r.err.splitlines() if opt in ln]
        check(msg and str(needed) in msg[0] and dev in msg[0],
              f'no clear refusal naming {opt}, {needed} and {dev}: '
              f'{r.describe()}')
        with open(dev, 'rb') as f:
            check(f.read(1 << 20) == bytes(1 << 20),
                  'the refused job wrote data')
    return fn


test('bounce_align=512 on a 4096-byte-sector device is refused with a '
     'message naming the value and the 4096 bytes it needs, and nothing is '
     'written', timeout=60, name='bounce_align_below_device_refused')(
    _override_below_device('bounce_align=512', 4096))
test('bounce_mem_align=256 on a device whose DMA alignment is 512 is '
     'refused with a message naming the value and the 512 bytes it needs',
     timeout=60, name='bounce_mem_align_below_device_refused')(
    _override_below_device('bounce_mem_align=256', 512))


@test('bounce_mem_align=4096 with iomem_align=512 on a 4Kn device bounces '
      'every I/O through memory (it passes through without the option) and '
      'verify passes', timeout=120)
def bounce_mem_align_forces_mem_bounces(ctx):
    dev = targets.loop(ctx, 4096, 32 << 20)
    base = [f'filename={dev}', 'direct=1', 'rw=randwrite', 'bs=4k',
            'size=4M', 'iodepth=8', 'iomem_align=512', 'verify=crc32c',
            'verify_fatal=1']
    plain = expect_ok(fio(ctx, base), 'iomem_align=512 alone').counters()
    check(plain['mem_bounced'] == 0 and plain['passthrough'] == 2048,
          f'512-aligned buffers were bounced on a 512-DMA device: {plain}')
    c = expect_ok(fio(ctx, base + ['bounce_mem_align=4096'])).counters()
    check(c['mem_bounced'] == 2048 and c['passthrough'] == 0,
          f'bounce_mem_align=4096 did not bounce all 2048 I/Os: {c}')
    check(c['bytes_copied'] == 2 * (4 << 20),
          f'bytes_copied {c["bytes_copied"]} != 8 MiB written + read: {c}')


@test('bounce_align=3 is refused before any I/O with a message naming it',
      timeout=60)
def bounce_align_not_pow2_refused(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    r = fio(ctx, [f'filename={dev}', 'direct=1', 'rw=write', 'bs=4k',
                  'size=1M', 'bounce_align=3'])
    check(r.rc != 0, f'bounce_align=3 was accepted: {r.describe()}')
    check('bounce_align=3 is not a power of two' in r.text,
          f'no clear message for bounce_align=3: {r.describe()}')
    with open(dev, 'rb') as f:
        check(f.read(1 << 20) == bytes(1 << 20), 'the refused job wrote data')


def stdout_run(ctx, text):
    """A job file run with the report on stdout (as a user sees it)."""
    d = ctx.tmpdir()
    path = os.path.join(d, 'job.fio')
    with open(path, 'w') as f:
        f.write(f'[global]\nioengine={engine_arg("bounce")}\n{text}')
    r = run_fio(ctx, ['fio', path], cwd=d)
    if r.returncode != 0:
        raise Fail(f'fio exited {r.returncode}: {r.stderr[-600:]}')
    return r.stdout + r.stderr


WRITER = 'direct=1\nrw=randwrite\nbs=1000\nsize=1M\niodepth=4\n'


@test('two jobs writing one device with misaligned writes and '
      'bounce_share=off get a warning at start that names both jobs and the '
      'device', timeout=60)
def shared_file_warns_when_share_off(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    out = stdout_run(ctx, f'filename={dev}\n{WRITER}[w1]\n'
                          f'bounce_share=off\n[w2]\n')
    warn = [ln for ln in out.splitlines() if 'warning' in ln]
    check(warn, f'no warning for two jobs writing {dev}: {out[:800]}')
    check(any("'w1'" in ln and "'w2'" in ln and dev in ln for ln in warn),
          f'the warning does not name both jobs and {dev}: {warn}')
    first = min(out.find(ln) for ln in warn)
    summary = out.find('fio-bounce: w1:')
    check(0 <= first < summary, 'the warning came after the job ended')


@test('two jobs writing one device with misaligned writes (bounce_share '
      'at its default) get no warning: their writes are serialized across '
      'jobs, and one of them waited for the other (share_waits)', timeout=60)
def shared_file_no_warning_when_shared(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    out = stdout_run(ctx, f'filename={dev}\n{WRITER}[w1]\n[w2]\n')
    summaries = [ln for ln in out.splitlines()
                 if ln.startswith(('fio-bounce: w1:', 'fio-bounce: w2:'))]
    check(len(summaries) == 2, f'the jobs did not both run: {out[:800]}')
    warned = [ln for ln in out.splitlines() if 'warning' in ln.lower()]
    check(not warned, f'shared jobs were warned: {warned}')
    check(any(' share_waits=0 ' not in ln for ln in summaries),
          f'neither job ever waited for the other: {summaries}')


@test('a single job writing a device with misaligned writes gets no '
      'warning', timeout=60)
def single_job_no_warning(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    out = stdout_run(ctx, f'filename={dev}\n{WRITER}[only]\n')
    check('fio-bounce: only:' in out, f'the job did not run: {out[:600]}')
    warned = [ln for ln in out.splitlines() if 'warning' in ln.lower()]
    check(not warned, f'a single job was warned: {warned}')


@test('bounce_mem_align=4096 with bounce_align=512 on a 512-byte-sector '
      'device is refused before any I/O, naming both values and where each '
      'came from (offsets below memory alignment)', timeout=60)
def off_below_mem_override_refused(ctx):
    dev = targets.loop(ctx, 512, 16 << 20)
    r = fio(ctx, [f'filename={dev}', 'direct=1', 'rw=write', 'bs=1000',
                  'size=1M', 'bounce_align=512', 'bounce_mem_align=4096'])
    check(r.rc != 0, f'off 512 < mem 4096 was accepted: {r.describe()}')
    msg = [ln for ln in r.err.splitlines() if 'below the memory' in ln]
    check(msg and dev in msg[0] and '512 (from bounce_align)' in msg[0] and
          '4096 (from bounce_mem_align)' in msg[0],
          f'no refusal naming 512 (bounce_align) and 4096 '
          f'(bounce_mem_align) for {dev}: {r.describe()}')
    with open(dev, 'rb') as f:
        check(f.read(1 << 20) == bytes(1 << 20), 'the refused job wrote data')


@test('bounce_mem_align=8192 alone on a 512-byte-sector device raises the '
      'offset rule to 8192 too (in force 8192/8192): every 4k write becomes '
      'an RMW in 8 KiB windows and verify passes', timeout=120)
def mem_align_raises_off(ctx):
    dev = targets.loop(ctx, 512, 32 << 20)
    r = expect_ok(fio_stdout(ctx, [f'filename={dev}', 'direct=1',
                                   'rw=randwrite', 'bs=4k', 'size=4M',
                                   'iodepth=16', 'verify=crc32c',
                                   'verify_fatal=1',
                                   'bounce_mem_align=8192', '--debug=io']))
    need_off, need_mem, _, off, mem = debug_align(r, dev)
    check((need_off, need_mem, off, mem) == (512, 512, 8192, 8192),
          f'needs {need_off}/{need_mem}, in force {off}/{mem}; expected '
          f'512/512 raised to 8192/8192')
    c = r.counters()
    check(c['rmw_writes'] == 1024 and c['window_reads'] == 1024,
          f'expected 1024 RMW writes and 1024 window reads: {c}')
