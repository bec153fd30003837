"""The Markdown report (report.md) and the figures behind it (summary.json).

Row formats are fixed here and nowhere else, so tests can recompute a row
from the fio JSON+ files and compare text with text."""
import json

from .figures import COUNTERS

TABLE_HEAD = ('| workload | io_uring IOPS | fio-bounce IOPS | ratio '
              '| 95% interval | io_uring MB/s | fio-bounce MB/s '
              '| p50 µs (A / B) | p99 µs (A / B) | p99.9 µs (A / B) '
              '| CPU µs/IO (A / B) |')
COUNTER_HEAD = ('| workload | ' + ' | '.join(COUNTERS) +
                ' | amplification |')
EINVAL_NOTE = 'EINVAL'


def num(v, digits):
    return '-' if v is None else f'{v:.{digits}f}'


def both(a, b, digits):
    return f'{num(a, digits)} / {num(b, digits)}'


def lat(side, p):
    return None if side is None else side['lat_us'].get(p)


def table_row(row):
    """One workload's row of the main table."""
    if 'error' in row:
        return f'| {row["name"]} | ERROR: {row["error"]} ' + '| ' * 9 + '|'
    a, b, r = row.get('ref'), row['bounce'], row.get('ratio')
    iops_a = EINVAL_NOTE if row['stock'] == 'EINVAL' else num(a['iops'], 0)
    mb_a = EINVAL_NOTE if row['stock'] == 'EINVAL' else num(a['mb_s'], 1)
    ci = (f'{r["ci95"][0]:.3f}-{r["ci95"][1]:.3f}'
          if r and r['ci95'] else '-')
    cells = [row['name'], iops_a, num(b['iops'], 0),
             num(r['median'], 3) if r else '-', ci, mb_a, num(b['mb_s'], 1),
             both(lat(a, '50'), lat(b, '50'), 1),
             both(lat(a, '99'), lat(b, '99'), 1),
             both(lat(a, '99.9'), lat(b, '99.9'), 1),
             both(a and a['cpu_us_per_io'], b['cpu_us_per_io'], 2)]
    return '| ' + ' | '.join(cells) + ' |'


def counter_row(row):
    c = row.get('counters', {})
    amp = (f'{c["amplification"]:.2f}' if 'amplification' in c
           else 'n/a')
    return ('| ' + ' | '.join([row['name'], *(str(c.get(k, '-'))
                                              for k in COUNTERS), amp]) +
            ' |')


def markdown(res):
    env, st = res['environment'], res['settings']
    rows = res['workloads']
    out = ['# fio-bounce against stock io_uring', '',
           f'- target: `{env["target"]}` ({env["target_desc"]}), '
           f'SIZE={st["size"]}',
           f'- {env["fio"]}, kernel {env["kernel"]}, {env["cpu"]} '
           f'x{env["cpus"]}, load average {env["loadavg_start"]:.1f} at the '
           f'start, {env["loadavg_end"]:.1f} at the end; engine '
           f'`{env["engine"]}` (sha256 {env["engine_sha256"]})',
           f'- {st["pairs"]} pairs per workload, runs of {st["runtime_ms"]} '
           f'ms after {st["ramp_ms"]} ms ramp, interleaved A B, B A, ... '
           f'(A = io_uring, B = fio-bounce); all runs of a workload are '
           f'stonewalled jobs of one fio invocation',
           '- ratio: median over pairs of B/A IOPS, with a distribution-free '
           '95% interval for that median ("-" with too few pairs); IOPS, '
           'MB/s and CPU µs/IO are medians over runs; latency percentiles '
           '(completion latency) come from the merged fio JSON+ bins of all '
           'runs of an engine', '',
           TABLE_HEAD, '|' + '---|' * 11]
    out += [table_row(r) for r in rows]
    einval = [r['name'] for r in rows if r.get('stock') == 'EINVAL']
    out += ['', 'Stock io_uring cannot run ' +
            (', '.join(f'`{n}`' for n in einval) +
             ' (EINVAL: Invalid argument); those rows show fio-bounce\'s '
             'figures alone.' if einval else 'nothing here: every workload '
             'ran on both engines.')]
    errors = [r['name'] for r in rows if 'error' in r]
    if errors:
        out += ['', f'FAILED TO RUN: {", ".join(errors)}']
    out += ['', '## fio-bounce counters (bounce_stats, summed over its runs)',
            '', COUNTER_HEAD, '|' + '---|' * (len(COUNTERS) + 2)]
    out += [counter_row(r) for r in rows if 'error' not in r]
    out += ['', 'amplification = (device_bytes_read + device_bytes_write) / '
            '(user_bytes_read + user_bytes_write): bytes the device moved, '
            'RMW reads included, per byte fio asked for.']
    out += ['', '## Plots', '']
    for p in res['plots']:
        out.append(f'![{p["title"]}]({p["png"]}) ([SVG]({p["svg"]}))')
    out += ['', f'Raw fio JSON+ of every run: `json/`; these figures: '
            f'`summary.json`. Total {res["seconds"]:.0f} s.', '']
    return '\n'.join(out)


def write(outdir, res):
    (outdir / 'summary.json').write_text(json.dumps(res, indent=1) + '\n')
    (outdir / 'report.md').write_text(markdown(res))
