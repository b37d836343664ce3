"""tar archives: POSIX ustar, GNU and pre-POSIX ("old") headers.

Strategy: walk the 512-byte headers directly over the buffer, so members
are slices of it and nothing is copied until a member is taken.  A header
whose checksum does not add up ends the archive (two zero blocks are the
normal end); GNU long names (``L``) and pax records (``x``) name the next
member, other non-file entries are skipped with their data.  Sizes in
GNU's base-256 form are read too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from clamkit.containers.base import Alert, Extraction, Member, stored_member
from clamkit.engine.filetypes import FileType

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = ["FORMAT", "TarFormat"]

_BLOCK = 512
_FILE_TYPES = frozenset(b"0\x007")  # regular, old regular, contiguous
_LONG_NAME = ord("L")
_PAX = frozenset(b"xg")


def _number(field: bytes) -> int | None:
    """An octal field (space/NUL padded), or GNU's base-256 with the high bit set."""
    if field and field[0] & 0x80:
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    digits = field.split(b"\x00", 1)[0].strip(b" ")
    if not digits:
        return 0
    if any(c not in b"01234567" for c in digits):
        return None
    return int(digits, 8)


def _checksum_ok(header: bytes) -> bool:
    stored = _number(header[148:156])
    unsigned = sum(header[:148]) + 8 * 0x20 + sum(header[156:])
    signed = unsigned - 2 * sum(c & 0x80 for c in header[:148] + header[156:])
    return stored is not None and stored in (unsigned, signed)


def _pax_path(records: bytes) -> str | None:
    for line in records.split(b"\n"):
        _length, _, record = line.partition(b" ")
        if record.startswith(b"path="):
            return record[5:].decode("utf-8", "replace")
    return None


class TarFormat:
    name = "tar"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type in (FileType.CL_TYPE_POSIX_TAR, FileType.CL_TYPE_OLD_TAR)

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        position = 0
        next_name: str | None = None
        while position + _BLOCK <= len(data):
            header = bytes(data[position : position + _BLOCK])
            if not header.strip(b"\x00") or not _checksum_ok(header):
                return  # the end blocks, or something that is no longer tar
            size = _number(header[124:136])
            if size is None:
                return
            start = position + _BLOCK
            position = start + (size + _BLOCK - 1) // _BLOCK * _BLOCK
            kind = header[156]
            if kind == _LONG_NAME:
                next_name = (
                    bytes(data[start : start + size])
                    .split(b"\x00", 1)[0]
                    .decode("utf-8", "replace")
                )
                continue
            if kind in _PAX:
                next_name = _pax_path(bytes(data[start : start + size])) or next_name
                continue
            name, next_name = next_name or self._header_name(header), None
            if kind not in _FILE_TYPES or size == 0:
                continue
            member = stored_member(name, data, start, size, extraction)
            if member is None:
                return
            yield member

    @staticmethod
    def _header_name(header: bytes) -> str:
        name = header[:100].split(b"\x00", 1)[0]
        if header[257:262] == b"ustar":
            prefix = header[345:500].split(b"\x00", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        return name.decode("utf-8", "replace")


FORMAT = TarFormat()
