"""Test registry, per-test context and the runner's cleanup discipline.

Every resource a test makes (temp dirs, loop devices, mounts, processes) is
registered on the test's Context and released in reverse order when the test
ends, whether it passed, failed, timed out or was interrupted. Loop devices
and mounts are also recorded process-wide, so a signal still releases them,
and only ever the ones this process created.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

TESTS = []

# Resources this process created and has not released yet: (kind, what).
_LIVE = []


class Fail(Exception):
    """The scenario did not hold."""


class Skip(Exception):
    """A kernel feature the scenario needs is missing."""


class Timeout(BaseException):
    """The test ran past its timeout (BaseException: tests cannot swallow it)."""


class Test:
    def __init__(self, name, fn, timeout, proves, group):
        self.name = name
        self.fn = fn
        self.timeout = timeout
        self.proves = proves
        self.group = group


def test(proves, timeout=60, name=None):
    """Register a scenario. @proves says what a pass demonstrates."""
    def deco(fn):
        group = fn.__module__.rsplit('.', 1)[-1].removeprefix('test_')
        TESTS.append(Test(f'{group}/{name or fn.__name__}', fn, timeout,
                          proves, group))
        return fn
    return deco


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def env_path(var):
    val = os.environ.get(var)
    if not val:
        raise Fail(f'{var} is not set: run the tests through "make test"')
    return val


class Context:
    """What one test holds; released in reverse order by close()."""

    def __init__(self, test):
        self.test = test
        self._undo = []
        self._procs = []

    def defer(self, fn, *args, what=None):
        entry = (fn, args, what)
        self._undo.append(entry)
        if what:
            _LIVE.append(entry)
        return entry

    def close(self):
        errors = []
        while self._undo:
            entry = self._undo.pop()
            fn, args, what = entry
            try:
                fn(*args)
            except Exception as e:  # keep releasing the rest
                errors.append(f'{what or fn.__name__}: {e}')
            if entry in _LIVE:
                _LIVE.remove(entry)
        return errors

    def tmpdir(self, base=None):
        d = tempfile.mkdtemp(prefix='fiob-', dir=base)
        self.defer(shutil.rmtree, d, True)
        return d

    def run(self, cmd, timeout=None, check_rc=True, env=None, input=None,
            cwd=None):
        """Run @cmd; the whole process group dies with the test."""
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=cwd,
                             stderr=subprocess.PIPE, text=True, env=env,
                             stdin=subprocess.PIPE if input else
                             subprocess.DEVNULL,
                             start_new_session=True)
        self._procs.append(p)
        try:
            out, err = p.communicate(input=input, timeout=timeout)
        except BaseException:
            kill_group(p)
            raise
        finally:
            self._procs.remove(p)
        if check_rc and p.returncode != 0:
            raise Fail(f'{cmd[0]} exited {p.returncode}: '
                       f'{(err or out).strip()[-800:]}')
        return subprocess.CompletedProcess(cmd, p.returncode, out, err)

    def spawn(self, cmd, **kw):
        """Start a background process; it is killed when the test ends."""
        p = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.defer(kill_group, p)
        return p

    def kill_children(self):
        for p in list(self._procs):
            kill_group(p)


def descendants(pid):
    """Every live process below @pid, children first found first."""
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        # The name may hold spaces and ')': the parent follows the last ')'.
        ppid = int(stat[stat.rindex(')') + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def kill_group(p):
    """Kill @p, its process group and everything below it. fio's job
    processes call setsid(), so they are not in the group the test started;
    they are found as fio's children before fio dies (after, they belong to
    init), or a hung job would outlive its test, spinning or holding its
    device."""
    if p.poll() is None:
        for pid in [p.pid, *descendants(p.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def release_all():
    """Emergency release of everything still live (signals, crashes)."""
    while _LIVE:
        fn, args, what = _LIVE.pop()
        try:
            fn(*args)
        except Exception:
            pass


def run_test(t):
    """Run one test; returns (status, detail, seconds)."""
    ctx = Context(t)
    start = time.monotonic()

    def on_alarm(signum, frame):
        raise Timeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    # Under 'make valgrind' fio runs many times slower.
    signal.alarm(t.timeout * (10 if os.environ.get('FIOB_VALGRIND') else 1))
    status, detail = 'PASS', ''
    try:
        t.fn(ctx)
    except Fail as e:
        status, detail = 'FAIL', str(e)
    except Skip as e:
        status, detail = 'SKIP', str(e)
    except Timeout:
        ctx.kill_children()
        status, detail = 'FAIL', f'timed out after {t.timeout}s'
    except Exception as e:
        status, detail = 'FAIL', f'{type(e).__name__}: {e}'
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        # Cleanup gets its own bounded time: a hung device must not hang us.
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(60)
        try:
            errors = ctx.close()
        except Timeout:
            errors = ['cleanup timed out']
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if errors and status == 'PASS':
        status, detail = 'FAIL', 'cleanup: ' + '; '.join(errors)
    return status, detail, time.monotonic() - start
