"""ISO 9660 images (CD/DVD file systems).

Strategy: the reference recognises an image by the ``CD001`` of its first
volume descriptor at 32 KiB, past the bytes file types are decided by, so
this format opens unclassified data that carries it.  The primary volume
descriptor gives the block size and the root directory; directories are
walked breadth first, each extent once (a directory that points back at an
ancestor, or two names for one file, cannot make the walk loop or repeat),
and every file is a slice of the image.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from clamkit.containers.base import Alert, ContainerError, Extraction, Member, stored_member
from clamkit.engine.filetypes import FileType

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = ["FORMAT", "Iso9660Format"]

_SECTOR = 2048
_FIRST_DESCRIPTOR = 16 * _SECTOR
_MAGIC = b"CD001"
_PRIMARY, _TERMINATOR = 1, 255
_DIRECTORY_FLAG = 0x02
_MAX_DESCRIPTORS = 64


def _record(raw: bytes) -> tuple[int, int, bool, bytes]:
    """(extent, size, is a directory, name) of a directory record."""
    extent, size = struct.unpack_from("<I4xI", raw, 2)
    name = raw[33 : 33 + raw[32]]
    return extent, size, bool(raw[25] & _DIRECTORY_FLAG), name


class Iso9660Format:
    name = "iso9660"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        magic_at = _FIRST_DESCRIPTOR + 1
        return file_type in (FileType.CL_TYPE_BINARY_DATA, FileType.CL_TYPE_ISO9660) and (
            bytes(data[magic_at : magic_at + len(_MAGIC)]) == _MAGIC
        )

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        block, root = self._primary(data)
        pending = deque([(root, "")])
        seen = {root[0]}
        while pending:
            (extent, size), path = pending.popleft()
            listing = bytes(data[extent * block : extent * block + size])
            position = 0
            while position < len(listing):
                length = listing[position]
                if length == 0:
                    # Records never straddle sectors; the rest of this one is padding.
                    position = (position // _SECTOR + 1) * _SECTOR
                    continue
                if length < 34:
                    raise ContainerError("ISO 9660: bad directory record")
                child, child_size, directory, raw_name = _record(
                    listing[position : position + length]
                )
                position += length
                if raw_name in (b"\x00", b"\x01") or child in seen:
                    continue
                seen.add(child)
                name = path + raw_name.decode("latin-1").split(";", 1)[0]
                if directory:
                    pending.append(((child, child_size), name + "/"))
                    continue
                member = stored_member(name, data, child * block, child_size, extraction)
                if member is None:
                    return
                yield member

    @staticmethod
    def _primary(data: Buffer) -> tuple[int, tuple[int, int]]:
        """Block size and root directory (extent, size) of the primary volume descriptor."""
        for index in range(_MAX_DESCRIPTORS):
            start = _FIRST_DESCRIPTOR + index * _SECTOR
            descriptor = bytes(data[start : start + _SECTOR])
            if len(descriptor) < 190 or descriptor[1:6] != _MAGIC:
                break
            if descriptor[0] == _TERMINATOR:
                break
            if descriptor[0] == _PRIMARY:
                block = struct.unpack_from("<H", descriptor, 128)[0]
                extent, size, _, _ = _record(descriptor[156:190])
                if block not in (512, 1024, 2048):
                    raise ContainerError("ISO 9660: bad logical block size")
                return block, (extent, size)
        raise ContainerError("ISO 9660: no primary volume descriptor")


FORMAT = Iso9660Format()
