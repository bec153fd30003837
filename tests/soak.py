#!/usr/bin/env python3
"""fio-bounce soak: 'make soak' (SOAK_S seconds per variant, default 600).

Four variants: jobs as threads and as processes, on a 4Kn loop device and
on ext4 over one. Each runs numjobs=4 at QD 128 of mixed misaligned randrw
(bssplit of 1k, 4k, 7k, 16k and 33k at 1 KiB-aligned offsets: RMW writes,
window reads and pass-through in one ring) with crc32c verify and
verify_backlog. (Sizes are 1 KiB multiples so that fio's verify headers,
one per min-bs interval, always fit: a 1000-byte bssplit makes fio 3.33
fail its own verify with "Blocksize too small" at the region's end.)

numjobs=4 gives each job its own region (size + offset_increment): RMW
serialization does not reach across jobs yet (issue 10, point 3), so four
jobs writing misaligned ranges that share a block could lose each other's
bytes, and the workload would be wrong, not the engine.

A variant passes when:
 - fio exits 0, no job has an error and no verify failure is reported;
 - RSS is flat: every fio process's VmRSS (/proc/PID/status) is sampled
   every 10 s; over the second half of the run (in the first, buffers,
   rings, verify state and malloc arenas reach their working size) its
   least-squares growth is at most RSS_BOUND KiB/min, or RSS_FLOOR KiB in
   all for a run that short (600 s: 1280 KiB; 60 s: 1024 KiB);
 - the counters add up: for every job, the engine's I/O counters
   (passthrough + mem_bounced + window_reads + rmw_writes) equal fio's own
   read + write I/O count, and RMW writes and window reads both happened;
 - the kernel logged no splat meanwhile.
Prints one line per variant, then 'N passed, N failed, N skipped'.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fiobtest import common, core, kmsg, targets  # noqa: E402
from fiobtest.fio import engine_arg, fio_env  # noqa: E402

RSS_BOUND = 256          # KiB per minute, per fio process
RSS_FLOOR = 1024         # KiB of fitted growth always allowed (short runs)
SAMPLE_S = 10
# Samples before this are not judged: buffers, rings, verify state and
# malloc arenas reach their working size first (a step or two of a few
# hundred KiB in the first minute). At least 20 s, and half the run.
WARMUP_S = 20
REGION = 48 << 20        # per job
DEV_SIZE = 4 * REGION + (16 << 20)
ENGINE_IOS = ('passthrough', 'mem_bounced', 'window_reads', 'rmw_writes')


def vmrss(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            for ln in f:
                if ln.startswith('VmRSS:'):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None


def slope(points):
    """Least-squares slope of [(seconds, KiB)] in KiB per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    return 60 * sum((t - mx) * (v - my) for t, v in points) / den if den else 0.0


def run_variant(ctx, mode, where, secs):
    if where == 'loop4k':
        target = targets.loop(ctx, 4096, DEV_SIZE)
    else:
        target = os.path.join(targets.ext4(ctx, 4096, DEV_SIZE + (64 << 20)),
                              'soak.img')
    out = ctx.tmpdir()
    stats = os.path.join(out, 'stats.jsonl')
    report = os.path.join(out, 'out.json')
    cmd = ['fio', '--output-format=json', f'--output={report}',
           '--name=soak', f'--ioengine={engine_arg("bounce")}',
           f'--bounce_stats={stats}', f'--filename={target}', '--direct=1',
           '--rw=randrw', '--bssplit=1k/30:4k/25:7k/20:16k/15:33k/10',
           '--iodepth=128', '--numjobs=4', f'--size={REGION}',
           f'--offset_increment={REGION}', '--verify=crc32c',
           '--verify_backlog=1024', '--time_based', f'--runtime={secs}',
           '--group_reporting=0']
    if mode == 'thread':
        cmd.append('--thread')
    p = ctx.spawn(cmd, env=fio_env('bounce'), cwd=out,
                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                  text=True)
    samples = {}
    start = time.monotonic()
    deadline = start + secs + 300
    next_sample = start + SAMPLE_S
    while p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
        now = time.monotonic()
        if now < next_sample:
            continue
        next_sample += SAMPLE_S
        for pid in common.process_tree(p.pid):
            kib = vmrss(pid)
            if kib is not None:
                samples.setdefault(pid, []).append((now - start, kib))
    if p.poll() is None:
        raise core.Fail(f'fio still running {secs + 300}s after start')
    err = p.stderr.read()
    if p.returncode != 0:
        raise core.Fail(f'fio exited {p.returncode}: {err.strip()[-800:]}')
    verify_errs = [ln for ln in err.splitlines()
                   if 'verify' in ln and ('fail' in ln or 'bad' in ln)]
    with open(report) as f:
        raw = f.read()
    jobs = json.loads(raw[raw.find('{'):])['jobs']
    with open(stats) as f:
        eng = [json.loads(ln) for ln in f]
    if verify_errs or any(j['error'] for j in jobs):
        raise core.Fail(f'{len(verify_errs)} verify errors, job errors '
                        f'{[j["error"] for j in jobs]}: {verify_errs[:3]}')
    # Counters that add up, job by job (jobs share a name: compare sorted).
    fio_ios = sorted(j['read']['total_ios'] + j['write']['total_ios']
                     for j in jobs)
    eng_ios = sorted(sum(s['counters'][k] for k in ENGINE_IOS) for s in eng)
    if len(jobs) != 4 or fio_ios != eng_ios:
        raise core.Fail(f'per-job I/O counts: fio {fio_ios}, engine '
                        f'{eng_ios}')
    total = {k: sum(s['counters'][k] for s in eng) for k in
             eng[0]['counters']}
    if not (total['rmw_writes'] and total['window_reads'] and
            total['passthrough']):
        raise core.Fail(f'not every path ran: {total}')
    warm = max(WARMUP_S, secs / 2)
    judged = {pid: [pt for pt in pts if pt[0] >= warm]
              for pid, pts in samples.items()}
    slopes = {pid: slope(pts) for pid, pts in judged.items() if len(pts) >= 2}
    if not slopes:
        raise core.Fail(f'no RSS samples after {warm:.0f}s: {samples}')
    worst = max(slopes.values())
    # Fitted growth over the judged window may be RSS_BOUND KiB/min, and
    # never less than RSS_FLOOR KiB: a short run (.ci/run's 60 s) judges
    # only 30 s, where one last malloc-arena step reads as a steep slope.
    window = (secs - warm) / 60
    allowed = max(RSS_BOUND * window, RSS_FLOOR)
    grown = worst * window
    desc = (f'{sum(fio_ios)} I/Os ({sum(j["read"]["total_ios"] for j in jobs)}'
            f' reads, {sum(j["write"]["total_ios"] for j in jobs)} writes; '
            f'rmw {total["rmw_writes"]}, window reads '
            f'{total["window_reads"]}, pass {total["passthrough"]}), '
            f'0 verify errors, counters add up per job; RSS slope max '
            f'{worst:+.1f} KiB/min = {grown:+.0f} KiB from {warm:.0f}s on, '
            f'over {len(slopes)} fio processes (allowed {allowed:.0f} KiB: '
            f'{RSS_BOUND} KiB/min, at least {RSS_FLOOR}); RSS first/last '
            f'{[(pts[0][1], pts[-1][1]) for pts in samples.values()]} KiB)')
    if grown > allowed:
        raise core.Fail(f'RSS grows: {desc}; samples {samples}')
    return desc


def main(argv):
    secs = int(os.environ.get('SOAK_S', '600'))
    if os.geteuid() != 0:
        print('FAIL soak (0.0s): needs root (loop devices, mounts)')
        print('0 passed, 1 failed, 0 skipped')
        return 1
    counts = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    klog = kmsg.KernelLog()
    if klog.unreadable():
        print(f'note: the kernel log cannot be read ({klog.unreadable()}); '
              'running without the kernel-log check', file=sys.stderr)
    try:
        for mode in ('thread', 'process'):
            for where in ('loop4k', 'ext4'):
                t = core.Test(f'soak/{mode}_{where}', None, secs + 600, '',
                              'soak')
                if argv[1:] and not any(p in t.name for p in argv[1:]):
                    continue
                ctx = core.Context(t)
                start = time.monotonic()
                klog.mark()
                status, detail = 'PASS', ''
                try:
                    detail = run_variant(ctx, mode, where, secs)
                except core.Fail as e:
                    status, detail = 'FAIL', str(e)
                except Exception as e:
                    status, detail = 'FAIL', f'{type(e).__name__}: {e}'
                finally:
                    errors = ctx.close()
                if errors and status == 'PASS':
                    status, detail = 'FAIL', 'cleanup: ' + '; '.join(errors)
                status, detail = kmsg.judge(klog, status, detail)
                counts[status] += 1
                print(f'{status} {t.name} ({time.monotonic() - start:.1f}s):'
                      f' {detail}', flush=True)
    finally:
        core.release_all()
        klog.close()
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['SKIP']} skipped", flush=True)
    return 1 if counts['FAIL'] else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
