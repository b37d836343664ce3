"""Build small PE files field by field, to probe how executable headers are judged."""

from __future__ import annotations

import struct

Section = tuple[int, int, int, int]  # virtual address, virtual size, raw offset, raw size

TEXT_SECTION: Section = (0x1000, 0x1000, 0x200, 0x200)


def build_pe(
    *,
    pe_offset: int = 0x40,
    signature: bytes = b"PE\0\0",
    section_count: int | None = None,
    optional_size: int = 0xE0,
    magic: int = 0x10B,
    directories: int = 16,
    entry: int = 0x1000,
    section_alignment: int = 0x1000,
    file_alignment: int = 0x200,
    headers_size: int = 0x200,
    sections: tuple[Section, ...] = (TEXT_SECTION,),
    size: int | None = None,
) -> bytes:
    """A PE image: headers, section table, then filler up to the furthest raw data.

    ``section_count`` may claim more sections than are written (the table then
    runs into the filler); ``size`` overrides the length of the image.
    """
    data = bytearray(b"MZ" + b"\0" * 58 + struct.pack("<I", pe_offset))
    data += b"\0" * (pe_offset - len(data))
    count = len(sections) if section_count is None else section_count
    data += signature + struct.pack("<HHIIIHH", 0x14C, count, 0, 0, 0, optional_size, 0x102)
    optional = bytearray(max(optional_size, 0x70))
    fixed = 0x70 if magic == 0x20B else 0x60
    struct.pack_into("<H", optional, 0, magic)
    struct.pack_into("<I", optional, 16, entry)
    struct.pack_into("<II", optional, 32, section_alignment, file_alignment)
    struct.pack_into("<I", optional, 60, headers_size)
    struct.pack_into("<I", optional, fixed - 4, directories)
    data += optional[:optional_size]
    for virtual, virtual_size, raw, raw_size in sections:
        data += b".text\0\0\0" + struct.pack(
            "<IIIIIIHHI", virtual_size, virtual, raw_size, raw, 0, 0, 0, 0, 0x60000020
        )
    end = (
        size
        if size is not None
        else max([len(data)] + [raw + length for *_, raw, length in sections])
    )
    data += b"\x90" * (end - len(data))
    return bytes(data[:end])


# (name, image, whether EOF-relative offsets resolve) as the reference decided.
PE_HEADERS = [
    ("valid", build_pe(), True),
    ("bare MZ", b"MZ" + b"\0" * 200, False),
    ("no PE signature", build_pe(signature=b"PE\0\1"), False),
    ("e_lfanew zero", b"MZ" + build_pe()[2:0x3C] + b"\0\0\0\0" + build_pe()[0x40:], False),
    ("no sections", build_pe(section_count=0), False),
    ("97 sections", build_pe(section_count=97, sections=(TEXT_SECTION,) * 97), True),
    ("table runs into filler", build_pe(section_count=2), False),
    ("short optional header", build_pe(optional_size=0x5F, directories=0), False),
    ("optional header without directories", build_pe(optional_size=0x60, directories=0), True),
    ("one directory too many", build_pe(optional_size=0x68, directories=2), False),
    ("directory count capped at 16", build_pe(directories=4096), True),
    ("PE32+ header too short", build_pe(magic=0x20B, optional_size=0x6F, directories=0), False),
    ("PE32+ directories do not fit", build_pe(magic=0x20B, directories=4096), False),
    ("PE32+", build_pe(magic=0x20B, optional_size=0xF0), True),
    ("unknown magic", build_pe(magic=0x123), True),
    ("entry in the headers", build_pe(entry=0x200), True),
    ("entry at the raw end", build_pe(entry=0x11FF), True),
    ("entry past the raw data", build_pe(entry=0x1200), False),
    ("raw size clipped by the file", build_pe(sections=((0x1000, 0x1000, 0x200, 0x150),)), True),
    (
        "entry past the clipped raw data",
        build_pe(sections=((0x1000, 0x1000, 0x200, 0x150),), entry=0x11F0),
        False,
    ),
    (
        "raw data past the end",
        build_pe(sections=((0x1000, 0x1000, 0x2000, 0x200),), size=0x400),
        False,
    ),
    ("no raw data", build_pe(sections=((0x1000, 0x1000, 0x200, 0),), size=0x400), False),
    ("alignments zero", build_pe(section_alignment=0, file_alignment=0), True),
    ("truncated", build_pe(size=0x100), False),
]
