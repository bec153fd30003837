"""Hashing a target's final image, with fio's clock taken out.

fio stamps every verify header with the time the I/O started, and the
header's own crc32 covers that stamp. Those bytes differ between any two
runs, so they are blanked before hashing. Which bytes they are is read from
`struct verify_header` in verify.h of the fio tree the engine was built
against (the running fio: checked), never from a fixed table: the header
changed shape in fio 3.41/3.42 (a version byte, a 64-bit numberio).

A header is recognised by fio's magic at its start and by its own offset
and length fields naming a block that holds the position it sits at (the
block's start, or verify_offset into it), which random data does not do.
"""
import hashlib
import os
import re
import stat
import struct
import subprocess

TYPES = {'uint8_t': 1, 'uint16_t': 2, 'uint32_t': 4, 'uint64_t': 8}
# The fields that carry the clock, and the header checksum over them.
CLOCK_FIELDS = ('time_sec', 'time_nsec', 'crc32')
CHUNK = 1 << 20


class HeaderLayout:
    """Field offsets of struct verify_header, with C's natural alignment."""

    def __init__(self, verify_h):
        with open(verify_h) as f:
            text = f.read()
        m = re.search(r'struct\s+verify_header\s*\{(.*?)\};', text, re.S)
        magic = re.search(r'#define\s+FIO_HDR_MAGIC\s+(0x[0-9a-fA-F]+)', text)
        if not m or not magic:
            raise RuntimeError(f'{verify_h}: no struct verify_header or '
                               f'FIO_HDR_MAGIC')
        self.magic = int(magic.group(1), 16)
        self.fields = {}
        off = align = 0
        body = re.sub(r'/\*.*?\*/|//[^\n]*', '', m.group(1), flags=re.S)
        for decl in filter(None, (d.strip() for d in body.split(';'))):
            fm = re.fullmatch(r'(\w+)\s+(\w+)\s*(?:\[(\d+)\])?', decl)
            if not fm or fm.group(1) not in TYPES:
                raise RuntimeError(f'{verify_h}: cannot lay out {decl!r}')
            size = TYPES[fm.group(1)]
            off = -(-off // size) * size
            self.fields[fm.group(2)] = (off, size * int(fm.group(3) or 1))
            off += size * int(fm.group(3) or 1)
            align = max(align, size)
        self.size = -(-off // align) * align
        for need in ('magic', 'offset', 'len') + CLOCK_FIELDS:
            if need not in self.fields:
                raise RuntimeError(f'{verify_h}: verify_header has no '
                                   f'{need}: teach tests/fidelity/image.py')
        mo, ms = self.fields['magic']
        self.magic_bytes = self.magic.to_bytes(ms, 'little')
        self.magic_at = mo

    def _u(self, buf, pos, name):
        off, size = self.fields[name]
        fmt = {1: 'B', 2: '<H', 4: '<I', 8: '<Q'}[size]
        return struct.unpack_from(fmt, buf, pos + off)[0]

    def blank(self, buf, base=0):
        """Zero the clock bytes of every verify header in @buf (a
        bytearray holding the target from byte @base on); returns how many
        headers it found."""
        n = 0
        pos = buf.find(self.magic_bytes)
        limit = len(buf) - self.size
        while 0 <= pos:
            start = pos - self.magic_at
            # The header names the block it checks: it sits at the block's
            # start, or verify_offset into it, never past its length.
            if 0 <= start <= limit and \
                    0 <= base + start - self._u(buf, start, 'offset') < \
                    self._u(buf, start, 'len') and \
                    self._u(buf, start, 'len') >= self.size:
                for name in CLOCK_FIELDS:
                    off, size = self.fields[name]
                    buf[start + off:start + off + size] = bytes(size)
                n += 1
            pos = buf.find(self.magic_bytes, pos + 1)
        return n


def check_tree_matches_fio(tree):
    """The tree's FIO-VERSION-FILE names the fio on PATH, or we refuse."""
    with open(os.path.join(tree, 'FIO-VERSION-FILE')) as f:
        built = f.read().split('=', 1)[1].strip()
    running = subprocess.run(['fio', '--version'], capture_output=True,
                             text=True, timeout=30).stdout.strip()
    if built != running:
        raise RuntimeError(f'the fio tree {tree} is {built}, the fio on '
                           f'PATH is {running}: the verify header layout '
                           f'would be the wrong one')


def _read_all(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        size = os.lseek(fd, 0, os.SEEK_END) if stat.S_ISBLK(st.st_mode) \
            else st.st_size
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            n = os.preadv(fd, [view[got:got + CHUNK]], got)
            if n <= 0:
                raise RuntimeError(f'{path}: short read at {got}')
            got += n
        return buf
    finally:
        os.close(fd)


def image_hash(layout, path):
    """sha256 of a device or file, or of every file under a directory
    (names, sizes and contents), with verify-header clocks blanked.
    Returns (hash, number of headers blanked)."""
    h = hashlib.sha256()
    headers = 0
    if os.path.isdir(path):
        files = []
        for root, dirs, names in os.walk(path):
            dirs.sort()
            files += [os.path.join(root, n) for n in sorted(names)]
    else:
        files = [path]
    for p in files:
        buf = _read_all(p)
        headers += layout.blank(buf)
        h.update(f'{os.path.relpath(p, path)}\0{len(buf)}\0'.encode())
        h.update(buf)
    return h.hexdigest()[:16], headers
