"""experimental_verify: fio-bounce really reads, so it ends fio's own
t/jobs/t0026.fio as posixaio does, not as io_uring does.

fio's io_uring and libaio build their SQE/iocb in .prep, while the io_u is
still a write; experimental_verify turns it into a read only afterwards, so
on the fio releases where that holds their "verify" rewrites the data and
reads nothing, and t0026 passes. posixaio (fio's own queueing engine with no
.prep) and fio-bounce build the request in .queue and really read: the
randrw job of t0026 then fails "bad header rand_seed" (fio's own
experimental_verify bug, which psync does not hit). These tests ask the
running fio: they compare engines in the same run and never assume which
release has which behaviour (README, "fio versions").
"""
import os
import re

from fiobtest import check, fio_job, targets, test

# fio's t/jobs/t0026.fio, verbatim (the same in fio 3.33 ... 3.42).
T0026 = """[job1]
filename=t0026file
size=1M
readwrite=randwrite
loops=8
do_verify=1
verify=md5
experimental_verify=1

[job2]
stonewall=1
filename=t0026file
size=1M
readwrite=randrw
time_based
runtime=5
do_verify=1
verify=md5
experimental_verify=1
"""


def on_device(text, dev):
    """@text on a raw device, O_DIRECT, so the device counts every read."""
    return text.replace('filename=t0026file', f'filename={dev}\ndirect=1')


def verify_failures(r):
    """fio's verify failure lines, with the file name blanked."""
    return [re.sub(r'at file \S+', 'at file F', ln.strip())
            for ln in r.err.splitlines() if ln.startswith('verify: ')]


def outcome(r):
    """How a t0026 run ended: exit status, per-job error, first failure."""
    fails = verify_failures(r)
    return r.rc, r.errors(), fails[0] if fails else None


def sectors_read(dev):
    """Sectors the block layer has read from @dev (/sys/block/X/stat)."""
    with open(f'/sys/block/{os.path.basename(dev)}/stat') as f:
        return int(f.read().split()[2])


def run_counting_reads(ctx, text, engine, dev):
    """@text with @engine on @dev (zeroed first); (result, sectors read)."""
    with open(dev, 'r+b', buffering=0) as f:
        f.write(bytes(2 << 20))
        os.fsync(f.fileno())
    before = sectors_read(dev)
    r = fio_job(ctx, on_device(text, dev), engine=engine, timeout=90)
    return r, sectors_read(dev) - before


@test('fio\'s own t/jobs/t0026.fio (experimental_verify, buffered file) '
      'ends through fio-bounce exactly as through posixaio: same exit '
      'status, same per-job errors, same first verify failure', timeout=120)
def t0026_ends_like_posixaio(ctx):
    ref = outcome(fio_job(ctx, T0026, engine='posixaio', timeout=90))
    got = outcome(fio_job(ctx, T0026, timeout=90))
    check(got == ref, f't0026: fio-bounce ended {got}, posixaio {ref}')


@test('t0026 on a raw 512n device (direct=1): fio-bounce ends it as posixaio '
      'and reads the same sectors; io_uring ends it otherwise only where '
      'its experimental_verify reads nothing from the device (the .prep '
      'artefact), and where it reads, it ends it as posixaio', timeout=180)
def t0026_io_uring_pass_reads_nothing(ctx):
    dev = targets.loop(ctx, 512, 8 << 20)
    job1 = T0026.split('[job2]')[0]     # randwrite, then verify: 1 MiB
    res = {}
    for engine in ('posixaio', 'bounce', 'io_uring'):
        full, _ = run_counting_reads(ctx, T0026, engine, dev)
        verify, sectors = run_counting_reads(ctx, job1, engine, dev)
        check(verify.rc == 0 and not any(verify.errors()),
              f'{engine}: t0026 job1 failed: {verify.describe()}')
        res[engine] = outcome(full), sectors
    (ref, ref_sectors), (got, sectors) = res['posixaio'], res['bounce']
    check(got == ref, f't0026 on a device: fio-bounce ended {got}, '
          f'posixaio {ref}')
    # The verify pass of job1 reads back every block written (1 MiB).
    check(sectors == ref_sectors >= (1 << 20) // 512,
          f'job1\'s verify read {sectors} sectors through fio-bounce, '
          f'{ref_sectors} through posixaio')
    uring, uring_sectors = res['io_uring']
    if uring_sectors == 0:
        # Nothing was read: whatever io_uring's verdict, it verified nothing.
        return
    check(uring_sectors == ref_sectors and uring == ref,
          f'io_uring read {uring_sectors} sectors in job1\'s verify (posixaio '
          f'{ref_sectors}) yet ended t0026 {uring}, posixaio {ref}')
