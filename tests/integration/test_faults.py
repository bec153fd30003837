"""Faults: device errors, a full backing store and a vanishing device end the
job with the right error, loudly, without a hang, and a failed
read-modify-write never writes anything."""
import mmap
import os
import subprocess
import threading
import time

from fiobtest import (check, expect_error, expect_ok, fio, iolog, targets,
                      test)
from fiobtest.core import Fail, env_path

EIO = 5
ENOSPC = 28
BLK = 4096
DISK = 16 << 20          # FaultDisk size: 4096 sectors of 4096 bytes
FILL = 64 << 10          # the pre-filled pattern covers blocks 0..15
FIO_TIMEOUT = 60         # a job that runs longer than this is hung


def dio_write(dev, off, data):
    """O_DIRECT write of @data (a multiple of 4096 bytes) at @off."""
    buf = mmap.mmap(-1, len(data))
    buf.write(data)
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    try:
        n = os.pwrite(fd, buf, off)
    finally:
        os.close(fd)
        buf.close()
    check(n == len(data), f'pre-fill wrote {n} of {len(data)} bytes')


def dio_read(dev, off, length):
    """O_DIRECT read of @length bytes (a multiple of 4096) at @off."""
    buf = mmap.mmap(-1, length)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        n = os.preadv(fd, [buf], off)
        check(n == length, f'read back {n} of {length} bytes at {off}')
        return bytes(buf)
    finally:
        os.close(fd)
        buf.close()


def hits(log, tags, start, end):
    """Log lines tagged one of @tags whose range overlaps [start, end)."""
    return [ln for ln in log if len(ln) == 3 and ln[0] in tags and
            int(ln[1]) < end and start < int(ln[1]) + int(ln[2])]


def run_job(ctx, args, **kw):
    """fio() where a hang is a test failure with a clear message."""
    try:
        return fio(ctx, args, timeout=FIO_TIMEOUT, **kw)
    except subprocess.TimeoutExpired:
        raise Fail(f'fio hung: still running after {FIO_TIMEOUT}s '
                   f'({" ".join(args)})')


def filled_disk(ctx):
    """A FaultDisk whose first FILL bytes hold a random pattern."""
    disk = targets.FaultDisk(ctx, DISK)
    pattern = os.urandom(FILL)
    dio_write(disk.dev, 0, pattern)
    check(dio_read(disk.dev, 0, FILL) == pattern,
          'the pre-filled pattern does not read back')
    return disk, pattern


def after_writes(disk, mark, n=200, limit=30):
    """Wait (bounded) until the job has written @n blocks since @mark."""
    deadline = time.monotonic() + limit
    while len(disk.log()) < mark + n and time.monotonic() < deadline:
        time.sleep(0.05)


def one_write(dev, off, length):
    """fio options for exactly one direct write of @length bytes at @off."""
    return [f'filename={dev}', 'direct=1', 'rw=write', f'bs={length}',
            f'offset={off}', f'size={length}', 'iodepth=1']


def check_untouched(disk, pattern, start, end, log, kinds, why):
    """No write of @kinds in @log touched [start, end), and once the faults
    are cleared the device still holds @pattern there."""
    writes = hits(log, kinds, start, end)
    check(not writes, f'[{start}, {end}) was written {why}: {writes}')
    disk.ctl('clear')
    check(dio_read(disk.dev, start, end - start) == pattern[start:end],
          f'[{start}, {end}) changed {why}')


def eio_job(ctx, faults, job, what):
    """A filled FaultDisk with @faults injected (('fail_read', start, end),
    ...), then the job @job(dev) gives, which must fail with EIO. Returns
    the disk, its pattern, the job's counters and the disk log of the job."""
    disk, pattern = filled_disk(ctx)
    for kind, start, end in faults:
        disk.ctl(f'{kind} {start} {end}')
    mark = len(disk.log())
    r = run_job(ctx, job(disk.dev))
    expect_error(r, EIO, what)
    return disk, pattern, r.counters(), disk.log()[mark:]


def check_fault_hit(log, tag, start, end, what):
    """The injected fault fired: @log has a @tag line inside [start, end)."""
    check(hits(log, (tag,), start, end),
          f'no {tag} in [{start}, {end}): {what}; log: {log}')


def _rmw_read_fault(off, length, fail_blocks):
    """One misaligned write at @off; reads of @fail_blocks fail."""
    def fn(ctx):
        win_start = off // BLK * BLK
        win_end = -(-(off + length) // BLK) * BLK
        disk, pattern, c, log = eio_job(
            ctx, [('fail_read', b * BLK, (b + 1) * BLK) for b in fail_blocks],
            lambda dev: one_write(dev, off, length),
            'a write whose RMW read failed')
        check(c.get('rmw_writes') == 1 and c.get('rmw_reads', 0) >= 1,
              f'the write did not go through read-modify-write: {c}')
        check_fault_hit(log, 'RFAIL', fail_blocks[0] * BLK,
                        (fail_blocks[-1] + 1) * BLK,
                        'the injected fault was never hit')
        check_untouched(disk, pattern, win_start, win_end, log,
                        ('W', 'WFAIL'), 'after a failed RMW read')
    return fn


test('a misaligned write inside one block whose RMW read fails with EIO '
     'fails the job with EIO and writes nothing to that block',
     timeout=60, name='rmw_read_eio_one_block')(
    _rmw_read_fault(5 * BLK + 100, 1000, [5]))

test('a misaligned write spanning blocks 5..7 whose tail RMW read fails '
     '(the head read succeeds) fails with EIO and writes no part of its '
     'window', timeout=60, name='rmw_read_eio_tail_only')(
    _rmw_read_fault(5 * BLK + 100, 2 * BLK + 1000, [7]))


@test('sequential bs=1000 writes at QD8 over a block whose reads fail: the '
      'RMWs queued behind the failed one fail too, the job ends with EIO and '
      'the block is never written', timeout=60)
def rmw_read_eio_with_waiters(ctx):
    start, end = 5 * BLK, 6 * BLK
    disk, pattern, c, log = eio_job(
        ctx, [('fail_read', start, end)],
        lambda dev: [f'filename={dev}', 'direct=1', 'rw=write', 'bs=1000',
                     f'size={FILL - 1000}', 'iodepth=8'],
        'writes over a block whose reads fail')
    check(c.get('waits', 0) > 0, f'no write waited behind an RMW: {c}')
    check_fault_hit(log, 'RFAIL', start, end, 'the block was never read')
    check_untouched(disk, pattern, start, end, log, ('W', 'WFAIL'),
                    'although no RMW could read it')


@test('a misaligned write whose window write fails with EIO (its RMW read '
      'succeeded) fails the job with EIO and leaves the block unchanged',
      timeout=60)
def rmw_window_write_eio(ctx):
    start, end = 9 * BLK, 10 * BLK
    disk, pattern, c, log = eio_job(
        ctx, [('fail_write', start, end)],
        lambda dev: one_write(dev, start + 300, 1000),
        'a write whose window write failed')
    check(c.get('rmw_writes') == 1 and c.get('rmw_reads') == 1,
          f'the write did not go through read-modify-write: {c}')
    check_fault_hit(log, 'WFAIL', start, end,
                    'the window write never reached the device')
    check_untouched(disk, pattern, start, end, log, ('W',),
                    'although its window write failed')


def _enospc(bs, bounced):
    def fn(ctx):
        # A 8 MiB sparse file on a 2 MiB tmpfs: writes run out of space
        # about a quarter of the way in. The loop device passes the
        # backing file's ENOSPC through as BLK_STS_NOSPC, i.e. ENOSPC.
        mnt = targets.small_tmpfs(ctx, 2 << 20)
        path = os.path.join(mnt, 'sparse.img')
        with open(path, 'wb') as f:
            f.truncate(8 << 20)
        dev = targets.attach(ctx, path, 4096)
        r = run_job(ctx, [f'filename={dev}', 'direct=1', 'rw=write',
                          f'bs={bs}', 'size=8M', 'iodepth=4'])
        expect_error(r, ENOSPC, f'bs={bs} writes past the space')
        check('No space left on device' in r.err,
              f'fio did not report ENOSPC: {r.describe()}')
        c = r.counters()
        check(c.get(bounced, 0) > 0,
              f'no {bounced} counted: wrong path exercised: {c}')
        done = sum(j['write']['io_bytes'] for j in r.jobs())
        check(0 < done < (8 << 20),
              f'{done} bytes written: expected some, not all: {c}')
    return fn


test('aligned writes (bs=4k) to a loop device whose tmpfs backing runs out '
     'of space end the job with ENOSPC, without a hang',
     timeout=90, name='enospc_aligned')(_enospc('4k', 'passthrough'))

test('RMW writes (bs=1000) to a loop device whose tmpfs backing runs out '
     'of space end the job with ENOSPC, without a hang',
     timeout=90, name='enospc_rmw')(_enospc('1000', 'rmw_writes'))


@test('a device that vanishes (faultfs "die") under a running misaligned '
      'randwrite+verify job fails it with an error, never hangs, and the '
      'harness releases the loop device, mount and daemon', timeout=120)
def device_vanishes(ctx):
    disk, _ = filled_disk(ctx)
    died = threading.Event()
    mark = len(disk.log())

    def killer():
        after_writes(disk, mark)    # so that the device dies under the job
        try:
            disk.ctl('die')
        except OSError:
            pass        # the daemon exits without answering this write
        died.set()

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    r = run_job(ctx, [f'filename={disk.dev}', 'direct=1', 'rw=randwrite',
                      'bs=1000', 'iodepth=16', 'verify=crc32c',
                      'verify_backlog=64', 'time_based', 'runtime=40'])
    th.join(10)
    check(died.is_set(), 'the device was never killed')
    check(r.rc != 0, f'fio exited 0 after the device vanished: '
          f'{r.describe()}')
    check(any(r.errors()), f'no job error reported: {r.describe()}')
    check('error' in r.err.lower(), f'no error message: {r.describe()}')
    check(r.counters().get('rmw_writes', 0) > 0,
          f'the job did not run misaligned writes: {r.counters()}')
    # The harness's own release, run now so it can be checked.
    dev = disk.dev
    errors = ctx.close()
    check(not errors, f'cleanup after a dead device failed: {errors}')
    deadline = time.monotonic() + 20
    while not disk.released() and time.monotonic() < deadline:
        time.sleep(0.1)
    check(disk.released(), f'after cleanup {dev} or the faultfs mount '
          f'{disk.mnt} (or its daemon) is still there')


@test('a device that stops answering (faultfs "hang") under a misaligned '
      'randwrite+verify job, then vanishes ("die"), fails the job with EIO '
      'instead of leaving it hung', timeout=120)
def device_hangs_then_dies(ctx):
    disk, _ = filled_disk(ctx)
    mark = len(disk.log())

    def killer():
        after_writes(disk, mark)
        disk.ctl('hang')
        time.sleep(1)       # let requests pile up in the hung device
        try:
            disk.ctl('die')
        except OSError:
            pass

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    r = run_job(ctx, [f'filename={disk.dev}', 'direct=1', 'rw=randwrite',
                      'bs=1000', 'iodepth=16', 'verify=crc32c',
                      'verify_backlog=64', 'time_based', 'runtime=40'])
    th.join(10)
    expect_error(r, EIO, 'a job whose device hung, then died')
    check(r.counters().get('rmw_writes', 0) > 0,
          f'the job did not run misaligned writes: {r.counters()}')


@test('a device that stalls (faultfs "hang") for a second under a misaligned '
      'randwrite+verify job and then resumes ("unhang") loses nothing: the '
      'job completes and verifies', timeout=120)
def device_stall_then_resume_verifies(ctx):
    disk = targets.FaultDisk(ctx, DISK)
    mark = len(disk.log())

    def staller():
        after_writes(disk, mark)
        disk.ctl('hang')
        time.sleep(1)
        disk.ctl('unhang')

    th = threading.Thread(target=staller, daemon=True)
    th.start()
    r = run_job(ctx, [f'filename={disk.dev}', 'direct=1', 'rw=randwrite',
                      'bs=1000', 'size=4M', 'iodepth=16', 'verify=crc32c',
                      'verify_fatal=1'])
    th.join(10)
    check(not th.is_alive(), 'the staller thread is stuck')
    check(r.rc == 0 and not any(r.errors()),
          f'the job failed across a stall: {r.describe()}')
    c = r.counters()
    check(c['rmw_writes'] == (4 << 20) // 1000 and c['window_reads'] > 0,
          f'not every write went through RMW, or no verify read: {c}')



def _unhang_later(disk, secs=4):
    """fio's exit waits for I/O hung in faultfs: release it after @secs."""
    def unhang():
        time.sleep(secs)
        disk.ctl('unhang')

    th = threading.Thread(target=unhang, daemon=True)
    th.start()
    return th


def _failwait_replay(ctx, disk, entries):
    """Replay a multi-file iolog (@entries: its lines after the header)
    under failwait, with faultfs hung from the start. failwait fails every
    io_uring_enter that waits; iodepth_batch_complete_min=0 keeps fio from
    asking the engine to wait, so only the engine's drains do."""
    log = os.path.join(ctx.tmpdir(), 'replay.iolog')
    with open(log, 'w') as f:
        f.write('fio version 2 iolog\n' + ''.join(e + '\n' for e in entries))
    disk.ctl('hang')
    th = _unhang_later(disk)
    r = run_job(ctx, [f'read_iolog={log}', 'direct=1', 'iodepth=4',
                      'iodepth_batch_complete_min=0'],
                wrap=(env_path('FIOB_FAILWAIT'),))
    th.join(10)
    return r


@test('a drain that fails at job end, with I/O really in flight (faultfs '
      '"hang"; failwait fails every waiting io_uring_enter), fails the job '
      'with a message saying so, instead of reporting success', timeout=120)
def failed_final_drain_fails_the_job(ctx):
    disk = targets.FaultDisk(ctx, DISK)
    d = disk.dev
    r = _failwait_replay(ctx, disk, [f'{d} add', f'{d} open',
                                     f'{d} write 1500 1000',
                                     f'{d} write 2500 1000'])
    check(r.rc != 0, f'the job reported success after a failed drain: '
          f'{r.describe()}')
    check('could not finish its I/O at the end' in r.err,
          f'no message about the failed drain: {r.describe()}')


@test('a drain before close_file that fails while another file\'s I/O is '
      'in flight (faultfs "hang" + failwait) fails the job with a message '
      'naming the file and saying its descriptor stays open and registered '
      '(the old order closed it and reported success)', timeout=120)
def failed_close_drain_keeps_descriptor_and_fails(ctx):
    disk = targets.FaultDisk(ctx, DISK)
    other = targets.loop(ctx, 4096, 16 << 20)
    d = disk.dev
    r = _failwait_replay(ctx, disk, [
        f'{d} add', f'{other} add', f'{d} open', f'{other} open',
        f'{d} write 0 4096',             # hangs in faultfs: in flight
        f'{other} write 1500 1000',      # completes; then the close ...
        f'{other} close',                # ... drains, and the drain fails
        f'{d} close'])
    check(r.rc != 0, f'the job reported success after a failed drain: '
          f'{r.describe()}')
    check(f'fio-bounce: {other}: could not finish its I/O before closing'
          in r.err and 'keeping the descriptor open' in r.err,
          f'no loud message about the failed drain before closing {other}: '
          f'{r.describe()}')


@test('an aligned read job at QD1 (lean reads: every completion is waited '
      'for through the lean wait) whose waiting io_uring_enter calls all '
      'fail with EIO (failwait) ends with EIO, loudly, naming io_uring_enter, '
      'without a hang; the same job without failwait passes', timeout=120)
def failed_lean_wait_fails_the_job(ctx):
    # Not compared with fio's io_uring: fio 3.33's makes the system call
    # raw and then reads errno, so it takes the failure for "no events yet"
    # and spins until the I/O completes anyway.
    dev = targets.loop(ctx, 4096, 16 << 20)
    job = [f'filename={dev}', 'direct=1', 'rw=randread', 'bs=4k',
           'iodepth=1', 'number_ios=64']
    r = run_job(ctx, job, wrap=(env_path('FIOB_FAILWAIT'),), fmt='normal',
                stdout=True)
    expect_error(r, EIO, 'the job with every wait failing')
    check('func=io_uring_enter' in r.text,
          f'the error does not name io_uring_enter: {r.describe()}')
    r = run_job(ctx, job)
    expect_ok(r)
    c = r.counters()
    check(c.get('passthrough') == 64 and not c.get('window_reads') and
          not c.get('mem_bounced'),
          f'the job did not run as 64 aligned pass-through reads: {c}')
