"""Bounded stream decompression shared by zip, gzip, bzip2, xz/lzma and zstd.

Strategy: compressed input is fed in small slices and every call asks the
decompressor for no more output than the member may still grow to, so a
bomb (a few KiB expanding to 10 GB) costs its budget and no more: memory
stays at ``budget + 1`` bytes plus decoder state, time at what producing
those bytes takes.  One more byte than the budget is asked for, to tell a
member that ends exactly at its budget from one that was cut there.

Decompressors that cannot bound their output per call (``inflate64``) get
input slices small enough that one call cannot overshoot by much (see
:data:`UNBOUNDED_INPUT_SLICE`).
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import inflate64
from backports import zstd

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = [
    "Decoded",
    "Decompressor",
    "bzip2",
    "deflate",
    "deflate64",
    "drain",
    "lzma_raw",
    "xz",
    "zlib_stream",
    "zstandard",
]

INPUT_SLICE = 64 * 1024
"""Compressed bytes handed over per call when output can be bounded per call."""

UNBOUNDED_INPUT_SLICE = 64
"""Deflate64 can expand 64 input bytes to at most ~16 MiB in one call."""


class Decompressor(Protocol):
    """The shape of ``bz2``/``lzma``/``zstd`` decompressors, which the others are adapted to."""

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Decoded:
    """Output of one stream: ``truncated`` when it was cut at the budget,
    ``complete`` when the stream's end marker was reached, ``consumed`` the
    compressed bytes read (the rest of the input follows the stream)."""

    data: bytes
    truncated: bool
    complete: bool
    consumed: int


class _Zlib:
    """zlib's decompressobj keeps unconsumed input itself; present it like bz2's."""

    def __init__(self, wbits: int) -> None:
        self._inner = zlib.decompressobj(wbits)

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def needs_input(self) -> bool:
        return not self._inner.unconsumed_tail

    @property
    def unused_data(self) -> bytes:
        return self._inner.unused_data

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        pending = self._inner.unconsumed_tail + data
        return self._inner.decompress(pending, max(max_length, 0))


class _Deflate64:
    """inflate64 cannot bound one call's output, so it is fed tiny slices."""

    input_slice = UNBOUNDED_INPUT_SLICE

    def __init__(self) -> None:
        self._inner = inflate64.Inflater()

    @property
    def eof(self) -> bool:
        return self._inner.eof

    needs_input = True
    unused_data = b""

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        return self._inner.inflate(data)


def deflate() -> Decompressor:
    return _Zlib(-zlib.MAX_WBITS)


def zlib_stream(wbits: int) -> Decompressor:
    return _Zlib(wbits)


def deflate64() -> Decompressor:
    return _Deflate64()


def bzip2() -> Decompressor:
    return bz2.BZ2Decompressor()


def xz() -> Decompressor:
    return lzma.LZMADecompressor(lzma.FORMAT_AUTO)


def lzma_raw(properties: bytes) -> Decompressor:
    """LZMA1 without a header, from its 5 property bytes (zip method 14, 7z)."""
    if len(properties) != 5:
        raise ValueError("LZMA properties must be 5 bytes")
    lc_lp_pb, dict_size = properties[0], int.from_bytes(properties[1:5], "little")
    if lc_lp_pb >= 9 * 5 * 5:
        raise ValueError("bad LZMA properties")
    pb, rest = divmod(lc_lp_pb, 45)
    lp, lc = divmod(rest, 9)
    lzma_filter = {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma_filter])


def zstandard() -> Decompressor:
    return zstd.ZstdDecompressor()


def drain(decompressor: Decompressor, data: Buffer, budget: int) -> Decoded:
    """Decompress ``data`` up to ``budget`` bytes of output.

    Raises what the decompressor raises on corrupt input (``zlib.error``,
    ``OSError``, ``lzma.LZMAError``, ``zstd.ZstdError``, ``ValueError``).
    """
    slice_size = getattr(decompressor, "input_slice", INPUT_SLICE)
    wanted = budget + 1
    out = bytearray()
    position = 0
    while len(out) < wanted and not decompressor.eof:
        if decompressor.needs_input:
            if position >= len(data):
                break
            chunk = bytes(data[position : position + slice_size])
            position += len(chunk)
        else:
            chunk = b""
        out += decompressor.decompress(chunk, wanted - len(out))
    truncated = len(out) > budget
    consumed = position - len(decompressor.unused_data) if decompressor.eof else position
    return Decoded(bytes(out[:budget]), truncated, decompressor.eof, consumed)
