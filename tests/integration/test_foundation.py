"""Foundation: the engine loads, passes aligned I/O through io_uring intact,
honours fio's io_uring options, and refuses bad input clearly."""
import os
import subprocess

from fiobtest import (Fail, check, expect_error, expect_ok,
                      expect_passthrough, fio, fio_job, targets, test)
from fiobtest.fio import engine_path, run_fio
from fiobtest.core import env_path

EINVAL = 22
SIZE = '32M'


def _top():
    """The source tree (tests/integration/ is two levels down)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def make_target(ctx, kind):
    """A fresh target: (filename for fio, description)."""
    if kind == 'loop4k':
        return targets.loop(ctx, 4096, 64 << 20)
    if kind == 'loop512':
        return targets.loop(ctx, 512, 64 << 20)
    mnt = targets.ext4(ctx, 4096, 128 << 20)
    return os.path.join(mnt, 'data.bin')


def aligned_verify(ctx, kind, rw, qd, extra=()):
    target = make_target(ctx, kind)
    base = [f'filename={target}', 'direct=1', 'bs=4k', f'size={SIZE}',
            f'iodepth={qd}', 'verify=crc32c', *extra]
    if rw in ('read', 'randread'):
        # Reads verify what a previous write laid down with headers.
        expect_ok(fio(ctx, base + ['rw=write', 'do_verify=0']),
                  'the fill job')
    r = expect_ok(fio(ctx, base + [f'rw={rw}']))
    expect_passthrough(r, 'aligned I/O')
    return r


def _data_test(kind, rw, qd):
    def fn(ctx):
        aligned_verify(ctx, kind, rw, qd)
    fn.__name__ = f'aligned_{rw}_qd{qd}_{kind}'
    return fn


for _kind in ('loop4k', 'loop512', 'ext4'):
    for _rw in ('read', 'write', 'randread', 'randwrite', 'randrw'):
        for _qd in (1, 32):
            test(f'aligned {_rw} at QD{_qd} on {_kind} passes crc32c verify '
                 f'and goes through without a copy',
                 timeout=120)(_data_test(_kind, _rw, _qd))


def _option_test(opt):
    def fn(ctx):
        aligned_verify(ctx, 'loop4k', 'randrw', 32, [opt])
    fn.__name__ = f'option_{opt.split("=")[0]}'
    return fn


for _opt in ('fixedbufs', 'registerfiles', 'sqthread_poll', 'nowait=1'):
    test(f'{_opt} on aligned randrw QD32 passes crc32c verify',
         timeout=120)(_option_test(_opt))


@test('sqthread_poll_cpu=0 pins the SQ thread and still passes verify')
def option_sqthread_poll_cpu(ctx):
    aligned_verify(ctx, 'loop4k', 'randwrite', 16,
                   ['sqthread_poll', 'sqthread_poll_cpu=0'])


@test('iodepth=512 (deeper than any default ring) loses no io_u')
def deep_queue(ctx):
    aligned_verify(ctx, 'loop4k', 'randrw', 512)


def fio_syncs(r):
    """How many syncs fio completed (fsync and fdatasync share 'sync')."""
    return r.jobs()[0]['sync']['lat_ns']['N']


def _sync_test(kind):
    def fn(ctx):
        job = [f'{kind}=4', 'randseed=4242']
        r = aligned_verify(ctx, 'ext4', 'randwrite', 8, job)
        c = r.counters()
        check(c['syncs'] == fio_syncs(r) > 0,
              f'{kind}=4: fio completed {fio_syncs(r)} syncs, the engine '
              f'carried {c["syncs"]}: {c}')
        # How many syncs fio issues for N writes is fio's rule, and it
        # changed (3.38 counts a sync when issued; before, a sync could be
        # issued again until the next write was). Ask this fio, through its
        # own io_uring: at QD1 completion timing cannot add syncs, so both
        # engines must agree exactly; at QD8 they must agree whenever this
        # fio's count does not depend on timing (its io_uring gives the QD1
        # count at QD8 too), and never fall below it.
        n = {}
        for engine in ('io_uring', 'bounce'):
            for qd in (1, 8):
                if (engine, qd) == ('bounce', 8):
                    n[engine, qd] = fio_syncs(r)
                    continue
                target = make_target(ctx, 'ext4')
                n[engine, qd] = fio_syncs(expect_ok(fio(
                    ctx, [f'filename={target}', 'direct=1', 'bs=4k',
                          f'size={SIZE}', f'iodepth={qd}', 'verify=crc32c',
                          'rw=randwrite', *job], engine=engine),
                    f'{engine} QD{qd}'))
        check(n['bounce', 1] == n['io_uring', 1] > 0,
              f'{kind}=4 at QD1: {n["bounce", 1]} syncs with fio-bounce, '
              f'{n["io_uring", 1]} with io_uring')
        exact = n['io_uring', 8] == n['io_uring', 1]
        check(n['bounce', 8] == n['io_uring', 8] if exact else
              n['bounce', 8] >= n['io_uring', 1],
              f'{kind}=4 at QD8: {n["bounce", 8]} syncs with fio-bounce, '
              f'{n["io_uring", 8]} with io_uring (QD1: {n["io_uring", 1]})')
    fn.__name__ = f'{kind}_through_io_uring'
    return fn


for _sync in ('fsync', 'fdatasync'):
    test(f'{_sync}=4 on an ext4 file: every sync fio issues goes through the '
         f'engine, as many as fio\'s own io_uring issues on the same job, '
         f'and the data verifies', timeout=180)(_sync_test(_sync))


@test('trim like fio\'s io_uring: the trimmed range reads back as zeros')
def trim_zeroes(ctx):
    dev = targets.loop(ctx, 4096, 64 << 20)
    with open(dev, 'r+b', buffering=0) as f:
        f.write(b'\xa5' * (1 << 20))
        os.fsync(f.fileno())
    expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'rw=trim', 'bs=64k',
                        'size=512k']))
    with open(dev, 'rb', buffering=0) as f:
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        data = f.read(1 << 20)
    check(data[:512 << 10] == bytes(512 << 10), 'trimmed range is not zero')
    check(data[512 << 10:] == b'\xa5' * (512 << 10),
          'bytes past the trimmed range changed')


def _outcome(r):
    """How a job ended: exit status, per-job errors, bytes per direction."""
    return r.rc, r.errors(), [(j[d]['total_ios'], j[d]['io_bytes'])
                              for j in r.jobs() for d in ('write', 'trim')]


@test('rw=trimwrite at QD8 on a 4Kn device ends as on fio\'s io_uring: same '
      'trim and write counts and bytes, same status')
def trimwrite_like_io_uring(ctx):
    res = {}
    for engine in ('io_uring', 'bounce'):
        dev = targets.loop(ctx, 4096, 16 << 20)
        res[engine] = _outcome(expect_ok(fio(
            ctx, [f'filename={dev}', 'direct=1', 'rw=trimwrite', 'bs=64k',
                  'size=8M', 'iodepth=8'], engine=engine), engine))
    check(res['bounce'] == res['io_uring'],
          f'trimwrite: fio-bounce {res["bounce"]}, io_uring {res["io_uring"]}')


@test('end_syncfs=1 ends as on fio\'s io_uring, with as many syncfs calls '
      '(none where this fio does not know the option: both refuse it)')
def end_syncfs_like_io_uring(ctx):
    mnt = targets.ext4(ctx, 4096, 64 << 20)
    res = {}
    for engine in ('io_uring', 'bounce'):
        trace = os.path.join(ctx.tmpdir(), 'strace.out')
        r = fio(ctx, [f'filename={mnt}/{engine}.bin', 'rw=write', 'bs=4k',
                      'size=1M', 'end_syncfs=1'], engine=engine,
                wrap=['strace', '-f', '-qq', '-e', 'trace=syncfs', '-o',
                      trace])
        with open(trace) as f:
            calls = sum(1 for ln in f if 'syncfs(' in ln)
        res[engine] = _outcome(r), calls
    (rc, _, _), calls = res['io_uring']
    check(rc != 0 or calls > 0, f'io_uring ran end_syncfs=1 without one '
          f'syncfs call: the trace does not see them {res["io_uring"]}')
    check(res['bounce'] == res['io_uring'],
          f'end_syncfs=1: fio-bounce (outcome, syncfs calls) '
          f'{res["bounce"]}, io_uring {res["io_uring"]}')


@test('bounce=never passes bs=512 straight to a 4Kn device: EINVAL, '
      'exactly like stock io_uring')
def never_is_stock(ctx):
    dev = targets.loop(ctx, 4096, 64 << 20)
    args = [f'filename={dev}', 'direct=1', 'rw=randread', 'bs=512',
            'size=4M', 'iodepth=4']
    expect_error(fio(ctx, args + ['bounce=never']), EINVAL, 'bounce=never')
    expect_error(fio(ctx, args, engine='io_uring'), EINVAL, 'stock io_uring')


@test('a build for another fio version is refused at job start with both '
      'versions named, and does no I/O')
def abi_guard(ctx):
    dev = targets.loop(ctx, 4096, 16 << 20)
    wrong = env_path('FIOB_WRONGVER')
    running = subprocess.run(['fio', '--version'], capture_output=True,
                             text=True).stdout.strip()
    r = fio(ctx, [f'filename={dev}', 'direct=1', 'rw=write', 'bs=4k',
                  'size=1M'], engine=wrong)
    check(r.rc != 0, f'the mismatched build ran: {r.describe()}')
    msg = f'built for fio-0.0-wrongver but running under {running}'
    check(msg in r.text, f'no clear refusal ({msg!r}): {r.describe()}')
    with open(dev, 'rb') as f:
        check(f.read(1 << 20) == bytes(1 << 20), 'the refused job wrote data')


@test('fio lists every engine option with its help text via --enghelp')
def enghelp_lists_options(ctx):
    r = run_fio(ctx, ['fio', f'--enghelp={engine_path()}'], timeout=30)
    check(r.returncode == 0, f'--enghelp failed: {r.stderr!r}')
    for opt in ('bounce', 'bounce_slots', 'bounce_align', 'bounce_mem_align',
                'bounce_register', 'bounce_stats', 'hipri', 'fixedbufs',
                'registerfiles', 'sqthread_poll', 'sqthread_poll_cpu',
                'nowait'):
        lines = [ln for ln in r.stdout.splitlines()
                 if ln.split(':')[0].strip() == opt]
        check(lines and lines[0].split(':', 1)[1].strip(),
              f'{opt} missing or without help: {r.stdout!r}')


@test('the engine exports exactly one dynamic symbol, ioengine')
def exports_one_symbol(ctx):
    r = ctx.run(['nm', '-D', '--defined-only', engine_path()], timeout=30)
    names = [ln.split()[-1] for ln in r.stdout.splitlines() if ln.strip()]
    check(names == ['ioengine'], f'exported: {names}')


def _bad_option(opt, expect):
    def fn(ctx):
        r = fio(ctx, ['filename=/dev/null', 'size=1M', opt])
        check(r.rc != 0, f'{opt} was accepted: {r.describe()}')
        check(expect in r.text, f'no clear message ({expect!r}) for {opt}: '
              f'{r.describe()}')
    fn.__name__ = 'bad_option_' + opt.split('=')[0]
    return fn


for _opt, _msg in (('bounce=sometimes', 'failed parsing bounce=sometimes'),
                   ('bounce_align=3', 'bounce_align=3 is not a power of two'),
                   ('bounce_mem_align=6',
                    'bounce_mem_align=6 is not a power of two'),
                   ('bounce_slots=0', 'bounce_slots'),
                   ('bounce_register=maybe',
                    'failed parsing bounce_register=maybe')):
    test(f'{_opt} is refused before the job runs, with a message naming it',
         timeout=30)(_bad_option(_opt, _msg))


@test('hipri either works and verifies, or fails naming hipri: never runs '
      'something else silently')
def hipri_is_explicit(ctx):
    dev = targets.loop(ctx, 4096, 64 << 20)
    r = fio(ctx, [f'filename={dev}', 'direct=1', 'rw=randwrite', 'bs=4k',
                  'size=4M', 'iodepth=8', 'verify=crc32c', 'hipri'])
    if r.rc == 0 and not any(r.errors()):
        return
    check('hipri' in r.err, f'hipri failed without naming it: {r.describe()}')


@test('make install puts the engine at DESTDIR/PREFIX/lib/fio/fio-bounce.so')
def install_layout(ctx):
    dest = ctx.tmpdir()
    ctx.run(['make', '-s', '-C', _top(), 'install', f'DESTDIR={dest}',
             'PREFIX=/opt/fb'], timeout=300)
    path = os.path.join(dest, 'opt/fb/lib/fio/fio-bounce.so')
    check(os.path.isfile(path), f'{path} not installed')
    check(not os.path.exists('/opt/fb'), 'install ignored DESTDIR')


@test('every job file under jobs/ parses with the engine loaded')
def jobs_parse(ctx):
    top = _top()
    jobs = sorted(os.path.relpath(os.path.join(d, f), top)
                  for d, _, files in os.walk(os.path.join(top, 'jobs'))
                  for f in files if f.endswith('.fio'))
    check(jobs, 'jobs/ has no job file')
    env = {'TARGET': '/dev/null', 'SIZE': '1m',
           'ENGINE': f'external:{os.environ["FIOB_ENGINE"]}'}
    for j in jobs:
        r = fio_job(ctx, open(os.path.join(top, j)).read(),
                    extra_args=['--parse-only'], env=env)
        if r.rc != 0:
            raise Fail(f'{j} does not parse: {r.describe()}')


@test('setup run by a user who cannot install stops with a message naming '
      'the packages and FIO_SRC, and changes nothing')
def setup_without_root(ctx):
    build = ctx.tmpdir()
    os.chmod(build, 0o777)
    # A user who has not set FIO_SRC: 'make FIO_SRC=...' (make compat does)
    # exports it to the tests, and setup would then rightly use that tree.
    env = {k: v for k, v in os.environ.items() if k != 'FIO_SRC'}
    r = ctx.run(['setpriv', '--reuid=65534', '--regid=65534',
                 '--clear-groups', 'bash',
                 os.path.join(_top(), 'tools/setup.sh'), build],
                timeout=60, check_rc=False, env=env)
    check(r.returncode != 0, f'setup succeeded as nobody: {r.stdout!r}')
    for needle in ('cannot install automatically', 'liburing',
                   'FIO_SRC=/path/to/fio-source'):
        check(needle in r.stderr, f'{needle!r} missing from: {r.stderr!r}')
    check(os.listdir(build) == [], f'setup left files: {os.listdir(build)}')


@test('FIO_SRC pointing at an unconfigured tree is refused with a message '
      'saying to run ./configure there')
def setup_fio_src_unconfigured(ctx):
    tree = ctx.tmpdir()
    open(os.path.join(tree, 'fio.h'), 'w').close()
    r = ctx.run(['bash', os.path.join(_top(), 'tools/setup.sh'),
                 ctx.tmpdir()], timeout=60, check_rc=False,
                env=dict(os.environ, FIO_SRC=tree))
    check(r.returncode != 0, 'an unconfigured FIO_SRC was accepted')
    check('run ./configure there' in r.stderr, f'unclear: {r.stderr!r}')


@test('FIO_SRC pointing at a configured fio tree is used as is: nothing is '
      'downloaded and the tree is reported back')
def setup_fio_src_configured(ctx):
    with open(os.path.join(_top(), 'build', 'fio-src.path')) as f:
        tree = f.read().strip()
    build = ctx.tmpdir()
    r = ctx.run(['bash', os.path.join(_top(), 'tools/setup.sh'), build],
                timeout=120, env=dict(os.environ, FIO_SRC=tree))
    check(r.stdout.strip().splitlines()[-1] == tree,
          f'setup answered {r.stdout!r}, expected {tree}')
    check(os.listdir(build) == [], f'setup fetched into {build}: '
          f'{os.listdir(build)}')
