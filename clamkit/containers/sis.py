"""Symbian/EPOC installation packages (SIS, EPOC release 3 to 6; not the 9.x format).

Format, as laid out in Alexander Thoukydides' description of the SIS file
format: four UIDs (UID2 0x1000006D for EPOC R3-R5, 0x10003A12 for R6; UID3
0x10000419), then a little-endian header with the numbers of languages
and file records, the options word (bit 0: names are UTF-16; bit 3: file
data is *not* compressed) and pointers to the file records.  A file record
(type 0: one file, 1: one file per language) holds the file type, the
source and destination names (length and pointer), then per language the
stored length and a pointer, and on R6 also the uncompressed length per
language plus a MIME type.  Option records (2: a count, then a name per
option and language) and conditions (3, 4: a sized expression) carry data
to step over; else (5) and endif (6) carry none.  Compressed file data is
a zlib stream.

Strategy: walk the records from the file-record pointer as ClamAV 1.4
does (checked by feeding it generated packages): it reads one length and
pointer per *language* in every file record, reads no selected-options
mask after the option names, stops at the first multi-language record
(type 1), takes any UID2 but 0x1000006D as R6, wants the language table
inside the package, and inflates each file in one call into a buffer of
its original size (a stream that does not end there fails).  Each
language version of each real file is yielded (type 4, "null file", has
no data), named by its source name (empty when that lies outside the
package).  zlib stops at the declared size, so a small stream that claims
gigabytes never grows past it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.containers.spans import decoded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

_UID3 = 0x10000419
_UID2_OLD = 0x1000006D
_OPTION_UNICODE = 0x01
_OPTION_NOT_COMPRESSED = 0x08
_FILE_NULL = 4
_RECORD_FILE, _RECORD_LANGUAGE_FILES = 0, 1
_RECORD_OPTIONS, _RECORD_IF, _RECORD_ELSEIF, _RECORD_ELSE, _RECORD_ENDIF = 2, 3, 4, 5, 6


class _Reader:
    """Little-endian integers at checked offsets of the package."""

    def __init__(self, data: Buffer) -> None:
        self.data = data

    def u32(self, offset: int) -> int:
        return self.u32s(offset, 1)[0]

    def u32s(self, offset: int, count: int) -> tuple[int, ...]:
        if offset < 0 or offset + 4 * count > len(self.data):
            raise ContainerError("SIS: record runs past the end of the package")
        return struct.unpack_from(f"<{count}I", self.data, offset)

    def span(self, offset: int, length: int) -> Buffer:
        if offset + length > len(self.data):
            raise ContainerError("SIS: data runs past the end of the package")
        return self.data[offset : offset + length]


def _name(reader: _Reader, offset: int, length: int, unicode: bool) -> str:
    """The file's source name; "" when it lies outside the package (the reference
    extracts the file all the same)."""
    raw = (
        bytes(reader.data[offset : offset + length]) if offset + length <= len(reader.data) else b""
    )
    return raw.decode("utf-16-le" if unicode else "latin-1", errors="replace")


class SisFormat:
    name = "SIS"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_SIS

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        reader = _Reader(data)
        uid1, uid2, uid3, _uid4 = reader.u32s(0, 4)
        if uid3 != _UID3:
            raise ContainerError(f"SIS: unknown package UIDs {uid1:x} {uid2:x} {uid3:x}")
        languages, files = struct.unpack_from("<HH", reader.span(0x12, 4))
        (options,) = struct.unpack_from("<H", reader.span(0x24, 2))
        files_at = reader.u32(0x34)
        reader.span(reader.u32(0x30), 2 * languages)  # the reference gives up without them
        release6 = uid2 != _UID2_OLD  # the reference reads any other UID2 as R6
        compressed = not options & _OPTION_NOT_COMPRESSED
        unicode = bool(options & _OPTION_UNICODE)
        position = files_at
        for _ in range(files):
            record = reader.u32(position)
            position += 4
            if record == _RECORD_LANGUAGE_FILES:
                return  # the reference reads no further than a multi-language record
            if record == _RECORD_FILE:
                file_type, _details, name_length, name_at, _dest_length, _dest_at = reader.u32s(
                    position, 6
                )
                position += 24
                # As on the reference, a file has one length and pointer per language.
                lengths = reader.u32s(position, languages)
                pointers = reader.u32s(position + 4 * languages, languages)
                position += 8 * languages
                if release6:
                    originals = reader.u32s(position, languages)
                    position += 4 * languages + 8  # original lengths, then the MIME type
                else:
                    originals = lengths
                if file_type == _FILE_NULL:
                    continue
                name = _name(reader, name_at, name_length, unicode)
                for length, pointer, original in zip(lengths, pointers, originals, strict=True):
                    stored = reader.span(pointer, length)
                    yield _member(name, stored, original, compressed, extraction)
            elif record == _RECORD_OPTIONS:
                count = reader.u32(position)
                position += 4 + 8 * count * languages  # names; the reference reads no more
            elif record in (_RECORD_IF, _RECORD_ELSEIF):
                position += 4 + reader.u32(position)
            elif record not in (_RECORD_ELSE, _RECORD_ENDIF):
                raise ContainerError(f"SIS: unknown record type {record}")


def _member(
    name: str, stored: Buffer, original: int, compressed: bool, extraction: Extraction
) -> Member:
    if not compressed:
        return decoded_member(name, len(stored), extraction, lambda size: bytes(stored))
    return decoded_member(name, original, extraction, lambda size: _inflate(name, stored, size))


def _inflate(name: str, stored: Buffer, size: int) -> bytes:
    """At most ``size`` bytes of the zlib stream ``stored`` (the reference's buffer size)."""
    if size == 0:  # zlib reads a limit of 0 as no limit at all
        return b""
    inflater = zlib.decompressobj()
    try:
        content = inflater.decompress(stored, size)
    except zlib.error as error:
        raise ContainerError(f"SIS: {name}: {error}") from None
    if not inflater.eof:
        # The reference inflates in one call into a buffer of the original size:
        # a stream that does not end within it fails there.
        raise ContainerError(f"SIS: {name}: compressed data does not end within its size")
    return content


FORMAT = SisFormat()
