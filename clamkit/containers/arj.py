"""ARJ archives (methods 0 stored, 1-3 LZH, 4 "fastest").

Format, as the ARJ technical notes lay it out: a run of headers, each
``60 EA``, a 16-bit basic header size (0 ends the archive, more than 2600
is invalid), the basic header, its CRC-32 and extended headers (16-bit
size, data and CRC, until a size of 0).  The basic header starts with its
fixed part (first-header size, versions, host OS, flags with 1 meaning
garbled (encrypted), method, file type, date, compressed and original
sizes, CRC of the file, ...) followed by the NUL-terminated name and
comment.  The first header describes the archive; each later one a file
whose compressed data follows its extended headers.

Strategy: walk the headers in order as the reference does (measured on
altered archives): no CRC is checked (a renamed member is still found),
every entry whatever its file type is extracted, the basic header size
only has to hold the name, and the comment is read on past it.  Members
are decoded to their declared size when it is within the member budget.
Garbled files are skipped, like the reference, which reads no ARJ password.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from functools import partial

from clamkit.containers import lzh
from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.containers.spans import decoded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

_ID = b"\x60\xea"
_MAX_HEADER = 2600
_FIXED = struct.Struct("<BBBBBBBBIIII")
_FLAG_GARBLED = 0x01
_ARJ_DISTANCE_SYMBOLS, _ARJ_DISTANCE_BITS = 17, 5
_LOOKAHEAD_BITS = 16


def _huffman(data: bytes, start: int, end: int, limit: int, lookahead: int) -> bytes:
    return lzh.decode_huffman(
        data, start, end, limit, _ARJ_DISTANCE_SYMBOLS, _ARJ_DISTANCE_BITS, lookahead
    )


# Method -> decoder of (data, start, end, limit, lookahead=...).
_METHODS: dict[int, Callable[..., bytes]] = {
    0: lzh.decode_stored,
    1: _huffman,
    2: _huffman,
    3: _huffman,
    4: lzh.decode_fastest,
}


class _Header:
    __slots__ = ("compressed", "end", "flags", "method", "name", "original", "type")

    def __init__(self, data: bytes, start: int, size: int) -> None:
        """The header whose fixed part starts at ``start``; ``end`` is just after its comment.

        Like the reference, the fixed part, name and comment are read in turn;
        the basic header size (at most 2600) only has to hold the name.
        """
        fixed = data[start : start + _FIXED.size]
        if len(fixed) < _FIXED.size:
            raise ContainerError("ARJ: header cut off")
        first_size, _ver, _min, _os, self.flags, self.method, self.type, _res, _time, *sizes = (
            _FIXED.unpack(fixed)
        )
        self.compressed, self.original, _crc = sizes
        name_at = start + first_size
        # The name must end inside the basic header; the comment may run past it.
        name_end = data.find(b"\0", name_at, start + size)
        comment_end = data.find(b"\0", name_end + 1, name_end + 1 + _MAX_HEADER)
        if first_size < _FIXED.size or name_end < 0 or comment_end < 0:
            raise ContainerError("ARJ: header name or comment not terminated")
        self.name = data[name_at:name_end].decode("latin-1")
        self.end = comment_end + 1


def _headers(data: bytes) -> Iterator[tuple[_Header, int]]:
    """Each header after the archive's own, with the offset of its data."""
    offset = 0
    first = True
    while True:
        if data[offset : offset + 2] != _ID or offset + 4 > len(data):
            raise ContainerError("ARJ: header not found where expected")
        (size,) = struct.unpack_from("<H", data, offset + 2)
        if size == 0:
            return
        if size > _MAX_HEADER:
            raise ContainerError(f"ARJ: header size {size} is over {_MAX_HEADER}")
        if offset + 4 + size > len(data):
            raise ContainerError(f"ARJ: header size {size} exceeds the length of the file")
        header = _Header(data, offset + 4, size)
        offset = header.end + 4  # the reference does not check the header CRC: neither do we
        while True:  # extended headers
            if offset + 2 > len(data):
                raise ContainerError("ARJ: extended header cut off")
            (extended,) = struct.unpack_from("<H", data, offset)
            offset += 2
            if not extended:
                break
            offset += extended + 4
        if first:
            first = False
            continue
        yield header, offset
        offset += header.compressed


class ArjFormat:
    name = "ARJ"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_ARJ

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        content = bytes(data)
        for header, start in _headers(content):
            if header.flags & _FLAG_GARBLED:
                continue
            end = start + header.compressed
            lookahead = 0
            if end > len(content):
                # The reference reads such data to the end of the file and fails if
                # its decoder's 16-bit look-ahead would have to read past it.
                end, lookahead = len(content), _LOOKAHEAD_BITS
            if header.method not in _METHODS:
                raise ContainerError(f"ARJ: {header.name}: unknown method {header.method}")
            decode = partial(_METHODS[header.method], content, start, end, lookahead=lookahead)
            if header.compressed > extraction.member_budget():
                # The reference weighs the compressed size against the limits too.
                yield Member(header.name, b"", header.compressed, truncated=True)
                continue
            yield decoded_member(header.name, header.original, extraction, decode)


FORMAT = ArjFormat()
