"""NSIS (Nullsoft) installers: the data blocks appended to the installer stub.

Strategy: find the first header by its ``0xDEADBEEF`` + ``NullsoftInst``
signature, then read what follows it as the reference does, without
interpreting the install script: every data block (the compressed script
header first, then each file) becomes a member.  Non-solid archives store
blocks as a 32-bit length (high bit: compressed) and the data; solid ones
compress everything into one stream that holds the same length-prefixed
blocks.  The compressor is told from the data, as NSIS writes no method
field, by the reference's rules: LZMA (5 property bytes, no header, and a
dictionary that is a multiple of 8 MiB), NSIS's own bzip2 variant
(``nsisbzip2``) or raw Deflate.  The reference puts these
members two recursion levels below the installer, and so does this module.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING

from clamkit.containers import nsisbzip2, streams
from clamkit.containers.base import (
    Alert,
    ContainerError,
    Extraction,
    Member,
    find,
    stored_member,
)
from clamkit.engine.filetypes import FileType

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = ["FORMAT", "NsisFormat"]

_SIGNATURE = b"\xef\xbe\xad\xdeNullsoftInst"
_FIRST_HEADER = struct.Struct("<II12sII")  # flags, 0xDEADBEEF, "NullsoftInst", sizes
_COMPRESSED = 0x80000000
_FLAG_NO_CRC = 0x04
# The first byte of NSIS's bzip2 variant (its block magic).
_NSIS_BZIP2 = 0x31
_LZMA_PROPERTIES = 0x5D
# The reference takes a block for LZMA only when its dictionary is a multiple of 8 MiB.
_LZMA_DICTIONARY_STEP = 0x800000


def _is_lzma(block: bytes) -> bool:
    if len(block) < 5 or block[0] != _LZMA_PROPERTIES:
        return False
    dictionary = int.from_bytes(block[1:5], "little")
    return dictionary % _LZMA_DICTIONARY_STEP == 0


def _solid(data: Buffer, start: int) -> bool:
    """Whether the data after the first header is one compressed stream
    rather than a block length (the reference's rule: it starts like LZMA
    or like NSIS's bzip2)."""
    head = bytes(data[start : start + 5])
    return _is_lzma(head) or head[:1] == bytes([_NSIS_BZIP2])


def _decode(block: bytes, budget: int) -> streams.Decoded:
    """A compressed block's content, up to ``budget`` bytes."""
    if _is_lzma(block):
        try:
            decompressor = streams.lzma_raw(block[:5])
        except ValueError as error:
            raise ContainerError(f"NSIS: {error}") from error
        return streams.drain(decompressor, block[5:], budget)
    if block[:1] == bytes([_NSIS_BZIP2]):
        data, truncated = nsisbzip2.decompress(block, budget)
        return streams.Decoded(data, truncated, not truncated, len(block))
    return streams.drain(streams.deflate(), block, budget)


class NsisFormat:
    name = "nsis"
    levels = 2

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_MSEXE and find(data, _SIGNATURE) >= 4

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        start = find(data, _SIGNATURE) - 4
        header = bytes(data[start : start + _FIRST_HEADER.size])
        if len(header) < _FIRST_HEADER.size:
            raise ContainerError("NSIS: first header cut short")
        flags, _magic, _name, _header_size, archive_size = _FIRST_HEADER.unpack(header)
        position = start + _FIRST_HEADER.size
        # The archive ends with a CRC-32 unless its flags say there is none.
        crc_size = 0 if flags & _FLAG_NO_CRC else 4
        end = min(start + archive_size - crc_size, len(data))
        if _solid(data, position):
            budget = extraction.member_budget()
            if budget <= 0:
                return
            stream = _decode(bytes(data[position:end]), budget).data
            yield from self._blocks(stream, 0, len(stream), extraction, compressed=False)
        else:
            yield from self._blocks(data, position, end, extraction, compressed=True)

    @staticmethod
    def _blocks(
        data: Buffer, position: int, end: int, extraction: Extraction, *, compressed: bool
    ) -> Iterator[Member]:
        """Length-prefixed blocks from ``position`` to ``end``; in a non-solid
        archive each may be compressed on its own."""
        number = 0
        while position + 4 <= end:
            (length,) = struct.unpack("<I", bytes(data[position : position + 4]))
            size = length & ~_COMPRESSED if compressed else length
            start, position = position + 4, position + 4 + size
            if position > end:
                return  # damage
            number += 1
            name = f"nsis-block-{number}"
            if compressed and length & _COMPRESSED:
                budget = extraction.member_budget()
                if budget <= 0:
                    return
                decoded = _decode(bytes(data[start:position]), budget)
                if decoded.data:
                    yield Member(name, decoded.data, None, decoded.truncated)
                continue
            member = stored_member(name, data, start, size, extraction)
            if member is None:
                return
            yield member


FORMAT = NsisFormat()
