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
    # The file ends inside the section table (it starts at 0x138).
    ("section table cut off by the end", build_pe()[:0x150], False),
]


# -- version resources ---------------------------------------------------------
# Every version-information structure is a node: a header (length, value
# length, type), a NUL-terminated UTF-16LE key, padding to 4 bytes, a value,
# padding, and children.  Lengths are computed unless a test gives a wrong one.


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def utf16(text: str) -> bytes:
    return text.encode("utf-16le")


def version_node(
    key: str | bytes,
    value: bytes = b"",
    children: tuple[bytes, ...] = (),
    *,
    value_length: int | None = None,
    length: int | None = None,
) -> bytes:
    """One structure; a text ``key`` gets its NUL, a bytes one is taken as it is."""
    raw_key = utf16(key + "\0") if isinstance(key, str) else key
    # Parts are aligned to 4 bytes; the length stops at the last one's end.
    body = b"\0" * 6 + raw_key
    for part in (value, *children) if value else children:
        body = _pad(body) + part
    header = struct.pack(
        "<HHH",
        len(body) if length is None else length,
        len(value) if value_length is None else value_length,
        1,
    )
    return header + body[6:]


def version_string(key: str | bytes, value: str, *, length: int | None = None) -> bytes:
    """A String: a key and a NUL-terminated text value, its length counted in characters."""
    raw = utf16(value + "\0") if value else b""
    return version_node(key, raw, value_length=len(raw) // 2, length=length)


def fixed_file_info(magic: int = 0xFEEF04BD) -> bytes:
    """A VS_FIXEDFILEINFO: magic, structure version, file and product version 1.2.3.4."""
    return struct.pack("<13I", magic, 0x10000, 0x10002, 0x30004, 0x10002, 0x30004, *[0] * 7)


def string_table(*strings: bytes, key: str = "040904b0", length: int | None = None) -> bytes:
    return version_node(key, children=strings, length=length)


def string_file_info(*tables: bytes, key: str = "StringFileInfo") -> bytes:
    return version_node(key, children=tables)


def var_file_info() -> bytes:
    translation = version_node("Translation", struct.pack("<HH", 0x409, 1200))
    return version_node("VarFileInfo", children=(translation,))


def version_info(
    *children: bytes,
    key: str = "VS_VERSION_INFO",
    magic: int = 0xFEEF04BD,
    value_length: int | None = None,
    length: int | None = None,
) -> bytes:
    """A VS_VERSIONINFO holding ``children`` (string and var file infos)."""
    return version_node(
        key, fixed_file_info(magic), children, value_length=value_length, length=length
    )


def build_version_pe(resource: bytes, declared_size: int | None = None) -> bytes:
    """A PE32 whose one section holds a resource tree with ``resource`` as its
    only version resource (type 16, name 1, language 0x409), said to be
    ``declared_size`` bytes long (by default its length)."""
    tree = bytearray()
    for entry_id, target in ((16, 0x80000018), (1, 0x80000030), (0x409, 0x48)):
        tree += struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 1) + struct.pack("<II", entry_id, target)
    size = len(resource) if declared_size is None else declared_size
    tree += struct.pack("<IIII", 0x1000 + 0x58, size, 0, 0)
    tree += resource
    raw_size = -(-len(tree) // 0x200) * 0x200
    image = bytearray(build_pe(sections=((0x1000, 0x1000, 0x200, raw_size),), entry=0x1000))
    image[0x200 : 0x200 + len(tree)] = tree
    # Data directory 2 (resources) of the PE32 optional header at 0x58.
    struct.pack_into("<II", image, 0x58 + 0x60 + 16, 0x1000, len(tree))
    return bytes(image)
