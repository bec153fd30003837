"""make bench: what runs. Each row (Workload) is an fio job on both sides,
the path fio-bounce must take in it, and its target; plus the copy rows'
names and targets. See bench.py for the method."""
from dataclasses import dataclass, field

DEVICE_BYTES = 1 << 30
SECTOR = 4096
BOUNCED = ('mem_bounced', 'window_reads', 'rmw_writes')
# Options both sides of every row share; the device and timing come later.
COMMON = {'direct': 1, 'thread': 1, 'time_based': 1, 'norandommap': 1,
          'randrepeat': 1}


@dataclass(frozen=True)
class Workload:
    name: str
    group: str          # 'control', 'foundation', 'bounce-core', 'zero-copy'
    job: dict           # fio options both sides share
    path: str           # fio-bounce counter that must be > 0
    target: float | None
    ref: dict = field(default_factory=dict)     # the io_uring side's own
    bounce: dict = field(default_factory=dict)  # the fio-bounce side's own
    # 'bounce': the reference side runs fio-bounce too (with its ref
    # options), for rows that price one engine option against its absence.
    ref_engine: str = 'io_uring'
    # The engine decides between the copy and zero copy (auto): either
    # path counts, the other checks of the row still hold.
    either_path: bool = False


def job(rw, qd, bs=None):
    """fio options of a row's shared job (bs left out: each side sets it)."""
    return {'rw': rw, 'iodepth': qd} | ({'bs': bs} if bs else {})


WORKLOADS = [
    # A/A: io_uring against itself, run exactly like the rows below. Its
    # spread is the method's own noise on this machine, in this run.
    Workload('4K randread QD32, io_uring vs itself', 'control',
             job('randread', 32, '4k'), None, None),
    Workload('4K randread QD1', 'foundation', job('randread', 1, '4k'),
             'passthrough', 1.00),
    Workload('4K randread QD32', 'foundation', job('randread', 32, '4k'),
             'passthrough', 1.00),
    Workload('128K seqread QD8', 'foundation', job('read', 8, '128k'),
             'passthrough', 1.00),
    Workload('4K randwrite QD32', 'foundation', job('randwrite', 32, '4k'),
             'passthrough', 1.00),
    Workload('4K randread QD32 iomem_align=7', 'bounce-core',
             job('randread', 32, '4k'), 'mem_bounced', 0.95,
             bounce={'iomem_align': 7}),
    # Both sides register fio's buffers: no pinning on either side, so this
    # row is the copy's own cost (fio-bounce's slots are registered anyway).
    Workload('4K randread QD32 iomem_align=7, fixedbufs', 'bounce-core',
             job('randread', 32, '4k') | {'fixedbufs': 1}, 'mem_bounced',
             None, bounce={'iomem_align': 7}),
    Workload('128K seqread QD8 iomem_align=7', 'bounce-core',
             job('read', 8, '128k'), 'mem_bounced', 0.90,
             bounce={'iomem_align': 7}),
    # What a user gets by default (bounce_zero_copy_min=auto): with the span
    # (the header's zero_copy_fixed=yes) reads go zero copy at every size,
    # as READV_FIXED; without it 4 KiB is below the automatic threshold
    # (16 KiB-1 MiB), so the read fills a registered slot and copies 4 KiB.
    Workload('4K randread ba=512 QD32 vs 8K, auto', 'bounce-core',
             job('randread', 32), 'window_reads', 1.00,
             ref={'bs': '8k'}, bounce={'bs': '4k', 'blockalign': 512},
             either_path=True),
    # Zero copy (issue 9) forced at 4 KiB (bounce_zero_copy_min=0): one
    # READV_FIXED of [discard head, user buffer, discard tail] on the span
    # (READV with the head and tail in the slot where there is none: the
    # header's zero_copy_fixed); the reference moves the same 8 KiB window
    # aligned, pinning two pages per I/O, which the fixed form does not
    # (bench/RESULTS-zc.md, section 7).
    Workload('4K randread ba=512 QD32 vs 8K, zero copy forced', 'zero-copy',
             job('randread', 32), 'zero_copy', 1.00,
             ref={'bs': '8k'}, bounce={'bs': '4k', 'blockalign': 512,
                                       'bounce_zero_copy_min': 0}),
    # fio#186: 512-byte reads on a 4Kn device, against 4 KiB aligned reads
    # (each 512-byte read moves one 4 KiB block: amplification 8). By
    # default they copy (below the threshold).
    Workload('512B randread QD32 vs 4K (fio#186)', 'bounce-core',
             job('randread', 32), 'window_reads', None,
             ref={'bs': '4k'}, bounce={'bs': '512'}),
    # The crossover: 64 KiB reads copied and zero copy (forced: 64 KiB is
    # below this machine's automatic threshold), against 68 KiB aligned
    # reads. No target: the pair shows where the two paths meet.
    Workload('64K randread ba=512 QD8 vs 68K, copy', 'zero-copy',
             job('randread', 8), 'window_reads', None,
             ref={'bs': '68k'}, bounce={'bs': '64k', 'blockalign': 512,
                                        'bounce_zero_copy': 0}),
    Workload('64K randread ba=512 QD8 vs 68K, zero copy forced', 'zero-copy',
             job('randread', 8), 'zero_copy', None,
             ref={'bs': '68k'}, bounce={'bs': '64k', 'blockalign': 512,
                                        'bounce_zero_copy_min': 0}),
    # Bound by one read plus one write of the 8 KiB window (RMW).
    # Forced to zero copy (bounce_zero_copy_min=0), as issue 9 states it.
    Workload('4K randwrite ba=512 RMW QD32 vs 8K, zero copy forced',
             'zero-copy', job('randwrite', 32), 'zero_copy', None,
             ref={'bs': '8k'}, bounce={'bs': '4k', 'blockalign': 512,
                                       'bounce_zero_copy_min': 0}),
    # Cross-job sharing's price for one job (issue 10): bounce_share=on
    # locks each write's range of a lock file (two fcntl calls per write)
    # even with no other job; the reference is the same engine with it off,
    # which is what auto does for a job alone. No target: it prices the
    # option, and is why auto exists.
    Workload('4K randwrite bs=1000 QD32, bounce_share=on vs off', 'share',
             job('randwrite', 32, '1000'), 'rmw_writes', None,
             ref={'bounce_share': 'off'}, bounce={'bounce_share': 'on'},
             ref_engine='bounce'),
]
COPY_NAME = 'copy worst distance (GB/s)'
COPY_TARGET = 0.80
COPY_SAME_NAME = 'copy vs glibc at the same distance'
COPY_SAME_TARGET = 0.95
