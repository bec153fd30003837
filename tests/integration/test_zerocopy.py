"""Zero copy: window I/O whose buffer meets only the memory rule (512-byte
multiples at 512-aligned addresses on a 4Kn device) goes out as one READV/
WRITEV of [slot head, user buffer, slot tail] where the kernel takes such
segments (probed per file at open), and copies nothing; everything else
copies as before. The test hook FIOB_TEST_ZERO_COPY_PROBE=0|1 (read at init)
stands in for the probe's answer, as on a kernel that refuses the segments.

The integrity matrix, the differential RMW tests and the SQE accounting run
both ways too (test_integrity, test_rmw, test_eof); that bs=1000 still
copies is test_stats' stats_rmw_counters_consistent.
"""
import os

from fiobtest import check, debug_align, expect_error, expect_ok, fio, \
    targets, test

EINVAL = 22
HOOK = 'FIOB_TEST_ZERO_COPY_PROBE'
# 4 KiB random writes at 512-byte offsets, verified: most windows are 8 KiB
# (RMW), one in eight I/Os is aligned. serialize_overlap: see test_integrity.
BA512 = ['direct=1', 'rw=randwrite', 'bs=4k', 'blockalign=512',
         'iodepth=16', 'size=8M', 'verify=crc32c', 'serialize_overlap=1',
         'randseed=21']


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


@test('a 4K randwrite + crc32c verify at blockalign=512 on a 4Kn device '
      'copies 0 bytes: the probe accepted the segments (--debug=io and '
      'stats), every window I/O (reads and RMW writes) counts as zero copy, '
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
    expect_error(fio(ctx, [f'filename={dev}', *BA512], engine='io_uring'),
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
