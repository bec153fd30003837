"""Instructions per I/O under callgrind: fio's io_uring against fio-bounce.

The one speed figure this shared, noisy machine does not move. Each side of
a row runs under 'valgrind --tool=callgrind' twice, with number_ios=20000
and 40000, and that three times, interleaved with the other side (the
figure is each side's median); (Ir(40000) - Ir(20000)) / 20000 is the user-space instructions
per I/O with fio's start-up and teardown (and the engine's load-time copy
calibration) cancelled out. All threads are counted (fio runs with
thread=1, so the job is in the one process callgrind follows).

Rows (issue 8), on the bench's 4Kn loop device, same options both sides:
    4K randread QD1                   fio-bounce / io_uring     target <= 1.00
    4K randread QD32                  fio-bounce / io_uring     target <= 1.00
    4K randread QD32 iomem_align=7    fio-bounce / the aligned  target <= 1.30
                                      io_uring job (fio-bounce's bounce
                                      path against what it replaces)

fio-bounce runs with FIOB_COPY=avx2: under valgrind the copy calibration
cannot time anything (and valgrind counts rep movsb once per byte), so the
routine is fixed, and the bounced row counts the same copy in every run.

Used by bench.py ('make bench'); also runs on its own, e.g. for the per-
function breakdown of the engine's own code:

    python3 bench/callgrind.py --dev /dev/loopN --engine engine/fio-bounce.so
        [--only QD1] [--functions] [--keep DIR]

--functions prints, per row and side, the per-I/O instructions of every
function (self and inclusive, the difference of the two runs again) in
fio-bounce.so, fio's io_uring engine and liburing.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SECTION = 'instructions per I/O (callgrind)'
N1, N2 = 20000, 40000
# Runs per side and row, interleaved (ref, bounce, ref, ...); a row's figure
# is each side's median. fio's own share of the count is not fixed: how many
# CQEs each getevents finds depends on timing, and moves a QD32 total by up
# to +-50 between runs of one build (the engine's own count does not move).
REPEATS = 3
COMMON = {'direct': 1, 'thread': 1, 'norandommap': 1, 'randrepeat': 1}
JOB = {'rw': 'randread', 'bs': '4k'}
ROWS = [
    # name, iodepth, the fio-bounce side's own options, target
    ('4K randread QD1', 1, {}, 1.00),
    ('4K randread QD32', 32, {}, 1.00),
    ('4K randread QD32 iomem_align=7', 32, {'iomem_align': 7}, 1.30),
]
COPY_ROUTINE = 'avx2'


class CallgrindError(Exception):
    pass


def options(dev, engine, qd, side, extra):
    opts = {'ioengine': 'io_uring'} if side == 'ref' else \
        {'ioengine': f'external:{engine}', 'bounce': 'auto'}
    opts |= COMMON | JOB | {'filename': dev, 'iodepth': qd}
    return opts | (extra if side == 'bounce' else {})


def count(opts, n, out, timeout=900):
    """Total Ir of one fio run of n I/Os under callgrind."""
    cmd = ['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}',
           'fio', '--name=cg', '--output=/dev/null', f'--number_ios={n}',
           *(f'--{k}={v}' for k, v in opts.items())]
    env = dict(os.environ, FIOB_COPY=COPY_ROUTINE)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       timeout=timeout)
    m = re.search(r'^(?:summary|totals): (\d+)', Path(out).read_text()
                  if Path(out).exists() else '', re.M)
    if r.returncode or not m:
        tail = ' | '.join(r.stderr.strip().splitlines()[-3:])
        raise CallgrindError(f'fio under callgrind exited {r.returncode}: '
                             f'{tail or "(no output)"}')
    return int(m.group(1))


def per_io(opts, tmp, tag):
    outs = [tmp / f'cg.{tag}.{n}' for n in (N1, N2)]
    irs = [count(opts, n, out) for n, out in zip((N1, N2), outs)]
    return (irs[1] - irs[0]) / (N2 - N1), outs


def run_rows(dev, engine, tmp, only=None, log=print):
    """The section's rows: per-I/O Ir of each side and their ratio. A row
    that fails to run is an error row; the others still run."""
    if not shutil.which('valgrind'):
        log('  ERROR: valgrind is not installed (make bench installs it)')
        return [{'name': SECTION, 'target': None,
                 'error': 'valgrind is not installed'}]
    rows = []
    for name, qd, extra, target in ROWS:
        if only and only not in name and only not in SECTION:
            continue
        log(f'{name} (callgrind)')
        row = {'name': name, 'target': target}
        runs = {'ref': [], 'bounce': []}
        try:
            for rep in range(REPEATS):
                for side in ('ref', 'bounce'):
                    tag = (f'{side}.qd{qd}'
                           f'{".misaligned" if extra and side == "bounce" else ""}'
                           f'.r{rep}')
                    runs[side].append(per_io(
                        options(dev, engine, qd, side, extra), tmp, tag))
        except (CallgrindError, subprocess.TimeoutExpired) as e:
            log(f'  ERROR: {e}')
            rows.append(row | {'error': str(e)})
            continue
        for side in ('ref', 'bounce'):
            ordered = sorted(runs[side], key=lambda run: run[0])
            row[side], row[f'{side}_files'] = ordered[len(ordered) // 2]
            row[f'{side}_runs'] = [run[0] for run in runs[side]]
        row['ratio'] = row['bounce'] / row['ref']
        row['result'] = 'PASS' if row['ratio'] <= target else 'MISS'
        log(f'  io_uring {row["ref"]:.0f}, fio-bounce {row["bounce"]:.0f}'
            f' instructions/I/O: {row["ratio"]:.3f} (runs: io_uring '
            f'{spread(row["ref_runs"])}, fio-bounce '
            f'{spread(row["bounce_runs"])})')
        for side in ('ref', 'bounce'):
            row[f'{side}_files'] = [str(p) for p in row[f'{side}_files']]
        rows.append(row)
    return rows


def spread(values):
    return '/'.join(f'{v:.0f}' for v in values)


def format_rows(rows):
    head = (f'{"workload":42} {"io_uring":>9} {"fio-bounce":>10} '
            f'{"ratio":>6} {"target":>7}  result')
    lines = [f'\n[{SECTION}] (Ir({N2}) - Ir({N1})) / {N2 - N1}, thread=1, '
             f'fio-bounce with FIOB_COPY={COPY_ROUTINE}; median of '
             f'{REPEATS} interleaved runs per side (each run below)',
             head, '-' * len(head)]
    for r in rows:
        if 'error' in r:
            lines.append(f'{r["name"]:42} ERROR: {r["error"]}')
            continue
        ref = 'io_uring (aligned job)' if 'iomem' in r['name'] else ''
        lines.append(f'{r["name"]:42} {r["ref"]:9.0f} {r["bounce"]:10.0f} '
                     f'{r["ratio"]:6.3f} {"<=" + format(r["target"], ".2f"):>7}'
                     f'  {r["result"]}{"  (vs " + ref + ")" if ref else ""}')
        lines.append(f'{"  runs":42} {spread(r["ref_runs"]):>9} '
                     f'{spread(r["bounce_runs"]):>10}')
    return '\n'.join(lines)


# ---- per-function breakdown (analysis) -----------------------------------

FN_LINE = re.compile(r'^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*?):(\S+)'
                     r'(?:\s+\[(.*)\])?\s*$')
# What each part of the count belongs to, from the file or object name.
OWNERS = (('fio-bounce', ('engine/fio', 'fio-bounce')),
          ('io_uring engine', ('engines/io_uring',)),
          ('liburing', ('liburing',)))


def annotate(path, inclusive):
    """{function: [Ir, owner]} from callgrind_annotate. A function's lines
    from several files (inlined headers) are summed."""
    r = subprocess.run(['callgrind_annotate',
                        f'--inclusive={"yes" if inclusive else "no"}',
                        '--threshold=100', str(path)],
                       capture_output=True, text=True, timeout=300)
    res = {}
    for line in r.stdout.splitlines():
        m = FN_LINE.match(line)
        if not m or 'PROGRAM TOTALS' in line:
            continue
        ir, where, fn = int(m.group(1).replace(',', '')), m.group(2), m.group(3)
        entry = res.setdefault(fn, [0, None])
        entry[0] += ir
        for owner, keys in OWNERS:
            if any(k in where or k in (m.group(4) or '') for k in keys):
                entry[1] = entry[1] or owner
    return res


def functions(files):
    """[(function, owner, self per I/O, inclusive per I/O)] of the engines'
    and liburing's functions: the difference of the two runs again."""
    out = {}
    for inclusive in (False, True):
        a, b = (annotate(f, inclusive) for f in files)
        for fn in set(a) | set(b):
            owner = (b.get(fn) or a.get(fn))[1]
            if not owner:
                continue
            v = (b.get(fn, [0])[0] - a.get(fn, [0])[0]) / (N2 - N1)
            out.setdefault(fn, [owner, 0.0, 0.0])[1 + inclusive] = v
    return sorted(((fn, *v) for fn, v in out.items()), key=lambda x: -x[2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dev', required=True, help='4Kn block device')
    ap.add_argument('--engine', required=True, type=Path)
    ap.add_argument('--only', help='rows whose name contains this')
    ap.add_argument('--functions', action='store_true',
                    help='per-function breakdown of each row')
    ap.add_argument('--keep', type=Path, help='keep the callgrind files here')
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix='fiob-cg-'))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        rows = run_rows(args.dev, args.engine.resolve(), tmp, args.only)
        print(format_rows(rows))
        for r in rows if args.functions else ():
            for side in ('ref', 'bounce'):
                if f'{side}_files' not in r:
                    continue
                print(f'\n{r["name"]}, {side}: per I/O, self / inclusive')
                for fn, owner, slf, inc in functions(r[f'{side}_files']):
                    if abs(slf) >= 0.5 or abs(inc) >= 0.5:
                        print(f'  {slf:8.1f} {inc:8.1f}  {fn} ({owner})')
    except CallgrindError as e:
        sys.exit(f'callgrind: {e}')
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
