"""OneNote sections (``.one``) as containers: the files embedded in them.

Strategy: an embedded file is a FileDataStoreObject, marked by its GUID
and followed by its 64-bit length, four unused and eight reserved bytes,
then the file itself.  Each marker found is a member, sliced from the
buffer (the length is clipped to what is there).  This is the reference's
own fallback for sections its full parser rejects; on well-formed sections
both find the same files.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator

from clamkit.containers.base import Alert, Extraction, Member
from clamkit.containers.transfer import bounded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = ["FILE_DATA_MARKER", "FORMAT", "OneNoteFormat"]

FILE_DATA_MARKER = uuid.UUID("{BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}").bytes_le
_HEADER = struct.Struct("<QIQ")  # cbLength, unused, reserved


class OneNoteFormat:
    """OneNote sections (``CL_TYPE_ONENOTE``)."""

    name = "onenote"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_ONENOTE

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        content = bytes(data)
        pos = content.find(FILE_DATA_MARKER)
        while pos >= 0 and pos + len(FILE_DATA_MARKER) + _HEADER.size <= len(content):
            start = pos + len(FILE_DATA_MARKER) + _HEADER.size
            (length, _, _) = _HEADER.unpack_from(content, pos + len(FILE_DATA_MARKER))
            member = bounded_member(
                "attachment", content[start : start + length], extraction, declared_size=length
            )
            if member is None:
                return
            yield member
            pos = content.find(FILE_DATA_MARKER, start + min(length, len(content)))


FORMAT = OneNoteFormat()
