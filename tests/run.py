#!/usr/bin/env python3
"""fio-bounce test runner: unit binaries, then integration scenarios.

    python3 tests/run.py [SUBSTRING ...]    (normally through 'make test')

Prints one line per test:  PASS|FAIL|SKIP <name> (<secs>s): <what it proves
or why it failed/skipped>, then 'N passed, N failed, N skipped' alone on the
last line. Exits 1 if anything failed. Needs root (loop devices, mounts).
"""
import glob
import importlib
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fiobtest import core, kmsg  # noqa: E402

UNIT_TIMEOUT = 120


def unit_results(selected, klog):
    """Run each unit binary; every case line it prints is one test."""
    unit_dir = os.environ.get('FIOB_UNIT_DIR')
    if not unit_dir:
        yield 'FAIL', 'unit', 0.0, 'FIOB_UNIT_DIR is not set: use make test'
        return
    for binary in sorted(glob.glob(os.path.join(unit_dir, 'test_*'))):
        base = os.path.basename(binary)
        if not selected(f'unit/{base}/'):
            continue
        start = time.monotonic()
        klog.mark()
        try:
            p = subprocess.run([binary], capture_output=True, text=True,
                               timeout=UNIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            yield ('FAIL', f'unit/{base}', time.monotonic() - start,
                   f'timed out after {UNIT_TIMEOUT}s')
            continue
        secs = time.monotonic() - start
        seen = 0
        for line in p.stdout.splitlines():
            status, _, rest = line.partition(' ')
            if status not in ('PASS', 'FAIL', 'SKIP'):
                continue
            name, _, detail = rest.partition(': ')
            seen += 1
            yield status, f"unit/{base}/{name}", secs, detail
            secs = 0.0
        if p.returncode != 0 and not any(
                ln.startswith('FAIL') for ln in p.stdout.splitlines()):
            yield ('FAIL', f'unit/{base}', secs,
                   f'exit {p.returncode}: {p.stderr.strip()[-800:]}')
        elif not seen:
            yield 'FAIL', f'unit/{base}', secs, 'ran no case'
        if p.stderr.strip() and p.returncode == 0 and (
                'runtime error' in p.stderr or 'Sanitizer' in p.stderr):
            yield ('FAIL', f'unit/{base}/sanitizer', 0.0,
                   p.stderr.strip()[-800:])
        status, detail = kmsg.judge(klog, 'PASS', '')
        if status == 'FAIL':
            yield status, f'unit/{base}/kernel_log', 0.0, detail


def integration_results(selected, klog):
    for path in sorted(glob.glob(os.path.join(HERE, 'integration',
                                              'test_*.py'))):
        importlib.import_module(
            'integration.' + os.path.basename(path)[:-3])
    for t in core.TESTS:
        if not selected(t.name):
            continue
        if os.geteuid() != 0:
            yield ('FAIL', t.name, 0.0,
                   'needs root (loop devices, mounts): run as root')
            continue
        klog.mark()
        status, detail, secs = core.run_test(t)
        status, detail = kmsg.judge(klog, status, detail)
        yield status, t.name, secs, detail or t.proves


def main(argv):
    patterns = argv[1:]

    def selected(name):
        return not patterns or any(p in name for p in patterns)

    def on_signal(signum, frame):
        core.release_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    counts = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    klog = kmsg.KernelLog()
    if klog.unreadable():
        print(f'note: the kernel log cannot be read ({klog.unreadable()}); '
              'tests run without the kernel-log check', file=sys.stderr,
              flush=True)
    try:
        for gen in (unit_results, integration_results):
            for status, name, secs, detail in gen(selected, klog):
                counts[status] += 1
                detail = f': {detail}' if detail else ''
                print(f'{status} {name} ({secs:.1f}s){detail}', flush=True)
    finally:
        core.release_all()
        klog.close()
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['SKIP']} skipped", flush=True)
    return 1 if counts['FAIL'] or not counts['PASS'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
