"""Loop devices and fio's outputs: plain functions shared by the test
harness (fiobtest.targets, fiobtest.fio) and by make bench (bench/), which
imports this module too. No test context here: callers release what they
make (the harness through its Context, the bench through its LoopDevice).
Problems raise SetupError; each side turns it into its own failure."""
import json
import os
import subprocess
from pathlib import Path


class SetupError(Exception):
    """A device or an output could not be set up or read."""


def _sh(cmd, timeout=60):
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout)


def logical_block_size(dev):
    path = Path('/sys/block', Path(dev).name, 'queue', 'logical_block_size')
    return int(path.read_text())


def attach_loop(path, sector):
    """A loop device with @sector-byte logical blocks over @path; checked
    against sysfs, so a device that did not get the size never slips by."""
    r = _sh(['losetup', '-f', '--show', '--sector-size', str(sector),
             path], timeout=30)
    dev = r.stdout.strip()
    if r.returncode or not dev.startswith('/dev/loop'):
        raise SetupError(f'losetup failed: {r.stderr.strip() or dev!r}')
    lbs = logical_block_size(dev)
    if lbs != sector:
        detach_loop(dev)
        raise SetupError(f'{dev} has {lbs}-byte sectors, wanted {sector}')
    return dev


def detach_loop(dev):
    """losetup -d is lazy: the device goes once its last user closes it."""
    _sh(['losetup', '-d', dev], timeout=30)


def detach_backing(path):
    """Detach every loop device over @path, by asking losetup, so a device
    attached just before an interrupt goes too. Only for a file the caller
    made itself: then every such device is its own."""
    r = _sh(['losetup', '-j', path, '-n', '-O', 'NAME'], timeout=30)
    for dev in r.stdout.split():
        detach_loop(dev)


def fio_report_and_log(text):
    """fio's JSON report from an --output-format=json output, and fio's log
    around it: notes before the document, and on some releases after it too
    (3.42, when a job failed on EINVAL: 'fio: file hash not empty on
    exit'). (None, '') when there is no document. Raises ValueError when it
    does not parse."""
    start = text.find('{')
    if start < 0:
        return None, ''
    try:
        report, end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as e:
        raise ValueError(str(e)) from e
    log = [ln for ln in (text[:start] + '\n' + text[end:]).splitlines()
           if ln.strip()]
    return report, ''.join(ln + '\n' for ln in log)


def fio_report(text):
    """fio's JSON report alone (see fio_report_and_log)."""
    return fio_report_and_log(text)[0]


def bounce_stats(path):
    """fio-bounce's bounce_stats records (one JSON object a line) in @path,
    [] when it does not exist. Raises ValueError naming a bad line."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as f:
        for ln in f:
            try:
                records.append(json.loads(ln))
            except json.JSONDecodeError as e:
                raise ValueError(f'bounce_stats line does not parse: {e}: '
                                 f'{ln!r}') from e
    return records


def pair_order(npairs):
    """(pair, side) in run order: A B, then B A, so a drift in machine
    speed favours neither side."""
    for i in range(npairs):
        for side in (('ref', 'bounce') if i % 2 == 0 else ('bounce', 'ref')):
            yield i, side


def process_tree(root):
    """@root and every process below it, from /proc."""
    children = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/stat') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out
