"""make bench: how a row runs. The loop device (on the harness's shared
helpers, tests/fiobtest/common.py), fio's job file for a row's interleaved
pairs, the checks that each fio-bounce run took the row's path, copybench,
and the environment probe. See bench.py for the method."""
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))

from fiobtest import common  # noqa: E402
from fiobtest.common import pair_order  # noqa: E402
from report import summarize, verdict  # noqa: E402
from workloads import (BOUNCED, COMMON, COPY_NAME, COPY_SAME_NAME,  # noqa: E402
                       COPY_SAME_TARGET, COPY_TARGET, DEVICE_BYTES, SECTOR,
                       WORKLOADS)

CLEANUP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


class BenchError(Exception):
    """Something failed to run (not: something was slow)."""


# ---- the loop device ------------------------------------------------------

def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def fill(path):
    """Write DEVICE_BYTES of non-zero data, so reads hit real pages."""
    chunk = os.urandom(1 << 20)
    with open(path, 'wb') as f:
        for _ in range(DEVICE_BYTES // len(chunk)):
            f.write(chunk)


@contextlib.contextmanager
def signals_blocked():
    """Ctrl-C and friends wait until the block is done."""
    signal.pthread_sigmask(signal.SIG_BLOCK, CLEANUP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, CLEANUP_SIGNALS)


class LoopDevice:
    """A 4Kn loop device over a fresh, filled 1 GiB file in /dev/shm."""

    def __enter__(self):
        self.path = None
        try:
            with signals_blocked():     # never a file we do not know of
                fd, self.path = tempfile.mkstemp(
                    dir='/dev/shm', prefix='fiob-bench-', suffix='.img')
                os.close(fd)
            fill(self.path)
            return common.attach_loop(self.path, SECTOR)
        except common.SetupError as e:
            self.__exit__()
            raise BenchError(str(e)) from e
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc):
        if self.path:
            with signals_blocked():     # a second Ctrl-C cannot cut it short
                # Only ours: mkstemp made the file.
                common.detach_backing(self.path)
                os.unlink(self.path)


# ---- fio ------------------------------------------------------------------

@dataclass
class Ctx:
    dev: str
    engine: str
    tmp: Path
    runtime_ms: int
    ramp_ms: int

    @property
    def run_s(self):
        return (self.runtime_ms + self.ramp_ms) / 1000


def fio_options(ctx, wl, side):
    """Every option of one side, engine first (its options follow it)."""
    if wl.group == 'control' or (side == 'ref' and
                                 wl.ref_engine == 'io_uring'):
        opts = {'ioengine': 'io_uring'}
    else:
        opts = {'ioengine': f'external:{ctx.engine}', 'bounce': 'auto',
                'bounce_stats': str(ctx.tmp / 'stats.json')}
    opts |= COMMON | {'filename': ctx.dev, 'runtime': f'{ctx.runtime_ms}ms',
                      'ramp_time': f'{ctx.ramp_ms}ms'}
    return opts | wl.job | (wl.ref if side == 'ref' else wl.bounce)


def run_fio(opts, out, extra=(), timeout=120):
    cmd = ['fio', '--output-format=json', f'--output={out}', '--name=bench',
           *extra, *(f'--{k}={v}' for k, v in opts.items())]
    fio_cmd(cmd, timeout)


def fio_cmd(cmd, timeout):
    r = run(cmd, timeout=timeout)
    if r.returncode:
        tail = ' | '.join(r.stderr.strip().splitlines()[-3:])
        raise BenchError(f'fio exited {r.returncode}: {tail or "(no stderr)"}')


def parse_jobs(out):
    """IOPS and CPU of each job in fio's JSON output file @out, by name."""
    report = common.fio_report(Path(out).read_text())
    if report is None:
        raise BenchError(f'no JSON report in {out}')
    res = {}
    for job in report['jobs']:
        name = job['jobname']
        if job['error']:
            raise BenchError(f'fio job {name} error {job["error"]}')
        iops = job['read']['iops'] + job['write']['iops']
        cpu = job['usr_cpu'] + job['sys_cpu']
        if iops <= 0:
            raise BenchError(f'fio job {name} did no I/O')
        res[name] = {'iops': iops, 'cpu_pct': cpu,
                     'cpu_us_per_io': cpu * 1e4 / iops}
    return res


def read_records(path):
    """fio-bounce's bounce_stats records, by job name."""
    return {rec['job']: rec for rec in common.bounce_stats(path)}


def check_path(wl, c):
    """The I/O went the way the row claims, or the row is void: zero-copy
    rows copy nothing, the others never go zero copy (unless the row lets
    the engine choose)."""
    if wl.path == 'zero_copy':
        if not c['zero_copy'] or c['bytes_copied']:
            raise BenchError(f'zero copy did not carry the row: '
                             f'zero_copy={c["zero_copy"]} '
                             f'bytes_copied={c["bytes_copied"]}')
    elif c.get('zero_copy') and not wl.either_path:
        raise BenchError(f'a copy row went zero copy: {c}')
    if wl.path == 'passthrough':
        stray = {k: c[k] for k in BOUNCED if c[k]}
        if not c['passthrough'] or stray:
            raise BenchError(f'aligned job did not pass straight through: '
                             f'passthrough={c["passthrough"]} {stray}')
    elif not c[wl.path]:
        raise BenchError(f'bounce path did not run: {wl.path}=0 ({c})')


def run_pairs(ctx, wl, npairs):
    """All of a row's runs in one fio invocation: one job per run, each
    waiting for the one before (stonewall), so the two halves of a pair run
    back to back, without a process start between them."""
    stats = ctx.tmp / 'stats.json'
    stats.unlink(missing_ok=True)
    text = '[global]\nstonewall\n'
    for i, side in pair_order(npairs):
        text += f'\n[{side}{i}]\n' + ''.join(
            f'{k}={v}\n' for k, v in fio_options(ctx, wl, side).items())
    jobfile, out = ctx.tmp / 'row.fio', ctx.tmp / 'row.json'
    jobfile.write_text(text)
    fio_cmd(['fio', '--output-format=json', f'--output={out}', str(jobfile)],
            timeout=120 + 2 * npairs * (ctx.run_s + 2))
    try:
        res, records = parse_jobs(out), read_records(stats)
        return [pair(wl, res[f'ref{i}'], res[f'bounce{i}'],
                     records.get(f'bounce{i}'), i) for i in range(npairs)]
    except (KeyError, ValueError, OSError) as e:  # JSON errors: ValueError
        raise BenchError(f'fio output incomplete: {e!r}') from e


def pair(wl, ref, bnc, rec, i):
    """One pair, once fio-bounce's record says its run went as the row
    claims (none to check in the control row: io_uring on both sides)."""
    if wl.group != 'control':
        if rec is None:
            raise BenchError(f'no bounce_stats record for bounce{i}')
        if not rec['slots_registered']:
            raise BenchError(f'bounce{i} ran without registered slots')
        bnc['counters'] = rec['counters']
        check_path(wl, bnc['counters'])
    return {'ref': ref, 'bounce': bnc, 'ratio': bnc['iops'] / ref['iops']}


def amplification(pairs):
    """fio-bounce's device bytes per user byte, each direction, over all
    its runs of a row (None where it moved no user bytes that way)."""
    tot = {}
    for p in pairs:
        for k, v in p['bounce'].get('counters', {}).items():
            tot[k] = tot.get(k, 0) + v
    amp = {d: (tot[f'device_bytes_{d}'] / tot[f'user_bytes_{d}']
               if tot.get(f'user_bytes_{d}') else None)
           for d in ('read', 'write')}
    # A write-only row's device reads are all RMW reads: per user write byte.
    if amp['write'] and not tot.get('user_bytes_read'):
        amp['rmw_read'] = tot['device_bytes_read'] / tot['user_bytes_write']
    return amp


def run_workload(ctx, wl, npairs):
    pairs = run_pairs(ctx, wl, npairs)
    r = sorted(p['ratio'] for p in pairs)
    print(f'  {npairs} pairs: ratio quartiles {r[len(r) // 4]:.3f} '
          f'{statistics.median(r):.3f} {r[(3 * len(r)) // 4]:.3f}',
          flush=True)
    ratio = summarize(pairs, 'ratio')
    med = {s: {'rate': statistics.median(p[s]['iops'] for p in pairs),
               **{k: statistics.median(p[s][k] for p in pairs)
                  for k in ('cpu_pct', 'cpu_us_per_io')}}
           for s in ('ref', 'bounce')}
    return {'name': wl.name, 'group': wl.group, 'target': wl.target,
            'unit': 'IOPS', 'ref_engine': wl.ref_engine, 'ref_delta': wl.ref,
            'options': {s: fio_options(ctx, wl, s) for s in ('ref', 'bounce')},
            'expected_path': wl.path, 'pairs': pairs, 'median': med,
            'amplification': amplification(pairs),
            'ratio': ratio, 'result': verdict(ratio, wl.target,
                                              wl.group == 'foundation')}


# ---- copy microbenchmark ---------------------------------------------------

def run_copybench(copybench, tmp):
    out = tmp / 'copy.json'
    r = run([str(copybench), '--json', str(out)], timeout=900)
    if r.returncode:
        raise BenchError(f'copybench exited {r.returncode}: {r.stderr[-600:]}')
    res = json.loads(out.read_text())
    rows = res['results']
    worst = min(rows, key=lambda x: x['fiob_worst_ratio'])
    same = min(rows, key=lambda x: x['fiob_vs_glibc_worst_ratio'])
    return {'ratio': worst['fiob_worst_ratio'], 'worst': worst,
            'same': same['fiob_vs_glibc_worst_ratio'], 'worst_same': same,
            'rows': rows, 'impl': res['impl'], 'cliff': res['cliff'],
            'memcpy_worst': res['memcpy_worst_vs_aligned'],
            'calibration_us': res['calibration_us']}


def run_copy(copybench, tmp, nruns):
    """Two rows from the same copybench runs: fiob_copy at its worst
    distance against aligned memcpy (target 0.80) and against memcpy at the
    same distance (target 0.95)."""
    runs = []
    for i in range(nruns):
        runs.append(run_copybench(copybench, tmp))
        w, s = runs[-1]['worst'], runs[-1]['worst_same']
        print(f'  run {i + 1}/{nruns}: worst vs aligned '
              f'{w["fiob_worst_ratio"]:.3f} (n={w["n"]} {w["direction"]} '
              f'd={w["fiob_worst_ratio_d"]}), vs glibc at d '
              f'{s["fiob_vs_glibc_worst_ratio"]:.3f} (n={s["n"]} '
              f'{s["direction"]} d={s["fiob_vs_glibc_worst_d"]})', flush=True)
    med = {s: {'rate': statistics.median(r['worst'][k] for r in runs)}
           for s, k in (('ref', 'aligned_memcpy_gbps'),
                        ('bounce', 'fiob_slowest_gbps'))}
    rows = []
    for name, key, target in ((COPY_NAME, 'ratio', COPY_TARGET),
                              (COPY_SAME_NAME, 'same', COPY_SAME_TARGET)):
        ratio = summarize(runs, key)
        rows.append({'name': name, 'group': 'bounce-core', 'target': target,
                     'unit': 'GB/s', 'runs': runs, 'median': med,
                     'ratio': ratio, 'result': verdict(ratio, target)})
    return rows


# ---- environment -----------------------------------------------------------

def cpu_model():
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return platform.processor() or 'unknown'


def engine_probe(ctx):
    """The copy routine fio-bounce picked, whether it registered its slots
    and whether zero-copy reads go as READV_FIXED, from its --debug=io line (fio writes debug output to --output,
    with the report)."""
    wl = next(w for w in WORKLOADS if w.group != 'control')
    opts = fio_options(ctx, wl, 'bounce')
    opts |= {'time_based': 0, 'ramp_time': 0, 'size': '4k'}
    out = ctx.tmp / 'probe.txt'
    run_fio(opts, out, extra=['--debug=io'])
    text = out.read_text(errors='replace')
    # \b: the file lines' zero_copy= must not pass for the init line's copy=.
    found = {k: re.search(rf'\b{k}=(\S+)', text)
             for k in ('copy', 'registered', 'zero_copy_fixed',
                       'zero_copy_min')}
    return {k: m.group(1) if m else 'unknown' for k, m in found.items()}


def snapshot(path, tmp):
    """A private copy of a build product, so that a rebuild during the run
    cannot mix two builds; returns the copy and what it was."""
    src = Path(path)
    if not src.is_file():
        raise BenchError(f'{src} is missing (make bench builds it)')
    dst = tmp / src.name
    shutil.copy2(src, dst)
    return dst, {'path': str(src), 'built': time.ctime(src.stat().st_mtime),
                 'sha256': hashlib.sha256(dst.read_bytes()).hexdigest()[:16]}


def environment(ctx, builds):
    probe = engine_probe(ctx)
    return {'fio': run(['fio', '--version']).stdout.strip(),
            'kernel': platform.release(), 'cpu': cpu_model(),
            'cpus': os.cpu_count(), 'copy_impl': probe['copy'],
            'slots_registered': probe['registered'],
            'zero_copy_fixed': probe['zero_copy_fixed'],
            'zero_copy_min': probe['zero_copy_min'], **builds,
            'loadavg_start': os.getloadavg(),
            'device': {'sector': SECTOR, 'bytes': DEVICE_BYTES,
                       'backing': '/dev/shm (tmpfs)'}}
