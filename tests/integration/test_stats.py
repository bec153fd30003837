"""Stats: the engine's summary line appears once per job in normal output and
never inside JSON or terse output; bounce_stats=PATH gets one whole JSON
object per job, appended, with counters that add up."""
import json
import os
import re

from fiobtest import (Fail, check, expect_ok, expect_passthrough, fio,
                      fio_job, targets, test)
from fiobtest.fio import engine_arg, run_fio

MISALIGNED = ('direct=1\nrw=randwrite\nbs=1000\nsize=1M\niodepth=4\n'
              'verify=crc32c\n')


def run_raw(ctx, args, timeout=120, engine='bounce'):
    """fio with its report on stdout, exactly as a user would get it."""
    d = ctx.tmpdir()
    r = run_fio(ctx, ['fio', f'--ioengine={engine_arg(engine)}', *args],
                timeout=timeout, cwd=d, engine=engine)
    check(r.returncode == 0, f'fio exited {r.returncode}: '
          f'{(r.stderr or r.stdout)[-800:]}')
    return r


def job_file(ctx, text):
    path = os.path.join(ctx.tmpdir(), 'job.fio')
    with open(path, 'w') as f:
        f.write(text)
    return path


def two_jobs(ctx, shared, extra=''):
    """Two bounced (RMW) jobs: on two devices, or on halves of one."""
    a = targets.loop(ctx, 4096, 16 << 20)
    b = a if shared else targets.loop(ctx, 4096, 16 << 20)
    return job_file(ctx, f'[global]\n{MISALIGNED}{extra}'
                         f'[first]\nfilename={a}\noffset=0\n'
                         f'[second]\nfilename={b}\noffset=8M\n')


def engine_lines(text):
    return [ln for ln in text.splitlines() if ln.startswith('fio-bounce:')]


def strict_json(text, fmt):
    try:
        return json.loads(text)          # the whole output, strictly
    except json.JSONDecodeError as e:
        raise Fail(f'{fmt} output is not one JSON document ({e}): '
                   f'{text[:400]!r}')


def _machine_format(fmt):
    def fn(ctx):
        job = two_jobs(ctx, False)
        r = run_raw(ctx, [f'--output-format={fmt}', job])
        check(not engine_lines(r.stdout),
              f'engine lines got into the {fmt} output: '
              f'{engine_lines(r.stdout)}')
        if fmt == 'terse':
            # The shape of a terse line is the running fio's: the same job
            # on fio's io_uring gives the reference. There it fails EINVAL
            # on the 4Kn devices, which moves no field, and fio's error
            # notes ('fio: ...') share stdout with its terse lines.
            ref = run_fio(ctx, ['fio', '--ioengine=io_uring',
                                f'--output-format={fmt}', job],
                          engine='io_uring', cwd=ctx.tmpdir()).stdout
            lines = r.stdout.splitlines()
            ref_lines = [ln for ln in ref.splitlines()
                         if not ln.startswith('fio: ')]
            shape = [(ln.split(';')[:2], ln.count(';')) for ln in lines]
            ref_shape = [(ln.split(';')[:2], ln.count(';'))
                         for ln in ref_lines]
            check(len(lines) == 2 and shape == ref_shape,
                  f'terse output is not two job lines shaped like fio\'s '
                  f'io_uring ones ((version, fio) and field count: '
                  f'{shape} vs {ref_shape}): {r.stdout[:600]!r}')
            check([ln.split(';')[2] for ln in lines] == ['first', 'second'],
                  f'terse lines name {[ln.split(";")[2] for ln in lines]}')
            return
        doc = strict_json(r.stdout, fmt)
        names = [j['jobname'] for j in doc['jobs']]
        check(names == ['first', 'second'], f'{fmt} jobs: {names}')
        check(all(j['error'] == 0 for j in doc['jobs']),
              f'a job failed: {[j["error"] for j in doc["jobs"]]}')
    return fn


test('--output-format=json with the engine is one JSON document, exactly: '
     'no engine summary line inside it', timeout=60,
     name='json_output_has_no_engine_line')(_machine_format('json'))

test('--output-format=json+ with the engine is one JSON document, exactly',
     timeout=60, name='jsonplus_output_has_no_engine_line')(
    _machine_format('json+'))

test('--output-format=terse with the engine is exactly one terse line per '
     'job, no engine line', timeout=60,
     name='terse_output_has_no_engine_line')(_machine_format('terse'))


@test('--output-format=json stays one JSON document when two jobs write one '
      'device with misaligned writes and bounce_share=off: the engine\'s '
      'shared-file warning goes to stderr, not into the JSON', timeout=60)
def json_output_with_shared_file_warning(ctx):
    r = run_raw(ctx, ['--output-format=json',
                      two_jobs(ctx, True, 'bounce_share=off\n')])
    strict_json(r.stdout, 'json')
    check('warning' in r.stderr,
          f'no shared-file warning on stderr: {r.stderr[-400:]!r}')


FOUR_JOBS = ('[alpha]\noffset=0\n[beta]\noffset=8M\n'
             '[gamma]\nnumjobs=2\noffset=16M\noffset_increment=4M\n')


def summary_names(text):
    lines = [ln for ln in engine_lines(text)
             if not ln.startswith('fio-bounce: warning')]
    names = sorted(re.match(r'fio-bounce: (\S+): ', ln + ' ').group(1)
                   for ln in lines)
    check(names == ['alpha', 'beta', 'gamma', 'gamma'],
          f'summary lines per job (want alpha, beta, gamma x2): {lines}')
    check(all(' mode=auto ' in ln and ' rmw=' in ln for ln in lines),
          f'summary lines lack the counters: {lines}')
    report = text.find('Run status group')
    check(report > 0 and all(text.find(ln) < report for ln in lines),
          'a summary line comes after the final report')


@test('normal output on stdout has exactly one "fio-bounce: <job>:" summary '
      'line per job (numjobs clones included), before the report',
      timeout=60)
def normal_stdout_one_line_per_job(ctx):
    dev = targets.loop(ctx, 4096, 32 << 20)
    r = run_raw(ctx, [job_file(ctx, f'[global]\nfilename={dev}\n'
                                    f'{MISALIGNED}{FOUR_JOBS}')])
    summary_names(r.stdout)


@test('normal output written with --output=FILE (jobs are processes) has '
      'exactly one "fio-bounce: <job>:" summary line per job', timeout=60)
def normal_output_file_one_line_per_job(ctx):
    dev = targets.loop(ctx, 4096, 32 << 20)
    r = expect_ok(fio_job(ctx, f'filename={dev}\n{MISALIGNED}{FOUR_JOBS}',
                          fmt='normal'))
    summary_names(r.out)


def read_stats(path):
    with open(path) as f:
        raw = f.read()
    check(raw.endswith('\n'), f'bounce_stats does not end in a newline: '
          f'{raw[-200:]!r}')
    objs = []
    for ln in raw.split('\n')[:-1]:
        try:
            o = json.loads(ln)
        except json.JSONDecodeError as e:
            raise Fail(f'bounce_stats line is not one JSON object '
                                 f'({e}): {ln[:300]!r}')
        check(isinstance(o, dict) and
              {'job', 'mode', 'slots', 'slot_size', 'slots_registered',
               'files', 'counters'} <= set(o),
              f'bounce_stats object lacks fields: {o}')
        objs.append(o)
    return objs


@test('bounce_stats=PATH with numjobs=4 processes appends one whole JSON '
      'object per job to one file, also across runs; bytes_copied equals the '
      'bytes written by a memory-bounced write job', timeout=120)
def stats_file_numjobs_mem_bounced(ctx):
    dev = targets.loop(ctx, 4096, 64 << 20)
    path = os.path.join(ctx.tmpdir(), 'stats.jsonl')
    job = (f'[global]\nioengine={engine_arg("bounce")}\nfilename={dev}\n'
           f'bounce_stats={path}\ndirect=1\nrw=write\nbs=4k\nsize=4M\n'
           f'iodepth=8\niomem_align=7\n'
           f'[memw]\nnumjobs=4\noffset_increment=4M\n')
    jf = os.path.join(ctx.tmpdir(), 'job.fio')
    with open(jf, 'w') as f:
        f.write(job)
    for run in (1, 2):
        r = run_fio(ctx, ['fio', '--output-format=json', jf], timeout=60,
                    cwd=os.path.dirname(jf))
        check(r.returncode == 0, f'run {run}: fio exited {r.returncode}: '
              f'{r.stderr[-600:]}')
        objs = read_stats(path)
        check(len(objs) == 4 * run, f'after run {run}: {len(objs)} objects '
              f'in bounce_stats, expected {4 * run}')
    report = json.loads(r.stdout[r.stdout.find('{'):])
    written = [j['write']['io_bytes'] for j in report['jobs']]
    check(written == [4 << 20] * 4, f'fio wrote {written}')
    for o in objs:
        c = o['counters']
        check(o['job'] == 'memw' and o['mode'] == 'auto',
              f'job/mode: {o["job"]}/{o["mode"]}')
        check(c['mem_bounced'] == 1024 and c['passthrough'] == 0 and
              c['rmw_writes'] == 0,
              f'expected 1024 memory bounces and nothing else: {c}')
        check(c['bytes_copied'] == 4 << 20,
              f'bytes_copied {c["bytes_copied"]} != 4 MiB written: {c}')


@test('bounce_stats with numjobs=4 on an aligned randrw job: the sum of '
      'passthrough equals fio\'s own issued I/O count, and nothing bounced',
      timeout=120)
def stats_passthrough_matches_fio(ctx):
    dev = targets.loop(ctx, 4096, 64 << 20)
    r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'rw=randrw',
                            'bs=4k', 'size=4M', 'iodepth=16', 'numjobs=4',
                            'offset_increment=4M']))
    check(len(r.stats) == 4, f'{len(r.stats)} bounce_stats objects, '
          f'expected 4')
    fio_ios = sum(j[d]['total_ios'] for j in r.jobs()
                  for d in ('read', 'write'))
    c = r.counters()
    check(fio_ios == 4 * 1024, f'fio issued {fio_ios} I/Os, expected 4096')
    check(c['passthrough'] == fio_ios,
          f'passthrough {c["passthrough"]} != fio\'s {fio_ios} I/Os: {c}')
    expect_passthrough(r, 'aligned I/O')
    per_job = sorted(s['counters']['passthrough'] for s in r.stats)
    check(per_job == [1024] * 4, f'per-job passthrough {per_job}')


@test('bounce_stats records an RMW job\'s counters consistently: one '
      'rmw_write per write, bytes_copied = bytes written + bytes verified, '
      'window_reads = verify reads, user bytes = fio\'s io_bytes, device '
      'bytes = whole 4 KiB blocks; a bs=1000 job still copies where the '
      'probe accepted zero copy, even with bounce_zero_copy_min=0 '
      '(zero_copy 0: no 1000-byte segment meets the memory rule)',
      timeout=120)
def stats_rmw_counters_consistent(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'rw=randwrite',
                            'bs=1000', 'size=2M', 'iodepth=8',
                            'verify=crc32c', 'bounce_zero_copy_min=0']))
    j = r.jobs()[0]
    c = r.counters()
    writes, reads = j['write']['total_ios'], j['read']['total_ios']
    check(writes == 2097 and reads == writes,
          f'fio: {writes} writes, {reads} verify reads')
    check(c['rmw_writes'] == writes and c['window_reads'] == reads,
          f'rmw_writes/window_reads != fio\'s writes/reads: {c}')
    check(c['rmw_reads'] >= writes,
          f'fewer RMW reads than RMW writes: {c}')
    moved = j['write']['io_bytes'] + j['read']['io_bytes']
    check(c['bytes_copied'] == moved,
          f'bytes_copied {c["bytes_copied"]} != {moved} bytes moved: {c}')
    check(c['passthrough'] == 0 and c['mem_bounced'] == 0,
          f'a 1000-byte I/O passed through: {c}')
    check(r.stats[0]['files'][0]['zero_copy'] == 'accepted' and
          c['zero_copy'] == 0,
          f'bs=1000 must copy though the probe accepted zero copy: '
          f'{r.stats[0]["files"]} {c}')
    check(c['user_bytes_write'] == j['write']['io_bytes'] and
          c['user_bytes_read'] == j['read']['io_bytes'],
          f'user bytes {c} != fio\'s io_bytes')
    check(c['device_bytes_write'] % 4096 == 0 and
          c['device_bytes_write'] >= 4096 * writes and
          c['device_bytes_read'] >= 4096 * (reads + writes),
          f'device bytes are not whole windows and RMW blocks: {c}')


@test('bounce_stats for a job with 40 files is still one whole JSON object '
      'that records all 40 files with their alignment', timeout=120)
def stats_many_files(ctx):
    mnt = targets.ext4(ctx, 4096, 64 << 20)
    r = expect_ok(fio(ctx, [f'directory={mnt}', 'nrfiles=40',
                            'filesize=64k', 'direct=1', 'rw=write',
                            'bs=1000', 'iodepth=4']))
    check(len(r.stats) == 1, f'{len(r.stats)} bounce_stats objects')
    files = r.stats[0]['files']
    check(len(files) == 40, f'{len(files)} files recorded, expected 40: '
          f'{files[:3]}')
    names = {f['name'] for f in files}
    check(len(names) == 40 and all(n.startswith(mnt) for n in names),
          f'file names recorded: {sorted(names)[:5]}')
    check(all((f['off_align'], f['mem_align'], f['source']) ==
              (4096, 512, 'statx') for f in files),
          f'alignment records: {files[:3]}')
    check(r.counters()['rmw_writes'] == 40 * 65,
          f'expected 65 RMW writes per file: {r.counters()}')
