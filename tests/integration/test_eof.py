"""End of file: on ext4 (4096-byte blocks, file sizes not a multiple of
4096) windows that run past EOF read what exists and write exactly what a
buffered write would, leaving the file no longer than the user's data.

The write scenarios are differential: the same fio job (fixed randseed,
refilled buffers, no scrambling, so every offset gets the same bytes on every
run) runs once with fio-bounce and direct=1, once with io_uring and direct=0
on an identical copy; the files must then be byte-identical, same st_size.
"""
import os

from fiobtest import check, expect_ok, fio, iolog, targets, test

BLK = 4096
# Same bytes for the same job whatever the engine and completion order.
DETERMINISTIC = ['randseed=4242', 'refill_buffers=1', 'scramble_buffers=0']


def ext4_dir(ctx):
    return targets.ext4(ctx, 4096, 128 << 20)


def write_file(path, data):
    with open(path, 'wb') as f:
        f.write(data)
        os.fsync(f.fileno())


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(0, n, 4096):
        if a[i:i + 4096] != b[i:i + 4096]:
            return next(j for j in range(i, min(i + 4096, n))
                        if a[j] != b[j])
    return None if len(a) == len(b) else n


def differential(ctx, mnt, job, initial=None, what='the job', bounce_opts=()):
    """Run @job with fio-bounce direct=1 (plus @bounce_opts) on
    MNT/bounce.bin and with io_uring direct=0 on MNT/ref.bin, both starting
    as @initial (None: absent).
    Returns (fio-bounce result, final bytes); fails if the files differ."""
    paths = {e: os.path.join(mnt, f'{e}.bin') for e in ('bounce', 'ref')}
    if initial is not None:
        for p in paths.values():
            write_file(p, initial)
    rb = expect_ok(fio(ctx, [f'filename={paths["bounce"]}', 'direct=1',
                             *job, *DETERMINISTIC, *bounce_opts]),
                   f'{what} (fio-bounce)')
    expect_ok(fio(ctx, [f'filename={paths["ref"]}', 'direct=0', *job,
                        *DETERMINISTIC], engine='io_uring'),
              f'{what} (io_uring, buffered)')
    sizes = {e: os.stat(p).st_size for e, p in paths.items()}
    check(sizes['bounce'] == sizes['ref'],
          f'{what}: st_size {sizes["bounce"]} with fio-bounce, '
          f'{sizes["ref"]} with a buffered write: {rb.counters()}')
    data = {e: open(p, 'rb').read() for e, p in paths.items()}
    at = first_diff(data['bounce'], data['ref'])
    check(at is None, f'{what}: fio-bounce\'s file differs from the buffered '
          f'one from byte {at} (block {None if at is None else at // BLK}): '
          f'{rb.counters()}')
    return rb, data['bounce']


@test('blocks written with verify headers into a file of 1001000 bytes '
      '(not a multiple of 4096) read back and verify through fio-bounce '
      'direct=1, including the windows that run past EOF', timeout=120)
def read_window_past_eof_verifies(ctx):
    mnt = ext4_dir(ctx)
    path = os.path.join(mnt, 'data.bin')
    size = 1001 * 1000
    expect_ok(fio(ctx, [f'filename={path}', 'direct=0', 'rw=write',
                        'bs=1000', f'size={size}', 'verify=crc32c',
                        'do_verify=0'], engine='io_uring'),
              'the buffered fill')
    check(os.stat(path).st_size == size and size % BLK,
          f'fill left {os.stat(path).st_size} bytes, expected {size}')
    r = expect_ok(fio(ctx, [f'filename={path}', 'direct=1', 'rw=randread',
                            'bs=1000', 'iodepth=8', 'verify=crc32c',
                            'verify_fatal=1']),
                  'fio-bounce direct=1 verifying reads')
    c = r.counters()
    check(c.get('window_reads') == 1001, f'expected 1001 window reads: {c}')
    check(c.get('short_done') == 0, f'a read inside the file came back '
          f'short: {c}')
    check(r.jobs()[0]['read']['io_bytes'] == size,
          f'read {r.jobs()[0]["read"]["io_bytes"]} bytes, expected {size}')


# (offset, length): user range inside, crossing, at and past EOF. The
# 512-granular set goes zero copy on a 4096-byte rule: its window reads come
# back short inside the user part (9216+784, 9728+272), inside the head
# (10240: head 2048, 1808 bytes read) and past the window.
EOF_READS = {
    'copy': [(8000, 1000), (8000, 4000), (9500, 1000), (9999, 2),
             (10000, 100), (12000, 1000), (0, 3000), (4000, 6000)],
    'zero_copy': [(9216, 1024), (9728, 512), (10240, 512), (12288, 512),
                  (8704, 512), (512, 3072), (3584, 6656), (7680, 4096)],
}


def _eof_read_test(kind, zc):
    def fn(ctx):
        mnt = ext4_dir(ctx)
        path = os.path.join(mnt, 'data.bin')
        data = os.urandom(10000)
        write_file(path, data)
        reads = EOF_READS[kind]
        log = iolog(ctx, path, 'read', reads)
        expected = sum(max(0, min(off + ln, len(data)) - off)
                       for off, ln in reads)
        res = {}
        for engine, direct in (('bounce', 1), ('io_uring', 0)):
            opts = [f'read_iolog={log}', f'direct={direct}']
            if engine == 'bounce':
                opts.append('bounce_zero_copy_min=0' if zc else 'bounce_zero_copy=0')
            r = expect_ok(fio(ctx, opts, engine=engine),
                          f'{engine} direct={direct}')
            rd = r.jobs()[0]['read']
            res[engine] = (rd['io_bytes'], rd['total_ios'], rd['short_ios'])
            if engine == 'bounce':
                check_bounced_reads(r.counters(), len(reads),
                                    kind == 'zero_copy' and zc)
        check(res['bounce'] == res['io_uring'],
              f'(io_bytes, ios, short) fio-bounce {res["bounce"]} != '
              f'buffered {res["io_uring"]}')
        check(res['bounce'][0] == expected,
              f'read {res["bounce"][0]} bytes, a buffered read gets '
              f'{expected}')
        check(open(path, 'rb').read() == data, 'the reads changed the file')
    fn.__name__ = (f'read_past_eof_short_like_buffered_{kind}' +
                   ('' if zc else '_zc0'))
    return fn


def check_bounced_reads(c, nr, zc):
    check(c.get('window_reads') == nr,
          f'not every read went through a window: {c}')
    check(c.get('short_done', 0) > 0, f'no short read counted: {c}')
    if zc:
        check(c['zero_copy'] == nr and c['bytes_copied'] == 0,
              f'the 512-granular reads did not all go zero copy: {c}')
    else:
        check(c['zero_copy'] == 0, f'zero copy ran: {c}')


for _kind, _zc in (('copy', True), ('zero_copy', True), ('zero_copy', False)):
    test('reads that cross or start past EOF of a 10000-byte file return '
         'the same byte counts through fio-bounce direct=1 as buffered '
         'io_uring, and the file is untouched'
         + {('copy', True): ' (1000-byte granular: copied)',
            ('zero_copy', True): ' (512-byte granular: zero copy, windows '
            'ending inside the head and inside the user part)',
            ('zero_copy', False): ' (512-byte granular, '
            'bounce_zero_copy=0)'}[(_kind, _zc)],
         timeout=60)(_eof_read_test(_kind, _zc))


def _near_eof_test(bs, zc):
    def fn(ctx):
        mnt = ext4_dir(ctx)
        initial = os.urandom(1001500)
        job = ['rw=randwrite', f'bs={bs}', 'iodepth=8']
        rb, final = differential(ctx, mnt, job, initial, 'randwrite near EOF',
                                 ['bounce_zero_copy_min=0'] if zc else ['bounce_zero_copy=0'])
        c = rb.counters()
        nr = len(initial) // bs
        check(c.get('eof_trims', 0) > 0, f'no window ran past EOF: {c}')
        check(c.get('rmw_writes') == nr, f'expected {nr} RMW writes: {c}')
        want_zc = nr if bs % 512 == 0 and zc else 0
        check(c['zero_copy'] == want_zc,
              f'expected {want_zc} zero-copy writes: {c}')
        check(final[nr * bs:] == initial[nr * bs:],
              f'the {len(initial) - nr * bs} bytes past the last written '
              f'block changed')
    fn.__name__ = (f'randwrite_near_eof_matches_buffered_bs{bs}' +
                   ('' if zc else '_zc0'))
    return fn


for _bs, _zc in ((1000, True), (512, True), (512, False)):
    test(f'random {_bs}-byte writes over a 1001500-byte file (windows at the '
         f'end run past EOF) leave exactly the bytes and st_size a buffered '
         f'write leaves, with EOF trims'
         + ('' if _bs % 512 else ', zero copy ' + (
             'on (RMW tail reads short past EOF, writev of the zeroed tail)'
             if _zc else 'forced off')),
         timeout=120)(_near_eof_test(_bs, _zc))


def _extend(rw, extra, nr_rmw, min_bs=1000):
    def fn(ctx):
        mnt = ext4_dir(ctx)
        size = 250 * 1000            # 61.03 blocks: EOF mid-block
        want = size - size % min_bs  # fio rounds its I/O size to min bs
        # create_on_open: fio neither lays out nor pre-sizes the file, so
        # it starts empty and every write that ends past EOF grows it.
        rb, final = differential(ctx, mnt, [f'rw={rw}', f'size={size}',
                                            'iodepth=8', 'create_on_open=1',
                                            *extra], None,
                                 f'{rw} {" ".join(extra)} growing an empty '
                                 f'file')
        if rw == 'randrw':
            # Which blocks the write half of a mix lands on follows fio's
            # seed rules, which changed (3.35: randseed= overrides
            # randrepeat); the reference is the buffered io_uring file of
            # this same run, which differential() matched byte for byte.
            check(0 < len(final) <= want, f'file is {len(final)} bytes, '
                  f'expected 1 to {want}')
        else:
            check(len(final) == want, f'file is {len(final)} bytes, '
                  f'expected {want}')
        c = rb.counters()
        check(c.get('eof_trims', 0) > 0, f'no window ran past EOF: {c}')
        check(c.get('rmw_writes', 0) >= nr_rmw,
              f'expected at least {nr_rmw} RMW writes: {c}')
        if 'bssplit' in ' '.join(extra):
            check(c.get('passthrough', 0) > 0,
                  f'no aligned write passed through between the RMWs: {c}')
        if rw == 'randrw':
            check(c.get('window_reads', 0) > 0 and c.get('short_done', 0) > 0,
                  f'no read ran into the growing EOF: {c}')
    return fn


test('sequential bs=1000 writes that grow a file from empty (QD8) leave the '
     'same bytes and st_size as buffered writes, never longer',
     timeout=120, name='seq_extend_from_empty_matches_buffered')(
    _extend('write', ['bs=1000'], 250))

test('random bs=1000 writes that grow a file from empty out of order (QD8) '
     'leave the same bytes and st_size as buffered writes',
     timeout=120, name='rand_extend_from_empty_matches_buffered')(
    _extend('randwrite', ['bs=1000'], 250))

test('sequential writes of mixed sizes (4096/1000/8192/512: aligned ones '
     'pass through between RMWs) growing a file from empty leave the same '
     'bytes and st_size as buffered writes', timeout=120,
     name='mixed_sizes_extend_matches_buffered')(
    _extend('write', ['bssplit=4096/40:1000/30:8192/20:512/10'], 1, 512))

test('random 1000-byte reads and writes on a file growing from empty (reads '
     'run into EOF while windows past EOF are written) leave the same bytes '
     'and st_size as buffered I/O', timeout=120,
     name='randrw_extend_matches_buffered')(
    _extend('randrw', ['bs=1000'], 1))


@test('writes at an offset past EOF of a 10000-byte file leave a hole of '
      'zeros and the same bytes and st_size as buffered writes', timeout=120)
def write_past_eof_hole_matches_buffered(ctx):
    mnt = ext4_dir(ctx)
    initial = os.urandom(10000)
    rb, final = differential(ctx, mnt, ['rw=write', 'bs=1000',
                                        'offset=15000', 'size=3000',
                                        'iodepth=4', 'create_on_open=1'],
                             initial, 'writes past EOF')
    check(len(final) == 18000, f'file is {len(final)} bytes, expected 18000')
    check(final[:10000] == initial, 'the bytes before the hole changed')
    check(final[10000:15000] == bytes(5000), 'the hole is not zeros')
    c = rb.counters()
    check(c.get('eof_trims', 0) > 0, f'no window ran past EOF: {c}')
