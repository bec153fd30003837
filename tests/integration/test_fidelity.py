"""Fidelity: the differential corpus (tests/fidelity) as make test scenarios.

Registered only when FIOB_FIDELITY=1 is in the environment (e.g.
'FIOB_FIDELITY=1 make test T=fidelity'): the corpus takes minutes, and
'make fidelity' runs it on its own, in parallel. Each corpus job becomes one
test that runs all its comparisons (512n, ext4, 4Kn; direct=0 and 1) and
fails with every divergence it found.
"""
import os

from fiobtest import Fail, test

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
                status, label, detail = session.compare(
                    slot, job, stage, kind, direct, _LAYOUT[0], session.SEED,
                    False)
                if status == 'FAIL':
                    failed.append(f'{label}: {detail}')
            if failed:
                raise Fail(' | '.join(failed))
        return run

    for _job in corpus.load():
        test(f'fio-bounce ends corpus job {_job.name} as '
             f'{_job.reference} does on every target', timeout=600,
             name=_job.name)(_scenario(_job))
