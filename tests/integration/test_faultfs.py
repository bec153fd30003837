"""faultfs itself (tests/fuse/faultfs.c under a 4096-byte-sector loop
device): it fails exactly the ranges it is told to, logs what reached it,
hangs and resumes, dies, and tears down cleanly. The fault tests
(test_faults.py) rely on every one of these behaviours.

Everything that could block in a hung device runs as a separate process
(FaultDisk.spawn) and is polled with a deadline, never waited on: a process
stuck in a hung FUSE request sleeps uninterruptibly, so no timeout could kill
it. FaultDisk.close() (the test's cleanup) kills the daemon first, which
releases them.
"""
import os
import shlex
import subprocess
import time

from fiobtest import check, targets, test

BLK = 4096
SIZE = 64 << 20
EIO_TEXT = 'Input/output error'
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Bg:
    """A process started on @disk; wait(secs) -> exit status, or None if it
    is still running after @secs (blocked in the device)."""

    def __init__(self, disk, cmd):
        self.cmd = cmd
        self.p = disk.spawn(cmd)
        self.out = ''

    def done(self):
        return self.p.poll() is not None

    def wait(self, secs):
        deadline = time.monotonic() + secs
        while self.p.poll() is None:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        self.out = self.p.stdout.read()
        return self.p.returncode


def capped(disk, cmd, secs=10):
    """Run @cmd on @disk for at most @secs: (status or None, output)."""
    bg = Bg(disk, cmd)
    return bg.wait(secs), bg.out


def dd_read(disk, page, count=1, of='/dev/null'):
    return ['dd', f'if={disk.dev}', f'of={of}', f'bs={BLK}', f'skip={page}',
            f'count={count}', 'iflag=direct', 'status=none']


def dd_write(disk, page, src, count=1):
    """Pages @page.. of the file @src onto the same pages of the device."""
    return ['dd', f'if={src}', f'of={disk.dev}', f'bs={BLK}', f'seek={page}',
            f'skip={page}', f'count={count}', 'oflag=direct',
            'conv=notrunc', 'status=none']


def ok(disk, cmd, what, secs=10):
    rc, out = capped(disk, cmd, secs)
    check(rc == 0, f'{what}: ' + ('hung' if rc is None else
                                  f'exit {rc}: {out.strip()[-300:]}'))


def fails_eio(disk, cmd, what, secs=10):
    """@cmd finishes (no hang), non-zero, with EIO."""
    rc, out = capped(disk, cmd, secs)
    check(rc is not None, f'{what}: still running after {secs}s (hung)')
    check(rc != 0, f'{what}: exit 0, want a failure')
    check(EIO_TEXT in out, f'{what}: not EIO: {out.strip()[-300:]}')


def read_pages(disk, ctx, page, count=1):
    """Pages @page..+@count of the device, read with O_DIRECT."""
    out = os.path.join(ctx.tmpdir(), 'pages')
    ok(disk, dd_read(disk, page, count, of=out), f'read of pages {page}+'
       f'{count}')
    with open(out, 'rb') as f:
        return f.read()


def page(data, n, count=1):
    return data[n * BLK:(n + count) * BLK]


def hits(log, tags, start, end):
    """Log lines tagged one of @tags whose range overlaps [start, end)."""
    return [ln for ln in log if len(ln) == 3 and ln[0] in tags and
            int(ln[1]) < end and start < int(ln[1]) + int(ln[2])]


def patterns(ctx):
    """Two 1 MiB random patterns, as files: (path, bytes) each."""
    d = ctx.tmpdir()
    out = []
    for name in ('pat', 'pat2'):
        data = os.urandom(1 << 20)
        path = os.path.join(d, name)
        with open(path, 'wb') as f:
            f.write(data)
        out.append((path, data))
    return out


def stack(ctx, log_reads=False, fill=0):
    """A 64 MiB FaultDisk; the first @fill pages hold a random pattern.
    Returns (disk, (pat_path, pat), (pat2_path, pat2))."""
    disk = targets.FaultDisk(ctx, SIZE, log_reads=log_reads)
    pat, pat2 = patterns(ctx)
    if fill:
        ok(disk, dd_write(disk, 0, pat[0], fill), f'write of {fill} pages')
    return disk, pat, pat2


def blocked(bg, what, secs=1.0):
    time.sleep(secs)
    check(not bg.done(), f'{what}: finished while the device was hung')


def ctl_capped(disk, cmd, secs=5):
    """A ctl command from another process: the daemon may be hung. bash,
    not dash: dash reports any failed write as "I/O error"."""
    return capped(disk, ['bash', '-c', f'echo {cmd} > '
                         f'{shlex.quote(os.path.join(disk.mnt, "ctl"))}'],
                  secs)


def torn_down(ctx, disk):
    """Run the disk's teardown now and check it left nothing behind."""
    errors = ctx.close()
    check(not errors, f'teardown failed: {errors}')
    check(disk.released(), f'teardown left {disk.dev} bound to '
          f'{disk.backing()!r}, or {disk.mnt} mounted, or the daemon up')


@test('faultfs.c builds warning-free with the Makefile\'s command '
      '(cc -O2 -Wall, pkg-config fuse3)', timeout=120)
def builds_warning_free(ctx):
    src = os.path.join(HERE, 'fuse', 'faultfs.c')
    out = os.path.join(ctx.tmpdir(), 'faultfs')
    flags = ctx.run(['pkg-config', '--cflags', '--libs', 'fuse3'],
                    timeout=30).stdout.split()
    cc = shlex.split(os.environ.get('CC', 'cc'))
    r = ctx.run(cc + ['-O2', '-Wall', src, '-o', out] + flags, timeout=100,
                check_rc=False)
    check(r.returncode == 0, f'build failed: {r.stderr.strip()[-600:]}')
    check(not r.stderr.strip(), f'build warned: {r.stderr.strip()[-600:]}')
    check(os.access(out, os.X_OK), 'no executable was built')


@test('a faultfs stack is a 64 MiB disk.img under a loop device with 4096-byte '
      'logical sectors; 256 O_DIRECT page writes reach it as 256 "W off 4096" '
      'log lines and read back intact', timeout=60)
def data_path_round_trip(ctx):
    disk, (pat_path, pat), _ = stack(ctx)
    check(os.stat(disk.image).st_size == SIZE,
          f'disk.img is {os.stat(disk.image).st_size} bytes')
    ss = ctx.run(['blockdev', '--getss', disk.dev], timeout=30).stdout
    size = ctx.run(['blockdev', '--getsize64', disk.dev], timeout=30).stdout
    check(int(ss) == BLK and int(size) == SIZE,
          f'{disk.dev}: sector {ss.strip()}, size {size.strip()}')
    ok(disk, dd_write(disk, 0, pat_path, 256), 'O_DIRECT write of 256 pages')
    writes = [ln for ln in disk.log() if ln[0] == 'W' and ln[2] == '4096']
    check(len(writes) == 256, f'{len(writes)} "W off 4096" log lines, '
          f'want 256')
    check(read_pages(disk, ctx, 0, 256) == pat, 'the pages did not read back')


@test('fail_read on one page fails an O_DIRECT read of it (and a 1 MiB read '
      'spanning it, with 0 bytes returned) with EIO and logs RFAIL, while '
      'the pages beside it read fine', timeout=90)
def fail_read_fails_only_that_page(ctx):
    disk, (_, pat), _ = stack(ctx, fill=256)
    disk.ctl(f'fail_read {10 * BLK} {11 * BLK}')
    fails_eio(disk, dd_read(disk, 10), 'read of the failed page')
    check(['RFAIL', str(10 * BLK), str(BLK)] in disk.log(),
          f'no "RFAIL {10 * BLK} {BLK}" in the log')
    check(read_pages(disk, ctx, 9) == page(pat, 9), 'page 9 changed')
    check(read_pages(disk, ctx, 11) == page(pat, 11), 'page 11 changed')
    big = os.path.join(ctx.tmpdir(), 'rbig')
    fails_eio(disk, ['dd', f'if={disk.dev}', f'of={big}', 'bs=1M',
                     'count=1', 'iflag=direct'],
              '1 MiB read spanning the failed page')
    check(os.path.getsize(big) == 0,
          f'the failed 1 MiB read returned {os.path.getsize(big)} bytes')


@test('O_DIRECT writes next to and onto a read-failing page, and a buffered '
      '512-byte write (+fsync) into the page beside it, all succeed without '
      'reading the failed page, and hold the new data once cleared',
      timeout=90)
def writes_beside_failed_read_never_read_it(ctx):
    disk, _, (pat2_path, pat2) = stack(ctx, log_reads=True, fill=256)
    disk.ctl(f'fail_read {10 * BLK} {11 * BLK}')
    mark = len(disk.log())
    for n in (9, 11, 10):
        ok(disk, dd_write(disk, n, pat2_path), f'O_DIRECT write of page {n}')
    ok(disk, ['dd', f'if={pat2_path}', f'of={disk.dev}', 'bs=512',
              'skip=88', 'seek=88', 'count=1', 'conv=notrunc,fsync',
              'status=none'], 'buffered 512-byte write into page 11 (+fsync)')
    reads = hits(disk.log()[mark:], ('R', 'RFAIL'), 10 * BLK, 11 * BLK)
    check(not reads, f'those writes read the failed page: {reads}')
    disk.ctl('clear')
    check(read_pages(disk, ctx, 9, 3) == page(pat2, 9, 3),
          'pages 9-11 do not hold the new data after clear')


@test('fail_write on one page fails an O_DIRECT write of it with EIO, logs '
      'WFAIL and never W for it, keeps its old data, and lets the pages '
      'beside it be written', timeout=90)
def fail_write_fails_only_that_page(ctx):
    disk, (_, pat), (pat2_path, pat2) = stack(ctx, fill=256)
    disk.ctl(f'fail_write {20 * BLK} {21 * BLK}')
    mark = len(disk.log())
    fails_eio(disk, dd_write(disk, 20, pat2_path), 'write of the failed page')
    log = disk.log()
    check(['WFAIL', str(20 * BLK), str(BLK)] in log,
          f'no "WFAIL {20 * BLK} {BLK}" in the log')
    check(not hits(log[mark:], ('W',), 20 * BLK, 21 * BLK),
          f'a W touched the failed page: {hits(log[mark:], ("W",), 20 * BLK, 21 * BLK)}')
    ok(disk, dd_write(disk, 19, pat2_path), 'write of page 19')
    ok(disk, dd_write(disk, 21, pat2_path), 'write of page 21')
    disk.ctl('clear')
    got = read_pages(disk, ctx, 19, 3)
    check(page(got, 0) == page(pat2, 19) and page(got, 1) == page(pat, 20) and
          page(got, 2) == page(pat2, 21),
          'page 20 did not keep its old data, or 19/21 lack the new')


@test('a 1280 KiB loop write (max_sectors_kb) that ends in a failed page '
      'fails with EIO and no W touches that page', timeout=90)
def failed_page_at_end_of_a_loop_request(ctx):
    disk, _, _ = stack(ctx)
    big = os.path.join(ctx.tmpdir(), 'big')
    with open(big, 'wb') as f:
        f.write(os.urandom(4 << 20))
    start, end = (2 << 20) + 1306624, (2 << 20) + 1310720
    disk.ctl(f'fail_write {start} {end}')
    mark = len(disk.log())
    fails_eio(disk, ['dd', f'if={big}', f'of={disk.dev}', 'bs=1280K',
                     'seek=2M', 'count=1', 'oflag=direct,seek_bytes',
                     'conv=notrunc'], '1280 KiB write ending in a failed page')
    touched = hits(disk.log()[mark:], ('W',), start, end)
    check(not touched, f'a W touched the failed page: {touched}')


@test('a write past the end of disk.img itself fails with ENOSPC',
      timeout=60)
def write_past_the_end_is_enospc(ctx):
    disk, _, _ = stack(ctx)
    rc, out = capped(disk, ['dd', 'if=/dev/zero', f'of={disk.image}',
                            f'bs={BLK}', f'seek={SIZE // BLK}', 'count=1',
                            'oflag=direct', 'conv=notrunc'])
    check(rc not in (None, 0) and 'No space left on device' in out,
          f'exit {rc}: {out.strip()[-300:]}')


@test('an unknown ctl command fails its write with EINVAL', timeout=60)
def unknown_ctl_command_is_einval(ctx):
    disk, _, _ = stack(ctx)
    rc, out = ctl_capped(disk, 'bogus')
    check(rc not in (None, 0) and 'Invalid argument' in out,
          f'exit {rc}: {out.strip()[-300:]}')


@test('after "hang" a loop reader blocks; "unhang" is still heard and the '
      'reader then completes with the right data', timeout=90)
def hang_blocks_a_reader_until_unhang(ctx):
    disk, (_, pat), _ = stack(ctx, fill=256)
    out = os.path.join(ctx.tmpdir(), 'p3')
    disk.ctl('hang')
    reader = Bg(disk, dd_read(disk, 3, of=out))
    blocked(reader, 'a loop reader')
    rc, said = ctl_capped(disk, 'unhang')
    check(rc == 0, f'ctl unhang while hung: {"hung" if rc is None else said}')
    check(reader.wait(5) == 0, f'the reader did not complete: {reader.out}')
    with open(out, 'rb') as f:
        check(f.read() == page(pat, 3), 'the reader got the wrong data')


@test('after "hang" 20 O_DIRECT readers of disk.img itself all block, '
      '"unhang" is still heard (the daemon has threads to spare), and all '
      '20 then complete', timeout=120)
def hang_20_readers_then_unhang(ctx):
    disk, _, _ = stack(ctx)
    disk.ctl('hang')
    readers = [Bg(disk, ['dd', f'if={disk.image}', 'of=/dev/null',
                         f'bs={BLK}', f'skip={i}', 'count=1', 'iflag=direct',
                         'status=none']) for i in range(1, 21)]
    time.sleep(1)
    n = sum(not r.done() for r in readers)
    check(n == 20, f'only {n} of 20 readers blocked')
    rc, said = ctl_capped(disk, 'unhang')
    check(rc == 0, f'ctl unhang with 20 stuck requests: '
          f'{"hung" if rc is None else said}')
    n = sum(r.wait(5) == 0 for r in readers)
    check(n == 20, f'{n} of 20 readers completed after unhang')


@test('after "die" the daemon exits, loop reads and writes fail with EIO '
      'instead of hanging, nothing more reaches the log, and teardown leaves '
      'no loop device and no mount', timeout=90)
def die_fails_io_and_tears_down_clean(ctx):
    disk, (pat_path, _), _ = stack(ctx, fill=4)
    mark = len(disk.log())
    ctl_capped(disk, 'die')
    deadline = time.monotonic() + 5
    while disk.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    check(disk.proc.poll() is not None, 'the daemon did not exit after die')
    fails_eio(disk, dd_read(disk, 0), 'loop read after die')
    fails_eio(disk, dd_write(disk, 0, pat_path), 'loop write after die')
    check(len(disk.log()) == mark,
          f'log lines after die: {disk.log()[mark:]}')
    torn_down(ctx, disk)


@test('"die" while hung releases a blocked loop reader with EIO, later reads '
      'fail with EIO instead of hanging, and teardown is clean', timeout=90)
def hang_then_die_releases_the_reader(ctx):
    disk, _, _ = stack(ctx, fill=4)
    disk.ctl('hang')
    reader = Bg(disk, dd_read(disk, 1))
    blocked(reader, 'a loop reader')
    ctl_capped(disk, 'die')
    rc = reader.wait(10)
    check(rc not in (None, 0), f'die did not release the reader (rc={rc})')
    check(EIO_TEXT in reader.out, f'the reader did not get EIO: {reader.out}')
    fails_eio(disk, dd_read(disk, 0), 'a later loop read')
    torn_down(ctx, disk)


def _fusectl(ctx):
    """/sys/fs/fuse/connections, mounted (and unmounted after) if need be."""
    path = '/sys/fs/fuse/connections'
    with open('/proc/mounts') as f:
        if any(ln.split()[1] == path for ln in f):
            return path
    ctx.run(['mount', '-t', 'fusectl', 'fusectl', path], timeout=30)
    ctx.defer(subprocess.run, ['umount', path], what=f'umount {path}')
    return path


@test('with a reader blocked in a hung device, "losetup -d" returns at once '
      '(lazy), an abort through fusectl releases the reader with EIO, the '
      'lazily detached device is then gone, and teardown is clean',
      timeout=90)
def hang_lazy_detach_then_fusectl_abort(ctx):
    fusectl = _fusectl(ctx)
    disk, _, _ = stack(ctx, fill=4)
    st = os.stat(disk.mnt)
    # fusectl names connections by the kernel dev_t: (major << 20) | minor.
    conn = (os.major(st.st_dev) << 20) | os.minor(st.st_dev)
    abort = os.path.join(fusectl, str(conn), 'abort')
    check(os.path.exists(abort), f'no {abort}')
    disk.ctl('hang')
    reader = Bg(disk, dd_read(disk, 1))
    blocked(reader, 'a loop reader')
    rc, out = capped(disk, ['losetup', '-d', disk.dev], 5)
    check(rc == 0, f'losetup -d with a hung reader: '
          f'{"did not return" if rc is None else out}')
    with open(abort, 'w') as f:
        f.write('1\n')
    rc = reader.wait(10)
    check(rc not in (None, 0), f'the abort did not release the reader '
          f'(rc={rc})')
    check(EIO_TEXT in reader.out, f'the reader did not get EIO: {reader.out}')
    deadline = time.monotonic() + 5
    while disk.bound() and time.monotonic() < deadline:
        time.sleep(0.1)
    check(not disk.bound(), f'{disk.dev} is still bound to '
          f'{disk.backing()!r} after its reader closed')
    torn_down(ctx, disk)
