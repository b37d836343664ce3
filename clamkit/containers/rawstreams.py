"""Compressed files the reference has no file type for: zstd and bare LZMA (``.lzma``).

ClamAV 1.4 leaves both undecoded; clamkit reads them (a difference the
README's Containers table states), under ScanArchive like gzip and xz.

Strategy: ``streams.StreamFormat`` with a well-kept decoder (the standard
library's ``lzma``; ``backports.zstd``, the Python 3.14 ``compression.zstd``
module for older Pythons, which py7zr already depends on), recognised by
each format's own header rather than by file type, output bounded by the
member budget.  Decoder memory is bounded too: zstd refuses frames whose
window is over its default 128 MiB limit, and a bare LZMA stream gets the
same memory limit as xz.
"""

from __future__ import annotations

import lzma
from collections.abc import Callable
from typing import TYPE_CHECKING

from backports import zstd as _zstd

from clamkit.containers import streams
from clamkit.engine.filetypes import FileType

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = ["LZMA_ALONE_FORMAT", "ZSTD_FORMAT"]

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_LZMA_HEADER = 13
_LZMA_UNKNOWN_SIZE = b"\xff" * 8
# liblzma's own sanity limit for the size field of a .lzma header (256 GiB).
_LZMA_MAX_SIZE = 1 << 38
_LZMA_PROPERTIES_LIMIT = 9 * 5 * 5


class _Zstd:
    """``ZstdDecompressor`` raises its own error on damage; the stream reader
    expects the damaged-input errors of the standard library's decoders."""

    def __init__(self) -> None:
        self._inner = _zstd.ZstdDecompressor()

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def needs_input(self) -> bool:
        return self._inner.needs_input

    @property
    def unused_data(self) -> bytes:
        return self._inner.unused_data

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        try:
            return self._inner.decompress(data, max_length)
        except _zstd.ZstdError as error:
            raise ValueError(str(error)) from error


def _lzma_alone() -> lzma.LZMADecompressor:
    return lzma.LZMADecompressor(lzma.FORMAT_ALONE, memlimit=streams.XZ_MEMORY_LIMIT)


def _is_lzma_alone(data: Buffer) -> bool:
    """A .lzma header as liblzma accepts it: valid properties, a dictionary
    size of 2^n or 2^n + 2^(n-1), and an unknown or plausible size."""
    if len(data) < _LZMA_HEADER or data[0] >= _LZMA_PROPERTIES_LIMIT:
        return False
    dictionary = int.from_bytes(bytes(data[1:5]), "little")
    low = dictionary & -dictionary
    if dictionary < 4096 or dictionary not in (low, low * 3):
        return False
    size = bytes(data[5:13])
    return size == _LZMA_UNKNOWN_SIZE or int.from_bytes(size, "little") < _LZMA_MAX_SIZE


class _HeaderStream(streams.StreamFormat):
    """A ``StreamFormat`` recognised by its header, whatever type it was given."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], streams.Decompressor],
        magic: bytes,
        looks_like: Callable[[Buffer], bool],
        *,
        concatenated: bool,
    ) -> None:
        super().__init__(
            name, FileType.CL_TYPE_BINARY_DATA, factory, magic, concatenated=concatenated
        )
        self._looks_like = looks_like

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return self._looks_like(data)


# Concatenated zstd frames decode into one member, as ``zstd -d`` does.
ZSTD_FORMAT = _HeaderStream(
    "zstd",
    _Zstd,
    _ZSTD_MAGIC,
    lambda data: bytes(data[:4]) == _ZSTD_MAGIC,
    concatenated=True,
)
LZMA_ALONE_FORMAT = _HeaderStream("lzma", _lzma_alone, b"", _is_lzma_alone, concatenated=False)
