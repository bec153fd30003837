"""Integrity matrix: misaligned O_DIRECT I/O through fio-bounce passes fio's
own verify (crc32c, md5, verify=pattern) across block sizes, memory
alignments, block alignments, workloads, queue depths and targets, and every
combination proves which bounce path it took.

The combinations are a deterministic covering design (design(), seed SEED):
a greedy AETG-style construction that first covers every pair of values of
any two axes and every triple of the axis groups the bounce paths depend on
most (KEY_TRIPLES), then keeps adding the candidate that covers the most
triples not seen yet until it has COUNT combinations. The result covers
every triple of values of any three axes (covering_design checks it).

fio quirks this file works around (each checked with buffered I/O on a
regular file, psync and io_uring, so they are fio's and not the engine's):

 - blockalign < bs on a random workload: fio turns the random map off ("Any
   use of blockalign= turns off randommap"), so writes overlap. Its verify
   list then becomes an offset-sorted tree that drops an entry when a later
   write overlaps it, which is right only if the later write also lands
   later. fio-bounce lands overlapping RMW writes in issue order (they queue
   FIFO behind each other), but like stock io_uring it does not order two
   overlapping *aligned* writes in flight together, and a device may
   complete those in either order (not seen on these loop devices, but not
   promised). So such jobs get serialize_overlap=1: fio never issues an I/O
   that overlaps one in flight, and every byte verified belongs to the last
   write of its range. Writes still share blocks without overlapping, so the
   RMW serialization is still exercised.
 - rw=randrw with that offset-sorted tree (blockalign < bs): fio 3.33 checks
   each header's rand_seed against a seed it regenerates in *write* order,
   but walks the tree in *offset* order, so crc32c/md5 fail with "bad header
   rand_seed" even with psync on a buffered regular file. verify_backlog
   makes fio take the seed from the header (verify.c: TD_F_VER_BACKLOG); the
   checksum over the data and the header's offset are still checked, so a
   lost or misplaced byte is still caught. (verify=pattern has no seed.)
 - bs_unaligned with verify (fio#509): fio 3.33 verifies bsrange +
   bs_unaligned fine for write, randwrite and randrw (buffered, any depth);
   it only warns "bs_unaligned may not work with raw io" under direct=1.
 - blockalign only applies to random I/O: sequential 'write' jobs ignore it
   (fio sets ba = min_bs), and the expectations below follow fio there.
 - iomem_align shifts only the first buffer; buffer i sits at
   page + iomem_align + i * max_bs, so for bs=1000/4095/4097/65537 and for
   bsrange the buffers are misaligned even with iomem_align=0 (those I/Os
   are window I/Os anyway).
 - iodepth=64 with bs=65537 and 4 MiB: fewer I/Os than the depth (63); fio
   runs it fine, the whole job is in flight at once.

Zero copy: every combination runs with it on (the default), and those where
it can apply (expected_zero_copy: a 4Kn target, 512-multiple lengths and
buffers) run again with bounce_zero_copy=0, the copy path. Elsewhere the
option changes nothing, which the first run proves (zero_copy == 0).
"""
import itertools
import mmap
import os
import random

from fiobtest import (Fail, check, debug_align, expect_error, expect_ok,
                      fio, targets, test)

EINVAL = 22
EILSEQ = 84         # fio's verify failure
SIZE = 4 << 20
COUNT = 162          # combinations (>= 150)
SEED = 509           # the design's seed: same seed, same combinations
STOCK_EVERY = 10     # every 10th combination also runs on stock io_uring

AXES = {
    'bs': ['512', '1000', '4095', '4096', '4097', '65537', 'range'],
    'mem': [0, 7, 511, 4095],           # iomem_align
    'ba': ['1', '512', 'bs'],           # blockalign ('bs': fio's default)
    'rw': ['write', 'randwrite', 'randrw'],
    'qd': [1, 8, 64],
    'target': ['loop4k', 'loop512', 'ext4'],
    'verify': ['crc32c', 'md5', 'pattern'],
}
NAMES = list(AXES)
KEY_TRIPLES = [('bs', 'ba', 'target'), ('bs', 'mem', 'target'),
               ('bs', 'rw', 'target'), ('rw', 'ba', 'qd')]

# bsrange with bs_unaligned: lengths from under one 4 KiB block to just over
# two, offsets at multiples of 1000 (fio's blockalign default is min_bs).
BSRANGE = (1000, 9000)
PATTERN = '0x5aa5c33c%o'   # %o: each block carries its own offset

# What each target's O_DIRECT path needs: (offset/length, memory) bytes.
# Checked, not assumed: see the alignment_in_force_* tests below.
ALIGN = {'loop4k': (4096, 512), 'loop512': (512, 512), 'ext4': (4096, 512)}


def design(seed=SEED, count=COUNT, cands=30):
    """A seeded greedy (AETG-style) covering design: returns combos."""
    rng = random.Random(seed)
    pos = {n: i for i, n in enumerate(NAMES)}
    must = [tuple(pos[a] for a in g) for g in itertools.combinations(NAMES, 2)]
    must += [tuple(pos[a] for a in g) for g in KEY_TRIPLES]
    nice = [g for g in itertools.combinations(range(len(NAMES)), 3)
            if g not in must]
    need = {(g, v) for g in must
            for v in itertools.product(*(AXES[NAMES[i]] for i in g))}
    have = set()
    rows, taken = [], set()
    while len(rows) < count or need:
        # Seed the first candidate with an uncovered tuple: progress is sure.
        pick = min(need, key=repr) if need else None
        best, score = None, -1
        for k in range(cands):
            row = [rng.choice(AXES[n]) for n in NAMES]
            if pick and k == 0:
                for i, v in zip(*pick):
                    row[i] = v
            row = tuple(row)
            if row in taken:
                continue
            s = 1000 * sum((g, tuple(row[i] for i in g)) in need for g in must)
            s += sum((g, tuple(row[i] for i in g)) not in have for g in nice)
            if s > score:
                best, score = row, s
        rows.append(best)
        taken.add(best)
        for g in must:
            need.discard((g, tuple(best[i] for i in g)))
        for g in nice:
            have.add((g, tuple(best[i] for i in g)))
    return [dict(zip(NAMES, r)) for r in rows]


def min_bs(c):
    return BSRANGE[0] if c['bs'] == 'range' else int(c['bs'])


def blockalign(c):
    """The blockalign fio really uses (None: its default, min_bs)."""
    if c['ba'] == 'bs' or c['rw'] == 'write':
        return None
    return int(c['ba'])


def expected_kind(c):
    """Which path the combo must take on its target: 'window' (offset or
    length misaligned: rmw_writes and window_reads), 'mem' (only the memory
    is misaligned: mem_bounced) or 'pass' (aligned: nothing bounced)."""
    off_align, mem_align = ALIGN[c['target']]
    ba = blockalign(c) or min_bs(c)
    if c['bs'] == 'range' or min_bs(c) % off_align or ba % off_align:
        return 'window'
    # Buffer i is at page + iomem_align + i * max_bs (max_bs is a multiple
    # of 512 here), so only iomem_align can misalign it.
    if c['mem'] % mem_align:
        return 'mem'
    return 'pass'


def expected_zero_copy(c):
    """Which bounced I/O of the combo goes out vectored without a copy:
    'all' (every window I/O), 'some' (offsets or lengths only sometimes on
    the 512-byte grid) or 'none' (no segment can meet the memory rule)."""
    off_align, mem_align = ALIGN[c['target']]
    if expected_kind(c) != 'window' or off_align <= mem_align or \
            c['mem'] % mem_align:
        return 'none'
    if c['bs'] == 'range':
        return 'some'       # bs_unaligned lengths at multiples of 1000
    if min_bs(c) % mem_align:
        return 'none'
    ba = blockalign(c) or min_bs(c)
    return 'all' if ba % mem_align == 0 else 'some'


def combo_name(i, c):
    return (f"m{i:03d}_{c['rw']}_bs{c['bs']}_mem{c['mem']}_ba{c['ba']}"
            f"_qd{c['qd']}_{c['target']}_{c['verify']}")


def make_target(ctx, kind):
    if kind == 'loop4k':
        return targets.loop(ctx, 4096, 16 << 20)
    if kind == 'loop512':
        return targets.loop(ctx, 512, 16 << 20)
    return os.path.join(targets.ext4(ctx, 4096, 32 << 20), 'data.bin')


def job_args(c, target, seed):
    args = [f'filename={target}', 'direct=1', f'size={SIZE}',
            f"iodepth={c['qd']}", f"rw={c['rw']}", f'randseed={seed}']
    if c['bs'] == 'range':
        args += [f'bsrange={BSRANGE[0]}-{BSRANGE[1]}', 'bs_unaligned=1']
    else:
        args.append(f"bs={c['bs']}")
    if c['mem']:
        args.append(f"iomem_align={c['mem']}")
    if c['ba'] != 'bs':
        args.append(f"blockalign={c['ba']}")
    if c['verify'] == 'pattern':
        args += ['verify=pattern', f'verify_pattern={PATTERN}']
    else:
        args.append(f"verify={c['verify']}")
    ba = blockalign(c)
    if ba is not None and ba < min_bs(c):
        # Random writes overlap (fio turned the random map off): see the
        # module docstring for both options.
        args.append('serialize_overlap=1')
        if c['rw'] == 'randrw':
            args.append('verify_backlog=64')
    return args


def mismatches(r):
    return sum(1 for ln in r.err.splitlines()
               if 'verify' in ln and ('failed' in ln or 'bad' in ln))


def check_paths(c, r):
    cnt = r.counters()
    kind = expected_kind(c)
    windowed = cnt.get('rmw_writes', 0) + cnt.get('window_reads', 0)
    where = f"{c['target']} ({ALIGN[c['target']][0]}/{ALIGN[c['target']][1]})"
    if kind == 'window':
        check(cnt.get('rmw_writes', 0) > 0 and cnt.get('window_reads', 0) > 0,
              f'misaligned offsets/lengths on {where} but no RMW write or '
              f'window read was counted: {cnt}')
    elif kind == 'mem':
        check(cnt.get('mem_bounced', 0) > 0,
              f'memory-misaligned I/O on {where} was not bounced: {cnt}')
        check(windowed == 0,
              f'offsets/lengths are aligned on {where} but I/O went through '
              f'a window: {cnt}')
    else:
        check(cnt.get('passthrough', 0) > 0 and
              cnt.get('mem_bounced', 0) + windowed == 0,
              f'fully aligned I/O on {where} was bounced: {cnt}')


def check_zero_copy(c, r, zc):
    """Zero copy ran exactly where it can, and only with it on."""
    cnt = r.counters()
    windowed = cnt.get('rmw_writes', 0) + cnt.get('window_reads', 0)
    want = expected_zero_copy(c) if zc else 'none'
    if want == 'none':
        check(cnt['zero_copy'] == 0, f'zero copy ran where it cannot '
              f'(bounce_zero_copy={int(zc)}): {cnt}')
        if windowed:
            check(cnt['bytes_copied'] > 0, f'window I/O copied nothing '
                  f'without zero copy: {cnt}')
    elif want == 'all':
        check(cnt['zero_copy'] == windowed and cnt['bytes_copied'] == 0,
              f'every window I/O should go zero copy and copy nothing: '
              f'{cnt}')


def check_verified(c, r):
    """fio really read back a good part of what it wrote (verify ran)."""
    job = r.jobs()[0]
    wrote, read = job['write']['io_bytes'], job['read']['io_bytes']
    # randrw: size counts both directions, so the mixed phase read about
    # SIZE - wrote; the rest of the reads are verify reads.
    verified = read - max(0, SIZE - wrote) if c['rw'] == 'randrw' else read
    # Overlapping random writes drop the overlapped verify entries (about
    # 40% of the bytes remain at worst in this matrix); never that few.
    check(wrote > 0 and verified >= wrote // 4,
          f'fio wrote {wrote} bytes but verified only about {verified}')


def stock_subset(combos):
    """Every STOCK_EVERY-th combo, plus the first misaligned one of any
    target that has none in it yet."""
    pick = set(range(0, len(combos), STOCK_EVERY))
    for t in AXES['target']:
        if not any(combos[i]['target'] == t and expected_kind(combos[i]) !=
                   'pass' for i in pick):
            pick.add(next(i for i, c in enumerate(combos) if c['target'] == t
                          and expected_kind(c) != 'pass'))
    return pick


def _combo_test(i, c, stock, zc=True):
    def fn(ctx):
        target = make_target(ctx, c['target'])
        args = job_args(c, target, 1000 + i)
        r = fio(ctx, args + (['bounce_zero_copy_min=0'] if zc else ['bounce_zero_copy=0']),
                timeout=150)
        if r.rc != 0 or any(r.errors()):
            raise Fail(f'the job failed ({mismatches(r)} verify mismatch '
                       f'lines): errors={r.errors()}; {r.describe()}')
        check_paths(c, r)
        check_zero_copy(c, r, zc)
        check_verified(c, r)
        if stock:
            s = fio(ctx, args, engine='io_uring', timeout=60)
            if expected_kind(c) == 'pass':
                expect_ok(s, 'the aligned job on stock io_uring')
            else:
                expect_error(s, EINVAL, 'the same job on stock io_uring')
    fn.__name__ = combo_name(i, c) + ('' if zc else '_zc0')
    return fn


def _proves(c, stock, zc=True):
    kind = expected_kind(c)
    bs = (f'bsrange={BSRANGE[0]}-{BSRANGE[1]},bs_unaligned'
          if c['bs'] == 'range' else f"bs={c['bs']}")
    path = {'window': 'through the aligned window (rmw_writes and '
                      'window_reads counted)',
            'mem': 'through the bounce slots with memory-only '
                   'misalignment (mem_bounced counted, no window)',
            'pass': 'straight through, nothing bounced (aligned on '
                    'this target)'}[kind]
    text = (f"{c['rw']} {bs} iomem_align={c['mem']} blockalign={c['ba']} "
            f"QD{c['qd']} on {c['target']} passes {c['verify']} verify "
            f"with 0 mismatches, {path}")
    zero = expected_zero_copy(c)
    if not zc:
        text += '; with bounce_zero_copy=0 no I/O goes zero copy'
    elif zero == 'all':
        text += ('; every window I/O goes zero copy (bounce_zero_copy_min=0), '
                 '0 bytes copied')
    elif zero == 'none':
        text += '; no I/O can go zero copy, none does'
    if stock:
        text += ('; stock io_uring fails the same job with EINVAL'
                 if kind != 'pass' else '; stock io_uring runs it too')
    return text


def zero_copy_combos():
    """Combinations the design rarely draws where every window I/O can go
    zero copy (512-byte multiples at 512-aligned buffers and offsets on a
    4096-byte rule): both 4Kn targets, random writes and mixed I/O, 512
    bytes and 4 KiB, run as the matrix runs them (numbered after it)."""
    verify = itertools.cycle(AXES['verify'])
    qd = itertools.cycle([1, 8, 64])
    return [{'bs': bs, 'mem': 0, 'ba': '512', 'rw': rw, 'qd': next(qd),
             'target': t, 'verify': next(verify)}
            for t in ('loop4k', 'ext4') for rw in ('randwrite', 'randrw')
            for bs in ('512', '4096')]


COMBOS = design()
_STOCK = stock_subset(COMBOS)
for _i, _c in enumerate(COMBOS + zero_copy_combos()):
    _stock = _i in _STOCK or _i == len(COMBOS)
    test(_proves(_c, _stock), timeout=180)(_combo_test(_i, _c, _stock))
    if expected_zero_copy(_c) != 'none':
        test(_proves(_c, False, zc=False), timeout=180)(
            _combo_test(_i, _c, False, zc=False))


@test(f'the matrix is a covering design: {COUNT} combinations, every '
      f'value of every axis, every pair and every triple of values of any '
      f'three axes',
      timeout=30)
def covering_design(ctx):
    check(len(COMBOS) >= 150 and len(COMBOS) == len(
        {tuple(c.values()) for c in COMBOS}), f'{len(COMBOS)} distinct combos')
    for k in (1, 2, 3):
        for g in itertools.combinations(NAMES, k):
            want = set(itertools.product(*(AXES[a] for a in g)))
            have = {tuple(c[a] for a in g) for c in COMBOS}
            check(want <= have, f'{g}: not covered: {sorted(want - have)[:5]}')
    kinds = [expected_kind(c) for c in COMBOS]
    check(kinds.count('window') + kinds.count('mem') > len(kinds) * 3 // 4,
          f'most combos must be misaligned: {kinds}')


def _corruption_test(vtype):
    def fn(ctx):
        dev = make_target(ctx, 'loop4k')
        c = {'bs': '1000', 'mem': 7, 'ba': 'bs', 'rw': 'randwrite', 'qd': 8,
             'target': 'loop4k', 'verify': vtype}
        args = job_args(c, dev, 77) + ['size=1M']
        expect_ok(fio(ctx, args + ['do_verify=0']), 'the write pass')
        # Flip one byte in the middle of the written range, behind fio.
        fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
        try:
            buf = mmap.mmap(-1, 4096)
            os.preadv(fd, [buf], 512 << 10)
            buf[123] ^= 0xff
            os.pwritev(fd, [buf], 512 << 10)
        finally:
            os.close(fd)
        r = fio(ctx, args + ['verify_only=1'])
        expect_error(r, EILSEQ, f'{vtype} verify of a corrupted device')
        check(mismatches(r) > 0, f'no mismatch reported: {r.describe()}')
    fn.__name__ = f'verify_catches_corruption_{vtype}'
    return fn


for _v in AXES['verify']:
    test(f'{_v} verify as the matrix runs it (bs=1000, iomem_align=7, '
         f'through fio-bounce) fails with EILSEQ when one byte on the device '
         f'was flipped: the matrix\'s "0 mismatches" is a real check',
         timeout=60)(_corruption_test(_v))


def _align_test(kind):
    def fn(ctx):
        target = make_target(ctx, kind)
        r = fio(ctx, [f'filename={target}', 'direct=1', 'rw=write',
                      'bs=1000', 'size=64k', '--debug=io'], fmt='normal')
        check(r.rc == 0, f'the probe job failed: {r.describe()}')
        in_force = debug_align(r, target)[3:]
        check(in_force == ALIGN[kind],
              f'the matrix assumes off/mem {ALIGN[kind]} on {kind}; '
              f'--debug=io says {in_force} are in force')
    fn.__name__ = f'alignment_in_force_{kind}'
    return fn


for _k in AXES['target']:
    test(f'the engine learns {ALIGN[_k][0]}-byte offsets and '
         f'{ALIGN[_k][1]}-byte memory alignment on {_k} (--debug=io), the '
         f'rule the matrix expectations are computed from',
         timeout=60)(_align_test(_k))
