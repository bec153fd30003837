"""A/B workloads: fio job files written once for both engines (ioengine
taken from ${ENGINE}), and the one fio job file that runs a workload's
interleaved pairs.

A workload file has a [global] section and exactly one job section. To run
it on both engines in one fio invocation, its options are copied into one
section per run, each with its own ioengine; the ioengine lines of the file
itself are dropped. ${TARGET} and ${SIZE} stay for fio to expand.
"""
import os
import re
from dataclasses import dataclass
from pathlib import Path

WRITES = re.compile(r'^(write|randwrite|rw|readwrite|randrw|trim|randtrim|'
                    r'trimwrite)$')
# Percentiles fio reports per run (the curves come from its JSON+ bins).
PERCENTILES = '1:5:10:25:50:75:90:95:99:99.5:99.9:99.95:99.99'


class JobSetError(Exception):
    """A job set or workload the tool cannot use (exit status 2)."""


@dataclass
class Workload:
    name: str
    path: Path
    global_opts: list
    job_opts: list

    @property
    def writes(self):
        rw = [o.split('=', 1)[1].strip() for o in self.global_opts +
              self.job_opts if o.replace(' ', '').startswith('rw=')]
        return any(WRITES.match(v) for v in rw[-1:])


def parse(path):
    """Sections of a fio job file: [(name, [option lines])]."""
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in ';#':
            continue
        if line.startswith('[') and line.endswith(']'):
            out.append((line[1:-1], []))
        elif line.startswith('include '):
            raise JobSetError(f'{path}: include is not supported in an A/B '
                              f'workload; write the options out')
        elif out:
            out[-1][1].append(line)
        else:
            raise JobSetError(f'{path}: option {line!r} before any section')
    return out


def load(path):
    path = Path(path)
    secs = parse(path)
    glob = [o for n, opts in secs if n == 'global' for o in opts]
    jobs = [(n, opts) for n, opts in secs if n != 'global']
    if len(jobs) != 1:
        raise JobSetError(f'{path}: an A/B workload has exactly one job '
                          f'section, this one has {len(jobs)}')

    def keep(o):
        return not o.replace(' ', '').startswith(('ioengine=', 'name='))
    return Workload(path.stem, path, [o for o in glob if keep(o)],
                    [o for o in jobs[0][1] if keep(o)])


def load_set(paths, only=None):
    """Workloads from job files and directories of them; @only: names to
    keep (an unknown one is an error)."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.glob('*.fio'))
        elif p.is_file():
            files.append(p)
        else:
            raise JobSetError(f'job set {p} does not exist')
    if not files:
        raise JobSetError(f'no .fio job file in {", ".join(map(str, paths))}')
    wls = [load(f) for f in files]
    names = [w.name for w in wls]
    if len(set(names)) != len(names):
        raise JobSetError(f'two workloads share a name: {names}')
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise JobSetError(f'unknown job {", ".join(unknown)}; the job set '
                              f'has: {", ".join(names)}')
        wls = [w for w in wls if w.name in only]
    return wls


def jobfile(wl, runs, engine, stats, runtime_ms, ramp_ms):
    """One fio job file: a section per (name, side) of @runs, one after the
    other (stonewall), 'ref' on io_uring and 'bounce' on @engine."""
    text = ['[global]', *wl.global_opts, 'stonewall', 'time_based=1',
            f'runtime={runtime_ms}ms', f'ramp_time={ramp_ms}ms',
            f'percentile_list={PERCENTILES}']
    for name, side in runs:
        text += ['', f'[{name}]']
        if side == 'ref':
            text.append('ioengine=io_uring')
        else:
            text += [f'ioengine=external:{engine}', f'bounce_stats={stats}']
        text += wl.job_opts
    return '\n'.join(text) + '\n'


def fio_env(target, size):
    env = dict(os.environ)
    env.update({'TARGET': target, 'SIZE': str(size)})
    return env
