#!/usr/bin/env python3
"""fio-bounce's differential fidelity corpus (normally 'make fidelity').

    python3 tests/fidelity/run.py [--stages 512n,ext4,4kn] [--direct 0,1]
        [--self-check | --with-self-check] [--workers N] [--seed N]
        [SUBSTRING ...]

Runs every job of tests/fidelity/jobs on fresh targets, once with the job's
reference engine (fio's io_uring, or posixaio where the job says why) and
once with fio-bounce, and compares exit status, per-job errors, verify
errors, per-direction I/O counts and bytes, and the final image (verify
header clocks blanked). --self-check compares the reference with itself,
twice in a row: it proves the corpus and the comparison are deterministic.
--with-self-check does one self-check pass inside the comparison pass: the
reference runs a second time on the same fresh target before fio-bounce
runs, and that pair is judged as --self-check judges it (one more run per
comparison instead of a whole pass; what CI runs).

Prints one line per comparison (PASS/FAIL/SKIP label (secs): what), then
'N passed, N failed, N skipped' alone on the last line. Needs root.
Environment (set by make): FIOB_ENGINE (the .so), FIOB_FIO_TREE (the fio
source tree it was built against, for the verify header layout).
"""
import argparse
import concurrent.futures
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from fiobtest import core  # noqa: E402
from fidelity import corpus, image, session  # noqa: E402


def layout_from_env():
    """The verify header layout of the fio the engine was built against:
    FIOB_FIO_TREE, or the tree the build recorded in build/fio-src.path."""
    tree = os.environ.get('FIOB_FIO_TREE')
    recorded = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'build',
                            'fio-src.path')
    if not tree and os.path.exists(recorded):
        with open(recorded) as f:
            tree = f.read().strip()
    if not tree:
        raise RuntimeError('FIOB_FIO_TREE is not set and the build recorded '
                           'no fio tree: run through make fidelity')
    image.check_tree_matches_fio(tree)
    return image.HeaderLayout(os.path.join(tree, 'verify.h'))


class Workers:
    """One Slot (set of targets) per worker thread, all released at end."""

    def __init__(self):
        self._local = threading.local()
        self._ctxs = []
        self._lock = threading.Lock()

    def slot(self):
        s = getattr(self._local, 'slot', None)
        if s is None:
            ctx = core.Context(None)
            with self._lock:
                self._ctxs.append(ctx)
            s = self._local.slot = session.Slot(ctx)
        return s

    def close(self):
        errors = []
        for ctx in self._ctxs:
            errors += ctx.close()
        return errors


def one(workers, job, stage, kind, direct, layout, args):
    """[(status, label, detail)], and the seconds they took."""
    label = f'{stage}-d{direct}/{job.name}'
    start = time.monotonic()
    try:
        res = session.compare(workers.slot(), job, stage, kind, direct,
                              layout, args.seed, args.self_check,
                              args.with_self_check)
    except core.Skip as e:
        res = [('SKIP', label, str(e))]
    except Exception as e:  # one broken comparison must not stop the rest
        res = [('FAIL', label, f'{type(e).__name__}: {e}')]
    return res, time.monotonic() - start


def run_pass(jobs, args, layout, counts, tag=''):
    workers = Workers()
    items = [(job, *v) for job in jobs
             for v in session.variants(job, args.stages, args.direct)]
    pool = concurrent.futures.ThreadPoolExecutor(args.workers)
    try:
        futs = [pool.submit(one, workers, job, stage, kind, direct,
                            layout, args)
                for job, stage, kind, direct in items]
        for f in futs:
            res, secs = f.result()
            for status, label, detail in res:
                counts[status] += 1
                print(f'{status} {tag}{label} ({secs:.1f}s): {detail}',
                      flush=True)
    finally:
        # Interrupted: run nothing more, then release every target.
        pool.shutdown(wait=True, cancel_futures=True)
        for e in workers.close():
            counts['FAIL'] += 1
            print(f'FAIL {tag}cleanup: {e}', flush=True)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--stages', default=','.join(session.STAGES))
    ap.add_argument('--direct', default='0,1')
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument('--self-check', action='store_true')
    mode.add_argument('--with-self-check', action='store_true')
    ap.add_argument('--workers', type=int, default=4)
    ap.add_argument('--seed', type=int, default=session.SEED)
    ap.add_argument('patterns', nargs='*')
    args = ap.parse_args(argv[1:])
    args.stages = [s for s in args.stages.split(',') if s]
    args.direct = [d for d in args.direct.split(',') if d]
    bad = [s for s in args.stages if s not in session.STAGES]
    if bad or any(d not in ('0', '1') for d in args.direct):
        ap.error(f'stages are {session.STAGES}, direct is 0 and/or 1')
    if os.geteuid() != 0:
        raise SystemExit('needs root (loop devices, mounts)')
    try:
        layout = layout_from_env()
    except (RuntimeError, OSError) as e:
        raise SystemExit(f'fidelity: {e}')
    jobs = corpus.load(args.patterns)
    if not jobs:
        raise SystemExit('no corpus job matches')

    # SIGTERM as SIGINT: the finally blocks stop the pool and release
    # every target (loop devices, mounts, /dev/shm files) on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    counts = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    start = time.monotonic()
    try:
        if args.self_check:
            for n in (1, 2):
                run_pass(jobs, args, layout, counts, f'self-check{n}/')
        else:
            run_pass(jobs, args, layout, counts)
    except KeyboardInterrupt:
        print('fidelity: interrupted', flush=True)
        return 130
    finally:
        core.release_all()
    print(f'fidelity: {len(jobs)} jobs, stages {",".join(args.stages)}, '
          f'{time.monotonic() - start:.0f}s', flush=True)
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['SKIP']} skipped", flush=True)
    return 1 if counts['FAIL'] or not counts['PASS'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
