"""Test targets, each created for one test and always released:
loop devices over files in /dev/shm (4096- or 512-byte sectors), ext4 on a
4096-byte loop device, a small tmpfs that runs out of space, and a loop
device over the FUSE fault-injection file system (tests/fuse/faultfs.c).

Only devices created here are ever detached.
"""
import os
import subprocess
import time

from . import common
from .core import Fail, Skip, env_path, kill_group


def backing_file(ctx, size, where='/dev/shm'):
    d = ctx.tmpdir(base=where)
    path = os.path.join(d, 'backing.img')
    with open(path, 'wb') as f:
        f.truncate(size)
    return path


def _attach(path, sector):
    try:
        return common.attach_loop(path, sector)
    except common.SetupError as e:
        raise Fail(str(e))


def attach(ctx, path, sector):
    dev = _attach(path, sector)
    ctx.defer(common.detach_loop, dev, what=f'losetup -d {dev}')
    return dev


def loop(ctx, sector=4096, size=256 << 20):
    """A fresh loop device with @sector-byte sectors over a /dev/shm file."""
    return attach(ctx, backing_file(ctx, size), sector)


def _umount(mnt):
    r = subprocess.run(['umount', mnt], capture_output=True, timeout=30)
    if r.returncode != 0:
        subprocess.run(['umount', '-l', mnt], capture_output=True,
                       timeout=30)


def mount(ctx, dev, fstype, opts=None):
    mnt = ctx.tmpdir()
    cmd = ['mount', '-t', fstype]
    if opts:
        cmd += ['-o', opts]
    ctx.run(cmd + [dev, mnt], timeout=30)
    ctx.defer(_umount, mnt, what=f'umount {mnt}')
    return mnt


def ext4(ctx, sector=4096, size=256 << 20):
    """A mounted ext4 on a fresh @sector-byte loop device; returns its dir."""
    dev = loop(ctx, sector, size)
    ctx.run(['mkfs.ext4', '-q', '-F', '-b', '4096', '-E',
             'lazy_itable_init=0,lazy_journal_init=0', dev], timeout=60)
    return mount(ctx, dev, 'ext4')


def small_tmpfs(ctx, size):
    """A tmpfs of @size bytes: files in it hit ENOSPC past that."""
    return mount(ctx, 'tmpfs', 'tmpfs', f'size={size}')


class FaultDisk:
    """A loop device over tests/fuse/faultfs: fails chosen ranges on demand.

    ctl(cmd): 'fail_read START END', 'fail_write START END', 'clear',
    'hang', 'unhang', 'die'. log(): the requests that reached the backend
    (writes; reads too with log_reads=True). spawn(cmd): a process that may
    block in the device (a reader of a hung disk), reaped by close().

    close() tears down in the order a hung or dead stack needs, and is what
    the test's cleanup runs:
      1. SIGKILL the daemon: the kernel aborts the FUSE connection, so every
         request stuck in it fails and nothing below can block;
      2. reap the disk's own processes (they now get EIO);
      3. losetup -d the device, and wait until it is really unbound (the
         detach is lazy while anyone holds it open);
      4. fusermount3 -u -z (umount -l as fallback): a dead daemon leaves a
         mount that can only be detached lazily.
    It fails (so the test fails) if the device or the mount is still there.
    """

    def __init__(self, ctx, size, sector=4096, log_reads=False):
        self.ctx = ctx
        faultfs = env_path('FIOB_FAULTFS')
        if not os.path.exists('/dev/fuse'):
            raise Skip('/dev/fuse is missing: no FUSE in this kernel')
        self.mnt = ctx.tmpdir()
        logdir = ctx.tmpdir()
        self.logfile = os.path.join(logdir, 'faultfs.log')
        self.daemon_log = os.path.join(logdir, 'daemon.out')
        self.dev = None
        self.procs = []
        cmd = [faultfs, '--size', str(size), '--log', self.logfile]
        if log_reads:
            cmd.append('--log-reads')
        with open(self.daemon_log, 'w') as out:
            self.proc = subprocess.Popen(cmd + ['-f', self.mnt], stdout=out,
                                         stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        ctx.defer(self.close, what=f'faultfs on {self.mnt}')
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.mnt, 'disk.img')):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Fail(f'faultfs did not come up: {self.daemon_said()}')
            time.sleep(0.05)
        self.dev = _attach(self.image, sector)

    @property
    def image(self):
        return os.path.join(self.mnt, 'disk.img')

    def daemon_said(self):
        try:
            with open(self.daemon_log) as f:
                return ' '.join(f.read().split())[-400:]
        except OSError:
            return ''

    def ctl(self, cmd):
        with open(os.path.join(self.mnt, 'ctl'), 'w') as f:
            f.write(cmd + '\n')

    def log(self):
        try:
            with open(self.logfile) as f:
                return [ln.split() for ln in f if ln.strip()]
        except FileNotFoundError:
            return []

    def spawn(self, cmd):
        """Start @cmd (output captured); close() reaps it after the daemon."""
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(p)
        return p

    def backing(self):
        """What the loop device is bound to now ('' when unbound)."""
        if not self.dev:
            return ''
        path = f'/sys/block/{os.path.basename(self.dev)}/loop/backing_file'
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return ''

    def bound(self):
        """Still bound to our image? After a failed FUSE lookup (dead
        daemon) the kernel shows it as '... (deleted)', or as
        '/disk.img (deleted)' once the mount is gone."""
        b = self.backing()
        return bool(b) and (b.startswith(self.mnt) or
                            b == '/disk.img (deleted)')

    def mounted(self):
        with open('/proc/mounts') as f:
            return any(ln.split()[1] == self.mnt for ln in f)

    def released(self):
        return (not self.bound() and not self.mounted() and
                self.proc.poll() is not None)

    def close(self):
        kill_group(self.proc)
        for p in self.procs:
            kill_group(p)
        if self.bound():
            common.detach_loop(self.dev)
            deadline = time.monotonic() + 10
            while self.bound() and time.monotonic() < deadline:
                time.sleep(0.1)
        if self.mounted():
            r = subprocess.run(['fusermount3', '-u', '-z', self.mnt],
                               capture_output=True, timeout=30)
            if r.returncode != 0:
                subprocess.run(['umount', '-l', self.mnt],
                               capture_output=True, timeout=30)
        left = []
        if self.bound():
            left.append(f'{self.dev} still bound to {self.backing()}')
        if self.mounted():
            left.append(f'{self.mnt} still mounted')
        if left:
            raise Fail('faultfs teardown left ' + ', '.join(left))
