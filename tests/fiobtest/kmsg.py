"""The kernel-log check: a test fails if the kernel logged a splat while it
ran (a WARNING:, BUG:, Oops, general protection fault, or any line about
io_uring).

The runner calls mark() before each test and splats() after it. Both read
/dev/kmsg without blocking from a descriptor opened once at the end of the
log, so only records logged since the last call are looked at. Where the
log cannot be read (no /dev/kmsg, not permitted) the runner is told once
(unreadable()) and the check is off.

The kernel log is the machine's: a splat caused by something else running
at the same time fails the test that was running. That is on purpose; a
splat is never noise.
"""
import errno
import os
import re

SPLAT = re.compile(r'WARNING:|BUG:|Oops|general protection|io_uring')
# A user process's own fault ("traps: fio[123] general protection fault
# ip:..."): the kernel reporting a program's crash, not a kernel splat. A
# crashing fio fails its test through its exit code; another program's
# crash on this shared machine must not fail ours.
USER_TRAP = re.compile(r'^traps: \S+\[\d+\] ')


def is_splat(message, extra=None):
    """Does one kernel log message look like a splat (or match @extra)?"""
    if extra and extra.search(message):
        return True
    return bool(SPLAT.search(message)) and not USER_TRAP.match(message)


def parse_record(raw):
    """The message text of one /dev/kmsg record ('PRI,SEQ,TS,FLAGS;text'
    then continuation lines that start with a blank)."""
    _, sep, rest = raw.partition(';')
    return (rest if sep else raw).split('\n', 1)[0]


class KernelLog:
    def __init__(self, path='/dev/kmsg'):
        self.fd = None
        self.why = None
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self.fd, 0, os.SEEK_END)
        except OSError as e:
            self.why = f'{path}: {e.strerror}'
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None

    def unreadable(self):
        """Why the log cannot be read, or None."""
        return self.why

    def _new_messages(self):
        out = []
        if self.fd is None:
            return out
        while True:
            try:
                raw = os.read(self.fd, 8192)
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.EPIPE:   # records overwritten: go on
                    continue
                if e.errno == errno.EINTR:
                    continue
                self.why = f'reading /dev/kmsg: {e.strerror}'
                os.close(self.fd)
                self.fd = None
                return out
            if not raw:
                return out
            out.append(parse_record(raw.decode('utf-8', 'replace')))

    def mark(self):
        """Forget everything logged so far."""
        self._new_messages()

    def splats(self, extra=None):
        """Splat messages logged since the last mark() or splats()."""
        return [m for m in self._new_messages() if is_splat(m, extra)]

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def judge(log, status, detail):
    """A test's (status, detail) after looking at what the kernel logged
    while it ran: any splat turns it into a FAIL that quotes it."""
    found = log.splats()
    if not found:
        return status, detail
    quoted = ' | '.join(found[:4])
    more = f' (+{len(found) - 4} more)' if len(found) > 4 else ''
    return 'FAIL', f'kernel log splat during the test: {quoted}{more}'
