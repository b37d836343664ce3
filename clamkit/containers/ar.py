"""Unix ``ar`` archives: static libraries (``.a``), the outer layer of ``.deb`` packages.

The reference has no ar reader (it finds a stored PE member only as an
embedded image); clamkit reads every member, under ScanArchive.

Strategy: walk the 60-byte member headers over the buffer, so members are
slices of it.  GNU long names (``/N`` into the ``//`` table) and BSD ones
(``#1/N``: the name precedes the data) are resolved for display; the symbol
and name tables are not members.  A header that does not parse ends the
archive; a member cut short gives what the file holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from clamkit.containers.base import Alert, ContainerError, Extraction, Member, stored_member
from clamkit.engine.filetypes import FileType

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = ["FORMAT", "ArFormat"]

MAGIC = b"!<arch>\n"
_HEADER = 60
_END_OF_HEADER = b"`\n"
_GNU_NAMES = b"//"
_SYMBOL_TABLES = frozenset({b"/", b"/SYM64/", b"__.SYMDEF", b"__.SYMDEF SORTED"})
_BSD_NAME = b"#1/"


def _decimal(field: bytes) -> int:
    digits = field.strip(b" ")
    if not digits.isdigit():
        raise ContainerError(f"bad ar size field {field!r}")
    return int(digits)


def _gnu_long_name(table: bytes, field: bytes) -> bytes:
    """``/N``: the name at offset N of the ``//`` table, up to its ``/\\n``."""
    offset = _decimal(field[1:])
    return table[offset:].split(b"\n", 1)[0].removesuffix(b"/")


class ArFormat:
    name = "ar"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return bytes(data[: len(MAGIC)]) == MAGIC

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        long_names = b""
        position = len(MAGIC)
        while position + _HEADER <= len(data):
            header = bytes(data[position : position + _HEADER])
            if header[58:60] != _END_OF_HEADER:
                raise ContainerError(f"bad ar member header at {position}")
            field = header[:16].rstrip(b" ")
            size = _decimal(header[48:58])
            start = position + _HEADER
            position = start + size + size % 2
            if field == _GNU_NAMES:
                long_names = bytes(data[start : start + size])
                continue
            if field in _SYMBOL_TABLES:
                continue
            if field.startswith(_BSD_NAME):
                name_size = min(_decimal(field[len(_BSD_NAME) :]), size)
                name = bytes(data[start : start + name_size]).rstrip(b"\x00")
                start, size = start + name_size, size - name_size
            elif field.startswith(b"/") and field[1:].isdigit():
                name = _gnu_long_name(long_names, field)
            else:
                name = field.removesuffix(b"/")
            member = stored_member(name.decode("utf-8", "replace"), data, start, size, extraction)
            if member is None:
                return
            yield member


FORMAT = ArFormat()
