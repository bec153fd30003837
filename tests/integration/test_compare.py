"""tools/fio-bounce-compare on a tiny job set: its report's figures are the
ones in the fio JSON+ files it kept (recomputed here independently), its
plots are valid SVG and PNG that show both engines, and bad input is
refused with exit status 2 before anything is touched.
"""
import json
import math
import os
import re
import shutil
import statistics
import struct
import xml.etree.ElementTree as ET
import zlib

from fiobtest import check, common, targets, test
from fiobtest.fio import engine_path, fio_env

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOL = os.path.join(TOP, 'tools', 'fio-bounce-compare')
ALIGNED, EINVAL_JOB = 'rand-4k-qd32', 'iomem-align7-4k-qd32'
PAIRS = 6
SVG = '{http://www.w3.org/2000/svg}'


def compare(ctx, args, timeout=300):
    return ctx.run([TOOL, '--engine', engine_path(), *args],
                   timeout=timeout, check_rc=False, env=fio_env())


def tiny_run(ctx):
    jobs = ctx.tmpdir()
    for name in (ALIGNED, EINVAL_JOB):
        shutil.copy(os.path.join(TOP, 'jobs', 'ab', name + '.fio'), jobs)
    out = os.path.join(ctx.tmpdir(), 'report')
    r = compare(ctx, ['--jobs', jobs, '--out', out, '--pairs', str(PAIRS),
                      '--runtime-ms', '150', '--ramp-ms', '0',
                      '--scratch-mib', '32'])
    check(r.returncode == 0, f'compare exited {r.returncode}: '
          f'{(r.stderr or r.stdout)[-800:]}')
    return out


def table(md, head):
    """Rows of the Markdown table whose header starts with @head."""
    lines = md.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(head))
    rows = {}
    for ln in lines[start + 2:]:
        if not ln.startswith('|'):
            break
        cells = [c.strip() for c in ln.strip('|').split('|')]
        rows[cells[0]] = cells
    return rows


def pct(bins, p):
    total = sum(bins.values())
    seen = 0
    for v in sorted(bins):
        seen += bins[v]
        if seen >= total * p / 100.0:
            return v


def ci95(vals):
    """Order-statistic 95% interval of the median, computed directly."""
    n = len(vals)
    k = max(k for k in range(n // 2 + 1)
            if sum(math.comb(n, i) for i in range(k)) / 2 ** n <= 0.025)
    xs = sorted(vals)
    return (xs[k - 1], xs[n - k]) if k else None


def expected(jsondir, name):
    """The report's cells for @name, from fio's own JSON+ of its runs."""
    # fio may log around its JSON document (3.42 does after an EINVAL job).
    doc = common.fio_report(open(os.path.join(jsondir, name + '.json')).read())
    runs = {}
    for j in doc['jobs']:
        check(j['error'] == 0, f'{name}: run {j["jobname"]} failed')
        side = 'ref' if j['jobname'].startswith('ref') else 'bounce'
        ds = [j[d] for d in ('read', 'write') if j[d]['total_ios']]
        bins = {}
        for d in ds:
            for k, v in d['clat_ns']['bins'].items():
                bins[int(k)] = bins.get(int(k), 0) + v
        iops = sum(d['iops'] for d in ds)
        runs.setdefault(side, {})[j['jobname']] = {
            'iops': iops, 'bw': sum(d['bw_bytes'] for d in ds),
            'cpu': (j['usr_cpu'] + j['sys_cpu']) * 1e4 / iops, 'bins': bins}
    cells = {}
    for side, rs in runs.items():
        merged = {}
        for r in rs.values():
            for k, v in r['bins'].items():
                merged[k] = merged.get(k, 0) + v
        bw = statistics.median(r['bw'] for r in rs.values()) / 1e6
        cells[side] = {
            'iops': f'{statistics.median(r["iops"] for r in rs.values()):.0f}',
            'mb': f'{bw:.1f}',
            'cpu': f'{statistics.median(r["cpu"] for r in rs.values()):.2f}',
            **{p: f'{pct(merged, float(p)) / 1e3:.1f}'
               for p in ('50', '99', '99.9')}}
    if 'ref' in runs:
        ratios = [runs['bounce'][f'bounce{i}']['iops'] /
                  runs['ref'][f'ref{i}']['iops'] for i in range(PAIRS)]
        lo, hi = ci95(ratios)
        cells['ratio'] = f'{statistics.median(ratios):.3f}'
        cells['ci'] = f'{lo:.3f}-{hi:.3f}'
    return doc, cells


def check_row(row, exp, name):
    a, b = exp.get('ref'), exp['bounce']

    def pair(key):
        return f'{a[key] if a else "-"} / {b[key]}'
    want = [name, a['iops'] if a else 'EINVAL', b['iops'],
            exp.get('ratio', '-'), exp.get('ci', '-'),
            a['mb'] if a else 'EINVAL', b['mb'], pair('50'), pair('99'),
            pair('99.9'), pair('cpu')]
    check(row == want, f'{name}: report row {row} != from the JSON {want}')


def svg_series(path):
    root = ET.parse(path).getroot()
    check(root.tag == SVG + 'svg', f'{path}: root is {root.tag}')
    found = {}
    for el in root.iter():
        gid = el.get('id', '')
        if gid.startswith('series-'):
            pts = sum(len(re.findall(r'[ML]', p.get('d', '')))
                      for p in el.iter(SVG + 'path'))
            pts += len(list(el.iter(SVG + 'use')))
            found[gid] = found.get(gid, 0) + pts
    return found, ''.join(t.text or '' for t in root.iter(SVG + 'text'))


def png_pixels(path):
    """Width, height and the 8-bit RGB(A) samples of a PNG (no interlace),
    decoded here with zlib so the check does not trust the writer."""
    data = open(path, 'rb').read()
    check(data[:8] == b'\x89PNG\r\n\x1a\n', f'{path} is not a PNG')
    pos, idat, hdr = 8, b'', None
    while pos < len(data):
        ln, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        check(zlib.crc32(kind + body) == struct.unpack(
            '>I', data[pos + 8 + ln:pos + 12 + ln])[0], f'{path}: bad CRC')
        if kind == b'IHDR':
            hdr = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat += body
        pos += 12 + ln
    w, h, depth, ctype, _, _, interlace = hdr
    check(depth == 8 and ctype in (2, 6) and not interlace,
          f'{path}: unexpected PNG format {hdr}')
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(
            raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, ul = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + left) & 255
            elif f == 2:
                line[i] = (line[i] + up) & 255
            elif f == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif f == 4:
                pa, pb = abs(up - ul), abs(left - ul)
                pc = abs(left + up - 2 * ul)
                pr = left if pa <= pb and pa <= pc else up if pb <= pc else ul
                line[i] = (line[i] + pr) & 255
        out += line
        prev = line
    return w, h, bpp, out


def check_png(path):
    w, h, bpp, px = png_pixels(path)
    check(w >= 400 and h >= 200, f'{path}: {w}x{h} is too small')
    grey = [sum(px[i:i + 3]) / 3 for i in range(0, len(px), bpp * 7)]
    var = statistics.pvariance(grey)
    dark = sum(1 for g in grey if g < 128) / len(grey)
    check(var > 100 and 0.001 < dark < 0.5,
          f'{path}: looks blank (variance {var:.1f}, dark {dark:.3f})')


@test('fio-bounce-compare on a tiny job set: every figure of its report '
      'equals the one recomputed from the fio JSON+ it kept, the counters '
      'and the alignment amplification are its bounce_stats records, EINVAL '
      'is reported for the misaligned '
      'job, and the plots are valid SVG/PNG showing both engines',
      timeout=400)
def report_matches_json(ctx):
    out = tiny_run(ctx)
    md = open(os.path.join(out, 'report.md')).read()
    rows = table(md, '| workload | io_uring IOPS')
    jsondir = os.path.join(out, 'json')
    for name in (ALIGNED, EINVAL_JOB):
        doc, exp = expected(jsondir, name)
        check_row(rows.get(name), exp, name)
    # The bins method is fio's own: one run's p50 equals fio's percentile.
    job = doc['jobs'][0]
    rd = job['read']['clat_ns']
    check(pct({int(k): v for k, v in rd['bins'].items()}, 50) ==
          rd['percentile']['50.000000'], 'p50 from the bins differs from '
          'fio\'s own')
    probe = common.fio_report(open(os.path.join(
        jsondir, EINVAL_JOB + '.probe.json')).read())
    check(probe['jobs'][0]['error'] == 22, f'the probe of {EINVAL_JOB} '
          f'did not fail with EINVAL: {probe["jobs"][0]["error"]}')
    check(f'`{EINVAL_JOB}` (EINVAL' in md, 'the report does not say stock '
          'io_uring cannot run the misaligned job')
    counters = table(md, '| workload | passthrough')
    for name, path in ((ALIGNED, 'passthrough'), (EINVAL_JOB, 'mem_bounced')):
        recs = [json.loads(ln) for ln in open(os.path.join(
            jsondir, name + '.bounce_stats.jsonl'))]
        check(len(recs) == PAIRS, f'{name}: {len(recs)} bounce_stats records')
        total = {k: sum(r['counters'][k] for r in recs)
                 for k in recs[0]['counters']}
        row = counters[name]
        cols = ['passthrough', 'mem_bounced', 'window_reads', 'rmw_writes',
                'rmw_reads', 'bytes_copied', 'waits', 'ring_empty',
                'short_done']
        check(row[1:10] == [str(total[k]) for k in cols],
              f'{name}: counters row {row} != records {total}')
        check(total[path] > 0, f'{name}: {path} is 0: {total}')
        user = total['user_bytes_read'] + total['user_bytes_write']
        amp = (total['device_bytes_read'] + total['device_bytes_write']) / user
        check(row[-1] == f'{amp:.2f}', f'{name}: amplification {row[-1]} != '
              f'{amp:.2f} from the records {total}')
    found, text = svg_series(os.path.join(out, f'latency-{ALIGNED}.svg'))
    for series in ('series-io_uring', 'series-fio-bounce'):
        check(found.get(series, 0) >= 10, f'latency-{ALIGNED}.svg: {series} '
              f'has {found.get(series)} points: {found}')
    check('io_uring' in text and 'fio-bounce' in text,
          'the legend does not name both engines')
    found, text = svg_series(os.path.join(out, f'latency-{EINVAL_JOB}.svg'))
    check(found.get('series-fio-bounce', 0) >= 10 and
          'series-io_uring' not in found and 'EINVAL' in text,
          f'latency-{EINVAL_JOB}.svg: {found}, text {text[:200]!r}')
    found, text = svg_series(os.path.join(out, 'ratio.svg'))
    check(found.get('series-ratio', 0) >= 1 and ALIGNED in text and
          EINVAL_JOB in text, f'ratio.svg: {found}')
    for stem in ('ratio', f'latency-{ALIGNED}', f'latency-{EINVAL_JOB}'):
        check_png(os.path.join(out, stem + '.png'))


def refused(ctx, args, needle):
    r = compare(ctx, args, timeout=60)
    check(r.returncode == 2, f'{args}: exit {r.returncode}, wanted 2: '
          f'{r.stderr[-400:]}')
    check(needle in r.stderr, f'{args}: {needle!r} not in {r.stderr!r}')


@test('fio-bounce-compare refuses bad input with exit 2 and a clear error, '
      'touching nothing: a missing target, a target with data it would '
      'destroy without --yes (bytes unchanged), a mounted device, an unknown '
      'job; --help explains every flag', timeout=120)
def bad_input_exit_2(ctx):
    out = os.path.join(ctx.tmpdir(), 'never')
    refused(ctx, ['--target', '/dev/nonexistent-fiob', '--out', out],
            'does not exist')
    dev = targets.loop(ctx, 4096, 16 << 20)
    marker = os.urandom(1 << 20)
    with open(dev, 'r+b') as f:
        f.write(marker)
    refused(ctx, ['--target', dev, '--out', out], 'add --yes')
    refused(ctx, ['--only', 'no-such-job', '--out', out],
            'unknown job no-such-job')
    with open(dev, 'rb') as f:
        check(f.read(len(marker)) == marker, 'the target was written')
    check(not os.path.exists(out), 'an output directory was made')
    mdev = targets.loop(ctx, 4096, 32 << 20)
    ctx.run(['mkfs.ext4', '-q', '-F', mdev], timeout=60)
    targets.mount(ctx, mdev, 'ext4')
    refused(ctx, ['--target', mdev, '--yes', '--out', out], 'is mounted')
    r = ctx.run([TOOL, '--help'], timeout=30)
    flags = set(re.findall(r"add_argument\('(--[\w-]+)'", open(TOOL).read()))
    check(len(flags) >= 10, f'flags found in the tool: {flags}')
    for flag in flags:
        m = re.search(r'^  ' + re.escape(flag) +
                      r'\b[^\n]*(\n {10,}\S[^\n]*)*', r.stdout, re.M)
        check(m and len(m.group(0)) > len(flag) + 20,
              f'--help does not explain {flag}: {r.stdout[-600:]}')
