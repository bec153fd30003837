"""Every numeric bounce option at its bounds: the last value on each side
is accepted and really in force (bounce_stats says so), the first value
past each side is refused before any I/O with a message that names the
option and the value; negative values, which fio's own integer parser
reads as a range and used to drop silently, included."""
import os

from fiobtest import check, expect_ok, fio, fio_job, targets, test


def _scratch(ctx):
    path = os.path.join(ctx.tmpdir(), 'scratch')
    with open(path, 'wb') as f:
        f.truncate(1 << 20)
    return path


def _refused(ctx, path, opt, extra=()):
    r = fio(ctx, [f'filename={path}', 'size=64k', 'rw=write', opt, *extra])
    check(r.rc != 0, f'{opt} was accepted: {r.describe()}')
    check(f'fio-bounce: {opt} is ' in r.text,
          f'no message naming {opt}: {r.describe()}')
    check(not r.stats, f'{opt}: the refused job ran: {r.stats}')
    with open(path, 'rb') as f:
        check(f.read(64 << 10) == bytes(64 << 10), f'{opt}: data written')


def _accepted(ctx, path, opt, extra=()):
    r = expect_ok(fio(ctx, [f'filename={path}', 'size=64k', 'rw=read', opt,
                            *extra]), opt)
    check(len(r.stats) == 1, f'{opt}: bounce_stats lines {r.stats}')
    return r.stats[0]


@test('bounce_slots: 1 and 65536 are in force as given; 0, 65537, -1, 1-2 '
      'and 1.5 are refused with a message naming them', timeout=120)
def bounce_slots_bounds(ctx):
    path = _scratch(ctx)
    for bad in ('0', '65537', '-1', '1-2', '1.5', '65k'):
        _refused(ctx, path, f'bounce_slots={bad}')
    check(_accepted(ctx, path, 'bounce_slots=1')['slots'] == 1,
          'bounce_slots=1 not in force')
    # 65536 slots of 12 KiB are 768 MiB, populated up front: unregistered.
    s = _accepted(ctx, path, 'bounce_slots=65536', ['bounce_register=0'])
    check(s['slots'] == 65536, f'bounce_slots=65536 not in force: {s}')


def _align_bounds(ctx, opt, key):
    path = _scratch(ctx)
    for bad in ('-1', '-4096', '3', '2147483648', '2g', '4096-8192'):
        _refused(ctx, path, f'{opt}={bad}')
    # A buffered file needs 1/1: what is in force is exactly the override.
    for good, want in (('1', 1), ('0', 1), ('4096', 4096)):
        s = _accepted(ctx, path, f'{opt}={good}')
        check(s['files'][0][key] == want,
              f'{opt}={good}: {key} {s["files"][0][key]}, want {want}')
    # 1 GiB slots would be populated up front: no slots (bounce=never).
    s = _accepted(ctx, path, f'{opt}=1g', ['bounce=never'])
    check(s['files'][0][key] == 1 << 30, f'{opt}=1g not in force: {s}')


@test('bounce_align: 0, 1 and 1g are accepted and in force; -1, 3, 2g '
      'and 2147483648 are refused with a message naming them', timeout=120)
def bounce_align_bounds(ctx):
    _align_bounds(ctx, 'bounce_align', 'off_align')


@test('bounce_mem_align: 0, 1 and 1g are accepted and in force; -1, 3, '
      '2g and 2147483648 are refused with a message naming them',
      timeout=120)
def bounce_mem_align_bounds(ctx):
    _align_bounds(ctx, 'bounce_mem_align', 'mem_align')


@test('bounce_register: 0 and 1 are accepted (0 leaves the slots '
      'unregistered); -1 and 2 are refused with a message naming them',
      timeout=60)
def bounce_register_bounds(ctx):
    path = _scratch(ctx)
    for bad in ('-1', '2', 'maybe'):
        _refused(ctx, path, f'bounce_register={bad}')
    s = _accepted(ctx, path, 'bounce_register=0')
    check(s['slots_registered'] is False, f'bounce_register=0: {s}')
    _accepted(ctx, path, 'bounce_register=1')


@test('bounce_zero_copy_min: auto, 0, 64k and 1g are accepted and in force '
      'on a 4Kn device (the stats record value and source); -1, Auto, 2g, '
      '1.5 and 4k-8k are refused with a message naming them', timeout=120)
def bounce_zero_copy_min_bounds(ctx):
    path = _scratch(ctx)
    for bad in ('-1', 'Auto', '2g', '1.5', '4k-8k'):
        _refused(ctx, path, f'bounce_zero_copy_min={bad}')
    dev = targets.loop(ctx, 4096, 8 << 20)
    for good, want in (('0', 0), ('64k', 64 << 10), ('1g', 1 << 30),
                       ('auto', None)):
        s = _accepted(ctx, dev, f'bounce_zero_copy_min={good}',
                      ['direct=1', 'bs=4k'])
        f = s['files'][0]
        check(f['zero_copy'] == 'accepted',
              f'the probe did not accept zero copy here: {f}')
        src = 'auto' if want is None else 'option'
        check(f['zero_copy_min_source'] == src and
              (want is None or f['zero_copy_min'] == want),
              f'bounce_zero_copy_min={good}: {f}, want {want} ({src})')


@test('bounce_slots=-1 in a job file is refused too, not run with the '
      'default', timeout=60)
def bounce_slots_negative_in_job_file(ctx):
    path = _scratch(ctx)
    r = fio_job(ctx, f'[j]\nfilename={path}\nsize=64k\nrw=write\n'
                     'bounce_slots=-1\n')
    check(r.rc != 0 and not r.stats, f'bounce_slots=-1 ran: {r.describe()}')
    check('fio-bounce: bounce_slots=-1 is ' in r.text,
          f'no message naming bounce_slots=-1: {r.describe()}')
