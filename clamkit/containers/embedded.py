"""Objects embedded in other files: PE images and self-extracting archives.

Strategy: the reference looks through executables and unclassified binary
data for the start of another object and scans from there to the end of
the file as a child: a PE image (``MZ`` whose header points at ``PE\\0\\0``;
only in files no larger than MaxEmbeddedPE, and in data that is not itself
an executable only when that header lies within the first 1 KiB, which is
what the reference's type recognition sees), or an archive appended to an
installer stub (ZIP, CAB, 7z; anywhere).  This module does the same; the child's
own type then decides which format opens it, and a format reads only as
much as the archive's own headers say, so the bytes after it do not matter.

One ZIP and one 7z start are taken (the first whose header is sane: one
archive holds many local headers, and each would be the same archive
again); every CAB start is, since installers nest cabinets in stubs.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING

from clamkit.containers.base import Alert, Extraction, Member, stored_member
from clamkit.engine.filetypes import HEAD_SIZE, FileType, detect_file_type
from clamkit.engine.prefilter import CHUNK_SIZE, release_pages

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = ["PE_FORMAT", "SFX_FORMAT"]

_HOSTS = frozenset({FileType.CL_TYPE_MSEXE, FileType.CL_TYPE_BINARY_DATA})

_PE_OFFSET_FIELD = 0x3C


def _starts(data: Buffer, magic: bytes) -> Iterator[int]:
    """Offsets after the first byte where ``magic`` occurs.

    One regex scan in C per chunk: twice mmap.find's speed, no copy of a
    memoryview per occurrence, and a mapped file's pages are handed back
    chunk by chunk (a 200 MB stream would otherwise stay resident whole).
    Matches do not overlap, which loses nothing: none of the magics used
    here can overlap itself.
    """
    pattern = re.compile(re.escape(magic))
    size = len(data)
    for chunk_start in range(0, size, CHUNK_SIZE):
        chunk_end = chunk_start + CHUNK_SIZE
        for found in pattern.finditer(data, max(chunk_start, 1), chunk_end + len(magic) - 1):
            # One starting in the overlap is found again by the next chunk.
            if found.start() < chunk_end:
                yield found.start()
        release_pages(data, chunk_start, CHUNK_SIZE)


def _pe_at(data: Buffer, offset: int, end: int) -> bool:
    """Whether an ``MZ`` at ``offset`` points at a PE header ending by ``end``."""
    field = bytes(data[offset + _PE_OFFSET_FIELD : offset + _PE_OFFSET_FIELD + 4])
    if len(field) < 4:
        return False
    header = offset + struct.unpack("<I", field)[0]
    return header + 4 <= end and bytes(data[header : header + 4]) == b"PE\x00\x00"


def _cab_at(data: Buffer, offset: int) -> bool:
    field = bytes(data[offset + 8 : offset + 12])
    return len(field) == 4 and 0 < struct.unpack("<I", field)[0] <= len(data) - offset


def _zip_at(data: Buffer, offset: int) -> bool:
    header = bytes(data[offset : offset + 30])
    if len(header) < 30:
        return False
    name_length = struct.unpack_from("<H", header, 26)[0]
    return 0 < name_length <= len(data) - offset - 30


def _sevenzip_at(data: Buffer, offset: int) -> bool:
    return bytes(data[offset + 6 : offset + 7]) == b"\x00"  # major version 0


class EmbeddedPeFormat:
    """PE images found inside executables and binary data."""

    name = "embedded-pe"
    # The reference puts an embedded image two recursion levels below its host.
    levels = 2

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type in _HOSTS

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        limit = extraction.options.max_embeddedpe
        if limit and len(data) > limit:
            return
        # In unclassified data the reference finds only images whose PE
        # header is within the bytes it types files by; in executables, all.
        host = detect_file_type(bytes(data[:HEAD_SIZE]), len(data))
        end = len(data) if host is FileType.CL_TYPE_MSEXE else HEAD_SIZE
        for offset in _starts(data, b"MZ"):
            if _pe_at(data, offset, end):
                size = len(data) - offset
                member = stored_member(f"pe@{offset}", data, offset, size, extraction)
                if member is None:
                    return
                yield member


class SfxFormat:
    """Archives appended to executables and binary data (self-extractors)."""

    name = "sfx"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type in _HOSTS

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        found: list[tuple[int, str]] = []
        for magic, sane, name, every in (
            (b"PK\x03\x04", _zip_at, "zip", False),
            (b"7z\xbc\xaf'\x1c", _sevenzip_at, "7z", False),
            (b"MSCF\x00\x00\x00\x00", _cab_at, "cab", True),
        ):
            for offset in _starts(data, magic):
                if sane(data, offset):
                    found.append((offset, name))
                    if not every:
                        break
        for offset, name in sorted(found):
            size = len(data) - offset
            member = stored_member(f"{name}-sfx@{offset}", data, offset, size, extraction)
            if member is None:
                return
            yield member


PE_FORMAT = EmbeddedPeFormat()
SFX_FORMAT = SfxFormat()
