"""The hand-written archive decoders: ARJ, CAB (stored, MSZIP, LZX), CHM, SIS, SZDD.

Each format is checked on the Debian corpus file (the member is clam.exe),
on files built here by small independent encoders (stored variants, ARJ
method 4, SZDD references into the initial spaces, MSZIP blocks that refer
to the previous block, LZX verbatim and uncompressed blocks with E8
translation), for the member budget, and on truncated and randomly
corrupted input, which may only ever raise ContainerError.  Where the
reference is installed, one clamscan call compares verdicts on the corpus
files and every generated one.
"""

from __future__ import annotations

import contextlib
import hashlib
import struct
import subprocess
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamkit.containers import arj, cab, chm, lha, lzh, lzx, quantum, sis, szdd
from clamkit.containers.base import ContainerError, ContainerFormat, Member
from clamkit.containers.lz import HuffmanCode
from clamkit.engine import ScanOptions
from tests.containers_support import (
    SHARED_TESTSIG,
    TESTSIG_NAME,
    TestExtraction,
    clamav_testsig_engine,
    corpus_file,
    member_data,
    members_of,
    scan_names,
)

CORPUS = {
    "clam.arj": arj.FORMAT,
    "clam.cab": cab.FORMAT,
    "clam.chm": chm.FORMAT,
    "clam.sis": sis.FORMAT,
    "clam.exe.szdd": szdd.FORMAT,
}
TEXT = b"an example member, an example member, and more example text " * 3


def bits_to_bytes(bits: str) -> bytes:
    """MSB-first bits, zero-padded to whole bytes."""
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def binary(value: int, width: int) -> str:
    return format(value, f"0{width}b") if width else ""


# --- ARJ ----------------------------------------------------------------------------


def arj_header(
    name: bytes, method: int = 0, file_type: int = 0, flags: int = 0, **sizes: int
) -> bytes:
    fixed = struct.pack(
        "<BBBBBBBBIIIIHHH",
        30,  # first header size
        11,
        1,
        2,
        flags,
        method,
        file_type,
        0,
        0,
        sizes.get("compressed", 0),
        sizes.get("original", 0),
        0,
        0,
        0,
        0,
    )
    basic = fixed + name + b"\0\0"
    return (
        b"\x60\xea"
        + struct.pack("<H", len(basic))
        + basic
        + struct.pack("<I", zlib.crc32(basic))
        + b"\0\0"
    )


def arj_archive(*files: tuple[bytes, int, bytes, int, int]) -> bytes:
    """(name, method, stored data, original size, flags) for each file."""
    out = arj_header(b"test.arj", file_type=2)
    for name, method, data, original, flags in files:
        out += arj_header(name, method, flags=flags, compressed=len(data), original=original)
        out += data
    return out + b"\x60\xea\0\0"


def arj_unary(value: int, first: int, last: int) -> str:
    """ARJ method 4's number coding (the inverse of the decoder's)."""
    width, base = first, 0
    while width < last and value >= base + (1 << width):
        base += 1 << width
        width += 1
    return "1" * (width - first) + ("0" if width < last else "") + binary(value - base, width)


def arj_method4(items: list[int | tuple[int, int]]) -> bytes:
    """Literal bytes and (distance, length) matches."""
    bits = ""
    for item in items:
        if isinstance(item, int):
            bits += "0" + binary(item, 8)
        else:
            distance, length = item
            bits += arj_unary(length - 2, 0, 7) + arj_unary(distance - 1, 9, 13)
    return bits_to_bytes(bits)


def lz_items(data: bytes, period: int) -> list[int | tuple[int, int]]:
    """Periodic ``data``: its first ``period`` bytes as literals, then matches ``period`` back."""
    items: list[int | tuple[int, int]] = list(data[:period])
    position = period
    while position < len(data):
        length = min(len(data) - position, 200)
        if length < 3:
            items.extend(data[position:])
            break
        items.append((period, length))
        position += length
    return items


def test_arj_corpus_method_1_and_stored_and_method_4() -> None:
    exe = corpus_file("clam.exe")
    text = b"periodic text, " * 20
    archive = arj_archive(
        (b"stored.exe", 0, exe, len(exe), 0),
        (b"fast.txt", 4, arj_method4(lz_items(text, 15)), len(text), 0),
        (b"literal.exe", 4, arj_method4(list(exe)), len(exe), 0),
    )
    items = members_of(arj.FORMAT, archive)
    assert [item.name for item in items if isinstance(item, Member)] == [
        "stored.exe",
        "fast.txt",
        "literal.exe",
    ]
    assert member_data(items) == [exe, text, exe]


def test_arj_skips_garbled_entries_and_extracts_every_type() -> None:
    exe = corpus_file("clam.exe")
    archive = arj_archive((b"secret.exe", 0, exe, len(exe), 1))
    # A "directory" entry with data is extracted all the same, as on the reference.
    directory = arj_header(b"dir", file_type=3, compressed=len(exe), original=len(exe)) + exe
    archive = archive[:-4] + directory + b"\x60\xea\0\0"
    assert member_data(members_of(arj.FORMAT, archive)) == [exe]


def test_arj_unknown_method_is_an_error() -> None:
    with pytest.raises(ContainerError, match="unknown method 7"):
        members_of(arj.FORMAT, arj_archive((b"x", 7, b"abc", 3, 0)))


# --- SZDD ---------------------------------------------------------------------------


def szdd_file(items: list[int | tuple[int, int]], size: int, last_char: bytes = b"\0") -> bytes:
    """Literal bytes and (ring position, length) references, eight items per control byte."""
    out = bytearray(szdd.MAGIC + b"A" + last_char + struct.pack("<I", size))
    for group in range(0, len(items), 8):
        control = 0
        body = bytearray()
        for bit, item in enumerate(items[group : group + 8]):
            if isinstance(item, int):
                control |= 1 << bit
                body.append(item)
            else:
                position, length = item
                body += bytes([position & 0xFF, (position >> 4) & 0xF0 | (length - 3)])
        out.append(control)
        out += body
    return bytes(out)


def test_szdd_references_into_the_initial_ring_and_back() -> None:
    # Writing starts at ring position 4080 and the ring starts as zeros (the
    # reference's choice; the documentation says spaces): position 0 reads a
    # zero, 4080 the first byte written; the last copy overlaps itself.
    items: list[int | tuple[int, int]] = [*b"abcd", (0, 3), (4080, 4), (4087, 5)]
    content = szdd_file(items, 16)
    assert member_data(members_of(szdd.FORMAT, content)) == [b"abcd\0\0\0abcdabcda"]


def test_szdd_output_runs_to_the_end_of_the_data_whatever_the_size_says() -> None:
    content = szdd_file([*b"abcdefgh"], 5)
    assert member_data(members_of(szdd.FORMAT, content)) == [b"abcdefgh"]
    cut = members_of(szdd.FORMAT, content, TestExtraction(budget=6))
    assert member_data(cut) == [b"abcdef"] and isinstance(cut[0], Member) and cut[0].truncated


# --- CAB ----------------------------------------------------------------------------


def cab_file(files: list[tuple[str, bytes]], method: int, blocks: list[tuple[bytes, int]]) -> bytes:
    """One folder of ``blocks`` (stored bytes, uncompressed size) holding ``files`` in order."""
    return cab_folders([(files, method, blocks)])


def cab_folders(
    folders: list[tuple[list[tuple[str, bytes]], int, list[tuple[bytes, int]]]],
    reserve: tuple[int, int, int] = (0, 0, 0),
    next_cabinet: bytes = b"",
) -> bytes:
    """Folders of (files, method, blocks); ``reserve`` gives the header, folder and
    data-block reserved areas, ``next_cabinet`` names a next cabinet of the set."""
    header_reserve, folder_reserve, data_reserve = reserve
    flags = (4 if any(reserve) else 0) | (2 if next_cabinet else 0)
    header_size = 36 + (4 + header_reserve if flags & 4 else 0)
    header_size += len(next_cabinet) + 1 + len(b"disk") + 1 if next_cabinet else 0
    files_at = header_size + len(folders) * (8 + folder_reserve)
    entries = b""
    for index, (files, _method, _blocks) in enumerate(folders):
        offset = 0
        for name, content in files:
            entries += struct.pack("<IIHHHH", len(content), offset, index, 0, 0, 0x20)
            entries += name.encode() + b"\0"
            offset += len(content)
    data_at = files_at + len(entries)
    folder_table = b""
    data = b""
    for _files, method, blocks in folders:
        folder_table += struct.pack("<IHH", data_at + len(data), len(blocks), method)
        folder_table += b"\xaa" * folder_reserve
        for stored, size in blocks:
            data += struct.pack("<IHH", 0, len(stored), size) + b"\xbb" * data_reserve + stored
    header = struct.pack(
        "<4sIIIIIBBHHHHH",
        b"MSCF",
        0,
        data_at + len(data),
        0,
        files_at,
        0,
        3,
        1,
        len(folders),
        sum(len(files) for files, _method, _blocks in folders),
        flags,
        0,
        0,
    )
    if flags & 4:
        header += struct.pack("<HBB", header_reserve, folder_reserve, data_reserve)
        header += b"\xcc" * header_reserve
    if next_cabinet:
        header += next_cabinet + b"\0disk\0"
    return header + folder_table + entries + data


def stored_blocks(content: bytes) -> list[tuple[bytes, int]]:
    chunks = [content[i : i + 32768] for i in range(0, len(content), 32768)]
    return [(chunk, len(chunk)) for chunk in chunks]


def mszip_blocks(content: bytes) -> list[tuple[bytes, int]]:
    blocks = []
    history = b""
    for chunk, size in stored_blocks(content):
        packer = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=history) if history else None
        packer = packer or zlib.compressobj(9, zlib.DEFLATED, -15)
        blocks.append((b"CK" + packer.compress(chunk) + packer.flush(), size))
        history = chunk
    return blocks


class LzxWriter:
    """LZX bits as 16-bit little-endian words, MSB first; raw bytes word-aligned."""

    def __init__(self) -> None:
        self.out = b""
        self.bits = ""

    def put(self, value: int, width: int) -> None:
        self.bits += binary(value, width)

    def raw(self, data: bytes) -> None:
        self.bits += "0" * (16 - len(self.bits) % 16)  # 1 to 16 bits of padding
        self.flush()
        self.out += data + b"\0" * (len(data) & 1)

    def flush(self) -> None:
        self.bits += "0" * (-len(self.bits) % 16)
        for start in range(0, len(self.bits), 16):
            self.out += struct.pack("<H", int(self.bits[start : start + 16], 2))
        self.bits = ""

    def result(self) -> bytes:
        self.flush()
        return self.out


def lzx_uncompressed(content: bytes, e8_size: int = 0) -> bytes:
    writer = LzxWriter()
    writer.put(bool(e8_size), 1)
    if e8_size:
        writer.put(e8_size >> 16, 16)
        writer.put(e8_size & 0xFFFF, 16)
    writer.put(3, 3)
    writer.put(len(content), 24)
    writer.raw(struct.pack("<3I", 1, 1, 1) + content)
    return writer.result()


# Position slots 0-31 from the LZX specification: the base of each slot's
# formatted offsets (offset + 2), and the number of extra bits after it.
SLOT_BASES = [0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768]
SLOT_BASES += [1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152]
SLOT_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11]
SLOT_EXTRA += [12, 12, 13, 13, 14, 14]


def lzx_verbatim_frames(items: list[int | tuple[int, int]]) -> list[tuple[bytes, int]]:
    """One verbatim block for a 64 KB window, whose 512-symbol main tree gives every
    symbol 9 bits (a complete code in which each code is its symbol), cut into
    32 KB frames (the stream realigns to 16 bits after each): (bytes, size) per frame.

    Matches are (offset, length 2-8); offset 0 means "repeat the last offset" (slot 0).
    """
    main_symbols = 256 + 8 * 32
    total = sum(1 if isinstance(i, int) else i[1] for i in items)
    writer = LzxWriter()
    writer.put(0, 1)  # no E8 translation
    writer.put(1, 3)
    writer.put(total, 24)

    def lengths(count: int, symbol_bit: str) -> None:
        # Pretree: symbols 0 and 8 get 1-bit codes ("0", "1"); delta 8 turns 0 into 9.
        for symbol in range(20):
            writer.put(1 if symbol in (0, 8) else 0, 4)
        writer.bits += symbol_bit * count

    lengths(256, "1")
    lengths(main_symbols - 256, "1")
    lengths(249, "0")  # empty length tree
    frames = []
    produced = 0
    frame_start = 0
    for item in items:
        if isinstance(item, int):
            writer.put(item, 9)
            produced += 1
        elif item[0] == 0:
            writer.put(256 + item[1] - 2, 9)
            produced += item[1]
        else:
            offset, length = item
            slot = max(s for s, base in enumerate(SLOT_BASES) if base <= offset + 2)
            writer.put(256 + slot * 8 + length - 2, 9)
            writer.put(offset + 2 - SLOT_BASES[slot], SLOT_EXTRA[slot])
            produced += length
        if produced >= len(frames) * 32768 + 32768 or produced == total:
            writer.flush()  # realign to 16 bits
            frames.append((writer.out[frame_start:], min(32768, total - len(frames) * 32768)))
            frame_start = len(writer.out)
    return frames


def lzx_verbatim(items: list[int | tuple[int, int]]) -> bytes:
    return b"".join(frame for frame, _size in lzx_verbatim_frames(items))


def test_cab_corpus_and_stored_and_mszip_across_blocks() -> None:
    exe = corpus_file("clam.exe")
    big = bytes(range(256)) * 300 + exe  # 77 KB: three blocks, the last refers back
    files = [("a.exe", exe), ("big.bin", big), ("b.exe", exe)]
    content = exe + big + exe
    for method, blocks in ((0, stored_blocks(content)), (1, mszip_blocks(content))):
        items = members_of(cab.FORMAT, cab_file(files, method, blocks))
        assert [item.name for item in items if isinstance(item, Member)] == [
            "a.exe",
            "big.bin",
            "b.exe",
        ]
        assert member_data(items) == [exe, big, exe]


def test_cab_lzx_uncompressed_block_with_e8_translation() -> None:
    # The encoder wrote E8 targets as absolute offsets; decoding makes them
    # relative again: at stream offset 20 the absolute 100 becomes 80, a
    # negative absolute -10 becomes -10 + size, out-of-range ones stay.
    size = 1000
    body = bytearray(64)
    body[20:25] = b"\xe8" + struct.pack("<i", 100)
    body[30:35] = b"\xe8" + struct.pack("<i", -10)
    body[40:45] = b"\xe8" + struct.pack("<i", 5000)
    expected = bytearray(body)
    struct.pack_into("<i", expected, 21, 80)
    struct.pack_into("<i", expected, 31, size - 10)
    stream = lzx_uncompressed(bytes(body), e8_size=size)
    items = members_of(cab.FORMAT, cab_file([("x", bytes(body))], 3 | 15 << 8, [(stream, 64)]))
    assert member_data(items) == [bytes(expected)]


def test_lzx_verbatim_literals_matches_and_repeated_offsets() -> None:
    items: list[int | tuple[int, int]] = [*b"abcdefgh", (8, 8), (3, 5), (0, 4), (20, 2)]
    # (8, 8) copies "abcdefgh"; (3, 5) copies "fghfg"; (0, 4) reuses offset 3: "hfgh";
    # (20, 2) reaches back 20 bytes.
    expected = b"abcdefgh" + b"abcdefgh" + b"fghfg" + b"hfgh"
    expected += expected[-20:-18]
    frames = list(lzx.decompress(lzx_verbatim(items), 16, len(expected)))
    assert b"".join(frames) == expected


def test_huffman_direct_bits_leniency() -> None:
    # Lengths 1, 2, 2 fill the code space; the extra 3-bit code over-subscribes it.
    with pytest.raises(ContainerError, match="over-subscribed"):
        HuffmanCode([1, 2, 2, 3])
    assert HuffmanCode([1, 2, 2, 3], direct_bits=2).max_length == 2
    with pytest.raises(ContainerError, match="over-subscribed"):
        HuffmanCode([1, 2, 2, 3], direct_bits=3)


def test_lzx_rejects_offsets_before_the_start_and_bad_windows() -> None:
    with pytest.raises(ContainerError, match="before the start"):
        list(lzx.decompress(lzx_verbatim([*b"ab", (40, 3)]), 16, 5))
    with pytest.raises(ContainerError, match="window"):
        list(lzx.decompress(b"", 14, 5))


def test_cab_folders_with_reserved_areas_and_a_next_cabinet() -> None:
    exe = corpus_file("clam.exe")
    cabinet = cab_folders(
        [([("a.txt", TEXT)], 0, stored_blocks(TEXT)), ([("b.exe", exe)], 1, mszip_blocks(exe))],
        reserve=(4, 2, 3),
        next_cabinet=b"next.cab",
    )
    items = members_of(cab.FORMAT, cabinet)
    assert [item.name for item in items if isinstance(item, Member)] == ["a.txt", "b.exe"]
    assert member_data(items) == [TEXT, exe]


def test_cab_damaged_mszip_block_is_repaired_with_zeros() -> None:
    exe = corpus_file("clam.exe")
    text = bytes(range(256)) * 160  # 40 KB: the first block is all text
    blocks = mszip_blocks(text + exe)
    # After "CK": a final block of the reserved type 3, an error at once.
    damaged = b"CK\x07" + blocks[0][0][3:]
    cabinet = cab_file([("t", text), ("clam.exe", exe)], 1, [(damaged, 32768), blocks[1]])
    first, _exe = member_data(members_of(cab.FORMAT, cabinet))
    assert first[:32768] == bytes(32768) and len(first) == len(text)


def test_cab_files_of_other_cabinets_are_skipped() -> None:
    exe = corpus_file("clam.exe")
    continued = bytearray(cab_file([("x", exe)], 0, stored_blocks(exe)))
    struct.pack_into("<H", continued, 44 + 8, 0xFFFD)
    assert members_of(cab.FORMAT, bytes(continued)) == []


# --- SIS ----------------------------------------------------------------------------


def sis_package(
    records: list[bytes | tuple[bytes, list[bytes], bool]], options: int, languages: int = 1
) -> bytes:
    """An EPOC R6 package: raw records, or simple file records as
    (name, one content per language, compressed)."""
    header_size = 0x64
    records_at = header_size + 2 * languages
    layout = []
    for record in records:
        if isinstance(record, bytes):
            layout.append(len(record))
        else:
            versions = len(record[1])
            layout.append(4 + 24 + 12 * versions + 8)
    data_at = records_at + sum(layout)
    blobs = b""
    body = b""
    for record in records:
        if isinstance(record, bytes):
            body += record
            continue
        name, contents, compressed = record
        name_at = data_at + len(blobs)
        blobs += name
        stored = [zlib.compress(c) if compressed else c for c in contents]
        pointers = []
        for blob in stored:
            pointers.append(data_at + len(blobs))
            blobs += blob
        body += struct.pack("<7I", 0, 0, 0, len(name), name_at, 0, 0)
        body += struct.pack(f"<{len(stored)}I", *(len(s) for s in stored))
        body += struct.pack(f"<{len(stored)}I", *pointers)
        body += struct.pack(f"<{len(stored)}I", *(len(c) for c in contents))
        body += struct.pack("<II", 0, 0)
    header = struct.pack("<4I", 0x10000000, 0x10003A12, 0x10000419, 0)
    header += struct.pack("<8H", 0, languages, len(records), 0, 0, 0, 0, 0)
    header += struct.pack("<IHHHHI", 200, options, 0, 1, 0, 0)
    header += struct.pack("<9I", header_size, records_at, 0, 0, 0, 0, 0, 0, 0)
    header += b"\0" * (header_size - len(header))
    return header + b"\0\0" * languages + body + blobs


def test_sis_stored_compressed_languages_conditions_and_options() -> None:
    exe = corpus_file("clam.exe")
    records: list[bytes | tuple[bytes, list[bytes], bool]] = [
        struct.pack("<II", 3, 4) + b"cond",  # if, with a 4-byte expression
        ("a.exe".encode("utf-16-le"), [exe, TEXT], True),  # one version per language
        struct.pack("<I", 6),  # endif
        struct.pack("<II", 2, 1) + b"\0" * (8 * 2),  # one option named in two languages
        ("b.exe".encode("utf-16-le"), [TEXT, exe], True),
    ]
    items = members_of(sis.FORMAT, sis_package(records, options=1, languages=2))
    assert [item.name for item in items if isinstance(item, Member)] == ["a.exe"] * 2 + [
        "b.exe"
    ] * 2
    assert member_data(items) == [exe, TEXT, TEXT, exe]
    plain = sis_package([(b"b.exe", [exe], False)], options=8)
    assert member_data(members_of(sis.FORMAT, plain)) == [exe]


def test_sis_walk_ends_at_a_multi_language_record_as_on_the_reference() -> None:
    exe = corpus_file("clam.exe")
    package = bytearray(sis_package([(b"a.exe", [exe], True), (b"b.exe", [exe], True)], 0))
    second_record = 0x66 + 4 + 24 + 12 + 8
    struct.pack_into("<I", package, second_record, 1)
    assert member_data(members_of(sis.FORMAT, bytes(package))) == [exe]


def test_sis_unknown_record_is_an_error() -> None:
    with pytest.raises(ContainerError, match="unknown record type 9"):
        members_of(sis.FORMAT, sis_package([struct.pack("<I", 9)], options=1))


# --- All formats --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_file_holds_clam_exe(name: str) -> None:
    digest = hashlib.sha256(corpus_file("clam.exe")).hexdigest()
    items = members_of(CORPUS[name], corpus_file(name))
    assert digest in {hashlib.sha256(data).hexdigest() for data in member_data(items)}
    assert scan_names(corpus_file(name), clamav_testsig_engine()) == (TESTSIG_NAME,)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_members_over_the_budget_are_cut(name: str) -> None:
    exe = corpus_file("clam.exe")
    items = members_of(CORPUS[name], corpus_file(name), TestExtraction(budget=544))
    whole = [item for item in items if isinstance(item, Member) and item.declared_size == 544]
    assert whole and bytes(whole[0].data) == exe and not whole[0].truncated
    items = members_of(CORPUS[name], corpus_file(name), TestExtraction(budget=543))
    members = [item for item in items if isinstance(item, Member)]
    over = [m for m in members if (m.declared_size or 0) > 543]
    # Whole members are not decoded at all; ranges of a cabinet folder are
    # decoded up to the budget, as the reference extracts them.
    expected = exe[:543] if name == "clam.cab" else b""
    assert over and all(m.truncated and bytes(m.data) == expected for m in over)
    assert all(not m.truncated for m in members if m not in over)


def only_container_errors(fmt: ContainerFormat, data: bytes) -> None:
    with contextlib.suppress(ContainerError):
        members_of(fmt, data, TestExtraction(budget=1 << 16))


# Generated files whose decoders the corpus does not reach, fuzzed alongside it.
FUZZED_GENERATED = ["fast.arj", "lh5-level1.lzh", "lzx-frames.cab", "quantum.cab", "option.sis"]
FORMAT_BY_SUFFIX = {".arj": arj.FORMAT, ".lzh": lha.FORMAT, ".cab": cab.FORMAT, ".sis": sis.FORMAT}


@cache
def fuzz_sample(name: str) -> tuple[ContainerFormat, bytes]:
    if name in CORPUS:
        return CORPUS[name], corpus_file(name)
    return FORMAT_BY_SUFFIX[Path(name).suffix], generated_files(corpus_file("clam.exe"))[name]


@pytest.mark.parametrize("name", sorted(CORPUS) + FUZZED_GENERATED)
def test_every_truncation_fails_cleanly(name: str) -> None:
    fmt, content = fuzz_sample(name)
    step = max(1, len(content) // 300)
    for length in range(0, len(content), step):
        only_container_errors(fmt, content[:length])


@pytest.mark.parametrize("name", sorted(CORPUS) + FUZZED_GENERATED)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_corruption_fails_cleanly(name: str, data: st.DataObject) -> None:
    fmt, original = fuzz_sample(name)
    content = bytearray(original)
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(content) - 1), st.integers(0, 255)), max_size=8)
    )
    for position, value in flips:
        content[position] = value
    only_container_errors(fmt, bytes(content))


# --- Parity with the reference ------------------------------------------------------


def patched(content: bytes, offset: int, replacement: bytes) -> bytes:
    return content[:offset] + replacement + content[offset + len(replacement) :]


def damaged_chm() -> bytes:
    """The corpus CHM with one bit of its LZX stream flipped after clam.exe.txt's part:
    the reference decodes the whole section first, so it finds nothing."""
    content = bytearray(corpus_file("clam.chm"))
    content[0x2925] ^= 0x02
    return bytes(content)


def generated_files(exe: bytes) -> dict[str, bytes]:
    zeros = bytes(40000)
    lzx_items: list[int | tuple[int, int]] = [*exe[:2], *exe]
    frames_text = (bytes(range(256)) * 4)[:1000] * 73  # 73,000 bytes: three frames
    mszip = mszip_blocks(zeros + exe)
    folders_cab = cab_folders(
        [
            ([("a.txt", TEXT)], 0, stored_blocks(TEXT)),
            ([("z", zeros), ("clam.exe", exe)], 1, mszip_blocks(zeros + exe)),
        ],
        reserve=(4, 2, 3),
        next_cabinet=b"next.cab",
    )
    packed = zlib.compress(exe)
    mszip_cab = cab_file([("clam.exe", exe)], 1, mszip_blocks(exe))
    stored_cab = cab_file([("clam.exe", exe)], 0, stored_blocks(exe))
    stored_arj = arj_archive((b"clam.exe", 0, exe, len(exe), 0))
    lh5_level2 = lha_member(b"clam.exe", b"-lh5-", lzh_literals(exe, 4), len(exe), 2) + b"\0"
    level0 = lha_member(b"clam.exe", b"-lh5-", lzh_literals(exe, 4), len(exe), 0)
    return {
        "stored.arj": arj_archive((b"clam.exe", 0, exe, len(exe), 0)),
        "fast.arj": arj_archive((b"clam.exe", 4, arj_method4(list(exe)), len(exe), 0)),
        "garbled.arj": arj_archive((b"clam.exe", 0, exe, len(exe), 1)),
        "stored.cab": stored_cab,
        "mszip.cab": cab_file([("z", zeros), ("clam.exe", exe)], 1, mszip_blocks(zeros + exe)),
        "lzx-raw.cab": cab_file(
            [("clam.exe", exe)], 3 | 15 << 8, [(lzx_uncompressed(exe), len(exe))]
        ),
        "lzx-verbatim.cab": cab_file(
            [("x", exe[:2]), ("clam.exe", exe)],
            3 | 16 << 8,
            [(lzx_verbatim(lzx_items), len(exe) + 2)],
        ),
        "lzx-frames.cab": cab_file(
            [("x", frames_text), ("clam.exe", exe)],
            3 | 16 << 8,
            lzx_verbatim_frames([*frames_text[:1000], *[(1000, 8)] * 9000, *exe]),
        ),
        "folders.cab": folders_cab,
        # A damaged MSZIP block is repaired with zeros (here: the block of zeros).
        "repaired.cab": patched(folders_cab, 0x165, b"\xab"),
        # An MSZIP block's uncompressed size (at 0x18f) understated: the stream decides.
        "understated.cab": patched(folders_cab, 0x190, b"\x0e"),
        # A block declaring no uncompressed data (at 0x154) ends the folder.
        "zero-block.cab": patched(folders_cab, 0x154, b"\0\0"),
        # The last block of a folder without the final-block bit (in its first byte).
        "not-final.cab": cab_file(
            [("z", zeros), ("clam.exe", exe)],
            1,
            [mszip[0], (b"CK" + bytes([mszip[1][0][2] & 0xFE]) + mszip[1][0][3:], mszip[1][1])],
        ),
        "no-ck.cab": cab_file(
            [("z", zeros), ("clam.exe", exe)], 1, [(b"XX" + mszip[0][0][2:], mszip[0][1]), mszip[1]]
        ),
        "short-block.cab": cab_file(
            [("z", zeros), ("clam.exe", exe)], 1, [(mszip[0][0][:20], mszip[0][1]), mszip[1]]
        ),
        "quantum.cab": cab_file(
            [("x", frames_text[:3000]), ("clam.exe", exe)],
            2 | 16 << 8,
            [(QuantumEncoder(16).encode([*frames_text[:1000], *[(1000, 4)] * 500, *exe]), 3544)],
        ),
        "literal.szdd": szdd_file(list(exe), len(exe)),
        "compressed.sis": sis_package([(b"clam.exe", [exe], True)], options=0),
        "stored.sis": sis_package([(b"clam.exe", [exe], False)], options=8),
        "languages.sis": sis_package([(b"clam.exe", [b"hello", exe], True)], 0, languages=2),
        "condition.sis": sis_package([struct.pack("<II", 3, 4) + b"cond", (b"x", [exe], True)], 0),
        "option.sis": sis_package([struct.pack("<II", 2, 1) + bytes(8), (b"x", [exe], True)], 0),
        "named.szdd": szdd_file(list(exe), len(exe), last_char=b"e"),
        # A run of 18 zeros read from never-written ring positions.
        "small-size.szdd": szdd_file(list(exe), 1),
        "ring.szdd": szdd_file([*exe[:170], (2000, 18), *exe[188:]], len(exe)),
        # A compressed size far past the end of the file: decoded as far as the data goes.
        "long-size.arj": arj_header(b"test.arj", file_type=2)
        + arj_header(b"clam.exe", 1, compressed=1 << 25, original=len(exe))
        + lzh_literals(exe, 5),
        "uid2.sis": sis_package([(b"clam.exe", [exe], True)], 0).replace(
            b"\x12\x3a\x00\x10", b"\x16\x3a\x00\x10", 1
        ),
        "damaged.chm": damaged_chm(),
        "section0-outside.chm": corpus_file("clam.chm")[:0x3B]
        + b"\x20"
        + corpus_file("clam.chm")[0x3C:],
        # The basic header size is only checked against 2600: name and comment delimit it.
        "header-size.arj": stored_arj[:0x34] + struct.pack("<H", 552) + stored_arj[0x36:],
        # ... but it must hold the name (30-byte fixed part, "clam.exe", NUL).
        "header-size-short.arj": stored_arj[:0x34] + struct.pack("<H", 38) + stored_arj[0x36:],
        "header-size-past-end.arj": patched(
            arj_archive((b"clam.exe", 1, lzh_literals(exe, 5), len(exe), 0)),
            0x34,
            struct.pack("<H", 2000),
        ),
        "header-size-name.arj": stored_arj[:0x34] + struct.pack("<H", 39) + stored_arj[0x36:],
        "directory-type.arj": patched(stored_arj, 0x36 + 6, b"\x03"),
        # A compressed size over MaxFileSize skips the member, whatever the original size.
        "huge-compressed.arj": patched(stored_arj, 0x36 + 12, struct.pack("<I", 1 << 28)),
        # A file that claims more than its folder holds is what the folder holds.
        "claims-more.cab": cab_file([("clam.exe", exe)], 1, mszip_blocks(exe)).replace(
            struct.pack("<I", len(exe)), struct.pack("<I", len(exe) + 1000), 1
        ),
        # ... but from a stored folder it is lost.
        "stored-claims-more.cab": patched(stored_cab, 44, struct.pack("<I", len(exe) + 1)),
        # ... and past MaxFileSize, which is weighed against what is extracted.
        "claims-gigabytes.cab": patched(mszip_cab, 44, struct.pack("<I", len(exe) | 1 << 30)),
        "stored-claims-more-first.cab": patched(
            cab_file([("a", TEXT), ("clam.exe", exe)], 0, stored_blocks(TEXT + exe)),
            44,
            struct.pack("<I", 1 << 20),
        ),
        # Not the final deflate block: the stream does not end within the original size.
        "unfinished.sis": sis_package([(b"clam.exe", [exe], True)], 0).replace(
            packed[:3], packed[:2] + bytes([packed[2] & 0xFE]), 1
        ),
        "name-outside.sis": sis_package([(b"clam.exe", [exe], True)], 0).replace(
            struct.pack("<I", 8), struct.pack("<I", 1 << 20), 1
        ),
        # Names of the storage files are matched regardless of case; the reset table is not read.
        "case.chm": corpus_file("clam.chm").replace(b"ControlData", b"CONTROLDATA"),
        "no-reset-table.chm": corpus_file("clam.chm").replace(b"ResetTable", b"XesetTable"),
        # The compressed stream is cut to the file: its length (at 0x25a) may overstate it.
        "content-long.chm": patched(corpus_file("clam.chm"), 0x25A, b"\x95"),
        # /clam.exe.txt said to be in section 5 (its section number at 0x211).
        "section-5.chm": patched(corpus_file("clam.chm"), 0x211, b"\x05"),
        "no-control.chm": corpus_file("clam.chm").replace(b"ControlData", b"XontrolData"),
        "guid.chm": patched(corpus_file("clam.chm"), 0x1C, b"\x2a"),
        # Listing chunks (ITSP at 0x78): first <= last <= number of chunks.
        "last-listing.chm": patched(corpus_file("clam.chm"), 0x9C, b"\x01"),
        "last-listing-past.chm": patched(corpus_file("clam.chm"), 0x9C, b"\x02"),
        "directory-header-length.chm": patched(corpus_file("clam.chm"), 0x80, b"\0\x20"),
        "index-root.chm": patched(corpus_file("clam.chm"), 0x94, struct.pack("<i", -2)),
        # The file size in header section 0 (at 0x60) must reach the content (0x10cc).
        "size-short.chm": patched(corpus_file("clam.chm"), 0x68, struct.pack("<Q", 0x10CB)),
        "size-enough.chm": patched(corpus_file("clam.chm"), 0x68, struct.pack("<Q", 0x10CC)),
        # ControlData (at 0x10cc + 106): version 2 sizes are in 32 KB units, multiplied
        # in signed 32 bits on the reference: a wrap to 64 KB works, a negative fails.
        "window-wraps.chm": patched(corpus_file("clam.chm"), 0x10CC + 106 + 16, b"\x02\x00\x10"),
        "reset-negative.chm": patched(corpus_file("clam.chm"), 0x10CC + 106 + 12, b"\x02\x00\x01"),
        "control-version.chm": patched(corpus_file("clam.chm"), 0x10CC + 106 + 8, b"\x03"),
        "reset-table-outside.chm": corpus_file("clam.chm")[:-1],
        # A pretree whose 6-bit-or-shorter codes are complete, plus one 8-bit code too many.
        "pretree-lenient.chm": patched(corpus_file("clam.chm"), 0x2293, b"\xa1"),
        # Decoding starts at the reset table's first entry (at 0x2a96 + 0x28), if it lists any.
        "reset-point.chm": patched(corpus_file("clam.chm"), 0x2A96 + 0x28, b"\x10"),
        "reset-point-unlisted.chm": patched(
            patched(corpus_file("clam.chm"), 0x2A96 + 0x28, b"\x10"), 0x2A96 + 4, b"\0"
        ),
        # File entries are read after the folders, whatever the header points at.
        "files-pointer.cab": patched(stored_cab, 16, b"\0\3"),
        # More file entries than there are: read from the data as far as the file goes.
        "entries-in-data.cab": patched(stored_cab, 0x1C, b"\5"),
        "entries-past-end.cab": patched(stored_cab, 0x1C, b"\x32"),
        "bad-folder-entry.cab": cab_folders(
            [([("a", TEXT), ("clam.exe", exe)], 0, stored_blocks(TEXT + exe))]
        ).replace(struct.pack("<IIH", len(TEXT), 0, 0), struct.pack("<IIH", len(TEXT), 0, 9), 1),
        # A file placed past the end of its folder is empty; the next folder is still read.
        "empty-beyond.cab": cab_folders(
            [([("a", b"")], 0, stored_blocks(TEXT)), ([("clam.exe", exe)], 0, stored_blocks(exe))]
        ).replace(struct.pack("<II", 0, 0), struct.pack("<II", 0, 512), 1),
        "languages-gone.sis": sis_package([(b"clam.exe", [exe], True)], 0).replace(
            b"\x64\x00\x00\x00\x66", b"\x64\x00\x08\x00\x66", 1
        ),
        "method1.arj": arj_archive((b"clam.exe", 1, lzh_literals(exe, 5), len(exe), 0)),
        # Stored LHA members are left out: the reference then sees the member's
        # MZ as an embedded PE and does not extract the archive (the walker's
        # business); compressed members show no MZ.
        **{
            f"lh5-level{level}.lzh": lha_member(
                b"clam.exe", b"-lh5-", lzh_literals(exe, 4), len(exe), level
            )
            + b"\0"
            for level in (0, 1, 2)
        },
        # A compressed size past the end of the file (level 2, at 7): decoded as far as it goes.
        "long-size.lzh": patched(lh5_level2, 8, b"\x12"),
        "badsum.lzh": level0[:1] + bytes([level0[1] ^ 0xFF]) + level0[2:] + b"\0",
    }


def verdicts(run: Callable[[list[str]], str], paths: list[Path]) -> dict[str, str]:
    found = {}
    for line in run([str(path) for path in paths]).splitlines():
        path, verdict = line.rsplit(": ", 1)
        found[Path(path).name] = verdict.removesuffix(" FOUND")
    return found


def test_parity_with_reference(reference_clamscan: str, tmp_path: Path) -> None:
    exe = corpus_file("clam.exe")
    engine = clamav_testsig_engine()
    files = generated_files(exe) | {name: corpus_file(name) for name in CORPUS}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)

    def clamscan(paths: list[str]) -> str:
        command = [reference_clamscan, "--no-summary", "-d", str(SHARED_TESTSIG / "clamav.hdb")]
        return subprocess.run(command + paths, capture_output=True, check=False, text=True).stdout

    reference = verdicts(clamscan, [tmp_path / name for name in files])
    ours = {name: (scan_names(content, engine) or ("OK",))[0] for name, content in files.items()}
    assert ours == reference


# --- LZH (ARJ methods 1-3, LHA) and LHA --------------------------------------------


def lzh_literals(data: bytes, distance_bits: int) -> bytes:
    """One LZH block of literals: the code-length code is the single symbol 10
    (length 8, read in 0 bits), so all 256 bytes get 8-bit codes equal to
    themselves; the distance code is a single unused symbol."""
    bits = binary(len(data), 16)
    bits += binary(0, 5) + binary(10, 5)  # code-length code: one symbol, 10
    bits += binary(256, 9)  # 256 literal lengths, each read as that symbol
    bits += binary(0, distance_bits) + binary(0, distance_bits)
    bits += "".join(binary(byte, 8) for byte in data)
    return bits_to_bytes(bits)


def lha_member(name: bytes, method: bytes, stored: bytes, original: int, level: int) -> bytes:
    sizes = struct.pack("<II", len(stored), original) + b"\0" * 4  # sizes, time
    if level == 0:
        basic = method + sizes + b"\x20\x00" + bytes([len(name)]) + name + b"\0\0"
        return bytes([len(basic), sum(basic) & 0xFF]) + basic + stored
    if level == 1:
        extension = b"\x40" + b"\0\0" + b"\0\0"  # a 5-byte attribute header, then the end
        sizes = struct.pack("<II", len(stored) + len(extension), original) + b"\0" * 4
        basic = method + sizes + b"\x20\x01" + bytes([len(name)]) + name + b"\0\0U"
        basic += struct.pack("<H", len(extension))
        return bytes([len(basic), sum(basic) & 0xFF]) + basic + extension + stored
    name_header = b"\x01" + name
    headers = struct.pack("<H", len(name_header) + 2) + name_header + b"\0\0"
    total = 2 + len(method) + len(sizes) + 2 + 2 + 1 + len(headers)
    return struct.pack("<H", total) + method + sizes + b"\x00\x02" + b"\0\0U" + headers + stored


def test_lha_stored_and_lh5_at_every_header_level() -> None:
    exe = corpus_file("clam.exe")
    archive = b"".join(
        lha_member(b"s%d.exe" % level, b"-lh0-", exe, len(exe), level) for level in (0, 1, 2)
    )
    archive += lha_member(b"h.exe", b"-lh5-", lzh_literals(exe, 4), len(exe), 2) + b"\0"
    items = members_of(lha.FORMAT, archive)
    assert [item.name for item in items if isinstance(item, Member)] == [
        "s0.exe",
        "s1.exe",
        "s2.exe",
        "h.exe",
    ]
    assert member_data(items) == [exe] * 4


def test_arj_method_1_generated() -> None:
    exe = corpus_file("clam.exe")
    archive = arj_archive((b"m1.exe", 1, lzh_literals(exe, 5), len(exe), 0))
    assert member_data(members_of(arj.FORMAT, archive)) == [exe]


def test_lzh_rejects_incomplete_codes() -> None:
    # Code-length code with two symbols of length 3: not complete.
    bits = binary(1, 16) + binary(2, 5) + "011" + "011"
    with pytest.raises(ContainerError, match="incomplete"):
        members_of(arj.FORMAT, arj_archive((b"x", 1, bits_to_bytes(bits), 1, 0)))


def test_lzh_one_literal_blocks_are_runs_within_the_limit() -> None:
    # Each block: 65536 symbols (a count of 0), a one-symbol length code, the
    # one-literal code "A" and a one-symbol distance code: no bits per byte.
    block = binary(0, 16) + binary(0, 5) * 2 + binary(0, 9) + binary(65, 9) + binary(0, 5) * 2
    data = bits_to_bytes(block * 3)
    assert lzh.decode_huffman(data, 0, len(data), 150_000, 17, 5) == b"A" * 150_000


# --- Quantum ------------------------------------------------------------------------


class QuantumEncoder:
    """The arithmetic encoder matching ``quantum``'s decoder (models shared with it; the
    parity test checks both against the reference's own decoder).

    The decoder reads 16 code bits ahead and takes raw extra bits from the same
    stream, so the layout is recorded in the decoder's reading order and code
    bits are filled in as the encoder settles them.
    """

    def __init__(self, window_bits: int) -> None:
        self.decoder_models = quantum._Decoder(b"", window_bits)
        self.layout: list[int | str] = list(range(16))  # code-bit indices, or raw bit strings
        self.code_read = 16  # code bits the decoder will have read
        self.code_bits = ""
        self.pending = 0
        self.low, self.high = 0, 0xFFFF

    def _emit(self, bit: int) -> None:
        self.code_bits += str(bit) + str(1 - bit) * self.pending
        self.pending = 0

    def symbol(self, model: quantum._Model, symbol: int) -> None:
        index = model.symbols.index(symbol) + 1
        cumulative = model.cumulative
        width, total = self.high - self.low + 1, cumulative[0]
        self.high = self.low + cumulative[index - 1] * width // total - 1
        self.low = self.low + cumulative[index] * width // total
        for below in range(index):
            cumulative[below] += 8
        if cumulative[0] > 3800:
            model.rescale()
        while True:
            if (self.low ^ self.high) & 0x8000:
                if not (self.low & 0x4000 and not self.high & 0x4000):
                    break
                self.pending += 1
                self.low &= 0x3FFF
                self.high |= 0x4000
            else:
                self._emit(self.low >> 15)
            self.low = (self.low << 1) & 0xFFFF
            self.high = ((self.high << 1) | 1) & 0xFFFF
            self.layout.append(self.code_read)
            self.code_read += 1

    def raw(self, value: int, width: int) -> None:
        if width:
            self.layout.append(binary(value, width))

    def encode(self, items: list[int | tuple[int, int]]) -> bytes:
        """Literals and (offset, length 3 or 4) matches, as one frame."""
        models = self.decoder_models
        for item in items:
            if isinstance(item, int):
                self.symbol(models.selector, item >> 6)
                self.symbol(models.literals[item >> 6], item)
                continue
            offset, length = item
            self.symbol(models.selector, length + 1)
            slot = max(s for s, base in enumerate(SLOT_BASES) if base <= offset - 1)
            self.symbol(models.position3 if length == 3 else models.position4, slot)
            self.raw(offset - 1 - SLOT_BASES[slot], SLOT_EXTRA[slot])
        self.pending += 1
        self._emit(0 if self.low < 0x4000 else 1)
        bits = "".join(
            item if isinstance(item, str) else self.code_bits[item : item + 1] or "0"
            for item in self.layout
        )
        return bits_to_bytes(bits) + b"\0\0"


def test_quantum_round_trip_literals_and_matches() -> None:
    text = b"quantum " * 40 + bytes(range(256))
    items: list[int | tuple[int, int]] = [*text[:8], *[(8, 4)] * 78, *text[320:]]
    stream = QuantumEncoder(15).encode(items) + b"\xff"
    assert b"".join(quantum.decompress(stream, 15, len(text))) == text


def test_cab_quantum_folder() -> None:
    exe = corpus_file("clam.exe")
    stream = QuantumEncoder(16).encode(list(exe))
    items = members_of(cab.FORMAT, cab_file([("q.exe", exe)], 2 | 16 << 8, [(stream, len(exe))]))
    assert member_data(items) == [exe]


def test_lzh_empty_literal_code_is_an_error() -> None:
    # Three literal lengths, each a zero run read through a one-symbol code (found by fuzzing).
    block = binary(1, 16) + binary(0, 5) * 2 + binary(3, 9) + binary(0, 5) * 2
    data = bits_to_bytes(block)
    with pytest.raises(ContainerError, match="invalid Huffman code"):
        lzh.decode_huffman(data, 0, len(data), 10, 17, 5)


def test_chm_section_is_decoded_no_further_than_max_scansize() -> None:
    extraction = TestExtraction(options=ScanOptions(max_scansize=1000))
    items = members_of(chm.FORMAT, corpus_file("clam.chm"), extraction)
    served = {item.name for item in items if isinstance(item, Member) and item.data}
    # /clam.exe.txt lies at 651-1195 of section 1: past 1000, so not decoded.
    assert "/#SYSTEM" in served and "/clam.exe.txt" not in served


def test_cab_folder_is_decoded_no_further_than_max_scansize() -> None:
    exe = corpus_file("clam.exe")
    cabinet = cab_file([("a", TEXT), ("b.exe", exe)], 0, stored_blocks(TEXT + exe))
    extraction = TestExtraction(options=ScanOptions(max_scansize=len(TEXT) + 100))
    first, second = members_of(cab.FORMAT, cabinet, extraction)
    assert isinstance(first, Member) and first.data == TEXT
    assert isinstance(second, Member) and second.truncated and not second.data
