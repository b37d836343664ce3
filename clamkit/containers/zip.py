"""ZIP archives (and what is built on them: JAR, OOXML, ODF, APK ...).

Strategy: like the reference, trust the central directory: find the end
record, walk the central entries, and for each read the local header it
points at for where the data starts.  Without an end record ClamAV 1.4
extracts nothing from a top-level file (it says it falls back to local
headers, but no member comes out), and neither does this module.

Before anything is extracted, the entries are checked as the reference
checks them, for MaxFiles and for the flat zip bomb, whose entries share
their data: when more than :data:`MAX_OVERLAPPING_ENTRIES` entries overlap
the entry before them, the archive gives ``Heuristics.Zip.OverlappingFiles``
(under HeuristicAlerts) and nothing else; fewer overlaps are read as they
are.  A second entry at the same local header is skipped, as the reference
skips duplicates.

Entries are extracted one at a time in central directory order: stored,
deflate, Deflate64 (``inflate64``), bzip2 and PKWARE implode (``explode``),
the methods the reference reads; it skips LZMA and zstd entries, and so
does this module.  Output is trimmed to the member budget
without marking the member truncated, because the reference trims zip
members to MaxFileSize silently; an entry whose *compressed* size passes
MaxFileSize is skipped with ``...MaxFileSize``.  Encrypted entries give
``Heuristics.Encrypted.Zip`` under AlertEncryptedArchive.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clamkit.containers import explode, streams
from clamkit.containers.base import (
    EXCEEDED_MAX_FILE_SIZE,
    EXCEEDED_MAX_FILES,
    Alert,
    ContainerError,
    Extraction,
    Member,
)
from clamkit.engine.filetypes import FileType

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = ["FORMAT", "ZipFormat"]

ENCRYPTED_ZIP = "Heuristics.Encrypted.Zip"
OVERLAPPING_FILES = "Heuristics.Zip.OverlappingFiles"

MAX_OVERLAPPING_ENTRIES = 5
"""Entries overlapping the one before them that the reference tolerates;
one more and the archive is a flat zip bomb: nothing is extracted."""

_END = b"PK\x05\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_END_SIZE = 22
_CENTRAL_SIZE = 46
_LOCAL_SIZE = 30
# The end record sits within its own size plus the longest comment of the end.
_END_SEARCH = _END_SIZE + 0xFFFF

_FLAG_ENCRYPTED = 0x0001
_ZIP64_EXTRA = 0x0001
_SATURATED = 0xFFFFFFFF

_STORED, _IMPLODED, _DEFLATED, _DEFLATE64 = 0, 6, 8, 9
_BZIP2 = 12

# What a damaged entry's decoder raises.
_DAMAGED = (ContainerError, zlib.error, OSError, ValueError, EOFError)

_STREAM_METHODS: dict[int, Callable[[], streams.Decompressor]] = {
    _DEFLATED: streams.deflate,
    _DEFLATE64: streams.deflate64,
    _BZIP2: streams.bzip2,
}


def _zip64_sizes(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Replace saturated 32-bit fields by the ZIP64 extra field's values, in its order."""
    position = 0
    while position + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + size]
        position += 4 + size
        if tag != _ZIP64_EXTRA:
            continue
        values = [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
        if usize == _SATURATED and values:
            usize = values.pop(0)
        if csize == _SATURATED and values:
            csize = values.pop(0)
        if offset == _SATURATED and values:
            offset = values.pop(0)
    return usize, csize, offset


def _end_record(data: Buffer) -> tuple[int, int, int] | None:
    """(entries, central directory size, its offset) from the last end record."""
    tail_start = max(len(data) - _END_SEARCH, 0)
    tail = bytes(data[tail_start:])
    at = tail.rfind(_END)
    while at >= 0 and at + _END_SIZE > len(tail):
        at = tail.rfind(_END, 0, at)
    if at < 0:
        return None
    entries, size, offset = struct.unpack_from("<HII", tail, at + 10)
    end = tail_start + at
    if offset + size > end and size <= end:
        # A self-extractor's stub shifts every offset; the directory ends
        # where the end record starts.
        offset = end - size
    return entries, size, offset


def _decompressed(method: int, flags: int, raw: Buffer, usize: int, budget: int) -> bytes | None:
    """The entry's data, at most ``budget`` bytes (the reference trims, so no
    flag); None for a method the reference does not read."""
    if method == _STORED:
        return bytes(raw[: min(usize, budget)])
    if method == _IMPLODED:
        return explode.explode(bytes(raw), flags, min(usize, budget))
    factory = _STREAM_METHODS.get(method)
    if factory is None:
        return None
    return streams.drain(factory(), raw, budget).data


@dataclass(frozen=True, slots=True)
class _Entry:
    """One central directory entry, located: its data is ``data[start:stop]``."""

    name: str
    flags: int
    method: int
    csize: int
    usize: int
    local: int
    start: int
    stop: int


def _data_start(data: Buffer, local: int) -> int | None:
    header = bytes(data[local : local + _LOCAL_SIZE])
    if len(header) < _LOCAL_SIZE or not header.startswith(_LOCAL):
        return None
    name_len, extra_len = struct.unpack_from("<HH", header, 26)
    return local + _LOCAL_SIZE + name_len + extra_len


def _entries(data: Buffer, count: int, position: int) -> Iterator[_Entry]:
    """The central directory's entries that have a local header, duplicates left out."""
    seen: set[int] = set()
    for _ in range(count):
        header = bytes(data[position : position + _CENTRAL_SIZE])
        if len(header) < _CENTRAL_SIZE or not header.startswith(_CENTRAL):
            raise ContainerError("bad central directory entry")
        (flags, method, csize, usize, name_len, extra_len, comment_len, local) = struct.unpack_from(
            "<HH8xIIHHH8xI", header, 8
        )
        name_end = position + _CENTRAL_SIZE + name_len
        name = bytes(data[position + _CENTRAL_SIZE : name_end]).decode("utf-8", "replace")
        extra = bytes(data[name_end : name_end + extra_len])
        position = name_end + extra_len + comment_len
        usize, csize, local = _zip64_sizes(extra, usize, csize, local)
        if local in seen:
            continue  # the reference ignores duplicate entries
        seen.add(local)
        start = _data_start(data, local)
        if start is not None:  # no local header where the entry says: nothing to read
            yield _Entry(name, flags, method, csize, usize, local, start, start + csize)


def _refusal(entries: list[_Entry], max_files: int) -> Alert | None:
    """Why the reference's first pass over the entries gives the archive up, if it does.

    It stops at the first entry past MaxFiles, or at the first entry that
    makes too many overlapping their predecessor (a flat zip bomb).
    """
    overlapping = 0
    for number, (before, entry) in enumerate(itertools.pairwise(entries), start=2):
        if max_files and number > max_files:
            return Alert(EXCEEDED_MAX_FILES, "alert_exceeds_max")
        if entry.local < before.stop and before.local < entry.stop:
            overlapping += 1
            if overlapping > MAX_OVERLAPPING_ENTRIES:
                return Alert(OVERLAPPING_FILES, "heuristic_alerts")
    return None


class ZipFormat:
    """ZIP by its central directory; see the module docstring."""

    name = "zip"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type in (FileType.CL_TYPE_ZIP, FileType.CL_TYPE_ZIPSFX)

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        end = _end_record(data)
        if end is None:
            return
        count, _size, position = end
        entries = list(_entries(data, count, position))
        max_files = extraction.options.max_files
        refusal = _refusal(entries, max_files)
        if refusal is not None:
            yield refusal
            return
        if max_files and len(entries) >= max_files:
            # The first pass counts the archive itself too: at the limit it
            # alerts, though every entry is still read.
            yield Alert(EXCEEDED_MAX_FILES, "alert_exceeds_max")
        for entry in entries:
            if entry.name.endswith("/") and entry.usize == 0:
                continue
            if entry.flags & _FLAG_ENCRYPTED:
                yield Alert(ENCRYPTED_ZIP, "alert_encrypted_archive")
                continue
            if extraction.options.file_too_large(entry.csize):
                yield Alert(EXCEEDED_MAX_FILE_SIZE, "alert_exceeds_max")
                continue
            budget = extraction.member_budget()
            if budget <= 0:
                return
            raw = data[entry.start : entry.stop]
            try:
                payload = _decompressed(entry.method, entry.flags, raw, entry.usize, budget)
            except _DAMAGED:
                continue  # one damaged entry; the reference goes on with the next
            if payload is None:
                continue
            declared = min(entry.usize, extraction.options.max_filesize or entry.usize)
            yield Member(entry.name, payload, declared)


FORMAT = ZipFormat()
