"""Running fio with fio-bounce or with a stock engine, and reading results.

fio(ctx, args, engine=...) runs one job from command-line options;
fio_job(ctx, text, engine=...) runs a job file. Both return a FioResult with
fio's exit code, output, its JSON report (fmt='json') and, for fio-bounce,
the per-job counters the engine appended to its bounce_stats file.

Under SANITIZE=1 the engine is an ASan+UBSan build: fio gets the runtime
preloaded and runs its jobs as threads (a forked job ends with _exit(), which
LeakSanitizer never sees), and any sanitizer report that involves the engine
fails the test.
"""
import os
import re

from . import common, memcheck
from .core import Fail, check, env_path

STOCK = ('io_uring', 'libaio', 'posixaio', 'psync', 'sync')


class FioResult:
    def __init__(self, rc, out, err, report, stats):
        self.rc = rc
        self.out = out
        self.err = err
        self.report = report
        self.stats = stats

    @property
    def text(self):
        return self.out + self.err

    def jobs(self):
        return (self.report or {}).get('jobs', [])

    def errors(self):
        """fio's per-job error codes (from the JSON report)."""
        return [j.get('error', 0) for j in self.jobs()]

    def counters(self):
        """fio-bounce counters summed over every job that reported."""
        total = {}
        for s in self.stats:
            for k, v in s['counters'].items():
                total[k] = total.get(k, 0) + v
        return total

    def describe(self):
        return (f'fio exit {self.rc}; stderr: {self.err.strip()[-600:]!r}; '
                f'stdout tail: {self.out.strip()[-400:]!r}')


def engine_path():
    return env_path('FIOB_ENGINE')


def engine_arg(engine):
    if engine in STOCK:
        return engine
    path = engine_path() if engine == 'bounce' else engine
    return f'external:{path}'


def fio_env(engine='bounce', extra=None):
    """The environment to run fio with @engine in (sanitizer preload)."""
    env = dict(os.environ)
    env.update(extra or {})
    if engine not in STOCK and os.environ.get('FIOB_PRELOAD'):
        # fio is not built with ASan: its runtime must be loaded first.
        env['LD_PRELOAD'] = os.environ['FIOB_PRELOAD']
        env['ASAN_OPTIONS'] = 'detect_leaks=1:halt_on_error=1'
        # fio's own small leaks are not ours: judge leaks by their stacks.
        env['LSAN_OPTIONS'] = 'exitcode=0'
        env['UBSAN_OPTIONS'] = 'print_stacktrace=1:halt_on_error=1'
    return env


def check_sanitizers(err):
    if 'ERROR: AddressSanitizer' in err or 'runtime error:' in err:
        raise Fail('sanitizer report: ' + err[err.find('ERROR'):][:1500])
    for block in re.split(r'\n(?=Direct leak|Indirect leak)', err):
        if block.startswith(('Direct leak', 'Indirect leak')) and \
                ('fio-bounce' in block or 'fiob_' in block):
            raise Fail('engine leak: ' + block[:1500])


def run_fio(ctx, cmd, engine='bounce', timeout=120, cwd=None, env=None,
            wrap=()):
    """Any fio command line, with the engine's environment and sanitizer
    checks; fio's exit code is left to the caller. @wrap: a command that
    runs fio (setpriv, prlimit ...)."""
    vg_log = None
    if engine not in STOCK and (os.environ.get('FIOB_SANITIZE') or
                                os.environ.get('FIOB_VALGRIND')):
        # Forked job processes end with _exit(): LeakSanitizer would never
        # look at the engine's memory. Threads end with fio itself.
        cmd = [cmd[0], '--thread', *cmd[1:]]
    if engine not in STOCK and os.environ.get('FIOB_VALGRIND'):
        cmd, vg_log = memcheck.wrap(ctx, cmd)
        timeout *= memcheck.SLOWDOWN
    r = ctx.run([*wrap, *cmd], timeout=timeout, check_rc=False,
                env=fio_env(engine, env), cwd=cwd or ctx.tmpdir())
    check_sanitizers(r.stderr)
    if vg_log:
        memcheck.check(vg_log, ' '.join(cmd))
    return r


def parse_json_report(raw):
    """fio's JSON document from an --output file, and fio's log around it,
    which becomes part of the result's stderr. Whether the document alone
    is clean JSON is test_stats' business."""
    try:
        return common.fio_report_and_log(raw)
    except ValueError as e:
        raise Fail(f'fio JSON output does not parse ({e}): {raw[:300]!r}')


def _run(ctx, cmd, engine, fmt, timeout, stats_path, out_path, env=None,
         wrap=()):
    # fio drops verify state files in its working directory: keep them out
    # of the tree.
    r = run_fio(ctx, cmd, engine, timeout, os.path.dirname(out_path), env,
                wrap)
    report = None
    notes = ''
    if fmt == 'json' and os.path.exists(out_path):
        with open(out_path) as f:
            report, notes = parse_json_report(f.read())
    try:
        stats = common.bounce_stats(stats_path) if stats_path else []
    except ValueError as e:
        raise Fail(str(e))
    out = r.stdout
    if fmt == 'normal' and out_path and os.path.exists(out_path):
        with open(out_path) as f:
            out = f.read()
    return FioResult(r.returncode, out, r.stderr + notes, report, stats)


def _outputs(ctx, engine, fmt):
    d = ctx.tmpdir()
    stats_path = None if engine in STOCK else os.path.join(d, 'stats.jsonl')
    out_path = os.path.join(d, 'out.' + fmt)
    return stats_path, out_path


def fio(ctx, args, engine='bounce', fmt='json', timeout=120, name='job',
        env=None, stdout=False, wrap=()):
    """One job from options like ['rw=randread', 'bs=4k', ...]. stdout=True
    leaves fio's report on stdout, as a user sees it (fmt='normal'); @wrap
    is a command prefix that runs fio."""
    stats_path, out_path = _outputs(ctx, engine, fmt)
    cmd = ['fio', f'--output-format={fmt}', f'--name={name}',
           f'--ioengine={engine_arg(engine)}']
    if not stdout:
        cmd.insert(2, f'--output={out_path}')
    if stats_path:
        cmd.append(f'--bounce_stats={stats_path}')
    cmd += [a if a.startswith('--') else '--' + a for a in args]
    return _run(ctx, cmd, engine, fmt, timeout, stats_path, out_path, env,
                wrap)


def fio_job(ctx, text, engine='bounce', fmt='json', timeout=120,
            extra_args=(), env=None):
    """A job file; ioengine (and bounce_stats) are set in a [global] first."""
    stats_path, out_path = _outputs(ctx, engine, fmt)
    head = f'[global]\nioengine={engine_arg(engine)}\n'
    if stats_path:
        head += f'bounce_stats={stats_path}\n'
    path = os.path.join(os.path.dirname(out_path), 'job.fio')
    with open(path, 'w') as f:
        f.write(head + text)
    cmd = ['fio', f'--output-format={fmt}', f'--output={out_path}',
           *extra_args, path]
    return _run(ctx, cmd, engine, fmt, timeout, stats_path, out_path, env)


def fio_file(ctx, path, engine='bounce', env=None, timeout=120,
             fmt='json'):
    """A job file as a user runs it: fio --ioengine=ENGINE [--bounce_stats]
    PATH, with ENGINE also in the environment for files that say
    ioengine=${ENGINE} (reloading the same engine keeps its options)."""
    stats_path, out_path = _outputs(ctx, engine, fmt)
    cmd = ['fio', f'--output-format={fmt}', f'--output={out_path}',
           f'--ioengine={engine_arg(engine)}']
    if stats_path:
        cmd.append(f'--bounce_stats={stats_path}')
    env = {'ENGINE': engine_arg(engine), **(env or {})}
    return _run(ctx, cmd + [path], engine, fmt, timeout, stats_path,
                out_path, env)


def expect_ok(r, what='the job'):
    if r.rc != 0 or any(r.errors()):
        raise Fail(f'{what} failed: errors={r.errors()}; {r.describe()}')
    return r


def expect_passthrough(r, what='the job'):
    """fio-bounce passed every I/O straight through: something was
    counted, nothing was bounced or copied. Returns the counters."""
    c = r.counters()
    bounced = c['mem_bounced'] + c['window_reads'] + c['rmw_writes']
    check(c['passthrough'] > 0 and bounced == 0 and c['bytes_copied'] == 0,
          f'{what}: not all I/O passed straight through: {c}')
    return c


# The engine's --debug=io line for each file it opens.
NEEDS = re.compile(r'fio-bounce: (\S+): needs off=(\d+) mem=(\d+) \((\w+)\), '
                   r'in force off=(\d+) mem=(\d+)')


def debug_align(r, name):
    """(need off, need mem, source, in-force off, in-force mem) for @name
    from the --debug=io output."""
    found = [m for m in NEEDS.finditer(r.text) if m.group(1) == name]
    # One line per open: a job that verifies opens the file again.
    check(found and len({m.group(0) for m in found}) == 1,
          f'--debug=io alignment lines for {name}: '
          f'{[m.group(0) for m in NEEDS.finditer(r.text)]}')
    m = found[0]
    return (int(m.group(2)), int(m.group(3)), m.group(4), int(m.group(5)),
            int(m.group(6)))


def iolog(ctx, target, op, ranges):
    """An fio iolog (version 2) that does @op ('read' or 'write') on
    @target over each (offset, length) of @ranges, in order; its path."""
    path = os.path.join(ctx.tmpdir(), f'{op}.iolog')
    with open(path, 'w') as f:
        f.write(f'fio version 2 iolog\n{target} add\n{target} open\n')
        for off, ln in ranges:
            f.write(f'{target} {op} {off} {ln}\n')
        f.write(f'{target} close\n')
    return path


def expect_error(r, errno_value, what='the job'):
    """fio failed, and the job's error is @errno_value."""
    if r.rc == 0:
        raise Fail(f'{what} succeeded, expected errno {errno_value}; '
                   f'{r.describe()}')
    errs = r.errors()
    if errs and errno_value not in errs:
        raise Fail(f'{what} failed with {errs}, expected {errno_value}; '
                   f'{r.describe()}')
    if not errs and f'err={errno_value}/' not in r.text:
        raise Fail(f'{what}: no errno {errno_value} reported; '
                   f'{r.describe()}')
    return r
