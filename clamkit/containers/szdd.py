"""Microsoft SZDD files, the output of MS-DOS/Windows ``compress.exe`` (``FILE.EX_``).

Format, as documented for ``expand.exe``: an 8-byte magic ``SZDD\\x88\\xf0\\x27\\x33``,
a method byte ``A``, the missing last character of the file name (or 0),
and the uncompressed size (32-bit little-endian); then LZSS data.  Each control
byte governs the next eight items, low bit first: a set bit is a literal
byte, a clear bit a two-byte reference to a 4 KB ring buffer (12-bit
absolute ring position, 4-bit length minus 3).  The documentation has the
ring start filled with spaces; the reference fills it with zeros (measured:
references to never-written positions read 0 there), and so do we.
Writing starts 16 bytes before the end of the ring.

Strategy: like the reference, decode to the end of the input whatever the
header's size says (that size only decides, against the member budget,
whether to decode at all), stopping at the budget, through a real
4 KB ring (references are absolute ring positions, so they may read the
initial zeros).  The reference reports no member name (``n/a``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

MAGIC = b"SZDD\x88\xf0\x27\x33"
# The reference reads the method as a 16-bit "A": a file naming its missing
# last character (``compress -r``) is "Not supported" there, and here too.
_HEADER = struct.Struct("<8sHI")
_METHOD_A = ord("A")
_RING = 4096
_START = _RING - 16


def expand(data: Buffer, limit: int) -> bytes:
    """The SZDD stream after the header, expanded up to ``limit`` bytes."""
    ring = bytearray(_RING)
    out = bytearray()
    position = _START
    source = memoryview(data)[_HEADER.size :]
    index = 0
    end = len(source)
    while index < end and len(out) < limit:
        control = source[index]
        index += 1
        for bit in range(8):
            if index >= end or len(out) >= limit:
                break
            if control >> bit & 1:
                byte = source[index]
                index += 1
                out.append(byte)
                ring[position] = byte
                position = (position + 1) & (_RING - 1)
                continue
            if index + 1 >= end:
                raise ContainerError("SZDD: reference cut off at the end of the data")
            low, high = source[index], source[index + 1]
            index += 2
            source_position = low | (high & 0xF0) << 4
            for _ in range((high & 0x0F) + 3):
                byte = ring[source_position]
                out.append(byte)
                ring[position] = byte
                position = (position + 1) & (_RING - 1)
                source_position = (source_position + 1) & (_RING - 1)
    return bytes(out[:limit])


class SzddFormat:
    name = "SZDD"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_MSSZDD and bytes(data[:8]) == MAGIC

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        if len(data) < _HEADER.size:
            raise ContainerError("SZDD: header truncated")
        _magic, method, size = _HEADER.unpack_from(data)
        if method != _METHOD_A:
            raise ContainerError("SZDD: Not supported file format")
        budget = extraction.member_budget()
        if size > budget:  # the scanner skips it on its declared size, as the reference does
            yield Member("", b"", size, truncated=True)
            return
        # The reference expands to the end of the data, whatever size the header gives.
        content = expand(data, budget + 1)
        yield Member("", content[:budget], size, truncated=len(content) > budget)


FORMAT = SzddFormat()
