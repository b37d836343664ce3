"""Disk images: MBR, GPT and Apple (APM) partition tables; the partitions are the members.

Strategy: each table is read into *slots*, one per table entry in table
order (an empty entry, an entry out of bounds and APM's entry for the map
itself are slots without a partition), and one walk serves all three: only
the first MaxPartitions slots are looked at, and when AlertPartitionIntersection
is on, overlapping partitions give the reference's heuristic for that table
first.  Partitions are slices of the image.  What the reference does,
observed on ClamAV 1.4 with images built by hand:

- A partition is scanned as raw data of type ``CL_TYPE_PART_ANY`` and not
  opened further (the scanner honours ``member_type``): a gzip file in a
  partition is not decompressed, an executable in it is not parsed.
- MaxPartitions counts table entries, not partitions found: an empty MBR
  entry counts, and so do GPT's empty entries and APM's map entry; an MBR
  extended partition counts one for each logical partition in it instead
  of one for itself.  The limit ends the table silently, even under
  AlertExceedsMax.
- MBR: an image whose size is not a whole number of 512-byte sectors, an
  entry whose status is not 0 or 0x80, or a partition past the end of the
  image make the whole table invalid (nothing is extracted).  A valid one
  yields its boot sector first, then each partition; extended partitions
  are followed through their chain of extended boot records.  A first entry
  of type 0xEE (protective) means the image is GPT; so a GPT image is read
  twice, once as GPT and once through its MBR.
- GPT: the primary header and its entry array must pass their CRC-32
  checks; a partition outside the usable LBAs (or ending before it starts)
  is skipped.  The sector size is found by where the header is (512 to
  4096 bytes).
- APM: block 0 is the driver descriptor (``ER``), the map starts in block
  1 (``PM``) and its first entry describes the map; every entry is a slot
  and the map itself is not extracted; a partition past the end is skipped.
- The heuristics are ``Heuristics.MBRPartitionnIntersect`` (sic),
  ``Heuristics.GPTPartitionIntersection`` and
  ``Heuristics.APMPartitionIntersection``.
"""

from __future__ import annotations

import abc
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clamkit.containers.base import Alert, Extraction, Member, stored_member
from clamkit.engine.filetypes import FileType

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = [
    "APM_FORMAT",
    "APM_INTERSECTION",
    "GPT_FORMAT",
    "GPT_INTERSECTION",
    "MBR_FORMAT",
    "MBR_INTERSECTION",
]

MBR_INTERSECTION = "Heuristics.MBRPartitionnIntersect"
GPT_INTERSECTION = "Heuristics.GPTPartitionIntersection"
APM_INTERSECTION = "Heuristics.APMPartitionIntersection"
_INTERSECTION_OPTION = "alert_partition_intersection"

SECTOR = 512
_MBR_SIGNATURE = b"\x55\xaa"
_MBR_ENTRIES = 446
_MBR_STATUSES = frozenset({0x00, 0x80})
_MBR_EMPTY = 0x00
_MBR_EXTENDED = frozenset({0x05, 0x0F, 0x85})
_MBR_PROTECTIVE = 0xEE
# An extended partition's chain of boot records cannot hold more logical
# partitions than it has sectors; this also ends a chain that loops.
_MAX_LOGICAL = 1 << 16

_GPT_SIGNATURE = b"EFI PART"
_GPT_SECTOR_SIZES = (512, 1024, 2048, 4096)
_GPT_HEADER = struct.Struct("<8sIII4xQQQQ16sQIII")
_GPT_ENTRY_MIN = 128
# A header claiming more entries than this describes no real disk (128 is usual).
_GPT_MAX_ENTRIES = 1 << 14

_APM_DRIVER = b"ER"
_APM_ENTRY = b"PM"


@dataclass(frozen=True, slots=True)
class _Partition:
    name: str
    start: int  # bytes into the image
    size: int


@dataclass(frozen=True, slots=True)
class _Table:
    """A table read: its slots, the groups of partitions that must not
    overlap, the heuristic if they do, and whether the boot sector is a member."""

    slots: list[_Partition | None]
    groups: list[list[_Partition]]
    intersection: str
    boot_sector: bool = False


class _TableFormat(abc.ABC):
    """The walk shared by the three tables; subclasses read their table."""

    name: str
    member_type = FileType.CL_TYPE_PART_ANY

    @abc.abstractmethod
    def table(self, data: Buffer) -> _Table | None:
        """The table (None: it is invalid and nothing is extracted)."""

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        table = self.table(data)
        if table is None:
            return
        if any(_overlap(group) for group in table.groups):
            yield Alert(table.intersection, _INTERSECTION_OPTION)
        slots = table.slots
        if extraction.options.max_partitions:
            slots = slots[: extraction.options.max_partitions]
        if table.boot_sector:
            slots = [_Partition("mbr", 0, SECTOR), *slots]
        for slot in slots:
            if slot is None:
                continue
            member = stored_member(slot.name, data, slot.start, slot.size, extraction)
            if member is None:
                return
            yield member


def _overlap(partitions: list[_Partition]) -> bool:
    furthest = 0
    for start, end in sorted((p.start, p.start + p.size) for p in partitions if p.size):
        if start < furthest:
            return True
        furthest = max(furthest, end)
    return False


# -- MBR ---------------------------------------------------------------------------


def _mbr_entries(sector: bytes) -> list[tuple[int, int, int, int]]:
    """(status, type, first LBA, sectors) of a boot record's four entries."""
    return [
        struct.unpack_from("<B3xB3xII", sector, _MBR_ENTRIES + 16 * index) for index in range(4)
    ]


def _logical_partitions(data: Buffer, extended_lba: int, total: int) -> list[_Partition]:
    """The logical partitions of the extended partition at ``extended_lba``:
    each extended boot record gives one, at an LBA relative to itself, and
    links the next at an LBA relative to the extended partition."""
    found: list[_Partition] = []
    record = extended_lba
    while len(found) < _MAX_LOGICAL and 0 < record < total:
        sector = bytes(data[record * SECTOR : (record + 1) * SECTOR])
        if sector[510:512] != _MBR_SIGNATURE:
            break
        (_, kind, first, count), (_, link_kind, link, _) = _mbr_entries(sector)[:2]
        if kind != _MBR_EMPTY and count:
            found.append(
                _Partition(f"logical{len(found)}", (record + first) * SECTOR, count * SECTOR)
            )
        if link_kind not in _MBR_EXTENDED or not link:
            break
        record = extended_lba + link
    return found


class _MbrFormat(_TableFormat):
    name = "mbr"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        # A GPT image is read by the GPT format and then once more through its
        # protective MBR, as the reference does (its members count twice
        # toward MaxFiles).
        return (
            file_type is not FileType.CL_TYPE_PART_ANY
            and len(data) >= SECTOR
            and bytes(data[510:512]) == _MBR_SIGNATURE
        )

    def table(self, data: Buffer) -> _Table | None:
        if len(data) % SECTOR:
            return None
        total = len(data) // SECTOR
        entries = _mbr_entries(bytes(data[:SECTOR]))
        if entries[0][1] == _MBR_PROTECTIVE:
            return GPT_FORMAT.table(data)
        if any(status not in _MBR_STATUSES for status, _, _, _ in entries):
            return None
        if any(kind != _MBR_EMPTY and first + count > total for _, kind, first, count in entries):
            return None
        slots: list[_Partition | None] = []
        primaries: list[_Partition] = []
        logicals: list[_Partition] = []
        for index, (_, kind, first, count) in enumerate(entries):
            partition = _Partition(f"partition{index}", first * SECTOR, count * SECTOR)
            if kind == _MBR_EMPTY:
                slots.append(None)
            elif kind in _MBR_EXTENDED:
                primaries.append(partition)
                inside = _logical_partitions(data, first, total)
                logicals += inside
                slots += inside
            else:
                primaries.append(partition)
                slots.append(partition if count else None)
        return _Table(slots, [primaries, logicals], MBR_INTERSECTION, boot_sector=True)


# -- GPT ---------------------------------------------------------------------------


def _gpt_sector_size(data: Buffer) -> int | None:
    for size in _GPT_SECTOR_SIZES:
        if bytes(data[size : size + len(_GPT_SIGNATURE)]) == _GPT_SIGNATURE:
            return size
    return None


def _crc_ok(block: bytes, stored_at: int, stored: int) -> bool:
    zeroed = block[:stored_at] + bytes(4) + block[stored_at + 4 :]
    return zlib.crc32(zeroed) == stored


class _GptFormat(_TableFormat):
    name = "gpt"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_GPT

    def table(self, data: Buffer) -> _Table | None:
        sector = _gpt_sector_size(data)
        if sector is None or len(data) < 2 * sector:
            return None
        header = bytes(data[sector : 2 * sector])
        (_, _, header_size, header_crc, _, _, first_usable, last_usable, _, entries_lba,
         count, entry_size, entries_crc) = _GPT_HEADER.unpack_from(header)  # fmt: skip
        if not _GPT_HEADER.size <= header_size <= sector:
            return None
        if not _crc_ok(header[:header_size], 16, header_crc):
            return None
        if entry_size < _GPT_ENTRY_MIN or entry_size % 8 or count > _GPT_MAX_ENTRIES:
            return None
        array = bytes(data[entries_lba * sector : entries_lba * sector + count * entry_size])
        if len(array) != count * entry_size or zlib.crc32(array) != entries_crc:
            return None
        total = len(data) // sector
        last_usable = min(last_usable, total - 1)
        slots: list[_Partition | None] = []
        for index in range(count):
            entry = array[index * entry_size : (index + 1) * entry_size]
            first, last = struct.unpack_from("<QQ", entry, 32)
            if entry[:16] == bytes(16) or not first_usable <= first <= last <= last_usable:
                slots.append(None)
                continue
            name = entry[56:128].decode("utf-16-le", "replace").split("\x00", 1)[0]
            size = (last - first + 1) * sector
            slots.append(_Partition(name or f"partition{index}", first * sector, size))
        return _Table(slots, [[slot for slot in slots if slot is not None]], GPT_INTERSECTION)


# -- APM ---------------------------------------------------------------------------


class _ApmFormat(_TableFormat):
    name = "apm"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return (
            file_type is not FileType.CL_TYPE_PART_ANY
            and bytes(data[:2]) == _APM_DRIVER
            and bytes(data[SECTOR : SECTOR + 2]) == _APM_ENTRY
        )

    def table(self, data: Buffer) -> _Table | None:
        map_entries = struct.unpack_from(
            ">I", bytes(data[SECTOR + 4 : SECTOR + 8]).ljust(4, b"\0")
        )[0]
        total = len(data) // SECTOR
        slots: list[_Partition | None] = []
        extents: list[_Partition] = []
        for index in range(1, min(map_entries, total - 1) + 1):
            entry = bytes(data[index * SECTOR : (index + 1) * SECTOR])
            if entry[:2] != _APM_ENTRY:
                break
            first, count = struct.unpack_from(">II", entry, 8)
            kind = entry[48:80].split(b"\x00", 1)[0].decode("latin-1")
            partition = _Partition(kind, first * SECTOR, count * SECTOR)
            extents.append(partition)
            inside = index > 1 and count and first + count <= total
            slots.append(partition if inside else None)
        if not extents:
            return None
        return _Table(slots, [extents], APM_INTERSECTION)


MBR_FORMAT = _MbrFormat()
GPT_FORMAT = _GptFormat()
APM_FORMAT = _ApmFormat()
