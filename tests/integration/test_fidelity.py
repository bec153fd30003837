"""Fidelity: the differential corpus's runner, and the corpus as scenarios.

The runner tests always run: every job file parses, the differ reports a
divergence it is shown, and run.py --with-self-check prints a comparison and
a self-check line per target and its summary last.

The corpus itself is registered only when FIOB_FIDELITY=1 is in the
environment (e.g. 'FIOB_FIDELITY=1 make test T=fidelity'): it takes minutes,
and 'make fidelity' (CI's fidelity step) runs it on its own, in parallel.
Each corpus job becomes one test that runs all its comparisons (512n, ext4,
4Kn; direct=0 and 1) and fails with every divergence it found.
"""
import os
import re
import sys

from fiobtest import Fail, check, test
from fiobtest.core import env_path

from fidelity import corpus as _corpus
from fidelity.differ import Outcome, differences

_RUNNER = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'fidelity', 'run.py')
_SUMMARY = re.compile(r'^(\d+) passed, (\d+) failed, (\d+) skipped$')


@test('every corpus job file parses (headers, options, one direct= at '
      'most) and the corpus has the 120 jobs or more issue 7 asks for',
      timeout=60)
def corpus_parses(ctx):
    jobs = _corpus.load()
    check(len(jobs) >= 120, f'only {len(jobs)} corpus jobs')
    names = [j.name for j in jobs]
    check(len(set(names)) == len(names), 'two jobs share a name')


def _outcome(rc=0, ios=(('read', 1, 4096),), image='a'):
    o = Outcome('io_uring', rc, {'jobs': [{'jobname': 'j', 'error': 0}]},
                '', [], image, 0)
    o.ios = [('j', *ios)]
    return o


@test('the differ reports a different exit status, I/O count and image '
      'when it is shown one, and nothing for equal outcomes', timeout=60)
def differ_catches_divergence(ctx):
    job = _corpus.load(['rw-randwrite'])[0]
    job.counts_off = job.image_off = ''
    same = differences(job, _outcome(), _outcome())
    check(not same, f'equal outcomes differ: {same}')
    for what, other in (('exit', _outcome(rc=1)),
                        ('I/O', _outcome(ios=(('read', 2, 8192),))),
                        ('image', _outcome(image='b'))):
        d = differences(job, _outcome(), other)
        check(any(x.startswith(what) for x in d),
              f'{what} divergence not reported: {d}')


@test('run.py --with-self-check runs one job on 512n with direct=0 and '
      'prints its self-check line, its comparison line and the summary '
      'last', timeout=300)
def runner_with_self_check(ctx):
    r = ctx.run([sys.executable, _RUNNER, '--stages', '512n', '--direct',
                 '0', '--with-self-check', '--workers', '1', 'batch-all'],
                timeout=280, check_rc=False,
                env={**os.environ, 'FIOB_ENGINE': env_path('FIOB_ENGINE'),
                     'FIOB_FIO_TREE': env_path('FIOB_FIO_TREE')})
    lines = r.stdout.strip().splitlines()
    check(lines and _SUMMARY.match(lines[-1]),
          f'no summary last: {r.stdout[-600:]!r} {r.stderr[-600:]!r}')
    check(lines[-1] == '2 passed, 0 failed, 0 skipped' and r.returncode == 0,
          f'exit {r.returncode}: {r.stdout[-800:]!r}')
    check(any(ln.startswith('PASS self-check/512n-d0/batch-all ')
              for ln in lines) and
          any(ln.startswith('PASS 512n-d0/batch-all ') for ln in lines),
          f'a line is missing: {lines}')

if os.environ.get('FIOB_FIDELITY') == '1':
    from fidelity import corpus, session
    from fidelity.run import layout_from_env

    _LAYOUT = []

    def _scenario(job):
        def run(ctx):
            if not _LAYOUT:
                _LAYOUT.append(layout_from_env())
            slot = session.Slot(ctx)
            failed = []
            for stage, kind, direct in session.variants(
                    job, session.STAGES, ('0', '1')):
                for status, label, detail in session.compare(
                        slot, job, stage, kind, direct, _LAYOUT[0],
                        session.SEED, False):
                    if status == 'FAIL':
                        failed.append(f'{label}: {detail}')
            if failed:
                raise Fail(' | '.join(failed))
        return run

    for _job in corpus.load():
        test(f'fio-bounce ends corpus job {_job.name} as '
             f'{_job.reference} does on every target', timeout=600,
             name=_job.name)(_scenario(_job))
