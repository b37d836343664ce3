"""Bounded stream decompression shared by zip, gzip, bzip2 and xz.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import inflate64

from clamkit.containers.base import Alert, Extraction, Member

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer
    from clamkit.engine.filetypes import FileType

__all__ = [
    "Decoded",
    "Decompressor",
    "StreamFormat",
    "bzip2",
    "deflate",
    "deflate64",
    "drain",
    "gzip_stream",
    "lzma_raw",
    "xz",
]

INPUT_SLICE = 64 * 1024
"""Compressed bytes handed over per call when output can be bounded per call."""

XZ_MEMORY_LIMIT = 256 * 1024 * 1024
"""An xz header may ask for a 4 GiB dictionary; a stream needing more than
this is treated as damaged rather than allowed to allocate it."""

UNBOUNDED_INPUT_SLICE = 64
"""Deflate64 can expand 64 input bytes to at most ~16 MiB in one call."""


class Decompressor(Protocol):
    """The shape of ``bz2`` and ``lzma`` decompressors, which the others are adapted to."""

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


# What decompressors raise on damaged input.
_DAMAGED = (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError)


class _Zlib:
    """zlib's decompressobj keeps unconsumed input itself; present it like bz2's.

    A call that meets damage raises and loses what it had decoded; the
    reference keeps everything up to the damage, so that call is replayed
    a byte at a time from a copy, the output salvaged, and the next call
    raises.
    """

    def __init__(self, wbits: int) -> None:
        self._inner = zlib.decompressobj(wbits)
        self._damaged = False

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
        if self._damaged:
            raise zlib.error("damaged stream")
        pending = self._inner.unconsumed_tail + data
        before = self._inner.copy()
        try:
            return self._inner.decompress(pending, max(max_length, 0))
        except zlib.error:
            self._damaged = True
            return _salvage(before, pending, max_length)


def _salvage(decompressor: zlib._Decompress, pending: bytes, max_length: int) -> bytes:
    """What ``decompressor`` yields from ``pending`` before the damage."""
    out = bytearray()
    for position in range(len(pending)):
        try:
            out += decompressor.decompress(pending[position : position + 1])
        except zlib.error:
            break
        if 0 < max_length <= len(out) or decompressor.eof:
            break
    return bytes(out[:max_length] if max_length > 0 else out)


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


def gzip_stream() -> Decompressor:
    """One gzip member, header and trailer included."""
    return _Zlib(zlib.MAX_WBITS | 16)


def deflate64() -> Decompressor:
    return _Deflate64()


def bzip2() -> Decompressor:
    return bz2.BZ2Decompressor()


def xz() -> Decompressor:
    return lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=XZ_MEMORY_LIMIT)


def lzma_raw(properties: bytes) -> Decompressor:
    """LZMA1 without a container, from its 5 property bytes (NSIS).

    Raises ValueError when the properties are impossible.
    """
    if len(properties) != 5 or properties[0] >= 9 * 5 * 5:
        raise ValueError("bad LZMA properties")
    dict_size = int.from_bytes(properties[1:5], "little")
    if dict_size > XZ_MEMORY_LIMIT:
        # liblzma takes no memory limit for raw streams: refuse the dictionary here.
        raise ValueError("LZMA dictionary over the memory limit")
    pb, rest = divmod(properties[0], 9 * 5)
    lp, lc = divmod(rest, 9)
    lzma_filter = {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma_filter])


def drain(decompressor: Decompressor, data: Buffer, budget: int) -> Decoded:
    """Decompress ``data`` up to ``budget`` bytes of output.

    Damaged input ends the stream where the damage starts (``complete`` is
    then False): what was decoded before it is kept and scanned.
    """
    slice_size = getattr(decompressor, "input_slice", INPUT_SLICE)
    wanted = budget + 1
    out = bytearray()
    position = 0
    try:
        while len(out) < wanted and not decompressor.eof:
            if decompressor.needs_input:
                if position >= len(data):
                    break
                chunk = bytes(data[position : position + slice_size])
                position += len(chunk)
            else:
                chunk = b""
            out += decompressor.decompress(chunk, wanted - len(out))
    except _DAMAGED:
        return Decoded(bytes(out[:budget]), len(out) > budget, False, position)
    truncated = len(out) > budget
    consumed = position - len(decompressor.unused_data) if decompressor.eof else position
    return Decoded(bytes(out[:budget]), truncated, decompressor.eof, consumed)


class StreamFormat:
    """A compressed file (gzip, bzip2, xz) decoded as one member.

    Files of several concatenated streams are decoded as the reference
    decodes them: with ``concatenated`` one after the other into one member,
    as ``gzip -d`` does (gzip and xz on ClamAV 1.4), without it only the
    first stream (bzip2).
    """

    def __init__(
        self,
        name: str,
        file_type: FileType,
        factory: Callable[[], Decompressor],
        magic: bytes,
        *,
        concatenated: bool,
    ) -> None:
        self.name = name
        self._file_type = file_type
        self._factory = factory
        self._magic = magic
        self._concatenated = concatenated

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is self._file_type

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        budget = extraction.member_budget()
        if budget <= 0:
            return
        view = memoryview(data)
        out = bytearray()
        position = 0
        while True:
            decoded = drain(self._factory(), view[position:], budget - len(out))
            out += decoded.data
            position += decoded.consumed
            more = self._concatenated and decoded.complete and decoded.consumed
            if decoded.truncated or not more:
                break
            if bytes(view[position : position + len(self._magic)]) != self._magic:
                break  # trailing bytes that start no new stream are ignored
        if out or decoded.truncated:
            yield Member(self.name, bytes(out), None, decoded.truncated)
