"""Running one corpus job on one target with one engine, and comparing.

An Outcome is what the fidelity contract compares: fio's exit status, each
job's error, the verify errors fio printed, per-direction I/O counts and
bytes (and syncs), and the hash of the final image. Targets are made fresh
for every run: a raw device is zeroed, a directory is new and empty.
"""
import json
import os
import re
import shutil
import tempfile

from fiobtest.fio import engine_arg, run_fio

from .image import image_hash

DIRS = ('read', 'write', 'trim')
# One line per verify failure fio reports (verify.c log_err).
VERIFY_ERR = re.compile(r'(^verify: bad |: verify failed at file |'
                        r'^fio: got pattern |verify type mismatch|'
                        r'^fio: bad pattern block)', re.M)
EINVAL = 22
RUN_TIMEOUT = 120
ZERO = bytes(1 << 20)


class Target:
    """Where a run writes: a raw device or file ('raw') or a directory
    ('fs'); reset() makes it as fresh as the first time."""

    def __init__(self, kind, path, label):
        self.kind = kind
        self.path = path
        self.label = label

    def reset(self):
        if self.kind == 'fs':
            for name in os.listdir(self.path):
                p = os.path.join(self.path, name)
                if os.path.isdir(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
            return
        fd = os.open(self.path, os.O_WRONLY)
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
            if not self.path.startswith('/dev/'):
                os.ftruncate(fd, 0)       # a regular file: sparse zeros
                os.ftruncate(fd, size)
                return
            off = 0
            while off < size:
                off += os.pwrite(fd, ZERO[:min(len(ZERO), size - off)], off)
            os.fsync(fd)
        finally:
            os.close(fd)

    def global_lines(self, job):
        """[global] lines and the value of ${FIDELITY_TARGET}.

        A job that names the target itself gets no filename= or directory=:
        with both, fio holds the file twice, and an iolog replayed with a
        directory= opens directory + the log's absolute path; either way
        fio 3.33 crashes (SIGSEGV with io_uring, an assertion in
        td_io_open_file with an external engine)."""
        if self.kind == 'fs':
            if job.names_target:
                return [], os.path.join(self.path, 'fidelity.dat')
            return [f'directory={self.path}'], 'fidelity.dat'
        return ([] if job.names_target else [f'filename={self.path}'],
                self.path)


class Outcome:
    def __init__(self, engine, rc, report, stderr, stats, image, headers):
        self.engine = engine
        self.rc = rc
        self.report = report
        self.stderr = stderr
        self.stats = stats
        self.image = image
        self.headers = headers
        jobs = (report or {}).get('jobs', [])
        self.errors = [(j.get('jobname'), j.get('error', 0)) for j in jobs]
        self.verify_errors = len(VERIFY_ERR.findall(stderr))
        self.ios = [(j.get('jobname'),
                     *((d, j[d]['total_ios'], j[d]['io_bytes'])
                       for d in DIRS if d in j),
                     # fio before 3.38 counts syncs as they complete, a
                     # timing-dependent number: compare whether there were
                     # any (fio 673159e6 made it one per issue in 3.38).
                     ('synced', bool((j.get('sync') or {}).get('total_ios'))))
                    for j in jobs]

    @property
    def einval(self):
        return any(e == EINVAL for _, e in self.errors) or \
            'Invalid argument' in self.stderr

    @property
    def jobs_ran(self):
        return bool(self.errors)

    @property
    def ok(self):
        return self.rc == 0 and not any(e for _, e in self.errors) \
            and not self.verify_errors

    def counters(self):
        total = {}
        for s in self.stats:
            for k, v in s.get('counters', {}).items():
                total[k] = total.get(k, 0) + v
        return total

    def brief(self):
        errs = ','.join(str(e) for _, e in self.errors) or '-'
        tail = self.stderr.strip().splitlines()[-1:] or ['']
        return (f'{self.engine}: rc={self.rc} err={errs} '
                f'verify_errors={self.verify_errors} ({tail[0][:160]})')


def _parse_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        raw = f.read()
    start = raw.find('{')
    if start < 0:
        return None
    try:
        # fio may print notes before, and (3.42) after, the document.
        return json.JSONDecoder().raw_decode(raw[start:])[0]
    except json.JSONDecodeError:
        return None


def run(ctx, job, engine, target, direct, layout, seed, hash_image=True):
    """Run @job once on a freshly reset @target with @engine ('bounce',
    'io_uring', 'posixaio'); returns an Outcome."""
    target.reset()
    d = tempfile.mkdtemp(prefix='fidelity-run-')
    try:
        out = os.path.join(d, 'out.json')
        stats = os.path.join(d, 'stats.jsonl')
        lines, name = target.global_lines(job)
        eng = engine_arg(engine) if engine == 'bounce' else engine
        head = ['[global]', f'ioengine={eng}',
                f'direct={direct}', f'randseed={seed}', *lines]
        if engine == 'bounce':
            head.append(f'bounce_stats={stats}')
        jobfile = os.path.join(d, job.name + '.fio')
        with open(jobfile, 'w') as f:
            f.write('\n'.join(head) + '\n\n' + job.text)
        r = run_fio(ctx, ['fio', '--output-format=json', f'--output={out}',
                          jobfile], engine if engine == 'bounce' else
                    'io_uring', RUN_TIMEOUT, cwd=d,
                    env={'FIDELITY_TARGET': name})
        report = _parse_json(out)
        st = []
        if os.path.exists(stats):
            with open(stats) as f:
                st = [json.loads(ln) for ln in f if ln.strip()]
        image, headers = (image_hash(layout, target.path) if hash_image
                          else (None, 0))
        return Outcome(engine, r.returncode, report, r.stderr, st, image,
                       headers)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def differences(job, ref, cand, counts=True, image=True):
    """What @cand does differently from @ref, as short phrases."""
    diff = []
    # Both killed by a signal: fio itself crashed under both engines (fio
    # 3.33's verify-trim double free aborts or segfaults with every engine,
    # stock io_uring included); which signal depends on the heap layout,
    # so "crashed" is what both must agree on. One crash alone still differs.
    if ref.rc != cand.rc and not (ref.rc < 0 and cand.rc < 0):
        diff.append(f'exit {ref.rc} vs {cand.rc}')
    if ref.errors != cand.errors:
        diff.append(f'errors {ref.errors} vs {cand.errors}')
    if ref.verify_errors != cand.verify_errors:
        diff.append(f'verify errors {ref.verify_errors} vs '
                    f'{cand.verify_errors}')
    if counts and not job.counts_off and ref.ios != cand.ios:
        diff.append(f'I/O {ref.ios} vs {cand.ios}')
    if image and not job.image_off and ref.image != cand.image:
        diff.append(f'image {ref.image} vs {cand.image}')
    return diff
