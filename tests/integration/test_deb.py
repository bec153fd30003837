"""Packaging and documentation: 'make deb' builds a package that depends on
exactly the fio it was built for, passes lintian with no error, and runs a
job from its own files; 'make install' installs the engine, the man page
and fio-bounce-compare; the man page fio-bounce(7) renders without a groff
warning and documents every bounce* option with its default, and every
counter.
"""
import glob
import os
import re
import subprocess

from fiobtest import Skip, check, expect_ok, fio, fio_file, targets, test

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MAN = os.path.join(TOP, 'man', 'fio-bounce.7')
MAN1 = os.path.join(TOP, 'man', 'fio-bounce-compare.1')
TOOL = os.path.join(TOP, 'tools', 'fio-bounce-compare')


def debian_fio_runs(ctx):
    """Is the fio on PATH (the one the engine was built for) Debian's fio
    package? Under make compat it is a release built from source, and no
    package can depend on it."""
    running = ctx.run(['fio', '--version']).stdout.strip()
    deb = ctx.run(['dpkg-query', '-W', '-f=${Version}', 'fio'],
                  check_rc=False).stdout.strip()
    upstream = deb.split(':')[-1].rsplit('-', 1)[0]
    return running == f'fio-{upstream}', running, deb


def make_deb(ctx):
    ok, running, deb = debian_fio_runs(ctx)
    if not ok:
        # The guard itself is what there is to prove here.
        out = ctx.tmpdir()
        r = ctx.run(['make', '-s', '-C', TOP, 'deb', f'DEB_OUT={out}'],
                    timeout=600, check_rc=False)
        check(r.returncode != 0 and 'the engine was built for' in r.stderr
              and not glob.glob(os.path.join(out, '*.deb')),
              f'make deb under {running} (Debian fio {deb or "absent"}) did '
              f'not refuse: exit {r.returncode}: {r.stderr[-400:]}')
        raise Skip(f'the running fio is {running}, not Debian\'s fio '
                   f'package ({deb or "absent"}): make deb refuses, as it '
                   f'must, so there is no package to check')
    out = ctx.tmpdir()
    ctx.run(['make', '-s', '-C', TOP, 'deb', f'DEB_OUT={out}'], timeout=600)
    debs = glob.glob(os.path.join(out, '*.deb'))
    check(len(debs) == 1, f'make deb made {debs}')
    return debs[0]


def multiarch():
    return subprocess.run(['dpkg-architecture', '-qDEB_HOST_MULTIARCH'],
                          capture_output=True, text=True).stdout.strip()


@test("make deb: fio-engine-bounce_<version>_<arch>.deb depends on exactly "
      "the installed fio, unpacks into a scratch root with the engine, man "
      "page, job library and fio-bounce-compare where they belong, and a "
      "misaligned verify job runs through external: at the unpacked path",
      timeout=600)
def package_installs_and_runs(ctx):
    deb = make_deb(ctx)
    arch = ctx.run(['dpkg', '--print-architecture']).stdout.strip()
    fio_ver = ctx.run(['dpkg-query', '-W', '-f=${Version}', 'fio']).stdout
    name = os.path.basename(deb)
    check(re.fullmatch(rf'fio-engine-bounce_[^_]+_{arch}\.deb', name),
          f'package file name {name}')
    ctl = {f: ctx.run(['dpkg-deb', '-f', deb, f]).stdout.strip()
           for f in ('Package', 'Architecture', 'Depends', 'Version')}
    check(ctl['Package'] == 'fio-engine-bounce' and
          ctl['Architecture'] == arch and name.split('_')[1] ==
          ctl['Version'], f'control: {ctl}')
    check(f'fio (= {fio_ver})' in ctl['Depends'].split(', '),
          f'Depends {ctl["Depends"]!r} lacks fio (= {fio_ver})')
    root = ctx.tmpdir()
    ctx.run(['dpkg', '-x', deb, root], timeout=60)
    so = os.path.join(root, f'usr/lib/{multiarch()}/fio/fio-bounce.so')
    share = os.path.join(root, 'usr/share/fio-bounce')
    for p in (so, os.path.join(root, 'usr/share/man/man7/fio-bounce.7.gz'),
              os.path.join(root,
                           'usr/share/man/man1/fio-bounce-compare.1.gz'),
              os.path.join(share, 'jobs/regression/rmw-4kn.fio'),
              os.path.join(share, 'jobs/ab/rand-4k-qd32.fio')):
        check(os.path.isfile(p), f'{p} is not in the package')
    tool = os.path.join(root, 'usr/bin/fio-bounce-compare')
    check(os.path.islink(tool) and os.path.realpath(tool) ==
          os.path.join(share, 'tools/fio-bounce-compare'),
          f'{tool} does not lead to the tool under /usr/share/fio-bounce')
    r = ctx.run([tool, '--help'], timeout=60)
    check('--target' in r.stdout, f'installed tool --help: {r.stdout!r}')
    dev = targets.loop(ctx, 4096, 64 << 20)
    r = expect_ok(fio(ctx, [f'filename={dev}', 'direct=1', 'rw=randwrite',
                            'bs=1000', 'size=1m', 'iodepth=16',
                            'verify=crc32c', 'verify_fatal=1'], engine=so),
                  'a misaligned verify job on the packaged engine')
    check(r.counters().get('rmw_writes', 0) > 0,
          f'the RMW path did not run: {r.counters()}')
    r = expect_ok(fio_file(ctx, os.path.join(
        share, 'jobs/regression/rmw-4kn.fio'), so,
        {'TARGET': dev, 'SIZE': '1001000'}), 'the packaged rmw-4kn.fio')
    check(r.counters().get('rmw_writes', 0) > 0,
          f'the packaged job did not bounce: {r.counters()}')


@test('lintian finds no error in the package make deb builds', timeout=600)
def lintian_no_errors(ctx):
    deb = make_deb(ctx)
    r = ctx.run(['lintian', '--fail-on', 'error', '--tag-display-limit', '0',
                 deb], timeout=500, check_rc=False)
    errors = [ln for ln in r.stdout.splitlines() if ln.startswith('E:')]
    check(r.returncode == 0 and not errors,
          f'lintian exit {r.returncode}: {errors or r.stderr[-600:]}')


@test('make install DESTDIR= PREFIX= installs the engine, the man page, '
      'fio-bounce-compare (on PATH, runnable) and the job library',
      timeout=300)
def make_install_vendor_kit(ctx):
    dest = ctx.tmpdir()
    ctx.run(['make', '-s', '-C', TOP, 'install', f'DESTDIR={dest}',
             'PREFIX=/opt/fb'], timeout=300)
    base = os.path.join(dest, 'opt/fb')
    for p in ('lib/fio/fio-bounce.so', 'share/man/man7/fio-bounce.7',
              'share/man/man1/fio-bounce-compare.1',
              'share/fio-bounce/jobs/regression/rmw-4kn.fio',
              'share/fio-bounce/jobs/ab/db-512-mix-qd8.fio'):
        check(os.path.isfile(os.path.join(base, p)), f'{p} not installed')
    tool = os.path.join(base, 'bin/fio-bounce-compare')
    r = ctx.run([tool, '--help'], timeout=60)
    check('--yes' in r.stdout, f'installed tool --help: {r.stdout!r}')
    check(not os.path.exists('/opt/fb'), 'install ignored DESTDIR')


def engine_options():
    src = open(os.path.join(TOP, 'engine', 'fio-bounce.c')).read()
    table = src[src.index('static struct fio_option options[]'):]
    table = table[:table.index('{ .name = NULL }')]
    return re.findall(r'\.name\s*=\s*"([^"]+)"', table)


def counters():
    src = open(os.path.join(TOP, 'engine', 'fiob_stats.c')).read()
    block = src[src.index('#define COUNTERS(X)'):]
    block = block[:block.index('\n\n')]
    return re.findall(r'X\((\w+)[,)]', block)


@test('man/fio-bounce.7: groff -ww -z gives no warning (nor for '
      'fio-bounce-compare.1), man -l renders it, and it documents every '
      'bounce* option of the engine with its default, fio\'s io_uring '
      'options, and every stats counter; the .1 names every flag',
      timeout=120)
def man_page(ctx):
    for page in (MAN, MAN1):
        r = ctx.run(['groff', '-ww', '-z', '-man', page], timeout=60,
                    check_rc=False)
        check(r.returncode == 0 and not r.stderr.strip(),
              f'groff -ww {page}: exit {r.returncode}: '
              f'{r.stderr.strip()[:800]}')
    # Without hyphenation, so a word the check looks for is never split.
    env = dict(os.environ, MANPAGER='cat', PAGER='cat', MANWIDTH='80',
               MANOPT='--nh')
    r = ctx.run(['man', '--warnings', '-l', MAN], timeout=60, env=env,
                check_rc=False)
    check(r.returncode == 0 and not r.stderr.strip(),
          f'man -l: exit {r.returncode}: {r.stderr.strip()[:800]}')
    text = re.sub(r'\s+', ' ', r.stdout)
    for sect in ('NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'STATISTICS',
                 'LIMITS', 'EXAMPLES'):
        check(f' {sect} ' in f' {text} ', f'no {sect} section')
    opts = text[text.index(' OPTIONS '):text.index(' STATISTICS ')]
    names = engine_options()
    check('bounce' in names and len(names) >= 6,
          f'options table not found: {names}')
    for name in (n for n in names if n.startswith('bounce')):
        m = re.search(rf'{name}(=| )(.*?)Default: ', opts)
        check(m and len(m.group(2)) < 700, f'option {name} or its default '
              f'is not documented in OPTIONS')
    check("Every option of fio's own io_uring engine is accepted with the "
          "same meaning" in opts, 'no statement about io_uring options')
    stats = text[text.index(' STATISTICS '):text.index(' LIMITS ')]
    names = counters()
    check(len(names) >= 11, f'counter list not found in fiob_stats.c: {names}')
    for c in names:
        check(f' {c} ' in stats or f' {c}, ' in stats,
              f'counter {c} is not in STATISTICS')
    page1 = open(MAN1).read().replace('\\-', '-')
    for flag in set(re.findall(r"add_argument\('(--[\w-]+)'",
                               open(TOOL).read())):
        check(flag in page1, f'fio-bounce-compare(1) lacks {flag}')
