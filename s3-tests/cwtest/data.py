"""Deterministic pseudo-random content, streamed in blocks so big objects never sit in memory."""

from __future__ import annotations

import hashlib
import io
import random
import struct

MiB = 1024 * 1024
CHUNK = 4 * MiB  # the gateway's default chunk size (policy chunk_size)
BLOCK = MiB

# Sizes that sit on and around chunk boundaries.
BOUNDARY_SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7]


def _block(seed: str, index: int) -> bytes:
    return random.Random(f"{seed}/{index}").randbytes(BLOCK)


def blocks(seed: str, size: int):
    """Yields the content of object `seed` of `size` bytes, block by block (1 MiB blocks)."""
    index = 0
    remaining = size
    while remaining > 0:
        b = _block(seed, index)
        if remaining < BLOCK:
            b = b[:remaining]
        remaining -= len(b)
        index += 1
        yield b


def content(seed: str, size: int) -> bytes:
    """The whole content in memory: only for small and medium objects."""
    return b"".join(blocks(seed, size))


def slice_of(seed: str, size: int, start: int, end_inclusive: int) -> bytes:
    """Bytes [start, end_inclusive] of object `seed` without building the whole object."""
    out = bytearray()
    first = start // BLOCK
    last = end_inclusive // BLOCK
    for index in range(first, last + 1):
        b = _block(seed, index)
        lo = max(start - index * BLOCK, 0)
        hi = min(end_inclusive - index * BLOCK + 1, BLOCK)
        out += b[lo:hi]
    assert end_inclusive < size
    return bytes(out)


def md5_of(seed: str, size: int) -> str:
    h = hashlib.md5()
    for b in blocks(seed, size):
        h.update(b)
    return h.hexdigest()


class FastStream(io.RawIOBase):
    """A cheap deterministic stream for multi-GiB objects: 16 random 1 MiB base blocks,
    each emitted block stamped with its index so reordering or repeats change the hash."""

    def __init__(self, seed: str, size: int):
        self._base = [_block(seed, i) for i in range(16)]
        self.size = size
        self._pos = 0

    def block_at(self, index: int) -> bytes:
        b = bytearray(self._base[index % 16])
        b[0:8] = struct.pack(">Q", index)
        return bytes(b)

    def iter_blocks(self):
        index = 0
        remaining = self.size
        while remaining > 0:
            b = self.block_at(index)
            if remaining < BLOCK:
                b = b[:remaining]
            remaining -= len(b)
            index += 1
            yield b

    def md5(self) -> str:
        h = hashlib.md5()
        for b in self.iter_blocks():
            h.update(b)
        return h.hexdigest()


class GeneratedFile(io.RawIOBase):
    """A readable, seekable file-like view over `blocks(seed, size)` (for boto3 uploads)."""

    def __init__(self, seed: str, size: int):
        self.seed = seed
        self.size = size
        self.pos = 0
        self._cache_index = -1
        self._cache = b""

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=io.SEEK_SET):
        if whence == io.SEEK_SET:
            self.pos = offset
        elif whence == io.SEEK_CUR:
            self.pos += offset
        else:
            self.pos = self.size + offset
        return self.pos

    def __len__(self):
        return self.size

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.size - self.pos
        n = min(n, self.size - self.pos)
        out = bytearray()
        while n > 0:
            index = self.pos // BLOCK
            if index != self._cache_index:
                self._cache = _block(self.seed, index)
                self._cache_index = index
            lo = self.pos - index * BLOCK
            take = min(n, BLOCK - lo, self.size - self.pos)
            out += self._cache[lo : lo + take]
            self.pos += take
            n -= take
        return bytes(out)

    def readinto(self, buf):
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def md5_stream(chunks) -> tuple[str, int]:
    """MD5 hex digest and length of an iterable of byte strings."""
    h = hashlib.md5()
    n = 0
    for c in chunks:
        h.update(c)
        n += len(c)
    return h.hexdigest(), n


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(part_bodies_md5: list[bytes]) -> str:
    """S3 multipart ETag from the binary MD5 digests of the parts."""
    return '"' + hashlib.md5(b"".join(part_bodies_md5)).hexdigest() + f'-{len(part_bodies_md5)}"'


def write_file(path, seed: str, size: int) -> str:
    """Writes object content to a local file; returns its MD5."""
    h = hashlib.md5()
    with open(path, "wb") as f:
        for b in blocks(seed, size):
            h.update(b)
            f.write(b)
    return h.hexdigest()


def file_md5(path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while True:
            b = f.read(BLOCK)
            if not b:
                break
            h.update(b)
    return h.hexdigest()
