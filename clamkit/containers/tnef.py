"""TNEF (``winmail.dat``) as a container: the attachments it carries.

Strategy: a TNEF stream is a signature and key, then attributes (level,
id, length, data, checksum).  At attachment level, ``attAttachTitle``
names the attachment and ``attAttachData`` holds it: each data attribute
is a member, named by the title that precedes it.  The data is sliced from
the buffer, so nothing is decompressed and memory is the file's own.  An
attribute whose length runs past the end is cut there and ends the walk,
as the file is truncated.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.containers.transfer import bounded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = ["FORMAT", "TnefFormat"]

_SIGNATURE = 0x223E9F78
_ATTRIBUTE = struct.Struct("<BII")  # level, id (type << 16 | tag), length
_CHECKSUM_SIZE = 2
_LEVEL_ATTACHMENT = 2
_ATT_ATTACH_DATA = 0x800F
_ATT_ATTACH_TITLE = 0x8010


class TnefFormat:
    """TNEF streams (``CL_TYPE_TNEF``)."""

    name = "tnef"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_TNEF

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        content = bytes(data)
        if len(content) < 6 or struct.unpack_from("<I", content)[0] != _SIGNATURE:
            raise ContainerError("not a TNEF stream")
        pos, title = 6, "attachment"
        while pos + _ATTRIBUTE.size <= len(content):
            level, attribute, length = _ATTRIBUTE.unpack_from(content, pos)
            start = pos + _ATTRIBUTE.size
            value = content[start : start + length]
            pos = start + length + _CHECKSUM_SIZE
            if level != _LEVEL_ATTACHMENT:
                continue
            tag = attribute & 0xFFFF
            if tag == _ATT_ATTACH_TITLE:
                title = value.split(b"\0", 1)[0].decode("latin-1") or title
            elif tag == _ATT_ATTACH_DATA:
                member = bounded_member(title, value, extraction, declared_size=length)
                if member is None:
                    return
                yield member
            if len(value) < length:
                raise ContainerError("TNEF attribute runs past the end")


FORMAT = TnefFormat()
