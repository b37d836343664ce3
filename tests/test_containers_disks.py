"""Disk images (MBR, GPT, APM partition tables) as containers, against the reference.

The images are built here by hand, a few sectors each.  The payload is a
1 KiB block found by its SHA-256 only, so it is found in a partition of
exactly that size and nowhere else (not in the image as a whole): a
verdict says whether that partition was extracted.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from containers_parity import verdict_pairs
from containers_support import TestExtraction, member_data, members_of, scan_names

from clamkit.containers.base import Alert
from clamkit.containers.partitions import (
    APM_FORMAT,
    APM_INTERSECTION,
    GPT_FORMAT,
    GPT_INTERSECTION,
    MBR_FORMAT,
    MBR_INTERSECTION,
)
from clamkit.database.loader import load_database
from clamkit.engine import Engine, ScanOptions, compile_engine

SECTOR = 512
BLOCK = (b"clamkit partition payload" + bytes(range(256)) * 4)[: 2 * SECTOR]
BLOCK_NAME = "Clamkit.Test.Partition.UNOFFICIAL"
LINUX = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4").bytes_le


# -- builders ------------------------------------------------------------------------


def mbr(
    entries: list[tuple[int, int, int] | tuple[int, int, int, int]],
    sectors: int,
    fill: dict[int, bytes] | None = None,
    boot: bytes = b"",
) -> bytes:
    """An image of ``sectors`` sectors: entries (type, first LBA, sectors[, status]),
    ``fill`` the data to put at given LBAs, ``boot`` the boot code."""
    table = b"".join(
        struct.pack("<B3xB3xII", *(entry[3:] or (0,)), *entry[:3]) for entry in entries
    )
    image = bytearray(sectors * SECTOR)
    image[:SECTOR] = boot.ljust(446, b"\0") + table.ljust(64, b"\0") + b"\x55\xaa"
    for lba, data in (fill or {}).items():
        image[lba * SECTOR : lba * SECTOR + len(data)] = data
    return bytes(image)


def ebr(next_record: int) -> bytes:
    """An extended boot record: a logical partition in the next sector, and a link."""
    links = [(0x05, next_record, 4)] if next_record else []
    return mbr([(0x83, 1, 2), *links], 1)


def gpt(
    partitions: list[tuple[int, int] | None],
    sectors: int,
    fill: dict[int, bytes] | None = None,
    damage_crc: bool = False,
) -> bytes:
    """A GPT image: partitions (first, last LBA) or None for an empty entry."""
    entries = b"".join(
        bytes(128)
        if partition is None
        else LINUX
        + bytes(16)
        + struct.pack("<QQQ", *partition, 0)
        + "p".encode("utf-16-le").ljust(72, b"\0")
        for partition in partitions
    ).ljust(128 * 128, b"\0")
    header = struct.pack(
        "<8sIII4xQQQQ16sQIII",
        b"EFI PART", 0x10000, 92, 0, 1, sectors - 1, 34, sectors - 34, bytes(16), 2, 128, 128,
        zlib.crc32(entries),
    )  # fmt: skip
    crc = zlib.crc32(header) ^ damage_crc
    header = header[:16] + struct.pack("<I", crc) + header[20:]
    image = bytearray(mbr([(0xEE, 1, sectors - 1)], sectors))
    image[SECTOR : SECTOR + len(header)] = header
    image[2 * SECTOR : 2 * SECTOR + len(entries)] = entries
    for lba, data in (fill or {}).items():
        image[lba * SECTOR : lba * SECTOR + len(data)] = data
    return bytes(image)


def apm(partitions: list[tuple[str, int, int]], sectors: int, fill: dict[int, bytes]) -> bytes:
    """An APM image: partitions (type, first block, blocks) after the map's own entry."""
    image = bytearray(sectors * SECTOR)
    image[:8] = struct.pack(">2sHI", b"ER", SECTOR, sectors)
    entries = [("Apple_partition_map", 1, len(partitions) + 1), *partitions]
    for index, (kind, first, count) in enumerate(entries, 1):
        entry = struct.pack(">2s2xIII32s32s", b"PM", len(entries), first, count, b"", kind.encode())
        image[index * SECTOR : index * SECTOR + len(entry)] = entry
    for block, data in fill.items():
        image[block * SECTOR : block * SECTOR + len(data)] = data
    return bytes(image)


def _chain(count: int) -> dict[int, bytes]:
    """An extended partition at LBA 4 with ``count`` logical partitions, the payload in the last."""
    records = {
        4 + 4 * index: ebr(4 * (index + 1) if index < count - 1 else 0) for index in range(count)
    }
    return {**records, 4 * count + 1: BLOCK}


# name -> image; the payload's place is in the name where it matters.
IMAGES: dict[str, Callable[[], bytes]] = {
    "mbr-first.img": lambda: mbr([(0x83, 4, 2)], 10, {4: BLOCK}),
    "mbr-second.img": lambda: mbr([(0x83, 4, 2), (0x07, 8, 2)], 12, {8: BLOCK}),
    "mbr-bootable.img": lambda: mbr([(0x83, 4, 2, 0x80)], 10, {4: BLOCK}),
    "mbr-bad-status.img": lambda: mbr([(0x83, 4, 2, 0x12)], 10, {4: BLOCK}),
    "mbr-one-past-end.img": lambda: mbr([(0x07, 6, 2), (0x83, 4, 2)], 7, {4: BLOCK}),
    "mbr-ends-at-end.img": lambda: mbr([(0x83, 8, 2), (0x83, 4, 2)], 10, {4: BLOCK}),
    "mbr-overlap.img": lambda: mbr([(0x83, 4, 2), (0x07, 5, 2)], 10, {4: BLOCK}),
    "mbr-overlap-clean.img": lambda: mbr([(0x83, 4, 2), (0x07, 5, 2)], 10),
    "mbr-third.img": lambda: mbr([(0x83, 2, 2), (0x83, 4, 2), (0x83, 6, 2)], 10, {6: BLOCK}),
    "mbr-gap-third.img": lambda: mbr([(0x83, 2, 2), (0, 0, 0), (0x83, 6, 2)], 10, {6: BLOCK}),
    "mbr-odd-size.img": lambda: mbr([(0x83, 4, 2)], 10, {4: BLOCK}) + b"x",
    "mbr-at-lba0.img": lambda: mbr([(0x83, 0, 2), (0x83, 4, 2)], 10, {4: BLOCK}),
    "mbr-empty-type.img": lambda: mbr([(0x00, 4, 2)], 10, {4: BLOCK}),
    "mbr-second-ee.img": lambda: mbr([(0x83, 2, 2), (0xEE, 4, 2)], 10, {4: BLOCK}),
    "mbr-text-boot.img": lambda: mbr([(0x83, 4, 2)], 10, {4: BLOCK}, b"boot text\n" * 30),
    "mbr-mz-boot.img": lambda: mbr([(0x83, 4, 2)], 10, {4: BLOCK}, b"MZ" + bytes(100)),
    "ext-one.img": lambda: mbr([(0x05, 4, 8)], 14, {4: mbr([(0x83, 2, 2)], 1), 6: BLOCK}),
    "ext-three.img": lambda: mbr([(0x05, 4, 12)], 18, _chain(3)),
    "primary-ext-three.img": lambda: mbr([(0x83, 1, 2), (0x05, 4, 12)], 18, _chain(3)),
    "gpt-first.img": lambda: gpt([(40, 41)], 80, {40: BLOCK}),
    "gpt-bad-crc.img": lambda: gpt([(40, 41)], 80, {40: BLOCK}, damage_crc=True),
    "gpt-third.img": lambda: gpt([(36, 37), (38, 39), (40, 41)], 80, {40: BLOCK}),
    "gpt-gaps-third.img": lambda: gpt([None, None, (40, 41)], 80, {40: BLOCK}),
    "gpt-overlap-clean.img": lambda: gpt([(40, 41), (41, 42)], 80),
    "gpt-past-end.img": lambda: gpt([(70, 100), (40, 41)], 80, {40: BLOCK}),
    "gpt-inverted.img": lambda: gpt([(41, 40), (42, 43)], 80, {42: BLOCK}),
    "gpt-in-header.img": lambda: gpt([(1, 2), (42, 43)], 80, {42: BLOCK}),
    "apm-first.img": lambda: apm([("Apple_HFS", 4, 2)], 10, {4: BLOCK}),
    "apm-free-then.img": lambda: apm([("Apple_Free", 4, 2), ("Apple_HFS", 6, 2)], 10, {6: BLOCK}),
    "apm-overlap-clean.img": lambda: apm([("Apple_HFS", 5, 2), ("Apple_HFS", 6, 2)], 10, {}),
    "apm-past-end.img": lambda: apm([("Apple_HFS", 6, 2), ("Apple_HFS", 9, 4)], 10, {6: BLOCK}),
}

# name -> (clamscan arguments, the same as ScanOptions fields)
OPTION_SETS: dict[str, tuple[tuple[str, ...], dict[str, object]]] = {
    "default": ((), {}),
    **{
        f"max-partitions-{n}": ((f"--max-partitions={n}",), {"max_partitions": n})
        for n in (1, 2, 3, 4)
    },
    "max-partitions-alert": (
        ("--max-partitions=2", "--alert-exceeds-max=yes"),
        {"max_partitions": 2, "alert_exceeds_max": True},
    ),
    "intersection": (
        ("--alert-partition-intersection=yes",),
        {"alert_partition_intersection": True},
    ),
    "no-archives": (("--scan-archive=no",), {"scan_archive": False}),
    **{
        f"max-files-{n}": (
            (f"--max-files={n}", "--alert-exceeds-max=yes"),
            {"max_files": n, "alert_exceeds_max": True},
        )
        for n in (2, 3, 4)
    },
    "max-recursion-1": (
        ("--max-recursion=1", "--alert-exceeds-max=yes"),
        {"max_recursion": 1, "alert_exceeds_max": True},
    ),
    "max-filesize": (
        ("--max-filesize=1000", "--alert-exceeds-max=yes"),
        {"max_filesize": 1000, "alert_exceeds_max": True},
    ),
}


@pytest.fixture(scope="module")
def block_database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Engine]:
    path = tmp_path_factory.mktemp("disks-db") / "block.hdb"
    digest = hashlib.sha256(BLOCK).hexdigest()
    path.write_text(f"{digest}:{len(BLOCK)}:{BLOCK_NAME.removesuffix('.UNOFFICIAL')}\n")
    return path, compile_engine(load_database([path]))


def _names(data: bytes, engine: Engine, **options: object) -> tuple[str, ...]:
    return engine.scan_bytes(data, ScanOptions(**options)).names


# -- the formats alone -----------------------------------------------------------------


def test_mbr_yields_boot_sector_then_partitions() -> None:
    image = mbr([(0x83, 4, 2), (0x07, 8, 2)], 12, {4: b"first", 8: BLOCK})
    items = members_of(MBR_FORMAT, image)
    assert [item.name for item in items] == ["mbr", "partition0", "partition1"]
    assert member_data(items) == [image[:SECTOR], b"first".ljust(2 * SECTOR, b"\0"), BLOCK]


def test_logical_partitions_follow_the_chain() -> None:
    items = members_of(MBR_FORMAT, mbr([(0x05, 4, 12)], 18, _chain(3)))
    assert [item.name for item in items] == ["mbr", "logical0", "logical1", "logical2"]
    assert member_data(items)[-1] == BLOCK


def test_a_looping_chain_ends() -> None:
    looping = mbr([(0x05, 4, 8)], 14, {4: mbr([(0x83, 1, 2), (0x05, 0, 4)], 1)})
    assert len(members_of(MBR_FORMAT, looping)) == 2


def test_invalid_tables_give_nothing() -> None:
    for image in (IMAGES["mbr-bad-status.img"](), IMAGES["mbr-odd-size.img"]()):
        assert members_of(MBR_FORMAT, image) == []
    assert members_of(GPT_FORMAT, IMAGES["gpt-bad-crc.img"]()) == []


def test_gpt_names_and_slots() -> None:
    items = members_of(GPT_FORMAT, IMAGES["gpt-third.img"]())
    assert [item.name for item in items] == ["p", "p", "p"]
    assert member_data(items)[-1] == BLOCK
    limited = TestExtraction(options=ScanOptions(max_partitions=2))
    assert member_data(members_of(GPT_FORMAT, IMAGES["gpt-gaps-third.img"](), limited)) == []


def test_apm_skips_its_map() -> None:
    items = members_of(APM_FORMAT, IMAGES["apm-free-then.img"]())
    assert [item.name for item in items] == ["Apple_Free", "Apple_HFS"]


def test_intersections_are_alerts_first() -> None:
    for name, heuristic in (
        ("mbr-overlap-clean.img", MBR_INTERSECTION),
        ("gpt-overlap-clean.img", GPT_INTERSECTION),
        ("apm-overlap-clean.img", APM_INTERSECTION),
    ):
        fmt = {"m": MBR_FORMAT, "g": GPT_FORMAT, "a": APM_FORMAT}[name[0]]
        first = members_of(fmt, IMAGES[name]())[0]
        assert first == Alert(heuristic, "alert_partition_intersection")


def test_partitions_are_not_opened(block_database: tuple[Path, Engine]) -> None:
    # A partition is raw data to the reference: a compressed payload in one stays compressed.
    _, engine = block_database
    plain = mbr([(0x83, 4, 2)], 10, {4: BLOCK})
    packed = mbr([(0x83, 4, 2)], 10, {4: gzip.compress(BLOCK)})
    assert _names(plain, engine) == (BLOCK_NAME,)
    assert _names(packed, engine) == ()
    assert scan_names(gzip.compress(BLOCK), engine) == (BLOCK_NAME,)


def test_garbage_with_a_boot_signature_is_harmless() -> None:
    noise = bytes((index * 37) & 0xFF for index in range(4 * SECTOR))
    image = noise[:510] + b"\x55\xaa" + noise[512:]
    assert all(isinstance(item, Alert) or item.data for item in members_of(MBR_FORMAT, image))
    assert members_of(GPT_FORMAT, b"\0" * 512 + b"EFI PART" + b"\xff" * 600) == []
    assert members_of(APM_FORMAT, b"ER" + bytes(510) + b"PM" + b"\xff" * 100) == []


# -- parity --------------------------------------------------------------------------


@pytest.mark.parametrize("option_set", OPTION_SETS)
def test_images_like_the_reference(
    option_set: str,
    reference_clamscan: str,
    block_database: tuple[Path, Engine],
    tmp_path: Path,
) -> None:
    database, engine = block_database
    arguments, options = OPTION_SETS[option_set]
    files = {name: build() for name, build in IMAGES.items()}
    ours, reference = verdict_pairs(
        reference_clamscan, tmp_path, files, engine, arguments, database, **options
    )
    assert ours == reference
