"""make bench: what a row's figures mean and how they print. The median of
a row's per-pair ratios with its distribution-free 95% interval, the
verdict against the target, and the table. See bench.py for the method."""
import math
import statistics


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


def verdict(ratio, target, foundation=False):
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
    return 'DEFECT' if foundation and hi < DEFECT_BELOW else 'MISS'


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
    calib = statistics.median(r['calibration_us'] for r in runs)
    return ('copy: A = aligned memcpy (median), B = slowest fiob_copy sample;'
            ' ratios are paired (see copybench).\n  worst ratio vs aligned /'
            ' vs glibc at the same d, per size, median over runs: '
            + ', '.join(parts) + f' (A/A control, memcpy vs itself at '
            f'the same d: worst {aa:.2f})\n  choice: {runs[0]["impl"]} '
            f'(calibration {calib:.0f} us CPU)\n  routine per size (offsets '
            'routed to it): '
            + '; '.join(f'{n >> 10}K {v}' for n, v in sizes.items())
            + ('\n  glibc memcpy has a 4K-aliasing cliff on this CPU'
               if any(r['cliff'] for r in runs) else
               '\n  no cliff on this CPU: glibc memcpy stays at '
               f'{cliff:.2f} of aligned at its worst distance'))


def print_report(res, sections=()):
    """The table, the copy detail, then @sections (text, e.g. the callgrind
    section), then the rows below target."""
    env, rows, settings = res['environment'], res['workloads'], res['settings']
    load = '/'.join(f'{env[k][0]:.1f}' for k in ('loadavg_start',
                                                  'loadavg_end'))
    print(f'\n{env["fio"]}, kernel {env["kernel"]}, {env["cpu"]} x'
          f'{env["cpus"]}, fio-bounce copy={env["copy_impl"]} slots '
          f'registered={env["slots_registered"]} zero_copy_fixed='
          f'{env.get("zero_copy_fixed", "unknown")} zero_copy_min='
          f'{env.get("zero_copy_min", "unknown")} (engine '
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
        if row.get('ref_engine', 'io_uring') != 'io_uring':
            # Column A is not stock io_uring here: say what it is.
            delta = ' '.join(f'{k}={v}' for k, v in row['ref_delta'].items())
            print(f'  (A = fio-bounce, {delta})')
    shown = set()   # the copy rows share their runs: one detail for both
    for row in rows:
        if 'runs' in row and id(row['runs']) not in shown:
            shown.add(id(row['runs']))
            print(copy_detail(row))
    amp = [(row['name'], row['amplification']) for row in rows
           if any((row.get('amplification') or {}).values())]
    if amp:
        print('alignment amplification, fio-bounce device bytes per user '
              'byte (RMW reads count as reads):')
        for name, a in amp:
            print(f'  {name:42} ' + ' '.join(
                f'{d} {a[d]:.2f}' for d in ('read', 'write', 'rmw_read')
                if a.get(d)))
    for text in sections:
        print(text)
    print(f'\nbelow target (the whole 95% interval): '
          f'{", ".join(res["misses"]) or "none"}')
    print(f'median below target, within this run\'s precision: '
          f'{", ".join(res["noise"]) or "none"}')
    if res['errors']:
        print(f'FAILED TO RUN: {", ".join(res["errors"])}')
    print(f'total {res["seconds"]:.0f} s')
