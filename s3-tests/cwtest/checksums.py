"""The S3 flexible checksums, computed here without extra packages (CRC32C and CRC64/NVME are
table-driven pure Python: fine for the small bodies the checksum tests send)."""

from __future__ import annotations

import base64
import hashlib
import zlib


def _reflect(value: int, width: int) -> int:
    out = 0
    for _ in range(width):
        out = (out << 1) | (value & 1)
        value >>= 1
    return out


def _table(poly_reflected: int) -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly_reflected if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _table(_reflect(0x1EDC6F41, 32))
_CRC64NVME_TABLE = _table(_reflect(0xAD93D23594C93659, 64))


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    t = _CRC32C_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc64nvme(data: bytes) -> int:
    crc = 0xFFFFFFFFFFFFFFFF
    t = _CRC64NVME_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def checksum_b64(algorithm: str, data: bytes) -> str:
    """The value S3 puts in x-amz-checksum-<algorithm> (base64 of the big-endian digest)."""
    algorithm = algorithm.lower()
    if algorithm == "crc32":
        return _b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
    if algorithm == "crc32c":
        return _b64(crc32c(data).to_bytes(4, "big"))
    if algorithm == "crc64nvme":
        return _b64(crc64nvme(data).to_bytes(8, "big"))
    if algorithm == "sha1":
        return _b64(hashlib.sha1(data).digest())
    if algorithm == "sha256":
        return _b64(hashlib.sha256(data).digest())
    raise ValueError(algorithm)


ALGORITHMS = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]

# Self-check against the catalogue check values ("123456789").
assert crc32c(b"123456789") == 0xE3069283
assert crc64nvme(b"123456789") == 0xAE8B14860A799888
