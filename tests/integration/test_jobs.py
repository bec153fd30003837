"""The job library: every job file under jobs/ runs, scaled down through its
SIZE variable, on the kind of target its header names, and does what its
header states, so no job can rot.

A job's header is a block of '; Key: value' lines (continuation lines start
with ';   '). The fields the tests read and check:

  Target:          4kn, 512n, ext4 or any: the target the test makes for it
  Destroys data:   'yes ...' exactly when a section writes
  Stock io_uring:  'fails with EINVAL' or 'runs': the same file is run on
                   fio's io_uring on the same kind of target and must agree
  Counters:        'name>0' / 'name=0' checks on the engine's bounce_stats
                   counters of the job named after the file (the last
                   section in jobs/demo-misaligned.fio)
  File size:       ${SIZE}: the target file ends exactly SIZE bytes long

Regression jobs (jobs/regression/, and the demo) must verify: their main
job has verify= set and read data back (read bytes > 0). A/B workloads
(jobs/ab/) are written once for both engines: one job section, ioengine
taken from ${ENGINE}.
"""
import os
import re

from fiobtest import (Fail, check, expect_error, expect_ok, fio_file,
                      targets, test)

EINVAL = 22
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
JOBS = os.path.join(TOP, 'jobs')
# Scaled down: not a multiple of 4096, so EOF growth crosses a block.
REGRESSION_SIZE = 1001000
AB_SIZE = 4 << 20
FIELD = re.compile(r'^; ([A-Z][\w ]*?)(?: on 4Kn)?: (.*)$')
WRITES = re.compile(r'^rw=(write|randwrite|rw|readwrite|randrw|trim|'
                    r'randtrim|trimwrite)\s*$', re.M)


def job_files(sub):
    d = os.path.join(JOBS, sub)
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.endswith('.fio'))


def header(path):
    """The '; Key: value' fields of a job file's header."""
    fields, key = {}, None
    for line in open(path):
        if not line.startswith(';'):
            break
        m = FIELD.match(line.rstrip('\n'))
        if m:
            key = m.group(1)
            fields[key] = m.group(2).strip()
        elif key and line.startswith(';   ') and not \
                line.startswith(';   ENGINE=') and \
                not line.startswith(';   TARGET='):
            fields[key] += ' ' + line[1:].strip()
        else:
            key = None
    return fields


def sections(text):
    """[(name, [option lines])] of a job file, [global] included."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in ';#':
            continue
        if line.startswith('[') and line.endswith(']'):
            out.append((line[1:-1], []))
        elif out:
            out[-1][1].append(line)
    return out


def counter_checks(spec):
    checks = []
    for item in spec.split():
        m = re.fullmatch(r'(\w+)(>0|=0)', item)
        if not m:
            raise Fail(f'bad Counters item {item!r}')
        checks.append((m.group(1), m.group(2)))
    return checks


def main_job(path, text):
    stem = os.path.basename(path)[:-4]
    names = [n for n, _ in sections(text) if n != 'global']
    return stem if stem in names else names[-1]


def make_target(ctx, kind, name):
    """A fresh target of @kind: a device path, or a file path on ext4."""
    if kind == '512n':
        return targets.loop(ctx, 512, 64 << 20)
    if kind == 'ext4':
        return os.path.join(targets.ext4(ctx, 4096, 128 << 20),
                            name + '.bin')
    if kind in ('4kn', 'any'):
        return targets.loop(ctx, 4096, 64 << 20)
    raise Fail(f'unknown Target kind {kind!r}')


def check_header(path, fields, text):
    rel = os.path.relpath(path, JOBS)
    for key in ('Target', 'Destroys data', 'Stock io_uring', 'Counters'):
        check(key in fields, f'jobs/{rel}: header has no "{key}:" line')
    writes = bool(WRITES.search(text))
    check(fields['Destroys data'].startswith('yes') == writes,
          f'jobs/{rel}: "Destroys data: {fields["Destroys data"]}" but the '
          f'job {"writes" if writes else "only reads"}')
    check('size=${SIZE}' in text.replace(' ', ''),
          f'jobs/{rel} is not scaled by size=${{SIZE}}')


def counters_of(r, job):
    recs = [s['counters'] for s in r.stats if s['job'] == job]
    check(recs, f'no bounce_stats record for job {job!r}: {r.stats}')
    total = {}
    for c in recs:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return total


def run_job(ctx, path, size, regression):
    text = open(path).read()
    fields = header(path)
    check_header(path, fields, text)
    rel = os.path.relpath(path, JOBS)
    kind = fields['Target'].split()[0]
    env = {'SIZE': str(size)}
    env['TARGET'] = make_target(ctx, kind, 'bounce')
    r = expect_ok(fio_file(ctx, path, 'bounce', env), f'jobs/{rel}')
    job = main_job(path, text)
    c = counters_of(r, job)
    for name, cond in counter_checks(fields['Counters']):
        ok = c.get(name, -1) > 0 if cond == '>0' else c.get(name, -1) == 0
        check(ok, f'jobs/{rel}: header says {name}{cond}, counters of '
              f'{job}: {c}')
    if regression:
        opts = dict(o.split('=', 1) for _, lines in sections(text)
                    for o in lines if '=' in o)
        check(opts.get('verify', 'none') not in ('none', '0'),
              f'jobs/{rel} does not verify')
        rd = [j['read']['io_bytes'] for j in r.jobs() if j['jobname'] == job]
        check(rd and rd[0] > 0, f'jobs/{rel}: {job} read nothing back, so '
              f'nothing was verified')
    if 'File size' in fields:
        st = os.stat(env['TARGET']).st_size
        check(st == size, f'jobs/{rel}: the file is {st} bytes, its header '
              f'says ${{SIZE}} = {size}: {c}')
    # The same file on stock io_uring, on a fresh target of the same kind.
    env['TARGET'] = make_target(ctx, kind, 'stock')
    stock = fio_file(ctx, path, 'io_uring', env)
    if 'EINVAL' in fields['Stock io_uring']:
        expect_error(stock, EINVAL, f'jobs/{rel} on stock io_uring')
    elif fields['Stock io_uring'].startswith('runs'):
        expect_ok(stock, f'jobs/{rel} on stock io_uring')
    else:
        raise Fail(f'jobs/{rel}: "Stock io_uring: '
                   f'{fields["Stock io_uring"]}" is neither "runs" nor EINVAL')


def register(path, sub, size):
    rel = os.path.relpath(path, JOBS)
    fields = header(path)
    regression = sub != 'ab'
    what = ('verifies, with the counters its header states'
            if regression else 'runs with the counters its header states')

    def scenario(ctx):
        if not regression:
            text = open(path).read()
            jobs = [n for n, _ in sections(text) if n != 'global']
            check(len(jobs) == 1, f'jobs/{rel}: an A/B workload has one job '
                  f'section, not {jobs}')
            check('ioengine=${ENGINE}' in text, f'jobs/{rel} does not take '
                  f'its engine from ${{ENGINE}}')
        run_job(ctx, path, size, regression)

    test(f'jobs/{rel} ({fields.get("Target", "?").split()[0]}, '
         f'SIZE={size}) {what}, and stock io_uring '
         f'{fields.get("Stock io_uring", "?")}', timeout=180,
         name=rel[:-4])(scenario)


for _sub, _size in (('regression', REGRESSION_SIZE), ('ab', AB_SIZE)):
    for _path in job_files(_sub):
        register(_path, _sub, _size)
for _path in sorted(os.listdir(JOBS)):
    if _path.endswith('.fio'):
        register(os.path.join(JOBS, _path), 'top', REGRESSION_SIZE)


@test('every .fio under jobs/ is in a directory the tests run')
def all_jobs_covered(ctx):
    known = {'', 'regression', 'ab'}
    for d, _, files in os.walk(JOBS):
        rel = os.path.relpath(d, JOBS)
        rel = '' if rel == '.' else rel
        if any(f.endswith('.fio') for f in files):
            check(rel in known, f'jobs/{rel}/ holds job files no test runs')
