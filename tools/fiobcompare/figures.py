"""Figures from fio's JSON+ output and fio-bounce's bounce_stats records:
per run (IOPS, bandwidth, CPU per I/O, latency bins) and per workload and
engine (medians over runs, percentiles of the merged latency bins, the
pairs' ratio with a 95% interval for its median)."""
import json
import statistics
from pathlib import Path

COUNTERS = ('passthrough', 'mem_bounced', 'window_reads', 'rmw_writes',
            'rmw_reads', 'bytes_copied', 'waits', 'ring_empty', 'short_done')
CURVE = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99)


def read_report(path):
    """fio's JSON document in @path (fio may print notes before it)."""
    text = Path(path).read_text()
    if '{' not in text:
        raise ValueError(f'{path} holds no JSON: {text[:200]!r}')
    doc, _ = json.JSONDecoder().raw_decode(text[text.index('{'):])
    return doc


def run_figures(job):
    """One fio job (one run) of a JSON+ report."""
    ios = [job[d] for d in ('read', 'write') if job[d]['total_ios']]
    iops = sum(d['iops'] for d in ios)
    bins = {}
    for d in ios:
        for k, v in d['clat_ns'].get('bins', {}).items():
            bins[int(k)] = bins.get(int(k), 0) + v
    cpu = job['usr_cpu'] + job['sys_cpu']
    return {'name': job['jobname'], 'error': job['error'], 'iops': iops,
            'bw_bytes': sum(d['bw_bytes'] for d in ios),
            'cpu_us_per_io': cpu * 1e4 / iops if iops else None,
            'bins': bins}


def percentile(bins, p):
    """The smallest latency (ns) with at least @p percent of the I/O at or
    below it, from fio's latency bins ({value: count})."""
    total = sum(bins.values())
    if not total:
        return None
    need, seen = total * p / 100.0, 0
    for value in sorted(bins):
        seen += bins[value]
        if seen >= need:
            return value
    return max(bins)


def engine_figures(runs):
    """Medians over an engine's runs of a workload, and its latency curve
    from all its runs' bins merged."""
    bins = {}
    for r in runs:
        for k, v in r['bins'].items():
            bins[k] = bins.get(k, 0) + v
    cpu = [r['cpu_us_per_io'] for r in runs if r['cpu_us_per_io'] is not None]
    return {'runs': len(runs),
            'iops': statistics.median(r['iops'] for r in runs),
            'mb_s': statistics.median(r['bw_bytes'] for r in runs) / 1e6,
            'cpu_us_per_io': statistics.median(cpu) if cpu else None,
            'lat_us': {str(p): percentile(bins, p) / 1e3 for p in CURVE}
            if bins else {}}


def counters(records):
    """fio-bounce's counters summed over its runs, and the alignment
    amplification: device bytes (both directions, RMW reads included) per
    user byte, from the device_bytes_* and user_bytes_* counters."""
    total = {}
    for rec in records:
        for k, v in rec['counters'].items():
            total[k] = total.get(k, 0) + v
    user = sum(total.get(f'user_bytes_{d}', 0) for d in ('read', 'write'))
    if user and 'device_bytes_read' in total:
        device = total['device_bytes_read'] + total['device_bytes_write']
        total['amplification'] = device / user
    return total


def ratio_figures(pairs, median_ci):
    """fio-bounce/io_uring IOPS per pair: median, 95% interval, min-max."""
    vals = [b['iops'] / a['iops'] for a, b in pairs]
    return {'median': statistics.median(vals),
            'ci95': median_ci(vals), 'min': min(vals), 'max': max(vals),
            'pairs': len(vals)}
