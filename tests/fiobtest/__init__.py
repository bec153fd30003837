"""fio-bounce's test harness (run through tests/run.py, i.e. 'make test').

Writing a scenario (tests/integration/test_<group>.py):

    from fiobtest import test, check, fio, expect_ok, targets

    @test('what a pass proves, in one sentence', timeout=60)
    def my_scenario(ctx):
        dev = targets.loop(ctx, sector=4096, size=64 << 20)  # released after
        r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'bs=1000',
                                'rw=randwrite', 'verify=crc32c']))
        check(r.counters()['rmw_writes'] > 0, 'the RMW path did not run')

- ctx: per-test Context: ctx.tmpdir(), ctx.run(cmd, timeout=...),
  ctx.spawn(cmd), ctx.defer(fn, *args); everything is undone in reverse
  order when the test ends, however it ends.
- targets: loop(ctx, sector, size), ext4(ctx, sector, size) -> mount dir,
  small_tmpfs(ctx, size) -> mount dir, attach(ctx, path, sector),
  FaultDisk(ctx, size, log_reads=False) (FUSE: .dev, .image,
  .ctl('fail_read A B'), .log(), .spawn(cmd) for processes that may block
  in it; its cleanup kills the daemon first and checks nothing is left).
- common: loop devices and fio's JSON and bounce_stats outputs, without a
  test context; make bench (bench/runner.py) imports it too.
- fio(ctx, ['opt=val', ...], engine='bounce'|'io_uring'|path, fmt='json')
  fio_job(ctx, jobfile_text, ...) and fio_file(ctx, path, ...) (a job file
  as a user runs it, ENGINE in the environment) return a FioResult: .rc, .out, .err,
  .report (fio JSON), .errors() (per-job errno), .counters() (fio-bounce's
  bounce_stats counters summed over jobs), .stats (raw JSON objects).
- expect_ok(r), expect_error(r, errno): assert fio's outcome;
  expect_passthrough(r): nothing was bounced.
- iolog(ctx, target, 'read'|'write', [(off, len), ...]) -> an iolog path;
  debug_align(r, name): the alignment --debug=io showed for a file.
- Skip('reason') only for a missing kernel feature; Fail/check otherwise.
"""
from .core import Fail, Skip, check, test  # noqa: F401
from .fio import (debug_align, expect_error, expect_ok,  # noqa: F401
                  expect_passthrough, fio, fio_file, fio_job, iolog)
from . import targets  # noqa: F401
