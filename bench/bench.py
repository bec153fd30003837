"""make bench: fio's io_uring engine against fio-bounce, interleaved.

Usage (root; 'make bench' sets both variables and runs it with defaults):

    FIOB_ENGINE=/abs/fio-bounce.so FIOB_COPYBENCH=/abs/build/copybench \\
        python3 bench/bench.py [--pairs N] [--runtime-ms MS] [--ramp-ms MS]
                               [--copy-runs N] [--only TEXT] [--json FILE]

    'make bench FIOB_BENCH_PAIRS=3' (or that variable in the environment)
    sets the default number of pairs; --only runs the rows whose name
    contains TEXT (e.g. --only QD32, --only copy).

Modules
    bench.py (this: options, the run, results.json), workloads.py (the
    rows), runner.py (the device, fio and copybench runs, path checks),
    report.py (medians, intervals, verdicts, the table), peers.py (QEMU's
    qemu-img bench, -t none -i io_uring, against fio-bounce on the same
    device and workloads, in interleaved rounds: IOPS, their ratio, each
    tool's misaligned/aligned ratio). The loop device and
    fio's JSON and bounce_stats outputs go through the test harness's own
    helpers, tests/fiobtest/common.py.

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
    512-byte offsets (blockalign=512) as a user gets it (auto: zero copy on
    the span, else copied below the automatic threshold) against 8K
    aligned I/O, the window
    fio-bounce actually moves; 512-byte random reads against 4K aligned ones
    (fio#186's case). Zero-copy rows, zero copy forced at every size
    (bounce_zero_copy_min=0): the same 4K blockalign=512 reads and RMW
    writes (an RMW write against a plain 8K write), and 64K reads at
    blockalign=512 with and without zero copy against 68K aligned reads
    (where the two paths meet). Rows with window I/O also print the
    alignment amplification, fio-bounce's device bytes per
    user byte from its counters (RMW reads count as reads). The copy rows
    run copybench (fiob_copy at every distance 0..4095, 4K, 128K and 1M,
    both directions, against an aligned memcpy sampled next to it and
    against memcpy at the same distance) --copy-runs times; a run's figure
    is its worst ratio over sizes and directions. They also name the
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
    memory-bounced 4K row, 0.90 for 128K memory-bounced reads, 1.00 for the
    4K blockalign=512 reads of an 8K window (auto, and zero copy forced),
    0.80 for the copy against aligned memcpy and 0.95
    against memcpy at the same distance; the RMW
    row, the 512-byte row and the fixedbufs row state their figures
    without a target.

    Instructions per I/O (callgrind, bench/callgrind.py): user-space
    instructions per I/O of fio's io_uring and of fio-bounce, from two
    runs under callgrind (number_ios 20000 and 40000), for 4K randread QD1,
    QD32 and QD32 iomem_align=7 (against the aligned io_uring job); targets
    ratio <= 1.00, 1.00, 1.30. Counts, not timings, but fio's own share
    depends on how many completions each getevents finds: each side runs
    three times, interleaved, and the figure is its median (every run is
    printed). valgrind is installed by 'make bench'.
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
    rmw_writes > 0; zero-copy rows zero_copy > 0 and bytes_copied == 0,
    other rows zero_copy == 0, except the auto row, where the engine
    chooses). A row whose path did not run, or whose fio-bounce runs
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
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from report import print_report
from runner import (BenchError, Ctx, LoopDevice, environment,  # noqa: F401
                    run_copy, run_workload, snapshot)
from workloads import COPY_NAME, COPY_TARGET, DEVICE_BYTES, SECTOR, WORKLOADS

import callgrind  # noqa: E402  bench/callgrind.py: instructions per I/O

import peers  # noqa: E402  bench/peers.py: QEMU's block layer as a peer

HERE = Path(__file__).resolve().parent


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
    ap.add_argument('--only', help='run only rows whose name contains '
                    'this (\'peers\': only the QEMU peers section)')
    ap.add_argument('--peer-rounds', type=int, default=5,
                    help='rounds of the peers section (QEMU vs fio-bounce)')
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
    peer_res, cg_rows = None, []
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
        if not args.only or args.only in callgrind.SECTION or any(
                args.only in name for name, *_ in callgrind.ROWS):
            print(callgrind.SECTION, flush=True)
            cg_rows = callgrind.run_rows(dev, str(engine), tmp, args.only)
        if not args.only or args.only in peers.NAME:
            peer_res = peers.section(dev, str(engine), tmp, args.peer_rounds)
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
           'errors': [r['name'] for r in rows if 'error' in r] +
           [f'{r["name"]} (callgrind)' for r in cg_rows if 'error' in r] +
           (['peers'] if peer_res and 'error' in peer_res else []),
           'peers': peer_res, 'callgrind': cg_rows}
    print_report(res, [callgrind.format_rows(cg_rows)] if cg_rows else [])
    if peer_res:
        print(peers.report(peer_res))
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
