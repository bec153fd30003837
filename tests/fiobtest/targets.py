"""Test targets, each created for one test and always released:
loop devices over files in /dev/shm (4096- or 512-byte sectors), ext4 on a
4096-byte loop device, a small tmpfs that runs out of space, and a loop
device over the FUSE fault-injection file system (tests/fuse/faultfs.c).

Only devices created here are ever detached.
"""
import os
import subprocess
import time

from .core import Fail, Skip, env_path


def _detach(dev):
    # losetup -d is lazy: the device goes once its last user closes it.
    subprocess.run(['losetup', '-d', dev], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=30)


def backing_file(ctx, size, where='/dev/shm'):
    d = ctx.tmpdir(base=where)
    path = os.path.join(d, 'backing.img')
    with open(path, 'wb') as f:
        f.truncate(size)
    return path


def attach(ctx, path, sector):
    r = ctx.run(['losetup', '-f', '--show', '--sector-size', str(sector),
                 path], timeout=30)
    dev = r.stdout.strip()
    if not dev.startswith('/dev/loop'):
        raise Fail(f'losetup gave {dev!r}')
    ctx.defer(_detach, dev, what=f'losetup -d {dev}')
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
    'hang', 'die'. log(): the writes that reached the backend.
    """

    def __init__(self, ctx, size, sector=4096):
        self.ctx = ctx
        faultfs = env_path('FIOB_FAULTFS')
        if not os.path.exists('/dev/fuse'):
            raise Skip('/dev/fuse is missing: no FUSE in this kernel')
        self.mnt = ctx.tmpdir()
        self.logfile = os.path.join(ctx.tmpdir(), 'faultfs.log')
        self.proc = ctx.spawn([faultfs, '--size', str(size), '--log',
                               self.logfile, '-f', self.mnt])
        ctx.defer(self._unmount, what=f'fusermount3 -u {self.mnt}')
        deadline = time.monotonic() + 10
        while not os.path.exists(os.path.join(self.mnt, 'disk.img')):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Fail('faultfs did not come up')
            time.sleep(0.05)
        self.dev = attach(ctx, os.path.join(self.mnt, 'disk.img'), sector)

    def _unmount(self):
        subprocess.run(['fusermount3', '-u', '-z', self.mnt],
                       capture_output=True, timeout=30)
        subprocess.run(['umount', '-l', self.mnt], capture_output=True,
                       timeout=30)

    def ctl(self, cmd):
        with open(os.path.join(self.mnt, 'ctl'), 'w') as f:
            f.write(cmd + '\n')

    def log(self):
        try:
            with open(self.logfile) as f:
                return [ln.split() for ln in f if ln.strip()]
        except FileNotFoundError:
            return []
