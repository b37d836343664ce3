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
32 KB units from version 2) says how to decode it (a ``ResetTable`` gives
the uncompressed length and where each reset point starts, for readers
that seek; the reference does without it, but when it is there, it must
lie inside the file, and decoding starts at its first reset point).

Strategy: take the entries whose names start with ``/`` and are not
directories (the reference scans the same set: ``/#SYSTEM``, the pages,
any embedded file) in directory order.  Like the reference, section 1 is
decoded whole (in whole frames, as far as its files reach) into a spool
file in the scan's scratch directory before any of its files is served:
damage anywhere in the LZX stream loses all of them, while the stored
files are still scanned.  The reference's other habits, measured on
altered files, are kept too: it checks the ITSF GUIDs, the file size in
header section 0 and the listing chunk numbers, finds the storage files
by name regardless of case, and computes ControlData sizes in signed
32-bit arithmetic.
"""

from __future__ import annotations

import contextlib
import struct
import tempfile
from collections.abc import Callable, Iterator
from typing import IO

from clamkit.containers import lzx
from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.containers.spans import decoded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

# Looked up without regard to case, as the reference does.
_STORAGE = "::dataspace/storage/mscompressed/"
_CONTENT = _STORAGE + "content"
_CONTROL = _STORAGE + "controldata"
_RESET_TABLE = _STORAGE + "transform/{7fc28940-9d31-11d0-9b27-00a0c91e9c7c}/instancedata/resettable"
_LISTING_HEADER = 0x14
_DIRECTORY_HEADER = 0x54
_HEADER_SECTION_SIZE = 0x18
_RESET_TABLE_HEADER = 0x28
# {7C01FD10-7BAA-11D0-9E0C-00A0C922E6EC} and {7C01FD11-...}, as stored.
_ITSF_GUIDS = bytes.fromhex("10fd017caa7bd0119e0c00a0c922e6ec11fd017caa7bd0119e0c00a0c922e6ec")
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
    chunk_size = _u32(data, directory_at + 0x10)
    chunk_count = _u32(data, directory_at + 0x2C)
    if chunk_size <= _LISTING_HEADER:
        raise ContainerError(f"CHM: directory chunk size {chunk_size} is too small")
    index_root, first_listing, last_listing = struct.unpack_from("<iii", data, directory_at + 0x1C)
    # The reference gives up on chunk numbers out of order or range.
    if not 0 <= first_listing <= last_listing <= chunk_count:
        raise ContainerError("CHM: first and last listing chunks out of range")
    if not -1 <= index_root < chunk_count:
        raise ContainerError("CHM: index root chunk out of range")
    entries = []
    # The chunks follow the 0x54-byte directory header; like the reference, we
    # do not take the header's own length field for it.
    first_chunk = directory_at + _DIRECTORY_HEADER
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


def _first_reset_point(table: Buffer) -> int:
    """Where the reference starts decoding in the compressed data: the reset
    table's first entry, when the table lists one it can read (0 otherwise)."""
    if len(table) < _RESET_TABLE_HEADER:
        return 0
    entries, table_at = _u32(table, 4), _u32(table, 0x0C)
    if not entries or table_at + 8 > len(table):
        return 0
    return _u64(table, table_at)


def _decode_section(
    section0: Callable[[str], Buffer],
    length: int,
    wanted: int,
    max_scansize: int,
    spool: IO[bytes],
) -> int:
    """Decode section 1 (``length`` bytes, rounded up to whole frames) and write its
    first ``wanted`` bytes (at most) to ``spool``; how many it wrote."""
    start = _first_reset_point(section0(_RESET_TABLE))
    missing = [name for name in (_CONTENT, _CONTROL) if not section0(name)]
    if missing:
        raise ContainerError(f"CHM: compressed section without {missing[0]}")
    control = section0(_CONTROL)
    if bytes(control[4:8]) != b"LZXC":
        raise ContainerError("CHM: compressed section is not LZX")
    version = _u32(control, 8)
    reset_interval, window_size = _u32(control, 0x0C), _u32(control, 0x10)
    if version == 2:
        # In the reference's signed 32-bit arithmetic: a product that wraps to
        # a valid size is taken, a negative one refused below.
        reset_interval = reset_interval * lzx.FRAME & 0xFFFFFFFF
        window_size = window_size * lzx.FRAME & 0xFFFFFFFF
    elif version != 1:
        raise ContainerError(f"CHM: LZX control data version {version} is not known")
    if reset_interval >= 1 << 31 or window_size >= 1 << 31:
        raise ContainerError("CHM: LZX reset interval or window size out of range")
    window_bits = window_size.bit_length() - 1
    if window_size != 1 << window_bits:
        raise ContainerError(f"CHM: LZX window size {window_size} is not a power of two")
    if not reset_interval or reset_interval % lzx.FRAME:
        raise ContainerError(f"CHM: LZX reset interval {reset_interval} is not whole frames")
    # The reference decodes whole frames, as far as the section's files reach
    # (not as far as the reset table says), so the padding an encoder leaves
    # after the last byte is decoded and checked too; we do the same, unless
    # that is more than a scan may be: then only as far as the files the
    # budget admits, and never past MaxScanSize (an LZX stream can expand
    # some 2000 times, and offsets are the file's to choose).
    if 0 < max_scansize < length:
        wanted = length = min(wanted, max_scansize)
    length = -(-length // lzx.FRAME) * lzx.FRAME
    content = bytes(section0(_CONTENT))[start:]
    if start and not content:
        raise ContainerError("CHM: first reset point lies past the compressed data")
    written = 0
    for frame in lzx.decompress(content, window_bits, length, reset_interval // lzx.FRAME):
        spool.write(frame[: max(0, wanted - written)])
        written += len(frame)
    return min(written, wanted)


def _prefix(content: Buffer, size: int) -> bytes:
    return bytes(content[:size])


class ChmFormat:
    name = "CHM"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_MSCHM

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        version = _u32(data, 4)
        if bytes(data[0x18:0x38]) != _ITSF_GUIDS:
            raise ContainerError("CHM: unknown ITSF header GUIDs")  # checked by the reference
        header_section = _u64(data, 0x38)
        if header_section + _HEADER_SECTION_SIZE > len(data):
            # The reference reads the file-size section the header points at
            # and gives up when it is not there...
            raise ContainerError("CHM: header section 0 lies outside the file")
        entries = _directory(data)
        content_at = _u64(data, 0x58) if version >= 3 else _u64(data, 0x48) + _u64(data, 0x50)
        if _u64(data, header_section + 8) < content_at:
            # ... or when the file size recorded there ends before the content.
            raise ContainerError("CHM: recorded file size ends before the content")
        stored = {
            name.lower(): (offset, size) for name, section, offset, size in entries if not section
        }

        def section0(name: str) -> Buffer:
            if name.lower() not in stored:
                return b""
            offset, length = stored[name.lower()]
            start = content_at + offset
            # The compressed stream is taken as far as the file goes; any other
            # file running past the end is an error, as on the reference.
            if start + length > len(data) and name.lower() != _CONTENT:
                raise ContainerError(f"CHM: {name} runs past the end of the file")
            return data[start : start + length]

        # Files of sections other than 0 and 1 are not extracted by the reference.
        files = [
            (name, section, offset, length)
            for name, section, offset, length in entries
            if name.startswith("/") and name[-1] != "/" and section in (0, 1)
        ]
        budget = extraction.member_budget()
        # Section 1 is decoded as far as the last of its files that the budget admits.
        wanted = max((o + n for _, section, o, n in files if section and n <= budget), default=0)
        section_end = max((o + n for _, section, o, n in entries if section == 1), default=0)
        decoded = -1  # bytes of section 1 in the spool; -1: not decoded yet
        with contextlib.ExitStack() as cleanup:
            for name, section, offset, length in files:
                if not section:
                    content = section0(name)
                    yield decoded_member(
                        name, length, extraction, lambda n, c=content: bytes(c[:n])
                    )
                    continue
                if decoded < 0:
                    spool = cleanup.enter_context(
                        tempfile.TemporaryFile(dir=extraction.scratch_dir())
                    )
                    try:
                        decoded = _decode_section(
                            section0, section_end, wanted, extraction.options.max_scansize, spool
                        )
                    except ContainerError:
                        decoded = 0  # the reference then extracts none of the section's files
                if length > extraction.member_budget():
                    yield Member(name, b"", length, truncated=True)
                elif offset + length <= decoded:
                    spool.seek(offset)
                    yield Member(name, spool.read(length), length)


FORMAT = ChmFormat()
