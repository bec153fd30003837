"""make bench: fio's io_uring engine against fio-bounce, interleaved.

Usage (root; 'make bench' sets both variables and runs it with defaults):

    FIOB_ENGINE=/abs/fio-bounce.so FIOB_COPYBENCH=/abs/build/copybench \\
        python3 bench/bench.py [--pairs N] [--runtime-ms MS] [--ramp-ms MS]
                               [--copy-runs N] [--only TEXT] [--json FILE]

    'make bench FIOB_BENCH_PAIRS=3' (or that variable in the environment)
    sets the default number of pairs; --only runs the rows whose name
    contains TEXT (e.g. --only QD32, --only copy).

What runs
    One 4Kn loop device (4096-byte sectors) over a 1 GiB file in /dev/shm,
    filled with non-zero data first so reads hit real pages, not holes. Both
    engines run on that same device in the same run. The device and its file
    are made here and released on every exit path (errors, Ctrl-C, SIGTERM,
    SIGHUP); only loop devices backed by this run's own file are detached.
    The engine and copybench are copied aside first, so another rebuild
    during the run cannot mix two builds (results.json records their hash).

    Foundation rows: the same aligned job on fio's io_uring and on fio-bounce
    (bounce=auto, so every I/O passes straight through). Bounce-core rows: a
    misaligned job on fio-bounce against the aligned job it becomes, run on
    stock io_uring: iomem_align=7 against the same job without it; 4K at
    512-byte offsets (blockalign=512) against 8K aligned I/O, the window
    fio-bounce actually moves (an RMW write against a plain 8K write). The
    copy rows run copybench (fiob_copy at every distance 0..4095, 4K, 128K
    and 1M, both directions, against an aligned memcpy sampled next to it
    and against memcpy at the same distance) --copy-runs times; a run's
    figure is its worst ratio over sizes and directions. They also name the
    routine the engine chose per size and say whether glibc has a cliff.

    Both sides of a row get identical fio options except the engine (and, in
    bounce-core rows, the misalignment itself): direct=1, thread, the same
    iodepth, time_based runtime after ramp_time, norandommap (needed once
    blockalign < bs, so used everywhere) with randrepeat, so both sides see
    the same offsets. fio's io_uring is left at its defaults, which are what
    fio-bounce does: it probes and uses non-vectored IORING_OP_READ/WRITE;
    hipri, fixedbufs, registerfiles and sqthread_poll are off on both sides
    (except fixedbufs in the row marked so, below). So fio's own buffers are not registered on either side; fio-bounce
    registers its bounce slots, which are its own memory, in any case (the
    header line says whether it could), so bounced I/O is not pinned per I/O.
    One row, marked 'fixedbufs', sets fixedbufs=1 on both sides: neither
    side pins pages per I/O there, which leaves the copy's own cost. It has
    no target: the issue's targets compare against the same job as a user
    runs it, with fio's defaults.

Method
    The VM is shared: its speed drifts by tens of percent over seconds
    (io_uring at 4K QD32 in 100 ms windows, measured here: a mean of 184k
    IOPS with regimes from 150k to 245k lasting seconds), so IOPS taken at
    different moments cannot be compared. Each row runs as pairs, reference
    and fio-bounce back to back, interleaved A B, B A, A B ... (alternating
    who goes first, so a drift favours neither), and the figure of merit is
    the ratio inside each pair. All runs of a row are jobs of one fio
    invocation that run one after another (stonewall): no process start
    between the halves of a pair, which begin about half a second apart.
    Short runs and many pairs (51 of 250 ms by default) beat long runs: the
    halves of a pair stay close in time, and the median sheds the pairs a
    burst of host load hit. The first row is a control, io_uring against
    itself, measured the same way: how far its median strays from 1.00 is
    the precision of every other row in the same run. A row reports the
    median of its per-pair ratios (one disturbed pair cannot move it) and
    their min-max: a spread that straddles the target says noise, a spread
    wholly below it says a systematic gap. Median IOPS per engine are
    printed for scale only.

    CPU: fio's usr_cpu + sys_cpu of the job thread (after ramp), as a
    percentage and as microseconds of CPU per I/O (cpu% * 1e4 / IOPS); CPU
    time is not charged while a thread waits for the CPU, so us/IO is
    steadier than IOPS on a busy host. The loop device's own work runs in
    kernel workers and is in neither.

    Targets are per-row ratios: 1.00 for the foundation rows, 0.95 for the
    memory-bounced 4K row, 0.90 for 128K memory-bounced and 8K-window reads,
    0.80 for the copy against aligned memcpy and 0.95 against memcpy at the
    same distance; the RMW row and the fixedbufs row state their
    figures without a target.

    Instructions per I/O (callgrind, bench/callgrind.py): user-space
    instructions per I/O of fio's io_uring and of fio-bounce, from two
    runs under callgrind (number_ios 20000 and 40000), for 4K randread QD1,
    QD32 and QD32 iomem_align=7 (against the aligned io_uring job); targets
    ratio <= 1.00, 1.00, 1.30. Counts, not timings: noise does not move
    them.
    Each row also gets a distribution-free 95% confidence interval for its
    median (order statistics; with 51 pairs, the 19th and 33rd ratios). The
    verdict: PASS if the median reaches the target; NOISE if it does not but
    the interval does (this run cannot tell the row from its target: look
    at the control row and run again); MISS if the whole interval is below
    the target; DEFECT for a foundation row whose interval is below 0.97, a
    bug to fix rather than noise to explain.

    fio-bounce appends its counters to a bounce_stats file, checked after
    every run: aligned rows must pass through with nothing bounced, and each
    misaligned row must show its path (mem_bounced, window_reads or
    rmw_writes > 0). A row whose path did not run, or whose fio-bounce runs
    could not register their slots, is an error, not a result.

Output
    A table (workload, median IOPS per engine, median ratio, its 95%
    interval, min-max, CPU % and CPU us/IO per engine, target, verdict), the
    rows below target, and the environment (fio, kernel, CPU, the engine's
    copy implementation and slot registration as it logs them under
    --debug=io, load average). The same, with every run's raw figures and
    options, goes to bench/results.json.

    Exit status 0 when everything ran, misses included: speed is reported,
    never asserted (this is not part of 'make test'). 1 when something
    failed to run: device setup, a fio error, a row whose bounce path did not
    run, copybench failing (the other rows still run); 130 on Ctrl-C.
"""
import argparse
import contextlib
import hashlib
import json
import math
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
from dataclasses import dataclass, field
from pathlib import Path

import callgrind

HERE = Path(__file__).resolve().parent
DEVICE_BYTES = 1 << 30
SECTOR = 4096
CLEANUP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
BOUNCED = ('mem_bounced', 'window_reads', 'rmw_writes')
# Options both sides of every row share; the device and timing come later.
COMMON = {'direct': 1, 'thread': 1, 'time_based': 1, 'norandommap': 1,
          'randrepeat': 1}


class BenchError(Exception):
    """Something failed to run (not: something was slow)."""


@dataclass(frozen=True)
class Workload:
    name: str
    group: str          # 'control', 'foundation' or 'bounce-core'
    job: dict           # fio options both sides share
    path: str           # fio-bounce counter that must be > 0
    target: float | None
    ref: dict = field(default_factory=dict)     # the io_uring side's own
    bounce: dict = field(default_factory=dict)  # the fio-bounce side's own


def job(rw, qd, bs=None):
    """fio options of a row's shared job (bs left out: each side sets it)."""
    return {'rw': rw, 'iodepth': qd} | ({'bs': bs} if bs else {})


WORKLOADS = [
    # A/A: io_uring against itself, run exactly like the rows below. Its
    # spread is the method's own noise on this machine, in this run.
    Workload('4K randread QD32, io_uring vs itself', 'control',
             job('randread', 32, '4k'), None, None),
    Workload('4K randread QD1', 'foundation', job('randread', 1, '4k'),
             'passthrough', 1.00),
    Workload('4K randread QD32', 'foundation', job('randread', 32, '4k'),
             'passthrough', 1.00),
    Workload('128K seqread QD8', 'foundation', job('read', 8, '128k'),
             'passthrough', 1.00),
    Workload('4K randwrite QD32', 'foundation', job('randwrite', 32, '4k'),
             'passthrough', 1.00),
    Workload('4K randread QD32 iomem_align=7', 'bounce-core',
             job('randread', 32, '4k'), 'mem_bounced', 0.95,
             bounce={'iomem_align': 7}),
    # Both sides register fio's buffers: no pinning on either side, so this
    # row is the copy's own cost (fio-bounce's slots are registered anyway).
    Workload('4K randread QD32 iomem_align=7, fixedbufs', 'bounce-core',
             job('randread', 32, '4k') | {'fixedbufs': 1}, 'mem_bounced',
             None, bounce={'iomem_align': 7}),
    Workload('128K seqread QD8 iomem_align=7', 'bounce-core',
             job('read', 8, '128k'), 'mem_bounced', 0.90,
             bounce={'iomem_align': 7}),
    Workload('4K randread ba=512 QD32 vs 8K', 'bounce-core',
             job('randread', 32), 'window_reads', 0.90,
             ref={'bs': '8k'}, bounce={'bs': '4k', 'blockalign': 512}),
    Workload('4K randwrite ba=512 RMW QD32 vs 8K', 'bounce-core',
             job('randwrite', 32), 'rmw_writes', None,
             ref={'bs': '8k'}, bounce={'bs': '4k', 'blockalign': 512}),
]
COPY_NAME = 'copy worst distance (GB/s)'
COPY_TARGET = 0.80
COPY_SAME_NAME = 'copy vs glibc at the same distance'
COPY_SAME_TARGET = 0.95


# ---- the loop device ------------------------------------------------------

def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def fill(path):
    """Write DEVICE_BYTES of non-zero data, so reads hit real pages."""
    chunk = os.urandom(1 << 20)
    with open(path, 'wb') as f:
        for _ in range(DEVICE_BYTES // len(chunk)):
            f.write(chunk)


def attach(path):
    r = run(['losetup', '-f', '--show', '--sector-size', str(SECTOR), path])
    dev = r.stdout.strip()
    if r.returncode or not dev.startswith('/dev/loop'):
        raise BenchError(f'losetup failed: {r.stderr.strip() or dev!r}')
    queue = Path('/sys/block', Path(dev).name, 'queue')
    lbs = int((queue / 'logical_block_size').read_text())
    if lbs != SECTOR:
        raise BenchError(f'{dev} has {lbs}-byte sectors, wanted {SECTOR}')
    return dev


def release(path):
    """Detach the loop devices over @path (only ours: mkstemp made it), by
    asking losetup, so a device attached just before an interrupt goes too."""
    r = run(['losetup', '-j', path, '-n', '-O', 'NAME'])
    for dev in r.stdout.split():
        run(['losetup', '-d', dev])
    os.unlink(path)


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
            return attach(self.path)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc):
        if self.path:
            with signals_blocked():     # a second Ctrl-C cannot cut it short
                release(self.path)


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
    if side == 'ref' or wl.group == 'control':
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
    text = Path(out).read_text()
    report, _ = json.JSONDecoder().raw_decode(text[text.index('{'):])
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
    lines = Path(path).read_text().splitlines() if path.exists() else []
    return {rec['job']: rec for rec in map(json.loads, lines)}


def check_path(wl, c):
    """The I/O went the way the row claims, or the row is void."""
    if wl.path == 'passthrough':
        stray = {k: c[k] for k in BOUNCED if c[k]}
        if not c['passthrough'] or stray:
            raise BenchError(f'aligned job did not pass straight through: '
                             f'passthrough={c["passthrough"]} {stray}')
    elif not c[wl.path]:
        raise BenchError(f'bounce path did not run: {wl.path}=0 ({c})')


def pair_order(npairs):
    """(pair, side) in run order: A B, then B A, so a drift in machine
    speed favours neither side."""
    for i in range(npairs):
        for side in (('ref', 'bounce') if i % 2 == 0 else ('bounce', 'ref')):
            yield i, side


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


def median_ci(vals):
    """A distribution-free 95% confidence interval for the median: the
    order statistics x(k+1) and x(n-k), with the largest k for which
    P(Binomial(n, 1/2) < k+1) <= 2.5%. None when n is too small."""
    n, k, tail = len(vals), -1, 0.0
    while tail + math.comb(n, k + 1) / 2 ** n <= 0.025:
        k += 1
        tail += math.comb(n, k) / 2 ** n
    if k < 0:
        return None
    xs = sorted(vals)
    return xs[k], xs[n - k - 1]


def summarize(pairs, key):
    vals = [p[key] for p in pairs]
    return {'median': statistics.median(vals), 'min': min(vals),
            'max': max(vals), 'ci95': median_ci(vals)}


DEFECT_BELOW = 0.97     # foundation rows: below this is a bug, not noise


def verdict(ratio, target):
    """PASS: median at or above target. NOISE: median below it, but the
    target is inside the median's 95% interval: this run cannot tell the
    row from the target. MISS: the whole interval is below the target;
    DEFECT for a foundation row whose interval is below 0.97."""
    if target is None:
        return '-'
    if ratio['median'] >= target:
        return 'PASS'
    hi = ratio['ci95'][1] if ratio.get('ci95') else ratio['median']
    if hi >= target:
        return 'NOISE'
    return 'DEFECT' if target >= 1.0 and hi < DEFECT_BELOW else 'MISS'


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
            'unit': 'IOPS',
            'options': {s: fio_options(ctx, wl, s) for s in ('ref', 'bounce')},
            'expected_path': wl.path, 'pairs': pairs, 'median': med,
            'ratio': ratio, 'result': verdict(ratio, wl.target)}


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
    rows = []
    for name, key, target in ((COPY_NAME, 'ratio', COPY_TARGET),
                              (COPY_SAME_NAME, 'same', COPY_SAME_TARGET)):
        ratio = summarize(runs, key)
        med = {s: {'rate': statistics.median(r['worst'][k] for r in runs)}
               for s, k in (('ref', 'aligned_memcpy_gbps'),
                            ('bounce', 'fiob_slowest_gbps'))}
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
    """The copy routine fio-bounce picked and whether it registered its
    slots, from its --debug=io line (fio writes debug output to --output,
    with the report)."""
    wl = next(w for w in WORKLOADS if w.group != 'control')
    opts = fio_options(ctx, wl, 'bounce')
    opts |= {'time_based': 0, 'ramp_time': 0, 'size': '4k'}
    out = ctx.tmp / 'probe.txt'
    run_fio(opts, out, extra=['--debug=io'])
    text = out.read_text(errors='replace')
    found = {k: re.search(rf'{k}=(\S+)', text)
             for k in ('copy', 'registered')}
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
            'slots_registered': probe['registered'], **builds,
            'loadavg_start': os.getloadavg(),
            'device': {'sector': SECTOR, 'bytes': DEVICE_BYTES,
                       'backing': '/dev/shm (tmpfs)'}}


# ---- report -------------------------------------------------------------

HEAD = (f'{"workload":42} {"io_uring":>10} {"fio-bounce":>10} {"ratio":>6} '
        f'{"95% CI":>11} {"min-max":>11} {"cpu% A":>6} {"cpu% B":>6} '
        f'{"us/IO A":>7} {"us/IO B":>7} {"target":>6}  result')


def fmt_row(row):
    if 'error' in row:
        return f'{row["name"]:42} ERROR: {row["error"]}'
    m, r = row['median'], row['ratio']
    cpu = ' '.join(f'{m[s][k]:{w}.{d}f}' if k in m[s] else f'{"-":>{w}}'
                   for k, w, d in (('cpu_pct', 6, 1), ('cpu_us_per_io', 7, 2))
                   for s in ('ref', 'bounce'))
    target = f'{row["target"]:.2f}' if row['target'] else '-'
    ci = (f'{r["ci95"][0]:5.3f}-{r["ci95"][1]:5.3f}' if r.get('ci95')
          else f'{"-":>11}')
    p = 0 if row['unit'] == 'IOPS' else 1
    return (f'{row["name"]:42} {m["ref"]["rate"]:10.{p}f} '
            f'{m["bounce"]["rate"]:10.{p}f} '
            f'{r["median"]:6.3f} {ci} {r["min"]:5.3f}-{r["max"]:5.3f} {cpu} '
            f'{target:>6}  {row["result"]}')


def copy_detail(row):
    """Per size and direction: median over runs of the worst ratios; the
    routine chosen per size; whether glibc has a cliff on this CPU."""
    runs, parts = row['runs'], []
    for i, first in enumerate(runs[0]['rows']):
        med = [statistics.median(r['rows'][i][k] for r in runs)
               for k in ('fiob_worst_ratio', 'fiob_vs_glibc_worst_ratio')]
        parts.append(f'{first["n"] >> 10}K {first["direction"]} '
                     f'{med[0]:.2f}/{med[1]:.2f}')
    aa = min(r['memcpy_aa_worst_ratio'] for run in runs for r in run['rows'])
    sizes = {r['n']: r['route'] for r in runs[0]['rows']}
    cliff = min(r['memcpy_worst'] for r in runs)
    return ('copy: A = aligned memcpy (median), B = slowest fiob_copy sample;'
            ' ratios are paired (see copybench).\n  worst ratio vs aligned /'
            ' vs glibc at the same d, per size, median over runs: '
            + ', '.join(parts) + f' (A/A control, memcpy vs itself at '
            f'the same d: worst {aa:.2f})\n  choice: {runs[0]["impl"]} '
            f'(calibration {statistics.median(r["calibration_us"] for r in runs):.0f}'
            ' us CPU)\n  routine per size (offsets routed to it): '
            + '; '.join(f'{n >> 10}K {v}' for n, v in sizes.items())
            + ('\n  glibc memcpy has a 4K-aliasing cliff on this CPU'
               if any(r['cliff'] for r in runs) else
               '\n  no cliff on this CPU: glibc memcpy stays at '
               f'{cliff:.2f} of aligned at its worst distance'))


def print_report(res):
    env, rows, settings = res['environment'], res['workloads'], res['settings']
    load = '/'.join(f'{env[k][0]:.1f}' for k in ('loadavg_start',
                                                  'loadavg_end'))
    print(f'\n{env["fio"]}, kernel {env["kernel"]}, {env["cpu"]} x'
          f'{env["cpus"]}, fio-bounce copy={env["copy_impl"]} slots '
          f'registered={env["slots_registered"]} (engine '
          f'{env["engine"]["sha256"]}, built {env["engine"]["built"]}), '
          f'load average start/end {load}')
    print(f'{settings["pairs"]} pairs per row (A=io_uring reference, '
          f'B=fio-bounce), {settings["runtime_ms"]} ms + '
          f'{settings["ramp_ms"]} ms ramp per run, all runs of a row in one '
          f'fio; copy: {settings["copy_runs"]} copybench runs')
    print(f'ratio = median over pairs of B/A IOPS; min-max over pairs; '
          f'cpu = fio usr+sys; us/IO = CPU us per I/O\n\n{HEAD}\n'
          f'{"-" * len(HEAD)}')
    group = None
    for row in rows:
        if row['group'] != group:
            group = row['group']
            print(f'[{group}]')
        print(fmt_row(row))
    for row in rows:
        if row['name'] == COPY_NAME and 'runs' in row:
            print(copy_detail(row))
    if res.get('callgrind'):
        print(callgrind.format_rows(res['callgrind']))
    print(f'\nbelow target (the whole 95% interval): '
          f'{", ".join(res["misses"]) or "none"}')
    print(f'median below target, within this run\'s precision: '
          f'{", ".join(res["noise"]) or "none"}')
    if res['errors']:
        print(f'FAILED TO RUN: {", ".join(res["errors"])}')
    print(f'total {res["seconds"]:.0f} s')


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pairs', type=int,
                    default=int(os.environ.get('FIOB_BENCH_PAIRS', 51)),
                    help='A/B pairs per row (default 51, or $FIOB_BENCH_PAIRS)')
    ap.add_argument('--runtime-ms', type=int, default=250,
                    help='ms per run (one fio job)')
    ap.add_argument('--ramp-ms', type=int, default=0,
                    help='ramp_time per run, ms')
    ap.add_argument('--copy-runs', type=int, default=3,
                    help='copybench runs for the copy row')
    ap.add_argument('--only', help='run only rows whose name contains this')
    ap.add_argument('--json', type=Path, default=HERE / 'results.json')
    args = ap.parse_args()
    if min(args.pairs, args.runtime_ms, args.copy_runs) < 1 or \
            args.ramp_ms < 0:
        ap.error('--pairs, --runtime-ms and --copy-runs must be >= 1, '
                 '--ramp-ms >= 0')
    return args


def selected(args):
    keep = (lambda n: args.only in n) if args.only else (lambda n: True)
    return [w for w in WORKLOADS if keep(w.name)], keep(COPY_NAME)


def guarded(name, group, target, fn, *args):
    """One row; if it fails to run, an error row, and the others go on."""
    print(name, flush=True)
    try:
        return fn(*args)
    except BenchError as e:
        print(f'  ERROR: {e}', flush=True)
        return {'name': name, 'group': group, 'target': target,
                'error': str(e)}


def bench(args, engine, copybench, tmp):
    workloads, with_copy = selected(args)
    engine, engine_id = snapshot(engine, tmp)
    copybench, copybench_id = snapshot(copybench, tmp)
    settings = {'pairs': args.pairs, 'runtime_ms': args.runtime_ms,
                'ramp_ms': args.ramp_ms, 'copy_runs': args.copy_runs}
    t0 = time.monotonic()
    rows = []
    with LoopDevice() as dev:
        ctx = Ctx(dev, str(engine), tmp, args.runtime_ms, args.ramp_ms)
        env = environment(ctx, {'engine': engine_id,
                                'copybench': copybench_id})
        print(f'device {dev} ({SECTOR}-byte sectors, {DEVICE_BYTES >> 20} MiB'
              f' in /dev/shm); copy={env["copy_impl"]}', flush=True)
        for wl in workloads:
            rows.append(guarded(wl.name, wl.group, wl.target, run_workload,
                                ctx, wl, args.pairs))
        cg_rows = callgrind.run_rows(dev, ctx.engine, tmp, args.only) \
            if not args.only or 'callgrind' in args.only or any(
                args.only in n for n, *_ in callgrind.ROWS) else []
    if with_copy:
        copy = guarded(COPY_NAME, 'bounce-core', COPY_TARGET, run_copy,
                       copybench, tmp, args.copy_runs)
        rows += copy if isinstance(copy, list) else [copy]
    env['loadavg_end'] = os.getloadavg()
    res = {'environment': env, 'settings': settings,
           'seconds': round(time.monotonic() - t0, 1), 'workloads': rows,
           'misses': [r['name'] for r in rows
                      if r.get('result') in ('MISS', 'DEFECT')] +
                     [f'{r["name"]} (callgrind)' for r in cg_rows
                      if r.get('result') == 'MISS'],
           'noise': [r['name'] for r in rows if r.get('result') == 'NOISE'],
           'errors': [r['name'] for r in rows + cg_rows if 'error' in r],
           'callgrind': cg_rows}
    print_report(res)
    args.json.write_text(json.dumps(res, indent=1) + '\n')
    print(f'wrote {args.json}')
    return 1 if res['errors'] else 0


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main():
    args = parse_args()
    engine = os.environ.get('FIOB_ENGINE')
    copybench = os.environ.get('FIOB_COPYBENCH')
    if not engine or not copybench:
        sys.exit('FIOB_ENGINE and FIOB_COPYBENCH must be set (use make bench)')
    if os.geteuid():
        sys.exit('bench.py needs root (it creates a loop device)')
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        with tempfile.TemporaryDirectory(prefix='fiob-bench-') as tmp:
            return bench(args, engine, copybench, Path(tmp))
    except BenchError as e:
        print(f'bench: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('bench: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
