"""LHA/LZH archives (header levels 0, 1 and 2; methods -lh0-, -lz4-, -lh4- to -lh7-).

Format, as the LHa for UNIX header notes describe it: a run of member
headers ending with a zero byte.  Every level has the 5-byte method name
(``-lh5-``) at offset 2, the compressed and original sizes (32-bit
little-endian) at 7 and 11, and the level at 20.  Level 0 and 1 start
with a 1-byte header size and checksum and hold the name (1-byte length
at 21); level 1 then chains extended headers (16-bit size first, type,
data) after the basic header, and its "compressed size" also counts them.
Level 2 starts with a 16-bit total header size, keeps the name in an
extended header (type 1, with type 2 giving the directory, 0xFF-separated)
and chains extended headers from offset 24.

Strategy: walk the headers, checking the level 0 and 1 header checksum
(byte sum) as the reference does (it leaves level 2's CRC alone); stored
methods are sliced, -lh4- to -lh7- go to the shared LZH block decoder with
their distance-code parameters.  The
dynamic-Huffman -lh1- to -lh3- and LArc's -lzs-/-lz5- are not read
(ContainerError names the method).  Directories (-lhd-) hold no data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from functools import partial

from clamkit.containers import lzh
from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.containers.spans import decoded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

_STORED = frozenset({b"-lh0-", b"-lz4-"})
_DIRECTORY = b"-lhd-"
# Method -> (distance symbols, bits of their count), from each method's window.
_HUFFMAN = {b"-lh4-": (14, 4), b"-lh5-": (14, 4), b"-lh6-": (16, 5), b"-lh7-": (17, 5)}
_EXT_NAME, _EXT_DIRECTORY = 0x01, 0x02


def _u16(data: bytes, offset: int) -> int:
    if offset + 2 > len(data):
        raise ContainerError("LHA: header cut off")
    return struct.unpack_from("<H", data, offset)[0]


def _extended(data: bytes, offset: int, size: int, end: int) -> tuple[dict[int, bytes], int]:
    """The chain of extended headers from ``offset`` (first size given): types and data."""
    found: dict[int, bytes] = {}
    end = min(end, len(data))
    while size:
        if size < 3 or offset + size > end:
            raise ContainerError("LHA: extended header runs past its bounds")
        found.setdefault(data[offset], data[offset + 1 : offset + size - 2])
        next_size = _u16(data, offset + size - 2)
        offset += size
        size = next_size
    return found, offset


def _name(extended: dict[int, bytes], fallback: bytes) -> str:
    name = extended.get(_EXT_NAME, fallback)
    if _EXT_DIRECTORY in extended:
        name = extended[_EXT_DIRECTORY].replace(b"\xff", b"/") + name
    return name.decode("latin-1")


def _entries(data: bytes) -> Iterator[tuple[str, bytes, int, int, int]]:
    """(name, method, data offset, compressed size, original size) of each member."""
    offset = 0
    while offset < len(data) and data[offset]:
        if offset + 22 > len(data):
            raise ContainerError("LHA: header cut off")
        method = data[offset + 2 : offset + 7]
        compressed, original = struct.unpack_from("<II", data, offset + 7)
        level = data[offset + 20]
        if level in (0, 1):
            header_end = offset + 2 + data[offset]
            name_length = data[offset + 21]
            name = data[offset + 22 : offset + 22 + name_length]
            if offset + 22 + name_length > header_end or header_end > len(data):
                raise ContainerError("LHA: header cut off")
            if sum(data[offset + 2 : header_end]) & 0xFF != data[offset + 1]:
                raise ContainerError("LHA: header checksum error")
            extended: dict[int, bytes] = {}
            start = header_end
            if level == 1:
                extended, start = _extended(data, header_end, _u16(data, header_end - 2), len(data))
                compressed -= start - header_end
        elif level == 2:
            start = offset + _u16(data, offset)
            extended, _ = _extended(data, offset + 26, _u16(data, offset + 24), start)
            name = b""
        else:
            raise ContainerError(f"LHA: header level {level} is not supported")
        if compressed < 0 or start > len(data):
            raise ContainerError("LHA: member data cut off")
        yield _name(extended, name), method, start, compressed, original
        offset = start + compressed


class LhaFormat:
    name = "LHA"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_LHA_LZH

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        content = bytes(data)
        for name, method, start, compressed, original in _entries(content):
            if method == _DIRECTORY:
                continue
            if method in _STORED:
                decoder = lzh.decode_stored
            elif method in _HUFFMAN:
                decoder = partial(_huffman, distance=_HUFFMAN[method])
            else:
                method_name = method.decode("latin-1")
                raise ContainerError(f"LHA: {name}: method {method_name} is not supported")
            # Data said to run past the end of the file is read as far as it goes,
            # as the reference does.
            decode = partial(decoder, content, start, min(start + compressed, len(content)))
            yield decoded_member(name, original, extraction, decode)


def _huffman(data: bytes, start: int, end: int, limit: int, distance: tuple[int, int]) -> bytes:
    return lzh.decode_huffman(data, start, end, limit, *distance)


FORMAT = LhaFormat()
