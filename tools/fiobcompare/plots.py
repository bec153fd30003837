"""Plots with matplotlib (Debian's python3-matplotlib), as SVG and PNG.

Every data series carries an SVG id (gid): 'series-io_uring',
'series-fio-bounce', 'series-ratio', so a reader (or a test) can find them.
Text stays text in the SVG (svg.fonttype none)."""
import math

from .figures import CURVE


def load_matplotlib():
    import matplotlib
    matplotlib.use('Agg')
    matplotlib.rcParams['svg.fonttype'] = 'none'
    matplotlib.rcParams['svg.hashsalt'] = 'fio-bounce'
    import matplotlib.pyplot as plt
    return plt


def save(plt, fig, outdir, stem, title):
    for ext in ('svg', 'png'):
        fig.savefig(outdir / f'{stem}.{ext}', dpi=100)
    plt.close(fig)
    return {'title': title, 'svg': f'{stem}.svg', 'png': f'{stem}.png'}


def ratio_plot(plt, outdir, rows):
    """fio-bounce/io_uring IOPS ratio per workload, with its 95% interval;
    workloads stock io_uring cannot run are named, without a bar."""
    rows = [r for r in rows if 'error' not in r]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.6))
    ys = list(range(len(rows)))[::-1]
    pts = [(y, r) for y, r in zip(ys, rows) if r.get('ratio')]
    if pts:
        med = [r['ratio']['median'] for _, r in pts]
        lo = [m - (r['ratio']['ci95'] or (m, m))[0] for m, (_, r) in
              zip(med, pts)]
        hi = [(r['ratio']['ci95'] or (m, m))[1] - m for m, (_, r) in
              zip(med, pts)]
        ax.errorbar(med, [y for y, _ in pts], xerr=[lo, hi], fmt='o',
                    capsize=3, color='tab:blue', gid='series-ratio',
                    label='median ratio, 95% interval')
    for y, r in zip(ys, rows):
        if r.get('stock') == 'EINVAL':
            ax.text(1.0, y, '  io_uring: EINVAL (fio-bounce only)',
                    va='center', fontsize=8, color='tab:red')
    ax.axvline(1.0, color='grey', lw=0.8, ls='--')
    ends = [v for _, r in pts for v in (r['ratio']['ci95'] or
                                        (r['ratio']['median'],) * 2)]
    ax.set_xlim(min(ends + [1.0]) - 0.1, max(ends + [1.0]) + 0.3)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_yticks(ys)
    ax.set_yticklabels([r['name'] for r in rows], fontsize=8)
    ax.set_xlabel('fio-bounce IOPS / io_uring IOPS')
    ax.set_title('IOPS ratio per workload (1.0 = same as stock io_uring)')
    if pts:
        ax.legend(loc='best', fontsize=8)
    fig.tight_layout()
    return save(plt, fig, outdir, 'ratio', 'IOPS ratio per workload')


def nines(p):
    return -math.log10(1 - p / 100.0)


def latency_plot(plt, outdir, row):
    """Completion latency percentiles of both engines for one workload."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    xs = [nines(p) for p in CURVE]
    for side, label, color in (('ref', 'io_uring', 'tab:orange'),
                               ('bounce', 'fio-bounce', 'tab:blue')):
        fig_side = row.get(side)
        if not fig_side or not fig_side['lat_us']:
            continue
        ys = [fig_side['lat_us'][str(p)] for p in CURVE]
        ax.plot(xs, ys, marker='.', color=color, label=label,
                gid=f'series-{label}')
    if row.get('stock') == 'EINVAL':
        ax.text(0.02, 0.95, 'io_uring: EINVAL (cannot run this job)',
                transform=ax.transAxes, va='top', color='tab:red')
    ticks = [p for p in CURVE if p >= 50]
    ax.set_xticks([nines(p) for p in ticks])
    ax.set_xticklabels([f'{p:g}' for p in ticks], fontsize=8)
    ax.set_xlabel('percentile')
    ax.set_ylabel('completion latency (µs)')
    ax.set_yscale('log')
    ax.grid(True, which='both', alpha=0.3)
    ax.set_title(f'{row["name"]}: latency percentiles')
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(plt, fig, outdir, f'latency-{row["name"]}',
                f'{row["name"]} latency percentiles')


def draw(outdir, rows):
    plt = load_matplotlib()
    plots = [ratio_plot(plt, outdir, rows)]
    plots += [latency_plot(plt, outdir, r) for r in rows if 'error' not in r]
    return plots
