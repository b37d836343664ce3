"""Microsoft compiled HTML help (CHM, ``ITSF``): the directory and both content sections.

Format, as the unofficial CHM specification (Matthew Russotto, and the
libmspack notes) describes it: an ``ITSF`` header gives the directory's
offset and, from version 3, the content offset (version 2: right after the
directory).  The directory (``ITSP``) is a run of fixed-size chunks; the
listing chunks (``PMGL``) hold entries until their free space at the end:
a name, then section number, offset and length, each number an ENCINT
(7 bits a byte, most significant first, high bit set on all but the last).
Section 0 is stored data at the content offset.  Section 1 is one LZX
stream kept in the section-0 file ``::DataSpace/Storage/MSCompressed/Content``;
its ``ControlData`` (``LZXC``, version, reset interval and window size, in
32 KB units from version 2) and its ``ResetTable`` (the uncompressed length)
say how to decode it.

Strategy: collect the entries whose names start with ``/`` and are not
directories (the reference scans the same set: ``/#SYSTEM``, the pages,
any embedded file), yield the stored ones in directory order, then cut
the compressed ones out of the lazily decoded LZX section in offset order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from clamkit.containers import lzx
from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.containers.spans import decoded_member, range_members
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

_STORAGE = "::DataSpace/Storage/MSCompressed/"
_CONTENT = _STORAGE + "Content"
_CONTROL = _STORAGE + "ControlData"
_RESET_TABLE = _STORAGE + "Transform/{7FC28940-9D31-11D0-9B27-00A0C91E9C7C}/InstanceData/ResetTable"
_LISTING_HEADER = 0x14
_MAX_ENCINT_BYTES = 9  # 63 bits: more is no real offset


def _u32(data: Buffer, offset: int) -> int:
    if offset + 4 > len(data):
        raise ContainerError("CHM: header runs past the end of the file")
    return struct.unpack_from("<I", data, offset)[0]


def _u64(data: Buffer, offset: int) -> int:
    if offset + 8 > len(data):
        raise ContainerError("CHM: header runs past the end of the file")
    return struct.unpack_from("<Q", data, offset)[0]


def _encint(chunk: Buffer, offset: int, end: int) -> tuple[int, int]:
    value = 0
    for count in range(_MAX_ENCINT_BYTES):
        if offset + count >= end:
            break
        byte = chunk[offset + count]
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            return value, offset + count + 1
    raise ContainerError("CHM: directory entry number cut off")


def _directory(data: Buffer) -> list[tuple[str, int, int, int]]:
    """Every entry of the listing chunks: (name, section, offset, length)."""
    directory_at = _u64(data, 0x48)
    if bytes(data[directory_at : directory_at + 4]) != b"ITSP":
        raise ContainerError("CHM: directory header not found")
    header_length = _u32(data, directory_at + 8)
    chunk_size = _u32(data, directory_at + 0x10)
    chunk_count = _u32(data, directory_at + 0x2C)
    if chunk_size <= _LISTING_HEADER:
        raise ContainerError(f"CHM: directory chunk size {chunk_size} is too small")
    entries = []
    first_chunk = directory_at + header_length
    for number in range(chunk_count):
        start = first_chunk + number * chunk_size
        if start + chunk_size > len(data):
            raise ContainerError("CHM: directory runs past the end of the file")
        chunk = data[start : start + chunk_size]
        if bytes(chunk[:4]) != b"PMGL":
            continue  # index chunks (PMGI) only repeat names of listing chunks
        end = chunk_size - _u32(chunk, 4)
        offset = _LISTING_HEADER
        while offset < end:
            name_length, offset = _encint(chunk, offset, end)
            if offset + name_length > end:
                raise ContainerError("CHM: directory entry name cut off")
            name = bytes(chunk[offset : offset + name_length]).decode("utf-8", "replace")
            section, offset = _encint(chunk, offset + name_length, end)
            content_offset, offset = _encint(chunk, offset, end)
            length, offset = _encint(chunk, offset, end)
            entries.append((name, section, content_offset, length))
    return entries


class ChmFormat:
    name = "CHM"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_MSCHM

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        version = _u32(data, 4)
        entries = _directory(data)
        content_at = _u64(data, 0x58) if version >= 3 else _u64(data, 0x48) + _u64(data, 0x50)
        stored = {
            name: (offset, length) for name, section, offset, length in entries if not section
        }

        def section0(name: str) -> Buffer:
            offset, length = stored[name]
            start = content_at + offset
            if start + length > len(data):
                raise ContainerError(f"CHM: {name} runs past the end of the file")
            return data[start : start + length]

        compressed = []
        for name, section, offset, length in entries:
            if not name.startswith("/") or name.endswith("/"):
                continue
            if section:
                compressed.append((name, offset, length))
                continue
            content = section0(name)
            yield decoded_member(name, length, extraction, lambda size, c=content: bytes(c[:size]))
        if not compressed:
            return
        missing = [name for name in (_CONTENT, _CONTROL, _RESET_TABLE) if name not in stored]
        if missing:
            raise ContainerError(f"CHM: compressed section without {missing[0]}")
        control = section0(_CONTROL)
        if bytes(control[4:8]) != b"LZXC":
            raise ContainerError("CHM: compressed section is not LZX")
        reset_interval, window_size = _u32(control, 0x0C), _u32(control, 0x10)
        if _u32(control, 8) >= 2:
            reset_interval *= lzx.FRAME
            window_size *= lzx.FRAME
        window_bits = window_size.bit_length() - 1
        if window_size != 1 << window_bits:
            raise ContainerError(f"CHM: LZX window size {window_size} is not a power of two")
        if not reset_interval or reset_interval % lzx.FRAME:
            raise ContainerError(f"CHM: LZX reset interval {reset_interval} is not whole frames")
        output_length = _u64(section0(_RESET_TABLE), 0x10)
        frames = lzx.decompress(
            bytes(section0(_CONTENT)), window_bits, output_length, reset_interval // lzx.FRAME
        )
        yield from range_members(frames, compressed, extraction)


FORMAT = ChmFormat()
