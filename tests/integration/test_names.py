"""File names that are not text (a newline, a quote, ']', invalid UTF-8)
reach both of the engine's outputs intact and escaped: bounce_stats stays
valid JSON whose name decodes back to the file's bytes (invalid bytes as
U+00XX), and the summary stays one line naming the file with C escapes."""
import json
import os

from fiobtest import Fail, check, targets, test
from fiobtest.fio import engine_arg, run_fio

NAME = b'we"ird\nna]me\\\xff\xc3(\xed\xa0\x80-\xc3\xa9.dat'


def _chars(raw):
    """(bytes, valid) for each UTF-8 character of @raw, or each byte that
    is not part of one."""
    i = 0
    while i < len(raw):
        for n in (1, 2, 3, 4):
            try:
                raw[i:i + n].decode('utf-8')
                yield raw[i:i + n], True
                i += n
                break
            except UnicodeDecodeError:
                continue
        else:
            yield raw[i:i + 1], False
            i += 1


def _json_decoded(raw):
    """What a JSON reader must get back: valid UTF-8 as is, any other byte
    as the code point of the same number."""
    return ''.join(c.decode() if ok else chr(c[0]) for c, ok in _chars(raw))


def _summary_escaped(raw):
    r"""The summary's C escapes: \\, \n, \t, \xNN for other control
    bytes, DEL, ']' and bytes that are not UTF-8."""
    out = ''
    for c, ok in _chars(raw):
        if c == b'\\':
            out += '\\\\'
        elif c == b'\n':
            out += '\\n'
        elif c == b'\t':
            out += '\\t'
        elif not ok or (len(c) == 1 and (c[0] < 0x20 or c in b']\x7f')):
            out += f'\\x{c[0]:02x}'
        else:
            out += c.decode()
    return out


@test('a file name with a newline, a quote, "]" and invalid UTF-8 on ext4: '
      'bounce_stats is valid UTF-8 JSON whose name decodes to the file\'s '
      'bytes, and the summary is one escaped line; the RMW path ran',
      timeout=120)
def odd_file_name_on_ext4(ctx):
    mnt = targets.ext4(ctx, 4096, 64 << 20)
    path = os.path.join(os.fsencode(mnt), NAME)
    out = ctx.tmpdir()
    stats = os.path.join(out, 'stats.jsonl')
    report = os.path.join(out, 'out.txt')
    r = run_fio(ctx, ['fio', '--name=j', f'--ioengine={engine_arg("bounce")}',
                      '--filename=' + os.fsdecode(path), '--size=256k',
                      '--bs=1000', '--rw=randwrite', '--direct=1',
                      '--verify=crc32c', f'--output={report}',
                      f'--bounce_stats={stats}'])
    check(r.returncode == 0, f'fio exited {r.returncode}: {r.stderr[-800:]}')
    check(os.path.exists(path), 'fio did not write the file under that name')
    with open(stats, 'rb') as f:
        raw = f.read()
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        raise Fail(f'bounce_stats is not UTF-8: {e}: {raw!r}')
    lines = text.splitlines()
    check(len(lines) == 1, f'bounce_stats has {len(lines)} lines: {raw!r}')
    obj = json.loads(lines[0])
    want = _json_decoded(os.fsencode(path))
    check(obj['files'][0]['name'] == want,
          f'name {obj["files"][0]["name"]!r}, want {want!r}')
    check(obj['counters']['rmw_writes'] > 0, f'no RMW: {obj["counters"]}')
    with open(report, 'rb') as f:
        summary = [ln for ln in f.read().split(b'\n')
                   if ln.startswith(b'fio-bounce: j: ')]
    check(len(summary) == 1, f'summary lines: {summary!r}')
    esc = _summary_escaped(os.fsencode(path)).encode()
    check(b' align[' + esc + b']=4096/' in summary[0],
          f'summary {summary[0]!r} lacks align[{esc!r}]')
