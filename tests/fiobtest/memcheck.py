"""'make valgrind': fio runs under valgrind memcheck (jobs as threads).

wrap(ctx, cmd) puts valgrind in front of a fio command line; check(log)
reads what it found and fails the test on any error whose stack passes
through the engine (fio-bounce.so, fiob_*) and on any definite leak that
tests/valgrind/fio.supp does not suppress (fio's own, each documented
there). Each run's summary is appended to $FIOB_VALGRIND_SUMMARY, which
'make valgrind' totals at the end (python3 -m fiobtest.memcheck FILE).
"""
import glob
import os
import re
import sys

from .core import Fail

SLOWDOWN = 10            # memcheck runs fio this many times slower (bound)
SUPP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'valgrind', 'fio.supp')
ENGINE = re.compile(r'fio-bounce[^ ]*\.so|\bfiob_')


def wrap(ctx, cmd):
    d = ctx.tmpdir()
    log = os.path.join(d, 'memcheck.%p.log')
    return (['valgrind', '--tool=memcheck', '--leak-check=full',
             '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite',
             '--num-callers=40', f'--suppressions={SUPP}',
             f'--log-file={log}', *cmd], d)


def _blocks(text):
    """Valgrind's reports: runs of '==PID== ' lines between blank ones."""
    out, cur = [], []
    for ln in text.splitlines():
        body = re.sub(r'^==\d+== ?', '', ln)
        if body.strip():
            cur.append(body)
        elif cur:
            out.append('\n'.join(cur))
            cur = []
    if cur:
        out.append('\n'.join(cur))
    return out


def summarize(text):
    """(errors, engine error reports, definitely lost bytes, leak reports)"""
    errors = sum(int(m) for m in re.findall(r'ERROR SUMMARY: (\d+) errors',
                                            text))
    lost = sum(int(m.replace(',', '')) for m in
               re.findall(r'definitely lost: ([\d,]+) bytes', text))
    blocks = _blocks(text)
    reports = [b for b in blocks if ' at 0x' in b and
               not b.startswith(('HEAP SUMMARY', 'LEAK SUMMARY', 'Memcheck'))]
    engine = [b for b in reports if ENGINE.search(b)]
    leaks = [b for b in blocks if 'definitely lost in loss record' in b]
    return errors, engine, lost, leaks, reports


def check(log_dir, what):
    logs = sorted(glob.glob(os.path.join(log_dir, 'memcheck.*.log')))
    if not logs:
        raise Fail(f'valgrind wrote no log for: {what[:200]}')
    text = ''
    for p in logs:
        with open(p, errors='replace') as f:
            text += f.read()
    if 'ERROR SUMMARY' not in text:
        raise Fail(f'valgrind did not finish: {text[-800:]}')
    errors, engine, lost, leaks, reports = summarize(text)
    out = os.environ.get('FIOB_VALGRIND_SUMMARY')
    if out:
        # What each report is (its first line, e.g. "Conditional jump ...
        # depends on uninitialised value(s)") and the first fio frame.
        kinds = ['; '.join(ln.strip() for ln in b.splitlines()[:3])
                 for b in reports]
        with open(out, 'a') as f:
            f.write(f'{errors} {len(engine)} {lost}\t' +
                    ' || '.join(kinds)[:2000] + '\n')
    if engine:
        raise Fail(f'memcheck: {len(engine)} report(s) in the engine: '
                   f'{engine[0][:1500]}')
    if lost or leaks:
        raise Fail(f'memcheck: {lost} bytes definitely lost: '
                   f'{(leaks or [""])[0][:1500]}')


def main(path):
    runs = errors = engine = lost = 0
    kinds = {}
    with open(path) as f:
        for ln in f:
            nums, _, what = ln.rstrip('\n').partition('\t')
            e, g, b = (int(x) for x in nums.split())
            runs += 1
            errors += e
            engine += g
            lost += b
            for k in filter(None, what.split(' || ')):
                kinds[k] = kinds.get(k, 0) + 1
    print(f'memcheck: {runs} fio runs under valgrind; {errors} errors '
          f'(after suppressions), {engine} in the engine; definitely lost '
          f'{lost} bytes')
    for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f'  not the engine ({n}x): {k[:300]}')
    return 1 if engine or lost else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
