"""Kernel tracepoints in a private tracefs instance: what the engine really
handed to io_uring (opcodes, SQE flags), and what reached a block device
(each request's ioprio and size).

    trace = Trace(ctx)                       # io_uring_submit_req, our pids
    r = fio(ctx, [...])
    ops = trace.opcodes()                    # {'READ': n, ...}, then clears

Trace(ctx, events=[...], pid=False, filters={event: expr}) traces other
events, of every task (block requests may be issued from kernel workers).
"""
import glob
import os
import re

from .core import Fail, Skip

SUBMIT = 'io_uring/io_uring_submit_req'
FAILED = 'io_uring/io_uring_req_failed'
BLOCK_ISSUE = 'block/block_rq_issue'

# io_uring_submit_req: "... opcode READV, flags 0x10, sq_thread 0"
_SUBMIT_RE = re.compile(r'io_uring_submit_req: .* opcode (\w+), '
                        r'flags (0x[0-9a-f]+)')
# block_rq_issue: "7,0 R 4096 () 8 + 8 rt,0,2 [fio]" (class,hint,level)
_BLOCK_RE = re.compile(r'block_rq_issue: \d+,\d+ (\S+) (\d+) \(.*?\) '
                       r'\d+ \+ \d+ (\w+),(\d+),(\d+) ')


def kernel_dev(path):
    """The dev_t of block device @path as block tracepoints print it."""
    rdev = os.stat(path).st_rdev
    return (os.major(rdev) << 20) | os.minor(rdev)


class Trace:
    def __init__(self, ctx, events=(SUBMIT,), pid=True, filters=None):
        with open('/proc/filesystems') as f:
            if 'tracefs' not in f.read():
                raise Skip('no tracefs in this kernel')
        # A mount of our own: another test run may unmount the shared one
        # at /sys/kernel/tracing under us. Every mount shows the same
        # instances, so ours is private only in its path.
        root = ctx.tmpdir()
        ctx.run(['mount', '-t', 'tracefs', 'nodev', root], timeout=30)
        ctx.defer(ctx.run, ['umount', root], what=f'umount {root}')
        for ev in events:
            if not os.path.isdir(os.path.join(root, 'events', ev)):
                raise Skip(f'no {ev} tracepoint in this kernel')
        self.dir = os.path.join(root, 'instances',
                                f'fiob-{os.getpid()}-{id(self)}')
        os.mkdir(self.dir)
        ctx.defer(self._remove, what=f'rmdir {self.dir}')
        # Tests compare exact counts: room for every event, and a check.
        self._set('buffer_size_kb', '16384')
        if pid:
            self._set('options/event-fork', '1')
            self._set('set_event_pid', str(os.getpid()))
        for ev in events:
            if filters and ev in filters:
                self._set(f'events/{ev}/filter', filters[ev])
            self._set(f'events/{ev}/enable', '1')
        self._set('tracing_on', '1')

    def _set(self, name, val):
        with open(os.path.join(self.dir, name), 'w') as f:
            f.write(val)

    def _remove(self):
        self._set('tracing_on', '0')
        os.rmdir(self.dir)

    def text(self):
        """Everything traced since the last call (clears the buffer)."""
        with open(os.path.join(self.dir, 'trace')) as f:
            text = f.read()
        for stats in glob.glob(os.path.join(self.dir, 'per_cpu', '*',
                                            'stats')):
            with open(stats) as f:
                lost = re.search(r'^overrun: (\d+)', f.read(), re.M)
            if lost and int(lost.group(1)):
                raise Fail(f'the trace lost {lost.group(1)} events '
                           f'({stats}): counts would be wrong')
        self._set('trace', '')
        return text

    def submits(self, text=None):
        """[(opcode, sqe flags)] in submission order since the last call."""
        text = self.text() if text is None else text
        return [(op, int(fl, 16)) for op, fl in _SUBMIT_RE.findall(text)]

    def opcodes(self, text=None):
        """Counts of each opcode since the last call (clears the buffer)."""
        counts = {}
        for op, _ in self.submits(text):
            counts[op] = counts.get(op, 0) + 1
        return counts

    def block_bytes(self, text=None):
        """Bytes of block requests per (rwbs kind R/W, class, level)."""
        text = self.text() if text is None else text
        out = {}
        for rwbs, nbytes, cls, _hint, level in _BLOCK_RE.findall(text):
            kind = 'W' if 'W' in rwbs else 'R' if 'R' in rwbs else rwbs
            key = (kind, cls, int(level))
            out[key] = out.get(key, 0) + int(nbytes)
        return out
