"""cpio archives: old binary (either byte order), odc, newc and newc with CRC.

Strategy: walk the headers over the buffer; each format differs only in
how the header is read and how name and data are padded, so one loop takes
a header reader per format.  ``TRAILER!!!`` or a header that does not parse
ends the archive; only regular files are members.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from clamkit.containers.base import Alert, Extraction, Member, stored_member
from clamkit.engine.filetypes import FileType

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = ["FORMAT", "CpioFormat"]

_TRAILER = "TRAILER!!!"
_REGULAR = 0o100000
_FILE_KIND = 0o170000


class _Header(NamedTuple):
    mode: int
    name_size: int
    file_size: int
    header_size: int
    alignment: int  # name (after the header) and data are padded to this


def _old_binary(header: bytes) -> _Header | None:
    if len(header) < 26:
        return None
    order = "<" if header[:2] == b"\xc7\x71" else ">"
    fields = struct.unpack(order + "13H", header[:26])
    # The 32-bit file size is stored most significant half first in both orders.
    return _Header(fields[3], fields[10], fields[11] << 16 | fields[12], 26, 2)


def _fields(text: bytes, widths: tuple[int, ...], base: int) -> list[int] | None:
    values, position = [], 0
    try:
        for width in widths:
            values.append(int(text[position : position + width], base))
            position += width
    except ValueError:
        return None
    return values


def _odc(header: bytes) -> _Header | None:
    # magic dev ino mode uid gid nlink rdev mtime namesize filesize
    values = _fields(header[6:76], (6, 6, 6, 6, 6, 6, 6, 11, 6, 11), 8)
    if values is None or len(header) < 76:
        return None
    return _Header(values[2], values[8], values[9], 76, 1)


def _newc(header: bytes) -> _Header | None:
    # ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    values = _fields(header[6:110], (8,) * 13, 16)
    if values is None or len(header) < 110:
        return None
    return _Header(values[1], values[11], values[6], 110, 4)


_READERS: dict[bytes, Callable[[bytes], _Header | None]] = {
    b"\xc7\x71": _old_binary,
    b"\x71\xc7": _old_binary,
    b"070707": _odc,
    b"070701": _newc,
    b"070702": _newc,
}


def _reader(header: bytes) -> Callable[[bytes], _Header | None] | None:
    return _READERS.get(header[:6]) or _READERS.get(header[:2])


def _padded(offset: int, alignment: int) -> int:
    return -(-offset // alignment) * alignment


class CpioFormat:
    name = "cpio"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type in (
            FileType.CL_TYPE_CPIO_OLD,
            FileType.CL_TYPE_CPIO_ODC,
            FileType.CL_TYPE_CPIO_NEWC,
            FileType.CL_TYPE_CPIO_CRC,
        )

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        position = 0
        while position < len(data):
            raw = bytes(data[position : position + 110])
            reader = _reader(raw)
            header = reader(raw) if reader is not None else None
            if header is None:
                return
            name_start = position + header.header_size
            name = (
                bytes(data[name_start : name_start + header.name_size])
                .split(b"\x00", 1)[0]
                .decode("utf-8", "replace")
            )
            start = _padded(name_start + header.name_size, header.alignment)
            position = _padded(start + header.file_size, header.alignment)
            if name == _TRAILER:
                return
            if header.mode & _FILE_KIND != _REGULAR or header.file_size == 0:
                continue
            member = stored_member(name, data, start, header.file_size, extraction)
            if member is None:
                return
            yield member


FORMAT = CpioFormat()
