"""A minimal Compound File Binary writer for tests (olefile only reads them).

Version 3 files (512-byte sectors): every stream is under the 4096-byte
cutoff and lives in the mini stream; the directory is a tree in which each
storage's children hang off its child pointer as a chain of right siblings
(all black), which readers accept.  Also the MS-OVBA pieces a VBA project
needs: a literal-only compressor and a ``dir`` stream.
"""

from __future__ import annotations

import struct

SECTOR = 512
MINI_SECTOR = 64
FREE, END, FAT_SECTOR, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF

Tree = dict[str, "bytes | Tree"]


def _entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return struct.pack(
        "<64sHBBIII16sIQQIIQ",
        encoded,
        len(encoded),
        kind,
        1,  # black
        NO_STREAM,
        right,
        child,
        b"",
        0,
        0,
        0,
        start,
        size,
        0,
    )[:128]


def _chain(table: list[int], first: int, count: int) -> None:
    for index in range(first, first + count):
        table[index] = index + 1 if index + 1 < first + count else END


def compound_file(tree: Tree) -> bytes:
    """A compound file holding ``tree`` (names to stream bytes or nested storages)."""
    entries: list[tuple[str, int, int, int, bytes | None]] = []  # name, kind, child, right, data

    def add(name: str, kind: int, data: bytes | None) -> int:
        entries.append((name, kind, NO_STREAM, NO_STREAM, data))
        return len(entries) - 1

    def add_children(parent: int, children: Tree) -> None:
        previous = None
        for name, content in children.items():
            if isinstance(content, bytes):
                index = add(name, 2, content)
            else:
                index = add(name, 1, None)
                add_children(index, content)
            if previous is None:
                entries[parent] = (*entries[parent][:2], index, *entries[parent][3:])
            else:
                entries[previous] = (*entries[previous][:3], index, entries[previous][4])
            previous = index

    add_children(add("Root Entry", 5, None), tree)

    mini = bytearray()
    mini_fat: list[int] = []
    placed: dict[int, tuple[int, int]] = {}
    for index, (_, _, _, _, data) in enumerate(entries):
        if data is None:
            continue
        first, count = len(mini) // MINI_SECTOR, max(-(-len(data) // MINI_SECTOR), 1)
        mini += data.ljust(count * MINI_SECTOR, b"\0")
        mini_fat += [0] * count
        _chain(mini_fat, first, count)
        placed[index] = (first, len(data))

    directory = b"".join(
        _entry(name, kind, child, right, *placed.get(i, (END if kind != 5 else 0, 0)))
        for i, (name, kind, child, right, _) in enumerate(entries)
    )
    directory = directory.ljust(-(-len(directory) // SECTOR) * SECTOR, b"\0")
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat)
    mini_fat_bytes = mini_fat_bytes.ljust(-(-len(mini_fat_bytes) // SECTOR) * SECTOR, b"\xff")
    mini_bytes = bytes(mini).ljust(-(-len(mini) // SECTOR) * SECTOR, b"\0")

    directory_sectors = len(directory) // SECTOR
    mini_fat_sectors = len(mini_fat_bytes) // SECTOR
    mini_sectors = len(mini_bytes) // SECTOR
    others = directory_sectors + mini_fat_sectors + mini_sectors
    fat_sectors = 1
    while fat_sectors * SECTOR // 4 < fat_sectors + others:
        fat_sectors += 1
    assert fat_sectors <= 109, "the header's FAT list holds 109 sectors"
    fat = [FREE] * (fat_sectors * SECTOR // 4)
    fat[:fat_sectors] = [FAT_SECTOR] * fat_sectors
    first_directory = fat_sectors
    _chain(fat, first_directory, directory_sectors)
    _chain(fat, first_directory + directory_sectors, mini_fat_sectors)
    mini_start = first_directory + directory_sectors + mini_fat_sectors
    _chain(fat, mini_start, mini_sectors)
    # The root entry's stream is the mini stream.
    root = _entry("Root Entry", 5, entries[0][2], NO_STREAM, mini_start, len(mini))
    directory = root + directory[128:]

    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("d0cf11e0a1b11ae1"),
        b"",
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        b"",
        0,
        fat_sectors,
        first_directory,
        0,
        4096,
        first_directory + directory_sectors,
        mini_fat_sectors,
        END,
        0,
    )
    header += struct.pack("<109I", *range(fat_sectors), *[FREE] * (109 - fat_sectors))
    return header + struct.pack(f"<{len(fat)}I", *fat) + directory + mini_fat_bytes + mini_bytes


def ovba_compress(data: bytes) -> bytes:
    """MS-OVBA CompressedContainer of literal tokens only (up to 3,600 bytes)."""
    assert len(data) <= 3600, "one literal-only chunk holds at most 3,600 bytes"
    body = b"".join(b"\0" + data[i : i + 8] for i in range(0, len(data), 8))
    return b"\x01" + struct.pack("<H", 0xB000 | (len(body) + 2 - 3)) + body


def _record(ident: int, value: bytes) -> bytes:
    return struct.pack("<HI", ident, len(value)) + value


def vba_dir(module: str) -> bytes:
    """A decompressed ``dir`` stream describing one standard module, source at offset 0."""
    name = module.encode()
    wide = module.encode("utf-16-le")
    project = _record(0x0001, struct.pack("<I", 1)) + _record(0x0002, struct.pack("<I", 0x409))
    project += _record(0x0014, struct.pack("<I", 0x409)) + _record(0x0003, b"\xe4\x04")
    project += _record(0x0004, b"VBAProject")
    project += _record(0x0005, b"") + _record(0x0040, b"")
    project += _record(0x0006, b"") + _record(0x003D, b"")
    project += _record(0x0007, b"\0" * 4) + _record(0x0008, b"\0" * 4)
    project += struct.pack("<HI", 0x0009, 4) + b"\0" * 6
    project += _record(0x000C, b"") + _record(0x003C, b"")
    project += _record(0x000F, struct.pack("<H", 1)) + _record(0x0013, b"\xff\xff")
    project += _record(0x0019, name) + _record(0x0047, wide)
    project += _record(0x001A, name) + _record(0x0032, wide)
    project += _record(0x001C, b"") + _record(0x0048, b"")
    project += _record(0x0031, struct.pack("<I", 0)) + _record(0x001E, b"\0" * 4)
    project += _record(0x002C, b"\xff\xff") + _record(0x0021, b"")
    return project + _record(0x002B, b"") + _record(0x0010, b"")


def vba_document(source: bytes, module: str = "Module1") -> bytes:
    """A Word-like compound file with a VBA project whose one module holds ``source``."""
    vba: Tree = {
        "_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
        "dir": ovba_compress(vba_dir(module)),
        module: ovba_compress(source),
    }
    return compound_file({"WordDocument": b"\0" * 100, "Macros": {"VBA": vba}})
