"""make bench's "peers" section: QEMU's block layer against fio-bounce.

QEMU pads and serializes misaligned guest I/O on an O_DIRECT host device
much as fio-bounce does, so it is the natural peer. Its own benchmark,
`qemu-img bench -f raw -t none -i io_uring` (Debian's qemu-utils), drives
QEMU's block layer with no guest: raw format, O_DIRECT (-t none), io_uring.
fio-bounce runs the same workload under fio (bounce=auto) on the same
device. Each workload is a size, a step between offsets (the size for a
sequential run), a direction and a queue depth.

Method: rounds. Each round runs every row once, each row as one run per
tool back to back (the order alternates between rounds, so a drift in machine
speed favours neither), so every figure is spread over the whole section.
A row reports the median over rounds of each tool's IOPS, and the median of
the per-round ratio fio-bounce/QEMU. "mis/al" is a tool's misaligned row
against its aligned 4K row of the same direction and depth in the same
round (median over rounds): the price each tool pays for misalignment,
independent of how fast its harness is. qemu-img bench is count-based: each
run's count is sized from that row's last QEMU figure to last about as long
as fio's time-based run. Both start at offset 0.

fio-bounce's bounce_stats counters are checked after each run: a
misaligned row must show its bounced path, an aligned one must pass
through.

Standalone (root; a 4Kn block device that may be overwritten):

    python3 bench/peers.py --dev /dev/loopN --engine /abs/fio-bounce.so \\
        [--before /abs/older-fio-bounce.so] [--rounds N] [--runtime-ms MS] \\
        [--scaling]

--scaling runs sequential 1000-byte writes at QD 1/2/4/8/32 instead of the
peers rows (the QD scaling table); --before adds another fio-bounce build
as a third tool, e.g. the one before a change.
"""
import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

QEMU_IMG = 'qemu-img'
QEMU_ARGS = ['bench', '-f', 'raw', '-t', 'none', '-i', 'io_uring']


@dataclass(frozen=True)
class Peer:
    name: str
    write: bool
    size: int       # bytes per I/O
    step: int       # bytes from one I/O's offset to the next
    qd: int

    @property
    def aligned(self):
        return self.size % 4096 == 0 and self.step % 4096 == 0

    def ref(self):
        """The aligned row this row's mis/al ratio divides by."""
        return aligned_row(self.write, self.qd)


def aligned_row(write, qd):
    return Peer(f'aligned 4K {"write" if write else "read"} QD{qd}', write,
                4096, 4096, qd)


def seq(write, qd, size=1000):
    return Peer(f'seq {size}B {"write" if write else "read"} QD{qd}', write,
                size, size, qd)


# Each misaligned row runs next to the aligned row its mis/al divides by.
PEERS = [
    seq(False, 1), aligned_row(False, 1),
    seq(False, 32), aligned_row(False, 32),
    seq(True, 1), aligned_row(True, 1),
    seq(True, 8), aligned_row(True, 8),
    seq(True, 32), Peer('stride 1000B/4000B write QD32', True, 1000, 4000, 32),
    aligned_row(True, 32),
]
SCALING = [r for qd in (1, 2, 4, 8, 32)
           for r in (seq(True, qd), aligned_row(True, qd))]


class PeerError(Exception):
    """Something failed to run."""


def run(cmd, timeout):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode:
        tail = ' | '.join((r.stderr or r.stdout).strip().splitlines()[-3:])
        raise PeerError(f'{Path(cmd[0]).name} exited {r.returncode}: {tail}')
    return r.stdout


# ---- the two tools ---------------------------------------------------------

class Qemu:
    name = 'QEMU'

    def __init__(self, runtime_s):
        self.runtime_s = runtime_s
        self.last = {}      # row -> IOPS, to size the next count

    def count(self, row):
        return max(500, int(self.last.get(row, 4000) * self.runtime_s))

    def iops(self, row, dev, tmp):
        n = self.count(row)
        out = run([QEMU_IMG, *QEMU_ARGS, '-c', str(n), '-d', str(row.qd),
                   '-s', str(row.size), '-S', str(row.step), '-o', '0',
                   *(['-w'] if row.write else []), dev], timeout=120)
        m = re.search(r'Run completed in ([0-9.]+) seconds', out)
        if not m or float(m.group(1)) <= 0:
            raise PeerError(f'qemu-img bench: no run time in {out!r}')
        self.last[row] = n / float(m.group(1))
        return self.last[row]


class FioBounce:
    def __init__(self, name, engine, runtime_s):
        self.name = name
        self.engine = engine
        self.runtime_s = runtime_s

    def iops(self, row, dev, tmp):
        stats, out = tmp / 'peer-stats.json', tmp / 'peer-fio.json'
        stats.unlink(missing_ok=True)
        rw = 'write' if row.write else 'read'
        if row.step != row.size:
            rw += f':{row.step - row.size}'     # fio's skip between I/Os
        run(['fio', '--output-format=json', f'--output={out}', '--name=peer',
             f'--ioengine=external:{self.engine}', '--bounce=auto',
             f'--bounce_stats={stats}', f'--filename={dev}', '--direct=1',
             '--thread', f'--rw={rw}', f'--bs={row.size}',
             f'--iodepth={row.qd}', '--time_based',
             f'--runtime={int(self.runtime_s * 1000)}ms'], timeout=120)
        text = out.read_text()
        job = json.JSONDecoder().raw_decode(text[text.index('{'):])[0][
            'jobs'][0]
        if job['error']:
            raise PeerError(f'fio job error {job["error"]}')
        check_path(row, json.loads(stats.read_text())['counters'])
        return job['write' if row.write else 'read']['iops']


def check_path(row, c):
    """The run took the path the row is about, or the row is void."""
    if row.aligned:
        bounced = c['mem_bounced'] + c['window_reads'] + c['rmw_writes']
        if bounced or not c['passthrough']:
            raise PeerError(f'{row.name}: aligned run did not pass '
                            f'through ({c})')
    elif not c['rmw_writes' if row.write else 'window_reads']:
        raise PeerError(f'{row.name}: bounce path did not run ({c})')


# ---- rounds and the table ---------------------------------------------------

def run_rounds(tools, rows, dev, tmp, rounds, log=print):
    """{row: {tool: [IOPS per round]}}, rows interleaved within each round
    and the tools' order alternating between rounds."""
    res = {row: {t.name: [] for t in tools} for row in rows}
    for t in tools:         # size QEMU's counts, warm the device
        if isinstance(t, Qemu):
            for row in rows:
                t.iops(row, dev, tmp)
    for i in range(rounds):
        order = tools if i % 2 == 0 else tools[::-1]
        for row in rows:
            for t in order:
                res[row][t.name].append(t.iops(row, dev, tmp))
        log(f'  round {i + 1}/{rounds} done', flush=True)
    return res


def summarize(res, tools):
    """Per row: median IOPS per tool, the per-round ratio of every tool to
    the first, and each tool's per-round mis/al ratio."""
    med = statistics.median
    table = []
    for row, by in res.items():
        ent = {'name': row.name, 'qd': row.qd, 'write': row.write,
               'size': row.size, 'step': row.step,
               'iops': {t: med(v) for t, v in by.items()}, 'vs_first': {},
               'mis_al': {}, 'raw': by}
        first = tools[0].name
        for t in by:
            ent['vs_first'][t] = med(a / b for a, b in zip(by[t], by[first]))
        ref = res.get(row.ref())
        if not row.aligned and ref:
            ent['mis_al'] = {t: med(a / b for a, b in zip(by[t], ref[t]))
                             for t in by}
        table.append(ent)
    return table


def format_table(table, tools):
    names = [t.name for t in tools]
    head = f'{"workload":32}' + ''.join(f'{n:>12}' for n in names) + \
        ''.join(f'{n + "/" + names[0]:>18}' for n in names[1:]) + \
        ''.join(f'{"mis/al " + n:>18}' for n in names)
    lines = [head, '-' * len(head)]
    for e in table:
        line = f'{e["name"]:32}' + ''.join(
            f'{e["iops"][n]:12.0f}' for n in names) + ''.join(
            f'{e["vs_first"][n]:18.2f}' for n in names[1:])
        line += ''.join(f'{e["mis_al"][n]:18.3f}' if e['mis_al']
                        else f'{"-":>18}' for n in names)
        lines.append(line)
    return '\n'.join(lines)


def have_qemu():
    return shutil.which(QEMU_IMG) is not None


def run_peers(dev, engine, tmp, rounds=5, runtime_ms=300, rows=PEERS,
              before=None, log=print):
    """The peers section on block device @dev: returns its JSON record and
    prints its table. Raises PeerError if something failed to run."""
    if not have_qemu():
        raise PeerError(f'{QEMU_IMG} not found (tools/setup.sh installs '
                        f'qemu-utils for make bench)')
    runtime_s = runtime_ms / 1000
    tools = [Qemu(runtime_s), FioBounce('fio-bounce', engine, runtime_s)]
    if before:
        tools.append(FioBounce('before', before, runtime_s))
    log(f'[peers] {QEMU_IMG} {" ".join(QEMU_ARGS)} against fio-bounce '
        f'(bounce=auto) on {dev}: {rounds} rounds of {len(rows)} rows',
        flush=True)
    table = summarize(run_rounds(tools, rows, dev, Path(tmp), rounds, log),
                      tools)
    text = format_table(table, tools) + (
        f'\nIOPS: median over rounds; X/{tools[0].name}: median of per-round'
        f' ratios; mis/al: a tool\'s misaligned row over its aligned 4K row'
        f' of the same direction and QD, per round, median')
    log(text)
    for e in table:
        e['raw'] = {t: [round(x) for x in v] for t, v in e['raw'].items()}
    return {'qemu': run([QEMU_IMG, '--version'], 10).splitlines()[0],
            'rounds': rounds, 'runtime_ms': runtime_ms, 'rows': table,
            'table': text}


NAME = 'peers (QEMU)'


def section(dev, engine, tmp, rounds):
    """make bench's peers section: its record, or {'error': ...}."""
    print(NAME, flush=True)
    try:
        return run_peers(dev, engine, tmp, rounds, log=print_indented)
    except (PeerError, subprocess.TimeoutExpired, OSError, ValueError,
            KeyError) as e:
        print(f'  ERROR: {e}', flush=True)
        return {'error': str(e)}


def print_indented(text, **kw):
    print('\n'.join('  ' + line for line in str(text).splitlines()), **kw)


def report(res):
    """The section's table again, for the end of make bench's report."""
    if 'error' in res:
        return f'\n[peers] ERROR: {res["error"]}'
    return f'\n[peers] {res["qemu"]}, {res["rounds"]} rounds\n{res["table"]}'


def main():
    import tempfile
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dev', required=True,
                    help='block device to run on (its data is overwritten)')
    ap.add_argument('--engine', required=True, help='fio-bounce.so')
    ap.add_argument('--before', help='another fio-bounce.so to compare')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--runtime-ms', type=int, default=300)
    ap.add_argument('--scaling', action='store_true',
                    help='sequential 1000-byte writes at QD 1/2/4/8/32')
    ap.add_argument('--json', type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix='fiob-peers-') as tmp:
        try:
            res = run_peers(args.dev, str(Path(args.engine).resolve()), tmp,
                            args.rounds, args.runtime_ms,
                            SCALING if args.scaling else PEERS,
                            args.before and str(Path(args.before).resolve()))
        except PeerError as e:
            sys.exit(f'peers: {e}')
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + '\n')


if __name__ == '__main__':
    main()
