"""Zero copy: window I/O whose buffer meets only the memory rule (512-byte
multiples at 512-aligned addresses on a 4Kn device) goes out as one READV/
WRITEV of [slot head, user buffer, slot tail] where the kernel takes such
segments (probed per file at open), and copies nothing; everything else
copies as before. The test hook FIOB_TEST_ZERO_COPY_PROBE=0|1 (read at init)
stands in for the probe's answer, as on a kernel that refuses the segments.

Zero copy applies from a size on (bounce_zero_copy_min, default auto: a
threshold from a copy timed once per process; 0 with unregistered slots):
below it the copy into a registered slot is cheaper than pinning the user
pages per I/O. The tests that exercise the zero-copy path at 512 B-4 KiB
therefore set bounce_zero_copy_min=0; the threshold itself is tested here.

The integrity matrix, the differential RMW tests and the SQE accounting run
both ways too (test_integrity, test_rmw, test_eof); that bs=1000 still
copies is test_stats' stats_rmw_counters_consistent.
"""
import os

from fiobtest import Skip, check, debug_align, expect_error, expect_ok, \
    fio, fio_job, targets, test
from fiobtest.trace import Trace

EINVAL = 22
HOOK = 'FIOB_TEST_ZERO_COPY_PROBE'
# 4 KiB random writes at 512-byte offsets, verified: most windows are 8 KiB
# (RMW), one in eight I/Os is aligned. serialize_overlap: see test_integrity.
BA512_JOB = ['direct=1', 'rw=randwrite', 'bs=4k', 'blockalign=512',
             'iodepth=16', 'size=8M', 'verify=crc32c', 'serialize_overlap=1',
             'randseed=21']
# The same with zero copy from every size (auto would copy 4 KiB I/O).
BA512 = BA512_JOB + ['bounce_zero_copy_min=0']


def zero_copy_answer(r, name):
    """The zero_copy=... word of --debug=io's alignment line for @name, and
    the same from the stats' files list (they must agree)."""
    debug_align(r, name)        # exactly one distinct line for the file
    words = [ln.split('zero_copy=')[1].split()[0] for ln in r.text.splitlines()
             if f'fio-bounce: {name}: needs' in ln and 'zero_copy=' in ln]
    check(words, f'no zero_copy= on the --debug=io line of {name}')
    files = [f for s in r.stats for f in s['files'] if f['name'] == name]
    check(files and all(f['zero_copy'] == words[0] for f in files),
          f'--debug=io says zero_copy={words[0]}, the stats files say '
          f'{files}')
    return words[0]


def bounced(c):
    return c['window_reads'] + c['rmw_writes']


FIXED_HOOK = 'FIOB_TEST_ZERO_COPY_FIXED'
SPAN_QD = ['thread=1', 'iodepth=32']


def _span_job(ctx, dev, trace, env=None):
    """The 4K blockalign=512 randwrite + verify, zero copy at every size, as
    the bench runs it (thread=1, QD32): fio's 132 KiB buffer block is a
    mapping of its own (glibc mmaps 128 KiB and up), with free address
    space beside it for the span. Its reads (verify) and RMW writes as SQE
    opcodes, and its stats."""
    r = expect_ok(fio(ctx, [f'filename={dev}', *BA512, *SPAN_QD], env=env),
                  f'the blockalign=512 job (env {env})')
    ops = trace.opcodes()
    c = r.counters()
    check(c['window_reads'] > 0 and c['rmw_writes'] > 0 and
          c['bytes_copied'] == 0 and c['zero_copy'] == bounced(c),
          f'not every window I/O went zero copy: {c}')
    return r, ops, c


def _expect_vectored(ops, c, read_op):
    """Each window read as @read_op (and none as the other form), each RMW
    write as plain WRITEV."""
    other = 'READV' if read_op == 'READV_FIXED' else 'READV_FIXED'
    check(ops.get(read_op, 0) == c['window_reads'] and not ops.get(other)
          and ops.get('WRITEV', 0) == c['rmw_writes'] and
          not ops.get('WRITEV_FIXED'),
          f'want {c["window_reads"]} {read_op} and {c["rmw_writes"]} '
          f'WRITEV, got {ops} (counters {c})')


@test('zero-copy reads go out as READV_FIXED on the span (fio\'s buffers and '
      'a discard area in one registered buffer: nothing pinned per I/O): '
      'a 4K blockalign=512 randwrite + verify says zero_copy_fixed=yes in '
      'its stats and --debug=io, submits one READV_FIXED per window read, '
      'no READV, and one plain WRITEV per RMW write, and passes verify; '
      'with the span withheld (FIOB_TEST_ZERO_COPY_FIXED=0, as on a kernel '
      'without the op) the reads go as READV, zero_copy_fixed=off, and '
      'verify still passes', timeout=120)
def zero_copy_reads_fixed_on_span(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    trace = Trace(ctx)
    r, ops, c = _span_job(ctx, dev, trace)
    fixed = r.stats[0]['zero_copy_fixed']
    if fixed == 'old-kernel':
        raise Skip('this kernel lacks IORING_OP_READV_FIXED (6.15+)')
    check(fixed == 'yes', f'no span on this machine: zero_copy_fixed='
          f'{fixed}')
    _expect_vectored(ops, c, 'READV_FIXED')
    r = expect_ok(fio(ctx, [f'filename={dev}', *BA512, *SPAN_QD,
                            '--debug=io'], fmt='normal'))
    check('zero_copy_fixed=yes' in r.text,
          'no zero_copy_fixed=yes in --debug=io or the summary line')
    trace.opcodes()
    r, ops, c = _span_job(ctx, dev, trace, env={FIXED_HOOK: '0'})
    check(r.stats[0]['zero_copy_fixed'] == 'off',
          f'the hook did not withhold the span: {r.stats[0]}')
    _expect_vectored(ops, c, 'READV')


@test('a 4K randwrite + crc32c verify at blockalign=512 on a 4Kn device '
      'with bounce_zero_copy_min=0 copies 0 bytes: the probe accepted the '
      'segments (--debug=io and stats), every window I/O (reads and RMW writes) counts as zero copy, '
      'device bytes exceed user bytes by the window; stock io_uring fails '
      'the same job with EINVAL', timeout=120)
def ba512_randwrite_verify_copies_nothing(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    r = expect_ok(fio(ctx, [f'filename={dev}', *BA512, '--debug=io'],
                      fmt='normal'))
    check(zero_copy_answer(r, dev) == 'accepted',
          f'the probe did not accept 512-byte segments on this kernel')
    r = expect_ok(fio(ctx, [f'filename={dev}', *BA512]))
    c = r.counters()
    check(c['rmw_writes'] > 0 and c['window_reads'] > 0,
          f'the misaligned path did not run: {c}')
    check(c['bytes_copied'] == 0, f'{c["bytes_copied"]} bytes copied: {c}')
    check(c['zero_copy'] == bounced(c),
          f'{c["zero_copy"]} zero-copy I/Os of {bounced(c)} window I/Os: {c}')
    j = r.jobs()[0]
    check(c['user_bytes_write'] == j['write']['io_bytes'] and
          c['user_bytes_read'] == j['read']['io_bytes'],
          f'user bytes {c} do not match fio\'s io_bytes '
          f'{j["write"]["io_bytes"]}/{j["read"]["io_bytes"]}')
    check(c['device_bytes_write'] > c['user_bytes_write'] and
          c['device_bytes_read'] > c['user_bytes_read'],
          f'no amplification counted for window I/O: {c}')
    expect_error(fio(ctx, [f'filename={dev}', *BA512_JOB],
                     engine='io_uring'),
                 EINVAL, 'the same job on stock io_uring')


def _refused_test(env, opts, answer):
    def fn(ctx):
        dev = targets.loop(ctx, 4096, 16 << 20)
        r = expect_ok(fio(ctx, [f'filename={dev}', *BA512, *opts,
                                '--debug=io'], fmt='normal', env=env))
        check(zero_copy_answer(r, dev) == answer,
              f'the file\'s zero_copy answer is not {answer}')
        r = expect_ok(fio(ctx, [f'filename={dev}', *BA512, *opts], env=env))
        c = r.counters()
        check(c['zero_copy'] == 0, f'zero copy ran: {c}')
        # Every user byte but those of the aligned 4 KiB I/Os is copied.
        window_bytes = (c['user_bytes_write'] + c['user_bytes_read'] -
                        4096 * c['passthrough'])
        check(c['rmw_writes'] > 0 and c['bytes_copied'] == window_bytes,
              f'the copy path did not carry every window I/O '
              f'({window_bytes} window bytes): {c}')
    return fn


test('on a kernel that refuses 512-byte segments (the probe\'s answer '
     'forced to no with FIOB_TEST_ZERO_COPY_PROBE=0) the 4K blockalign=512 '
     'job says zero_copy=forced-no, goes through the copy path (every '
     'window byte copied, zero_copy 0) and passes verify', timeout=120,
     name='forced_refusal_copies')(
    _refused_test({HOOK: '0'}, [], 'forced-no'))
test('bounce_zero_copy=0 turns zero copy off: the 4K blockalign=512 job '
     'says zero_copy=off and copies every window byte, passing verify',
     timeout=120, name='option_off_copies')(
    _refused_test({}, ['bounce_zero_copy=0'], 'off'))


@test('the probe has nothing to decide where zero copy cannot help: a '
      '512-byte-sector device (offsets need no more than memory) and a file '
      'opened without O_DIRECT say zero_copy=n/a', timeout=60)
def probe_not_needed(ctx):
    dev = targets.loop(ctx, 512, 16 << 20)
    r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'rw=read',
                            'bs=512', 'size=64k', '--debug=io'],
                      fmt='normal'))
    check(zero_copy_answer(r, dev) == 'n/a', 'on a 512n device')
    path = os.path.join(targets.ext4(ctx, 4096, 32 << 20), 'f.bin')
    r = expect_ok(fio(ctx, [f'filename={path}', 'direct=0', 'rw=write',
                            'bs=1000', 'size=64k', '--debug=io'],
                      fmt='normal'))
    check(zero_copy_answer(r, path) == 'n/a', 'on a buffered file')


@test('a file shorter than one 4096-byte block (1000 bytes on ext4) gives '
      'the probe no full block to prove the segments with: zero_copy='
      'unproven, and a 512-byte read of it copies, returning the file\'s '
      'bytes like a buffered read does', timeout=60)
def probe_short_file_unproven(ctx):
    path = os.path.join(targets.ext4(ctx, 4096, 32 << 20), 'short.bin')
    with open(path, 'wb') as f:
        f.write(os.urandom(1000))
    r = expect_ok(fio(ctx, [f'filename={path}', 'direct=1', 'rw=read',
                            'bs=512', 'size=1000', '--debug=io'],
                      fmt='normal'))
    check(zero_copy_answer(r, path) == 'unproven', 'on a 1000-byte file')
    r = expect_ok(fio(ctx, [f'filename={path}', 'direct=1', 'rw=read',
                            'bs=512', 'size=1000']))
    c = r.counters()
    check(c['zero_copy'] == 0 and c['window_reads'] > 0 and
          c['bytes_copied'] == c['user_bytes_read'] ==
          r.jobs()[0]['read']['io_bytes'] > 0,
          f'the short file was not read through the copy path: {c}')


def _split_counts_ok(c, min_bs_copied=4096):
    """Every window I/O either went zero copy or copied its whole 4 KiB."""
    windowed = bounced(c)
    return (c['zero_copy'] > 0 and c['bytes_copied'] > 0 and
            c['bytes_copied'] % min_bs_copied == 0 and
            c['zero_copy'] + c['bytes_copied'] // min_bs_copied == windowed)


@test('bounce_zero_copy_min=8k splits one job by size: in a randwrite + '
      'verify at blockalign=512 mixing 4 KiB and 8 KiB I/O, every 8 KiB '
      'window I/O (reads and RMW writes) goes zero copy and every 4 KiB one '
      'copies its 4096 bytes; the stats and --debug=io give the threshold '
      'and its source (option); verify passes', timeout=120)
def threshold_option_splits_by_size(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    job = [f'filename={dev}', 'direct=1', 'rw=randwrite',
           'bssplit=4k/50:8k/50', 'blockalign=512', 'iodepth=16',
           'size=8M', 'verify=crc32c', 'serialize_overlap=1',
           'randseed=22', 'bounce_zero_copy_min=8k']
    r = expect_ok(fio(ctx, job + ['--debug=io'], fmt='normal'))
    check(f'fio-bounce: {dev}: zero_copy_min=8192 (option' in r.text,
          'no zero_copy_min=8192 (option...) line under --debug=io')
    r = expect_ok(fio(ctx, job))
    c = r.counters()
    f = r.stats[0]['files'][0]
    check(f['zero_copy'] == 'accepted' and f['zero_copy_min'] == 8192 and
          f['zero_copy_min_source'] == 'option',
          f'the stats do not record the threshold: {f}')
    check(c['rmw_writes'] > 0 and c['window_reads'] > 0,
          f'the misaligned path did not run: {c}')
    check(_split_counts_ok(c),
          f'8 KiB window I/O should go zero copy and 4 KiB I/O copy 4096 '
          f'bytes each: {c}')


def _auto_sizes_job(ctx, dev, sizes, env=None):
    text = ''.join(f'[r{bs}]\nfilename={dev}\ndirect=1\nthread=1\n'
                   f'rw=randread\nbs={bs}\nblockalign=512\niodepth=4\n'
                   f'number_ios=48\nrandseed=23\nstonewall\n'
                   for bs in sizes)
    return expect_ok(fio_job(ctx, text, env=env))


@test('by default (bounce_zero_copy_min=auto) the threshold comes from a '
      'copy timed once per process: a power of two from 16 KiB to 1 MiB, '
      'the same for every job of the process (thread=1); without the span '
      '(FIOB_TEST_ZERO_COPY_FIXED=0) blockalign=512 random reads below it '
      'copy (zero_copy 0, every window byte copied) and those at or above '
      'it go zero copy (0 bytes copied); in the jobs that get the span (at '
      'least the 1 MiB one) the reads\' own threshold is 0 (source fixed) '
      'and every read goes zero copy',
      timeout=180)
def threshold_auto_sizes(ctx):
    dev = targets.loop(ctx, 4096, 32 << 20)
    sizes = [4 << 10] + [1 << k for k in range(14, 21)]   # 4K, 16K .. 1M
    r = _auto_sizes_job(ctx, dev, sizes, env={FIXED_HOOK: '0'})
    by_job = {s['job']: s for s in r.stats}
    check(len(by_job) == len(sizes), f'stats of {sorted(by_job)}')
    mins = {s['files'][0].get('zero_copy_min') for s in r.stats}
    srcs = {s['files'][0].get('zero_copy_min_source') for s in r.stats}
    check(len(mins) == 1 and srcs == {'auto'},
          f'one automatic threshold per process expected: {mins} {srcs}')
    t = mins.pop()
    check(isinstance(t, int) and 16 << 10 <= t <= 1 << 20 and
          t & (t - 1) == 0, f'threshold {t} is no power of two in range')
    for bs in sizes:
        c = by_job[f'r{bs}']['counters']
        check(c['window_reads'] > 0, f'bs={bs}: no window reads: {c}')
        if bs < t:
            check(c['zero_copy'] == 0 and
                  c['bytes_copied'] == bs * c['window_reads'],
                  f'bs={bs} below the threshold {t} did not copy: {c}')
        else:
            check(c['zero_copy'] == c['window_reads'] and
                  c['bytes_copied'] == 0,
                  f'bs={bs} at or above the threshold {t} copied: {c}')
    check(all('zero_copy_min_read' not in s['files'][0] for s in r.stats),
          f'without the span the reads have a threshold of their own: '
          f'{r.stats[0]}')
    r = _auto_sizes_job(ctx, dev, sizes)
    if r.stats[0]['zero_copy_fixed'] == 'old-kernel':
        raise Skip('this kernel lacks IORING_OP_READV_FIXED (6.15+)')
    # QD4: from 32 KiB up fio's buffer block is a mapping of its own, with
    # room for the span; below, it sits inside the malloc heap (no-room).
    spans = {s['job']: s['zero_copy_fixed'] for s in r.stats}
    check(set(spans.values()) <= {'yes', 'no-room'} and
          spans[f'r{1 << 20}'] == 'yes',
          f'want the span at 1 MiB and no other reason to go without: '
          f'{spans}')
    for s in r.stats:
        f, c = s['files'][0], s['counters']
        if s['zero_copy_fixed'] != 'yes':
            check('zero_copy_min_read' not in f,
                  f'{s["job"]}: reads have a threshold of their own '
                  f'without the span: {f}')
            continue
        check(f.get('zero_copy_min_source') == 'auto' and
              f.get('zero_copy_min_read') == 0 and
              f.get('zero_copy_min_read_source') == 'fixed',
              f'{s["job"]}: want writes at the automatic threshold and '
              f'reads at 0 (fixed): {s}')
        check(c['window_reads'] > 0 and
              c['zero_copy'] == c['window_reads'] and
              c['bytes_copied'] == 0,
              f'{s["job"]}: a read on the span copied: {c}')


@test('with unregistered slots (bounce_register=0) the copy path pins its '
      'slot pages per I/O too, so zero copy only saves: the automatic '
      'threshold is 0 (source unregistered) and the 4 KiB blockalign=512 '
      'randwrite + verify copies 0 bytes', timeout=120)
def threshold_unregistered_slots(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    r = expect_ok(fio(ctx, [f'filename={dev}', *BA512_JOB,
                            'bounce_register=0']))
    c = r.counters()
    f = r.stats[0]['files'][0]
    check(r.stats[0]['slots_registered'] is False and
          f['zero_copy_min'] == 0 and
          f['zero_copy_min_source'] == 'unregistered',
          f'unregistered slots should give threshold 0: {r.stats[0]}')
    check(c['rmw_writes'] > 0 and c['bytes_copied'] == 0 and
          c['zero_copy'] == bounced(c), f'4 KiB window I/O copied: {c}')
