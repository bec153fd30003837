"""Read-modify-write: misaligned writes that share device blocks never lose
or damage each other's bytes or their neighbours', against byte images
computed or produced independently of the engine; and the bounce ring's
edges (one slot, fixed buffers, bounce=always, several files per job).

Independent oracles used here:
 - a buffered reference: the same fio job through stock io_uring with
   direct=0 on a regular file. With refill_buffers, fio draws each write's
   data from its buffer RNG in issue order, so the image depends only on the
   seeds and iodepth (the initial fill of iodepth buffers advances the RNG):
   two buffered engines at the same depth produce identical images (checked
   by differential_reference_is_deterministic). Default scramble_buffers
   stamps the time into every 512 bytes: never identical, so it is off.
 - a Python-computed image: a per-sector pattern laid down from Python, and
   writes replayed from an fio iolog whose offsets, lengths and data
   (buffer_pattern) are all known; read back by a separate O_DIRECT reader.
"""
import errno
import mmap
import os
import random

from fiobtest import (Fail, check, expect_error, expect_ok,
                      expect_passthrough, fio, iolog, targets, test)
from fiobtest.trace import Trace

SECTOR = 512
DEV_SIZE = 16 << 20


# ---- byte images --------------------------------------------------------

def sector_pattern(size):
    """Non-zero, and different in every 512-byte sector: b'<sector#>~'..."""
    out = bytearray(size)
    for s in range(size // SECTOR):
        tag = b'%x~' % (s + 0x5a5a)
        out[s * SECTOR:(s + 1) * SECTOR] = (tag * (SECTOR // len(tag) + 1)
                                            )[:SECTOR]
    return bytes(out)


def write_image(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        done = 0
        while done < len(data):
            done += os.pwrite(fd, view[done:done + (4 << 20)], done)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_direct(path, size):
    """Read @size bytes with O_DIRECT: what the device holds, not a cache."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    chunk = 1 << 20
    buf = mmap.mmap(-1, chunk)      # page-aligned
    out = bytearray()
    try:
        while len(out) < size:
            n = os.preadv(fd, [buf], len(out))
            if n <= 0:
                raise Fail(f'O_DIRECT read of {path} stopped at {len(out)}')
            out += buf[:n]
    finally:
        os.close(fd)
        buf.close()
    return bytes(out[:size])


def diff_offsets(a, b, limit=6):
    """First differing byte offsets of two equal-length images."""
    found = []
    step = 1 << 16
    for base in range(0, len(a), step):
        if a[base:base + step] == b[base:base + step]:
            continue
        for i in range(base, min(base + step, len(a))):
            if a[i] != b[i]:
                found.append(i)
                if len(found) >= limit:
                    return found
    return found


# ---- the differential RMW-race tests ------------------------------------

# The reference engine: stock io_uring, buffered, same depth and seeds.
RACE_JOB = ['rw=randwrite', 'iodepth=64', 'randseed=4242',
            'size=4M', 'refill_buffers=1', 'scramble_buffers=0']


def race_job(bs):
    """RACE_JOB at @bs: 1000-byte writes from offset 1500 (never aligned,
    always copied); 512-byte writes from 1536, on the 512-byte grid, so
    they can go zero copy."""
    return [*RACE_JOB, f'bs={bs}', f'offset={1500 if bs % 512 else 1536}']
# Misaligned and aligned writes in one ring: offsets at 512 multiples, so a
# 4 KiB or 16 KiB write is aligned one time in eight, 512/1000-byte writes
# never are (4096-byte blocks); the random map keeps writes from
# overlapping while they still share blocks.
MIXED_JOB = ['rw=randwrite', 'bssplit=512/10:1000/30:4096/30:16384/30',
             'bs_unaligned=1', 'iodepth=64', 'randseed=777', 'size=4M',
             'offset=3584', 'refill_buffers=1', 'scramble_buffers=0']


def buffered_image(ctx, job, engine='io_uring'):
    path = os.path.join(ctx.tmpdir(base='/dev/shm'), 'ref.img')
    write_image(path, sector_pattern(DEV_SIZE))
    expect_ok(fio(ctx, [f'filename={path}', 'direct=0', *job],
                  engine=engine), f'the buffered {engine} reference')
    with open(path, 'rb') as f:
        img = f.read()
    check(len(img) == DEV_SIZE, f'the reference file is {len(img)} bytes')
    return img


def bounce_and_reference(ctx, job, extra=()):
    """@job (plus fio-bounce-only @extra) through fio-bounce on a fresh 4Kn
    loop device holding sector_pattern(), direct=1, and through buffered
    stock io_uring on a regular file holding the same: (fio result, device
    image, reference image)."""
    pattern = sector_pattern(DEV_SIZE)
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    write_image(dev, pattern)
    r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', *job, *extra]),
                  'fio-bounce on the 4Kn device')
    got = read_direct(dev, DEV_SIZE)
    ref = buffered_image(ctx, job)
    check(ref != pattern, 'the reference job wrote nothing')
    return r, got, ref


def differential(ctx, job, zc=True):
    """Run @job on a 4Kn loop device through fio-bounce (direct=1, zero
    copy on or forced off) and on a regular file through buffered stock
    io_uring; the images must match byte for byte over the whole device,
    written range and beyond."""
    pattern = sector_pattern(DEV_SIZE)
    r, got, ref = bounce_and_reference(
        ctx, job, ['bounce_zero_copy_min=0'] if zc else ['bounce_zero_copy=0'])
    if got != ref:
        bad = diff_offsets(got, ref)
        where = ', '.join(
            f'{o} (block {o // 4096}, device {got[o]:#04x} vs reference '
            f'{ref[o]:#04x}, pattern {pattern[o]:#04x})' for o in bad)
        raise Fail(f'device image differs from the buffered reference at: '
                   f'{where}; counters {r.counters()}')
    return r.counters()


@test('two buffered engines (io_uring and libaio) running the race job with '
      'the same iodepth and seeds write identical images: the reference '
      'the differential tests compare against is deterministic', timeout=120)
def differential_reference_is_deterministic(ctx):
    for job in (race_job(1000), race_job(512), MIXED_JOB):
        a = buffered_image(ctx, job, 'io_uring')
        b = buffered_image(ctx, job, 'libaio')
        check(a == b, f'two buffered runs of {job} differ at '
              f'{diff_offsets(a, b)}: the reference is not deterministic')


def check_zero_copy_ran(c, zc, what):
    """Zero copy wrote some of the RMW writes iff it was on."""
    if zc:
        check(c['zero_copy'] > 0, f'{what}: no write went zero copy: {c}')
    else:
        check(c['zero_copy'] == 0, f'{what}: zero copy ran although '
              f'bounce_zero_copy=0: {c}')


def _race_test(bs, zc):
    def fn(ctx):
        c = differential(ctx, race_job(bs), zc)
        check(c['rmw_writes'] > 0, f'no read-modify-write happened: {c}')
        check(c['waits'] > 0, f'no write ever waited for a neighbour '
              f'sharing its block, so the race was not exercised: {c}')
        if bs % 512:
            check(c['zero_copy'] == 0 and c['bytes_copied'] > 0,
                  f'bs={bs} cannot go zero copy, and must copy: {c}')
        else:
            check_zero_copy_ran(c, zc, f'bs={bs}')
    fn.__name__ = f'differential_rmw_race_bs{bs}' + ('' if zc else '_zc0')
    return fn


for _bs, _zc in ((1000, True), (512, True), (512, False)):
    test(f'randwrite bs={_bs} at QD64 on a 4Kn device (neighbouring writes '
         f'share blocks, never bytes) leaves exactly the image buffered '
         f'io_uring leaves on a regular file: no RMW race loses a '
         f'neighbour\'s bytes'
         + ('' if _bs % 512 else ', with zero copy ' + ('on' if _zc else
            'forced off (bounce_zero_copy=0)')),
         timeout=180)(_race_test(_bs, _zc))


def _mixed_test(zc):
    def fn(ctx):
        c = differential(ctx, MIXED_JOB, zc)
        check(c['passthrough'] > 0,
              f'no aligned write went straight through: {c}')
        check(c['rmw_writes'] > 0, f'no read-modify-write happened: {c}')
        check(c['waits'] > 0, f'no write waited for a neighbour: {c}')
        check_zero_copy_ran(c, zc, 'the mixed job')
    fn.__name__ = 'differential_mixed_aligned' + ('' if zc else '_zc0')
    return fn


for _zc in (True, False):
    test('a QD64 randwrite mixing misaligned writes (512, 1000 bytes, or '
         'any length off a 4 KiB offset) with aligned ones (4 KiB and 16 KiB '
         'on a 4 KiB offset) on a 4Kn device leaves exactly the buffered '
         'io_uring image: pass-through and RMW writes coexist in one ring, '
         + ('512-multiple RMW writes going zero copy' if _zc else
            'with zero copy forced off (bounce_zero_copy=0)'),
         timeout=180)(_mixed_test(_zc))


# Sequential 1000-byte writes: every write shares a block with the next, so
# the overlap table runs one write per block at a time, blocks in parallel.
SEQ_JOB = ['rw=write', 'bs=1000', 'iodepth=32', 'size=4M', 'offset=1500',
           'refill_buffers=1', 'scramble_buffers=0']
# Writes that rewrite each other's bytes while both are queued: 1000 bytes
# at 500-byte multiples over 32 KiB, no random map, so at QD32 most writes
# overlap some queued write's bytes, partly or wholly.
REWRITE_JOB = ['rw=randwrite', 'bs=1000', 'blockalign=500', 'norandommap=1',
               'iodepth=32', 'randseed=99', 'size=32k', 'offset=4000',
               'number_ios=4000', 'refill_buffers=1', 'scramble_buffers=0']


@test('sequential bs=1000 writes at QD32 on a 4Kn device, where writes to '
      'different blocks run in parallel and writes sharing a block in any '
      'order, leave exactly the buffered io_uring image', timeout=180)
def differential_sequential_parallel_blocks(ctx):
    c = differential(ctx, SEQ_JOB)
    check(c['rmw_writes'] > 0 and c['waits'] > 0,
          f'the RMW chains were not exercised: {c}')


@test('1000-byte writes at 500-byte offsets over 32 KiB at QD32 (queued '
      'writes overwrite each other\'s bytes) leave the image of buffered '
      'io_uring and libaio, which apply writes in issue order: writes to the '
      'same bytes keep their order', timeout=180)
def differential_overlapping_rewrites_keep_order(ctx):
    a = buffered_image(ctx, REWRITE_JOB, 'io_uring')
    b = buffered_image(ctx, REWRITE_JOB, 'libaio')
    check(a == b, f'the buffered references differ at {diff_offsets(a, b)}:'
          f' no issue order to compare against')
    c = differential(ctx, REWRITE_JOB)
    check(c['rmw_writes'] > 0 and c['waits'] > 0,
          f'no write waited for another: {c}')


@test('randwrite bs=1000 at QD64 growing a new ext4 file from empty '
      '(fallocate=none: windows run past EOF and are cut back) leaves the '
      'same file, size and bytes, as buffered io_uring does', timeout=180)
def differential_file_growth(ctx):
    job = ['rw=randwrite', 'bs=1000', 'iodepth=64', 'randseed=31',
           'size=4M', 'fallocate=none', 'refill_buffers=1',
           'scramble_buffers=0']
    path = os.path.join(targets.ext4(ctx, 4096, 64 << 20), 'grow.bin')
    r = expect_ok(fio(ctx, [f'filename={path}', 'direct=1', *job]),
                  'fio-bounce on ext4')
    ref = os.path.join(ctx.tmpdir(base='/dev/shm'), 'grow.bin')
    expect_ok(fio(ctx, [f'filename={ref}', 'direct=0', *job],
                  engine='io_uring'), 'the buffered io_uring reference')
    with open(ref, 'rb') as f:
        want = f.read()
    size = os.path.getsize(path)
    check(size == len(want), f'the file is {size} bytes, the buffered '
          f'reference {len(want)}')
    got = read_direct(path, size)
    check(got == want, f'file bytes differ from the reference at '
          f'{diff_offsets(got, want)}')
    c = r.counters()
    check(c['eof_trims'] > 0, f'no window ran past EOF: {c}')
    check(c['rmw_writes'] > 0 and c['waits'] > 0,
          f'the RMW race was not exercised: {c}')


# ---- neighbour preservation against a computed image --------------------

def scattered_writes(size, seed=20251125):
    """Non-overlapping writes at misaligned offsets with misaligned lengths;
    most share a 4 KiB block with a neighbour (gaps of 0..5000 bytes). The
    first starts at byte 0 and the last ends at the device's last byte."""
    rng = random.Random(seed)
    gaps = [0, 0, 0, 1, 3, 100, 511, 512, 1000, 4095, 4096, 5000]
    lens = [1, 2, 7, 100, 511, 512, 513, 1000, 3000, 4095, 4096, 4097, 6000,
            8191, 12289]
    writes = [(0, 3)]
    pos = 3
    while True:
        off = pos + rng.choice(gaps)
        ln = rng.choice(lens)
        if off + ln > size - 8192:
            break
        writes.append((off, ln))
        pos = off + ln
    writes.append((size - 777, 777))
    # Issue neighbours close together, but not strictly in order.
    order = []
    for i in range(0, len(writes), 8):
        group = writes[i:i + 8]
        rng.shuffle(group)
        order += group
    return order


def buffer_pattern(seed=7):
    """A 251-byte pattern (prime length): a write put at the wrong offset, or
    data taken from the wrong place in the buffer, shows."""
    rng = random.Random(seed)
    return bytes(rng.randrange(1, 256) for _ in range(251))


@test('misaligned writes replayed from an fio iolog onto a pattern-filled 4Kn '
      'device change exactly their own bytes: an O_DIRECT reader finds every '
      'other byte still holding the pattern and every written byte holding '
      'fio\'s data', timeout=180)
def neighbour_preservation(ctx):
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    pattern = sector_pattern(DEV_SIZE)
    write_image(dev, pattern)
    writes = scattered_writes(DEV_SIZE)
    data = buffer_pattern()
    log = iolog(ctx, dev, 'write', writes)
    # fio quirk: when an iolog replay runs out, fio sets td->done and its
    # td_io_getevents() returns 0 from then on, so I/O still in flight is
    # never reaped (stock engines' I/O is in the kernel and lands anyway).
    # thinktime with thinktime_blocks = every entry, counted at issue, makes
    # fio quiesce right after issuing the last one, before the log ends.
    # (iolog_end_lands_queued_writes checks the engine without this.)
    r = expect_ok(fio(ctx, [
        f'read_iolog={log}', 'direct=1', 'iodepth=16',
        f'buffer_pattern=0x{data.hex()}', 'scramble_buffers=0',
        'thinktime=1', f'thinktime_blocks={len(writes)}',
        'thinktime_blocks_type=issue']), 'the iolog replay')
    c = r.counters()
    expected = bytearray(pattern)
    written = bytearray(DEV_SIZE)           # 1 where fio wrote
    for off, ln in writes:
        expected[off:off + ln] = (data * (ln // len(data) + 1))[:ln]
        written[off:off + ln] = b'\x01' * ln
    got = read_direct(dev, DEV_SIZE)
    bad = diff_offsets(got, expected, limit=100000) if got != expected else []
    lost = [o for o in bad if written[o]]
    hit = [o for o in bad if not written[o]]
    check(not hit, f'{len(hit)} bytes outside every written range changed, '
          f'first at {hit[:6]} (sector {hit[0] // SECTOR}): neighbours damaged'
          if hit else '')
    check(not lost, f'{len(lost)} written bytes do not hold fio\'s data, '
          f'first at {lost[:6]}' if lost else '')
    # Where fio's data differs from the pattern, the pattern must be gone.
    differs = [(o, n) for o, n in writes
               if expected[o:o + n] != pattern[o:o + n]]
    stale = [(o, n) for o, n in differs if got[o:o + n] == pattern[o:o + n]]
    check(len(differs) > len(writes) * 9 // 10 and not stale,
          f'{len(stale)} of {len(differs)} written ranges still hold the '
          f'pattern, first {stale[:4]}')
    check(c['rmw_writes'] > 0 and c['waits'] > 0,
          f'the replay did not exercise RMW against neighbours: {c}')
    check(c['rmw_writes'] + c['passthrough'] == len(writes),
          f'{len(writes)} writes replayed, the engine counted '
          f'{c["rmw_writes"] + c["passthrough"]}: {c}')


@test('every write fio queued reaches the device even when fio stops reaping '
      'at the end of an iolog replay, as with stock io_uring: a write waiting '
      'behind a neighbour\'s RMW window is not dropped at teardown',
      timeout=60)
def iolog_end_lands_queued_writes(ctx):
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    pattern = sector_pattern(DEV_SIZE)
    write_image(dev, pattern)
    data = buffer_pattern()
    writes = [(1500, 1000), (2500, 1000)]     # share block 0, no overlap
    log = iolog(ctx, dev, 'write', writes)
    r = expect_ok(fio(ctx, [f'read_iolog={log}', 'direct=1', 'iodepth=2',
                            f'buffer_pattern=0x{data.hex()}',
                            'scramble_buffers=0']), 'the iolog replay')
    got = read_direct(dev, 8192)
    missing = [(off, ln) for off, ln in writes
               if got[off:off + ln] != (data * 4)[:ln]]
    check(not missing, f'writes {missing} never reached the device although '
          f'fio queued them and reported success (counters {r.counters()})')


# ---- the bounce ring's edges ------------------------------------------

@test('bounce_slots=1 at iodepth 32: misaligned randwrite runs out of slots '
      '(ring_empty > 0), fio retries, and crc32c verify passes', timeout=120)
def ring_exhaustion(ctx):
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'rw=randwrite',
                            'bs=1000', 'iodepth=32', 'bounce_slots=1',
                            'size=4M', 'verify=crc32c', 'randseed=3']))
    c = r.counters()
    check(r.stats and r.stats[0]['slots'] == 1,
          f'the job did not run with one slot: {r.stats}')
    check(c['ring_empty'] > 0, f'the single slot never ran out: {c}')
    check(c['rmw_writes'] > 0 and c['window_reads'] > 0,
          f'the misaligned path did not run: {c}')


# fio's own requeue, with no BUSY from any engine: stock vsync, whose writes
# fio requeues when it reaps completions in batches (fio issue #1526). A fio
# that fills a requeued write's verify pattern twice (3.33) loses the seed
# here too. (vsync is named as an option: fio() knows only some stock names.)
REQUEUE_PROBE = ['rw=rw', 'bs=128k', 'size=1M', 'iodepth=4',
                 'iodepth_batch_submit=4', 'iodepth_batch_complete_min=4',
                 'iodepth_batch_complete_max=4', 'verify=crc32c',
                 'ioengine=vsync']


def _fio_keeps_seed_on_requeue(ctx):
    """Does the running fio verify a rw job whose writes it requeues? Asked
    of fio's vsync on a buffered file, not of a version number."""
    path = os.path.join(ctx.tmpdir('/dev/shm'), 'probe')
    r = fio(ctx, [f'filename={path}', *REQUEUE_PROBE], engine='psync')
    if r.rc == 0 and not any(r.errors()):
        return True
    check('bad header rand_seed' in r.text,
          f'the requeue probe failed otherwise: {r.describe()}')
    return False


@test('randrw crc32c verify (no verify_backlog) with bounce_slots=2 at '
      'iodepth 32: writes sent back busy keep fio\'s header seeds in step '
      '(ring_empty > 0, verify passes) wherever fio\'s own vsync keeps '
      'them across a requeue; where it does not (fio 3.33), the job fails '
      'as fio\'s vsync does, and passes with verify_backlog',
      timeout=180)
def busy_write_keeps_verify_seed(ctx):
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    job = [f'filename={dev}', 'direct=1', 'rw=randrw', 'bsrange=1k-16k',
           'iodepth=32', 'bounce_slots=2', 'size=8M', 'verify=crc32c',
           'randseed=1']
    r = fio(ctx, job)
    c = r.counters()
    check(c['ring_empty'] > 0, f'the two slots never ran out: {c}')
    check(c['rmw_writes'] > 0 and c['window_reads'] > 0,
          f'the misaligned path did not run: {c}')
    if _fio_keeps_seed_on_requeue(ctx):
        expect_ok(r, 'randrw verify with writes sent back busy')
        return
    check(r.rc != 0 and 'bad header rand_seed' in r.text,
          f'fio loses seeds on requeue, but this job did not: '
          f'{r.describe()}')
    r = expect_ok(fio(ctx, job + ['verify_backlog=16']),
                  'the same job with verify_backlog')
    check(r.counters()['ring_empty'] > 0,
          f'with verify_backlog the slots never ran out: {r.counters()}')


def _fixed_job(ctx, trace, dev, extra, fixed=True, wrap=()):
    args = [f'filename={dev}', 'direct=1', 'rw=randwrite', 'iodepth=16',
            'size=2M', 'verify=crc32c', 'randseed=11', *extra]
    what = f'{" ".join(extra)}{" fixedbufs" if fixed else ""}'
    r = expect_ok(fio(ctx, args + (['fixedbufs'] if fixed else []),
                      wrap=wrap), what)
    return r, trace.opcodes()


# Aligned and misaligned writes in one job: pass-through and RMW both run.
# bounce_zero_copy_min=0: its 4 KiB window I/O goes zero copy (auto keeps
# I/O this small on the copy path; test_zerocopy covers the threshold).
MIXED = ['bs=4096', 'blockalign=512', 'serialize_overlap=1',
         'bounce_zero_copy_min=0']


def _check_sqes(r, ops, what, fixed_user, fixed_slots):
    """One SQE per counted transfer: each zero-copy read as READV_FIXED on
    the span when the stats say zero_copy_fixed=yes, else as READV; each
    zero-copy write as plain WRITEV (its head and tail are per-request
    slot data, which no one registered buffer holds with fio's memory);
    each other bounced transfer and RMW read on a registered buffer iff
    @fixed_slots, each pass-through I/O iff @fixed_user; the rest as plain
    READ/WRITE."""
    c = r.counters()
    bounced = (c['mem_bounced'] + c['window_reads'] + c['rmw_writes'] +
               c['rmw_reads'] - c['zero_copy'])
    fixed = ops.get('READ_FIXED', 0) + ops.get('WRITE_FIXED', 0)
    plain = ops.get('READ', 0) + ops.get('WRITE', 0)
    vectored = ops.get('READV', 0) + ops.get('WRITEV', 0)
    fixed_vec = ops.get('READV_FIXED', 0) + ops.get('WRITEV_FIXED', 0)
    want_fixed = (bounced if fixed_slots else 0) + \
        (c['passthrough'] if fixed_user else 0)
    want_plain = bounced + c['passthrough'] - want_fixed
    check((fixed, plain, vectored + fixed_vec) ==
          (want_fixed, want_plain, c['zero_copy']),
          f'{what}: submitted {fixed} fixed, {plain} plain and '
          f'{vectored + fixed_vec} vectored reads/writes, want {want_fixed}, '
          f'{want_plain} and {c["zero_copy"]} (counters {c}, opcodes {ops})')
    span = r.stats[0].get('zero_copy_fixed') if r.stats else None
    if span == 'yes':
        check(not ops.get('READV') and not ops.get('WRITEV_FIXED'),
              f'{what}: zero_copy_fixed=yes, yet a zero-copy read went as '
              f'READV or a write as WRITEV_FIXED: {ops}')
    else:
        check(not fixed_vec, f'{what}: fixed vectored ops without the span '
              f'(zero_copy_fixed={span}): {ops}')
    check(r.stats and r.stats[0]['slots_registered'] == fixed_slots,
          f'{what}: stats say slots_registered='
          f'{r.stats[0]["slots_registered"] if r.stats else None}')
    return c


@test('fixedbufs with bounced I/O: bs=1000 (RMW), iomem_align=7 (memory '
      'bounce) and blockalign=512 (mixed) jobs pass verify, and every read '
      'and write goes to the kernel as READ_FIXED/WRITE_FIXED: slots are '
      'used through their own registered index (a wrong index is EFAULT); '
      'with blockalign=512 the 4 KiB window I/O goes zero copy, as one '
      'READV_FIXED (reads, on the span) or WRITEV (writes) each, and as '
      'READ_FIXED/WRITE_FIXED again with bounce_zero_copy=0',
      timeout=120)
def fixedbufs_bounced(ctx):
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    trace = Trace(ctx)
    # Control: an aligned job without fixedbufs submits plain READ/WRITE
    # (fio's buffers are registered only on request), so the trace does
    # tell the two apart.
    r, ops = _fixed_job(ctx, trace, dev, ['bs=4096'], fixed=False)
    c = _check_sqes(r, ops, 'control: aligned, no fixedbufs', False, True)
    check(c['passthrough'] > 0, f'control: nothing passed through: {c}')
    for extra, counter in ((['bs=1000'], 'rmw_writes'),
                           (['bs=4096', 'iomem_align=7'], 'mem_bounced'),
                           (MIXED, 'zero_copy'),
                           (MIXED + ['bounce_zero_copy=0'], 'rmw_writes')):
        r, ops = _fixed_job(ctx, trace, dev, extra)
        c = _check_sqes(r, ops, f'{extra} fixedbufs', True, True)
        check(c[counter] > 0, f'{extra}: {counter} not counted: {c}')
        if 'blockalign=512' in extra:
            check(c['passthrough'] > 0, f'{extra}: no pass-through I/O: {c}')


def _mixed_without_fixedbufs(ctx, registered, what, extra=()):
    """The mixed job without fixedbufs: one SQE per counted transfer, on
    the slots' registered buffers iff @registered, zero copy vectored."""
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    trace = Trace(ctx)
    r, ops = _fixed_job(ctx, trace, dev, MIXED + list(extra), fixed=False)
    c = _check_sqes(r, ops, what, False, registered)
    check(c['passthrough'] > 0 and c['rmw_writes'] > 0,
          f'{what}: the job did not mix both paths: {c}')
    check(c['zero_copy'] > 0, f'{what}: no window I/O went zero copy: {c}')


@test('without fixedbufs the bounce slots are still registered, once, at '
      'init: a job mixing aligned and misaligned writes (blockalign=512) '
      'passes verify with one READ_FIXED/WRITE_FIXED per copied bounced '
      'transfer and RMW read, plain READ/WRITE for its pass-through I/O, '
      'READV_FIXED for its zero-copy reads (the span) and plain WRITEV for '
      'its zero-copy writes (slot data beside user memory: pinned like '
      'stock io_uring\'s), so no copied I/O or zero-copy read is pinned '
      'per I/O',
      timeout=120)
def slots_registered_without_fixedbufs(ctx):
    _mixed_without_fixedbufs(ctx, True, 'mixed, no fixedbufs')


@test('bounce_register=0 leaves the slots unregistered: the mixed job passes '
      'verify with every read and write, bounced or not, as plain '
      'READ/WRITE (READV/WRITEV for zero copy), and its stats say '
      'slots_registered=false', timeout=120)
def bounce_register_off(ctx):
    _mixed_without_fixedbufs(ctx, False, 'mixed, bounce_register=0',
                             ['bounce_register=0'])


# setpriv drops CAP_IPC_LOCK from every set, so the kernel charges
# registered buffers to RLIMIT_MEMLOCK, which prlimit sets below what 16
# slots of 12 KiB need.
NO_MEMLOCK = ('setpriv', '--bounding-set=-ipc_lock', '--inh-caps=-ipc_lock',
              '--ambient-caps=-ipc_lock', 'prlimit', '--memlock=65536:65536')


@test('when the kernel refuses to register the slots (RLIMIT_MEMLOCK of 64 '
      'KiB without CAP_IPC_LOCK), the mixed job still passes verify, says '
      'so once on stderr and in its stats (slots_registered=false); '
      'fixedbufs=1, which asks for registration, fails the job with ENOMEM '
      'and names what failed', timeout=120)
def slot_registration_refused_falls_back(ctx):
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    job = [f'filename={dev}', 'direct=1', 'rw=randwrite', 'iodepth=16',
           'size=2M', *MIXED]
    r = expect_ok(fio(ctx, job + ['verify=crc32c'], wrap=NO_MEMLOCK),
                  'the mixed job under a 64 KiB memlock limit')
    c = r.counters()
    check(c['passthrough'] > 0 and c['rmw_writes'] > 0,
          f'the job did not mix both paths: {c}')
    check(r.stats and r.stats[0]['slots_registered'] is False,
          f'stats do not say the slots went unregistered: {r.stats}')
    check(r.err.count('refused to register the bounce slots') == 1,
          f'no single notice of the refusal on stderr: {r.err[-400:]!r}')
    r = fio(ctx, job + ['fixedbufs'], wrap=NO_MEMLOCK)
    expect_error(r, errno.ENOMEM, 'fixedbufs under a 64 KiB memlock limit')
    check('fixedbufs (io_uring_register_buffers)' in r.err,
          f'the failure does not say what failed: {r.err[-300:]!r}')


@test('bounce=always on an aligned job sends every I/O through the slots '
      '(mem_bounced > 0, passthrough == 0, every byte copied once) and '
      'verifies; the same job in auto mode copies nothing', timeout=120)
def bounce_always(ctx):
    dev = targets.loop(ctx, 4096, DEV_SIZE)
    job = [f'filename={dev}', 'direct=1', 'rw=randwrite', 'bs=4096',
           'iodepth=16', 'size=4M', 'verify=crc32c', 'randseed=5']
    r = expect_ok(fio(ctx, job + ['bounce=always']), 'bounce=always')
    c = r.counters()
    check(c['mem_bounced'] > 0 and c['passthrough'] == 0,
          f'bounce=always let I/O through uncopied: {c}')
    check(c['rmw_writes'] == 0 and c['window_reads'] == 0,
          f'aligned I/O went through a window: {c}')
    j = r.jobs()[0]
    moved = j['write']['io_bytes'] + j['read']['io_bytes']
    check(c['bytes_copied'] == moved,
          f'{moved} bytes written and verified, {c["bytes_copied"]} copied')
    check(r.stats[0]['mode'] == 'always', f'mode: {r.stats[0]["mode"]}')
    expect_passthrough(expect_ok(fio(ctx, job), 'auto'), 'auto mode')


@test('one job over a 4Kn and a 512-byte-sector device (filename=a:b) with '
      'bs=512 passes verify using each file\'s own rule (RMW on the 4Kn one, '
      'pass-through on the other), and the stats JSON files list shows both '
      'alignments', timeout=120)
def multi_file_alignment(ctx):
    d4k = targets.loop(ctx, 4096, DEV_SIZE)
    d512 = targets.loop(ctx, 512, DEV_SIZE)
    r = expect_ok(fio(ctx, [f'filename={d4k}:{d512}', 'direct=1',
                            'rw=randwrite', 'bs=512', 'iodepth=16',
                            'size=8M', 'verify=crc32c', 'randseed=9']))
    c = r.counters()
    check(c['rmw_writes'] > 0, f'no RMW on the 4Kn device: {c}')
    check(c['passthrough'] > 0, f'nothing went straight to the 512-byte '
          f'device: {c}')
    files = {f['name']: f for s in r.stats for f in s.get('files', [])}
    want = {d4k: 4096, d512: 512}
    for name, off in want.items():
        f = files.get(name)
        check(f is not None, f'{name} is missing from the stats files list: '
              f'{[s.get("files") for s in r.stats]}')
        check(f['off_align'] == off and f['mem_align'] == 512,
              f'{name}: files entry {f}, expected off_align={off} '
              f'mem_align=512')
