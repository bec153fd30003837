"""The fidelity corpus: job files and what their header lines ask for.

A corpus job is an ordinary fio job file (tests/fidelity/jobs/*.fio) with
no ioengine, no direct= (unless the job is about one) and no target: the
runner puts those in a [global] section of its own in front of the job.
Header lines the runner reads, each optional:

  ; fidelity-targets: raw fs      which targets the job runs on (default
                                   both): raw = a loop device given as
                                   filename=, fs = an ext4 directory given
                                   as directory=
  ; fidelity-reference: posixaio - why io_uring's result is an artefact
  ; fidelity-image: off - why the final image is not deterministic
  ; fidelity-counts: off - why the I/O counts are not deterministic
  ; fidelity-refused: why fio may refuse the job before it runs with the
                      reference engine; fio-bounce must then end alike
                      (otherwise a reference that ran no job is a failure)
  ; fidelity-fallback: device - why the EINVAL reference (below) must be
                      the reference engine buffered on the same device,
                      not on a regular file (trims: a file cannot take
                      them, and no engine can bounce a discard)
  ; fidelity-pending: what fio-bounce still lacks (the job is run and
                      judged all the same; the note is printed with it)

A job that needs one named file (several sections sharing it, an iolog
replayed on it) says filename=${FIDELITY_TARGET}: fio expands it from the
environment, to the device (raw) or to a fixed name in the directory (fs).

time_based, runtime= and any rate option turn off the count and image
comparison by themselves: how much such a job does depends on the clock.
"""
import glob
import os
import re

JOBS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'jobs')

HEADER = re.compile(r'^;\s*fidelity-([a-z]+)\s*:\s*(.*?)\s*$')
OPTION = re.compile(r'^\s*([A-Za-z_][\w]*)\s*(?:=\s*(.*?))?\s*$')
REFERENCES = ('io_uring', 'posixaio')
TARGETS = ('raw', 'fs')
# Options whose effect depends on the clock.
CLOCKED = re.compile(r'^(time_based|runtime|rate\w*|ramp_time)$')


class CorpusError(Exception):
    """A job file the runner cannot honour: fail loudly, never guess."""


def _off(value, what, path):
    m = re.match(r'off\b\s*[-\u2014:]*\s*(.*)$', value)
    if not m or not m.group(1):
        raise CorpusError(f'{path}: fidelity-{what}: write "off - reason", '
                          f'got {value!r}')
    return m.group(1)


class Job:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[:-len('.fio')]
        with open(path) as f:
            self.text = f.read()
        self.targets = TARGETS
        self.reference = 'io_uring'
        self.reference_why = ''
        self.image_off = ''
        self.counts_off = ''
        self.pending = ''
        self.refused = ''
        self.fallback_device = ''
        self.options = []
        for ln in self.text.splitlines():
            m = HEADER.match(ln)
            if m:
                self._header(m.group(1), m.group(2))
                continue
            s = ln.strip()
            if not s or s[0] in ';#[':
                continue
            m = OPTION.match(s)
            if m:
                self.options.append((m.group(1), m.group(2)))
        keys = {k for k, _ in self.options}
        if 'ioengine' in keys:
            raise CorpusError(f'{path}: sets ioengine; the runner does')
        clocked = sorted(k for k in keys if CLOCKED.match(k))
        if clocked:
            why = f'clock-bound ({", ".join(clocked)})'
            self.counts_off = self.counts_off or why
            self.image_off = self.image_off or why
        directs = {v for k, v in self.options if k == 'direct'}
        if len(directs) > 1:
            raise CorpusError(f'{path}: more than one direct= value')
        self.direct = directs.pop() if directs else None

    def _header(self, key, value):
        if key == 'targets':
            t = tuple(value.split())
            if not t or any(x not in TARGETS for x in t):
                raise CorpusError(f'{self.path}: fidelity-targets: {value!r}')
            self.targets = t
        elif key == 'reference':
            eng = re.split(r'[\s\u2014-]', value, 1)[0]
            why = value[len(eng):].strip(' -\u2014:')
            if eng not in REFERENCES or not why:
                raise CorpusError(f'{self.path}: fidelity-reference needs '
                                  f'one of {REFERENCES} and a reason')
            self.reference, self.reference_why = eng, why
        elif key == 'image':
            self.image_off = _off(value, key, self.path)
        elif key == 'counts':
            self.counts_off = _off(value, key, self.path)
        elif key == 'pending':
            self.pending = value
        elif key == 'refused':
            self.refused = value
        elif key == 'fallback':
            m = re.match(r'device\b\s*[-\u2014:]*\s*(.+)$', value)
            if not m:
                raise CorpusError(f'{self.path}: fidelity-fallback: write '
                                  f'"device - reason", got {value!r}')
            self.fallback_device = m.group(1)
        else:
            raise CorpusError(f'{self.path}: unknown header fidelity-{key}')

    def directs(self, wanted):
        """The direct= values to run this job with, of @wanted."""
        if self.direct is not None:
            return [self.direct] if self.direct in wanted else []
        return list(wanted)

    @property
    def names_target(self):
        """The job places its own file(s) with ${FIDELITY_TARGET}."""
        return '${FIDELITY_TARGET}' in self.text


def load(patterns=()):
    jobs = []
    for path in sorted(glob.glob(os.path.join(JOBS_DIR, '*.fio'))):
        job = Job(path)
        if not patterns or any(p in job.name for p in patterns):
            jobs.append(job)
    return jobs
