"""Archive and compression formats: members read directly, and end to end through the engine."""

from __future__ import annotations

import bz2
import hashlib
import lzma
import random
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable

import inflate64
import py7zr
import pytest
from containers_support import (
    PAYLOAD,
    PAYLOAD_NAME,
    TESTSIG_NAME,
    TestExtraction,
    clamav_testsig_engine,
    corpus_file,
    cpio_bytes,
    deflate_bomb,
    flat_zip_bomb,
    gzip_wrap,
    iso9660_bytes,
    member_data,
    members_of,
    nsis_bytes,
    nsis_bzip2,
    payload_engine,
    scan_names,
    sevenzip_bytes,
    tar_bytes,
    zip_bytes,
    zip_central_entries,
    zip_entry_by_hand,
    zip_with_central,
)

from clamkit.containers import (
    bzip2,
    cpio,
    embedded,
    explode,
    gzip,
    iso9660,
    nsis,
    nsisbzip2,
    sevenzip,
    tar,
    xz,
)
from clamkit.containers import zip as zip_format
from clamkit.containers.base import EXCEEDED_MAX_FILE_SIZE, Alert, ContainerFormat, Member
from clamkit.engine import ScanOptions
from clamkit.engine.filetypes import FileType, detect_file_type

MiB = 1 << 20


# -- zip -----------------------------------------------------------------------


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
def test_zip_methods_python_writes(method: int) -> None:
    data = zip_bytes([("a.txt", b"hello"), ("dir/payload", PAYLOAD)], method)
    items = members_of(zip_format.FORMAT, data)
    assert [m.name for m in items if isinstance(m, Member)] == ["a.txt", "dir/payload"]
    assert member_data(items) == [b"hello", PAYLOAD]
    assert scan_names(data) == (PAYLOAD_NAME,)


def test_zip_deflate64() -> None:
    deflater = inflate64.Deflater()
    compressed = deflater.deflate(PAYLOAD) + deflater.flush()
    data = zip_entry_by_hand(PAYLOAD, 9, compressed)
    assert member_data(members_of(zip_format.FORMAT, data)) == [PAYLOAD]


def test_zip_lzma_and_zstd_entries_are_skipped_as_on_the_reference() -> None:
    data = zip_bytes([("payload", PAYLOAD)], zipfile.ZIP_LZMA)
    assert members_of(zip_format.FORMAT, data) == []
    zstd_entry = zip_entry_by_hand(PAYLOAD, 93, b"\x28\xb5\x2f\xfd" + bytes(20))
    assert members_of(zip_format.FORMAT, zstd_entry) == []


def test_zip_implode_corpus_files() -> None:
    engine = clamav_testsig_engine()
    for name in ("clam.impl.zip", "clam.d64.zip", "clam.bz2.zip", "clam.zip"):
        assert engine.scan_bytes(corpus_file(name)).names == (TESTSIG_NAME,), name


def test_explode_rejects_garbage_and_truncation() -> None:
    impl = corpus_file("clam.impl.zip")
    items = members_of(zip_format.FORMAT, impl)
    assert len(member_data(items)) == 1
    local = impl.index(b"PK\x03\x04")
    name_length, extra_length = struct.unpack_from("<HH", impl, local + 26)
    flags = struct.unpack_from("<H", impl, local + 6)[0]
    start = local + 30 + name_length + extra_length
    compressed = impl[start : impl.index(b"PK\x01\x02")]
    assert explode.explode(compressed, flags, 544) == corpus_file("clam.exe")
    assert explode.explode(compressed, flags, 100) == corpus_file("clam.exe")[:100]
    with pytest.raises(explode.ContainerError):
        explode.explode(compressed[:40], flags, 544)
    with pytest.raises(explode.ContainerError):
        explode.explode(b"\x00", flags, 544)


def test_zip_encrypted_entry_gives_an_alert_and_no_member() -> None:
    data = bytearray(zip_bytes([("payload", PAYLOAD)]))
    struct.pack_into("<H", data, 6, 1)  # local header flags
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, 1)
    items = members_of(zip_format.FORMAT, bytes(data))
    assert items == [Alert("Heuristics.Encrypted.Zip", "alert_encrypted_archive")]
    assert scan_names(bytes(data)) == ()
    assert scan_names(bytes(data), alert_encrypted_archive=True) == ("Heuristics.Encrypted.Zip",)
    assert scan_names(bytes(data), alert_encrypted=True) == ("Heuristics.Encrypted.Zip",)


def test_zip_duplicate_entries_are_read_once() -> None:
    data = zip_bytes([("a", b"first"), ("payload", PAYLOAD)])
    first, second = zip_central_entries(data)
    tampered = zip_with_central(data, [first, first, first, second])
    assert member_data(members_of(zip_format.FORMAT, tampered)) == [b"first", PAYLOAD]


def test_zip_a_few_overlapping_entries_are_read() -> None:
    """An entry whose local header lies inside another entry's data, as the reference reads it."""
    inner = zip_bytes([("inner", PAYLOAD)], zipfile.ZIP_STORED)
    inner_local = inner[: inner.index(b"PK\x01\x02")]
    data = zip_bytes([("outer", inner_local)], zipfile.ZIP_STORED)
    (outer_entry,) = zip_central_entries(data)
    (inner_entry,) = zip_central_entries(inner)
    pointing_inside = bytearray(inner_entry)
    struct.pack_into("<I", pointing_inside, 42, 30 + len("outer"))
    tampered = zip_with_central(data, [outer_entry, bytes(pointing_inside)])
    assert member_data(members_of(zip_format.FORMAT, tampered)) == [inner_local, PAYLOAD]


def test_flat_zip_bomb_gives_only_its_alert() -> None:
    tolerated = flat_zip_bomb(zip_format.MAX_OVERLAPPING_ENTRIES + 1)
    assert len(member_data(members_of(zip_format.FORMAT, tolerated))) == 6
    bomb = flat_zip_bomb(zip_format.MAX_OVERLAPPING_ENTRIES + 2)
    alert = Alert("Heuristics.Zip.OverlappingFiles", "heuristic_alerts")
    assert members_of(zip_format.FORMAT, bomb) == [alert]
    assert scan_names(bomb) == ("Heuristics.Zip.OverlappingFiles",)
    assert scan_names(bomb, heuristic_alerts=False) == ()


def test_zip_entry_without_its_local_header_is_skipped() -> None:
    data = zip_bytes([("a", b"hello"), ("payload", PAYLOAD)])
    first, second = zip_central_entries(data)
    lost = bytearray(first)
    struct.pack_into("<I", lost, 42, 7)
    tampered = zip_with_central(data, [bytes(lost), second])
    assert member_data(members_of(zip_format.FORMAT, tampered)) == [PAYLOAD]


def test_zip_without_central_directory_gives_nothing_as_on_the_reference() -> None:
    data = zip_bytes([("payload", PAYLOAD)])
    assert members_of(zip_format.FORMAT, data[: data.index(b"PK\x01\x02")]) == []
    assert scan_names(data[:-30]) == ()


def test_zip_damaged_entry_does_not_hide_the_next() -> None:
    noise = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(64))
    data = bytearray(zip_bytes([("a", noise), ("payload", PAYLOAD)]))
    data[200:240] = b"\xff" * 40  # inside the first entry's deflate stream
    assert scan_names(bytes(data)) == (PAYLOAD_NAME,)


def test_zip_compressed_size_over_max_filesize_is_an_alert() -> None:
    data = zip_bytes([("big", bytes(3000)), ("payload", PAYLOAD)], zipfile.ZIP_STORED)
    extraction = TestExtraction(ScanOptions(max_filesize=2000))
    items = members_of(zip_format.FORMAT, data, extraction)
    assert items[0] == Alert(EXCEEDED_MAX_FILE_SIZE, "alert_exceeds_max")
    assert member_data(items) == [PAYLOAD]


def test_zip_member_trimmed_to_budget_silently() -> None:
    data = zip_bytes([("big", bytes(3 * MiB))])
    items = members_of(zip_format.FORMAT, data, TestExtraction(budget=MiB))
    (member,) = items
    assert isinstance(member, Member)
    assert len(member.data) == MiB and not member.truncated


def test_zip_10_gib_single_member_ends_fast() -> None:
    bomb = deflate_bomb(10 * 1024)
    data = zip_entry_by_hand(b"", 8, bomb)
    started = time.monotonic()
    items = members_of(zip_format.FORMAT, data, TestExtraction(budget=4 * MiB))
    assert time.monotonic() - started < 5
    assert len(member_data(items)[0]) == 4 * MiB


def test_zip_sfx_is_found_after_a_stub() -> None:
    stub = b"\x00\x01stub" * 100
    data = stub + zip_bytes([("payload", PAYLOAD)])
    assert detect_file_type(data[:4096]) is FileType.CL_TYPE_BINARY_DATA
    (member,) = members_of(embedded.SFX_FORMAT, data)
    assert isinstance(member, Member) and member.name == f"zip-sfx@{len(stub)}"
    assert scan_names(data) == (PAYLOAD_NAME,)


def test_embedded_pe_runs_to_the_end_of_the_file() -> None:
    exe = corpus_file("clam.exe")
    engine = clamav_testsig_engine()
    assert engine.scan_bytes(b"\x00\x01junk" * 10 + exe).names == (TESTSIG_NAME,)
    # Trailing bytes become part of the embedded image: no longer the same file.
    assert engine.scan_bytes(b"\x00\x01junk" * 10 + exe + b"\x00tail").names == ()
    assert (
        engine.scan_bytes(b"\x00\x01junk" * 10 + exe, ScanOptions(max_embeddedpe=100)).names == ()
    )
    assert engine.scan_bytes(b"\x00\x01junk" * 10 + exe, ScanOptions(scan_pe=False)).names == ()


# -- 7z ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        None,
        [{"id": py7zr.FILTER_COPY}],
        [{"id": py7zr.FILTER_X86}, {"id": py7zr.FILTER_LZMA}],
        [{"id": py7zr.FILTER_ARM}, {"id": py7zr.FILTER_LZMA2}],
    ],
)
def test_7z_coders_the_reference_reads(filters: list[dict[str, int]] | None) -> None:
    data = sevenzip_bytes([("a.txt", b"hello"), ("payload", PAYLOAD)], filters)
    assert member_data(members_of(sevenzip.FORMAT, data)) == [b"hello", PAYLOAD]
    assert scan_names(data) == (PAYLOAD_NAME,)


@pytest.mark.parametrize("coder", [py7zr.FILTER_PPMD, py7zr.FILTER_BZIP2, py7zr.FILTER_DEFLATE])
def test_7z_coders_the_reference_skips(coder: int) -> None:
    data = sevenzip_bytes([("payload", PAYLOAD)], [{"id": coder}])
    assert members_of(sevenzip.FORMAT, data) == []


@pytest.mark.parametrize("encrypt_header", [False, True])
def test_7z_encrypted(encrypt_header: bool) -> None:
    data = sevenzip_bytes([("payload", PAYLOAD)], password="secret", encrypt_header=encrypt_header)
    assert members_of(sevenzip.FORMAT, data) == [
        Alert("Heuristics.Encrypted.7Zip", "alert_encrypted_archive")
    ]


def test_7z_member_stops_at_its_budget() -> None:
    data = sevenzip_bytes([("zeros", bytes(8 * MiB))])
    (member,) = members_of(sevenzip.FORMAT, data, TestExtraction(budget=MiB))
    assert isinstance(member, Member)
    assert len(member.data) == MiB and member.truncated and member.declared_size == 8 * MiB


def test_7z_solid_block_is_decoded_once_and_the_thread_ends() -> None:
    many = [(f"f{i}", b"x%d" % i * 50) for i in range(400)]
    data = sevenzip_bytes([*many, ("payload", PAYLOAD)])
    threads = threading.active_count()
    started = time.monotonic()
    assert scan_names(data) == (PAYLOAD_NAME,)
    # Once per file from the block's start would take tens of seconds here.
    assert time.monotonic() - started < 10
    # A walk that stops early (MaxFiles) cancels the extraction thread.
    assert scan_names(data, max_files=10) == ()
    assert threading.active_count() == threads


def test_7z_corrupt() -> None:
    data = sevenzip_bytes([("payload", PAYLOAD)])
    with pytest.raises(zip_format.ContainerError):
        members_of(sevenzip.FORMAT, data[:20])
    assert scan_names(data[:40]) == ()


# -- tar and cpio --------------------------------------------------------------


@pytest.mark.parametrize("tar_format", [0, 1, 2])  # USTAR, GNU, PAX
def test_tar_formats_and_long_names(tar_format: int) -> None:
    name = "d" * 120 + "/payload"
    data = tar_bytes([("a.txt", b"hello"), (name, PAYLOAD)], tar_format)
    items = members_of(tar.FORMAT, data)
    assert [m.name for m in items if isinstance(m, Member)] == ["a.txt", name]
    assert member_data(items) == [b"hello", PAYLOAD]
    assert scan_names(data) == (PAYLOAD_NAME,)


def test_tar_stops_at_a_bad_checksum_and_at_the_end_of_data() -> None:
    data = bytearray(tar_bytes([("a", b"hello"), ("payload", PAYLOAD)]))
    second = 1024
    data[second + 148 : second + 156] = b"0000000\0"
    assert member_data(members_of(tar.FORMAT, bytes(data))) == [b"hello"]
    cut = tar_bytes([("payload", PAYLOAD)])[:600]
    (member,) = members_of(tar.FORMAT, cut)
    assert isinstance(member, Member) and bytes(member.data) == PAYLOAD[:88]
    assert not member.truncated


@pytest.mark.parametrize("kind", ["newc", "crc", "odc", "bin-le", "bin-be"])
def test_cpio_kinds(kind: str) -> None:
    data = cpio_bytes([("a.txt", b"hello"), ("payload", PAYLOAD)], kind)
    assert member_data(members_of(cpio.FORMAT, data)) == [b"hello", PAYLOAD]
    assert scan_names(data) == (PAYLOAD_NAME,)


@pytest.mark.parametrize(
    "name", ["clam.bin-be.cpio", "clam.bin-le.cpio", "clam.newc.cpio", "clam.odc.cpio"]
)
def test_cpio_corpus(name: str) -> None:
    assert clamav_testsig_engine().scan_bytes(corpus_file(name)).names == (TESTSIG_NAME,)


# -- compressions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "compress"),
    [
        (gzip.FORMAT, lambda d: zlib.compress(d, wbits=31)),
        (bzip2.FORMAT, bz2.compress),
        (xz.FORMAT, lzma.compress),
    ],
)
def test_compressions(fmt: ContainerFormat, compress: Callable[[bytes], bytes]) -> None:
    data = compress(PAYLOAD)
    assert member_data(members_of(fmt, data)) == [PAYLOAD]
    assert scan_names(data) == (PAYLOAD_NAME,)
    # Cut short: what came out before the end is the member, never an error.
    for cut in (len(data) // 2, len(data) - 4):
        decoded = member_data(members_of(fmt, data[:cut]))
        assert all(PAYLOAD.startswith(part) for part in decoded)


def test_concatenated_streams_as_the_reference_reads_them() -> None:
    hello_gz = zlib.compress(b"hello\n", wbits=31)
    payload_gz = zlib.compress(PAYLOAD, wbits=31)
    # gzip and xz: streams decoded one after the other into one member.
    (member,) = members_of(gzip.FORMAT, hello_gz + payload_gz)
    assert isinstance(member, Member) and member.data == b"hello\n" + PAYLOAD
    (member,) = members_of(xz.FORMAT, lzma.compress(b"hi") + lzma.compress(PAYLOAD))
    assert isinstance(member, Member) and member.data == b"hi" + PAYLOAD
    assert scan_names(payload_gz + hello_gz) == ()
    # bzip2: only the first stream.
    assert scan_names(bz2.compress(PAYLOAD) + bz2.compress(b"hi")) == (PAYLOAD_NAME,)
    assert member_data(members_of(bzip2.FORMAT, bz2.compress(b"hi") + bz2.compress(PAYLOAD))) == [
        b"hi"
    ]
    # Trailing garbage after a gzip member is ignored.
    assert scan_names(payload_gz + b"garbage") == (PAYLOAD_NAME,)


def test_damaged_deflate_keeps_what_came_before_the_damage() -> None:
    """Everything zlib decodes before it meets the damage, byte for byte, as the reference keeps."""
    data = bytearray(zlib.compress(PAYLOAD, wbits=31))
    expected = zlib.decompressobj(31)
    salvaged = b""
    data[40:50] = b"\xff" * 10
    for position in range(len(data)):
        try:
            salvaged += expected.decompress(bytes(data[position : position + 1]))
        except zlib.error:
            break
    assert salvaged and salvaged != PAYLOAD
    assert member_data(members_of(gzip.FORMAT, bytes(data))) == [salvaged]


def test_gzip_10_gib_bomb_ends_fast_with_its_budget() -> None:
    data = gzip_wrap(deflate_bomb(10 * 1024))
    started = time.monotonic()
    (member,) = members_of(gzip.FORMAT, data, TestExtraction(budget=8 * MiB))
    assert isinstance(member, Member) and member.truncated and len(member.data) == 8 * MiB
    assert scan_names(data, max_filesize=2 * MiB, alert_exceeds_max=True) == (
        EXCEEDED_MAX_FILE_SIZE,
    )
    assert time.monotonic() - started < 10


def test_bzip2_bomb_stops_at_budget() -> None:
    data = bz2.compress(bytes(50 * MiB))
    (member,) = members_of(bzip2.FORMAT, data, TestExtraction(budget=MiB))
    assert isinstance(member, Member) and member.truncated and len(member.data) == MiB


def test_bare_lzma_is_read() -> None:
    # No file type of its own on the reference, which leaves it undecoded; clamkit reads it
    # (tests/test_containers_raw.py).
    assert scan_names(lzma.compress(PAYLOAD, format=lzma.FORMAT_ALONE)) == (PAYLOAD_NAME,)


# -- ISO 9660 ----------------------------------------------------------------------


def test_iso9660_files_in_the_root_and_in_directories() -> None:
    for image, prefix in (
        (iso9660_bytes([("a.txt", b"hello"), ("payload", PAYLOAD)]), ""),
        (iso9660_bytes([("a.txt", b"hello"), ("payload", PAYLOAD)], "dir"), "DIR/"),
    ):
        items = members_of(iso9660.FORMAT, image)
        assert [m.name for m in items if isinstance(m, Member)] == [
            prefix + "A.TXT",
            prefix + "PAYLOAD",
        ]
        assert member_data(items) == [b"hello", PAYLOAD]
        assert scan_names(image) == (PAYLOAD_NAME,)


def test_iso9660_directory_loops_and_damage() -> None:
    image = bytearray(iso9660_bytes([("payload", PAYLOAD)], "dir"))
    # Point the subdirectory's record back at the root: the walk must end.
    root_listing = 18 * 2048
    sub_record = root_listing + 34 + 34
    struct.pack_into("<I", image, sub_record + 2, 18)
    assert members_of(iso9660.FORMAT, bytes(image)) == []
    image[root_listing] = 5  # a record too short to be one
    with pytest.raises(iso9660.ContainerError):
        members_of(iso9660.FORMAT, bytes(image))
    no_primary = bytearray(iso9660_bytes([("payload", PAYLOAD)]))
    no_primary[16 * 2048] = 2
    with pytest.raises(iso9660.ContainerError):
        members_of(iso9660.FORMAT, bytes(no_primary))


# -- NSIS ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "solid"),
    [
        ("lzma", False),
        ("deflate", False),
        ("bzip2", False),
        ("stored", False),
        ("lzma", True),
        ("bzip2", True),
    ],
)
def test_nsis_blocks(method: str, solid: bool) -> None:
    installer = nsis_bytes([b"hello", PAYLOAD], method, solid=solid)
    assert nsis.FORMAT.recognise(FileType.CL_TYPE_MSEXE, installer)
    assert member_data(members_of(nsis.FORMAT, installer))[1:] == [b"hello", PAYLOAD]
    assert scan_names(installer) == (PAYLOAD_NAME,)


def test_nsis_lzma_dictionary_rule_and_damage() -> None:
    installer = bytearray(nsis_bytes([PAYLOAD], "lzma"))
    script_block = installer.index(b"NullsoftInst") + 20 + 4
    assert installer[script_block] == 0x5D
    # A dictionary that is no multiple of 8 MiB: the reference takes the
    # block for Deflate, which it is not, so only the payload comes out.
    struct.pack_into("<I", installer, script_block + 1, 1 << 20)
    assert member_data(members_of(nsis.FORMAT, bytes(installer)))[-1:] == [PAYLOAD]
    assert len(member_data(members_of(nsis.FORMAT, bytes(installer)))) == 1
    cut = nsis_bytes([PAYLOAD], "stored")[:-300]
    assert PAYLOAD not in member_data(members_of(nsis.FORMAT, cut))
    lzma_installer = nsis_bytes([PAYLOAD], "lzma")
    script, payload = members_of(nsis.FORMAT, lzma_installer, TestExtraction(budget=10))
    assert isinstance(payload, Member) and payload.truncated and len(payload.data) == 10
    assert isinstance(script, Member)


# -- damaged input ------------------------------------------------------------------


def _mutants(data: bytes, seed: int, count: int) -> list[bytes]:
    """``count`` copies of ``data`` with bytes changed, cut out or put in."""
    rng = random.Random(seed)
    mutants = []
    for _ in range(count):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(mutant))
            choice = rng.random()
            if choice < 0.6:
                mutant[position] = rng.randrange(256)
            elif choice < 0.8:
                del mutant[position : position + rng.randint(1, 40)]
            else:
                mutant[position:position] = rng.randbytes(rng.randint(1, 16))
        mutants.append(bytes(mutant))
    return mutants


@pytest.mark.parametrize(
    "build",
    [
        lambda: zip_bytes([("a", b"hello" * 50), ("p", PAYLOAD)]),
        lambda: zip_bytes([("p", PAYLOAD)], zipfile.ZIP_BZIP2),
        lambda: corpus_file("clam.impl.zip"),
        lambda: tar_bytes([("a", b"hi"), ("p", PAYLOAD)]),
        lambda: zlib.compress(PAYLOAD, wbits=31),
        lambda: bz2.compress(PAYLOAD),
        lambda: lzma.compress(PAYLOAD),
        lambda: sevenzip_bytes([("a", b"hi"), ("p", PAYLOAD)]),
        lambda: sevenzip_bytes([("p", PAYLOAD)], [{"id": py7zr.FILTER_COPY}]),
        lambda: cpio_bytes([("p", PAYLOAD)], "newc"),
        lambda: cpio_bytes([("p", PAYLOAD)], "bin-le"),
        lambda: iso9660_bytes([("p", PAYLOAD)], "d"),
        lambda: nsis_bytes([PAYLOAD], "lzma"),
        lambda: nsis_bytes([PAYLOAD], "lzma", solid=True),
        lambda: nsis_bytes([PAYLOAD], "bzip2"),
    ],
    ids=["zip", "zip-bzip2", "implode", "tar", "gzip", "bzip2", "xz", "7z", "7z-copy",
         "newc", "cpio-bin", "iso", "nsis", "nsis-solid", "nsis-bzip2"],
)  # fmt: skip
def test_damaged_containers_never_crash_the_scan(build: Callable[[], bytes]) -> None:
    """Whatever a format makes of damaged input, the scan itself never raises."""
    options = ScanOptions(allmatch=True, max_filesize=4 * MiB, max_scansize=8 * MiB)
    engine = payload_engine()
    for mutant in _mutants(build(), seed=len(build()), count=40):
        engine.scan_bytes(mutant, options)


@pytest.mark.parametrize(
    "data",
    [
        PAYLOAD,
        b"a" * 10_000,  # long runs: RUNA/RUNB and the first stage's counts
        bytes(random.Random(5).randrange(3) for _ in range(5000)),
        b"abc" * 3000 + bytes(range(256)) * 10,
        b"x",
    ],
    ids=["payload", "run", "three-symbols", "mixed", "one-byte"],
)
def test_nsis_bzip2_variant(data: bytes) -> None:
    assert nsisbzip2.decompress(nsis_bzip2(data), 1 << 20) == (data, False)
    assert nsisbzip2.decompress(nsis_bzip2(data), 3) == (data[:3], len(data) > 3)


def test_nsis_bzip2_damage() -> None:
    stream = nsis_bzip2(PAYLOAD)
    with pytest.raises(nsisbzip2.ContainerError):
        nsisbzip2.decompress(stream[:20], 1 << 20)
    with pytest.raises(nsisbzip2.ContainerError):
        nsisbzip2.decompress(b"\x32" + stream[1:], 1 << 20)
    for position in (5, 40, len(stream) // 2):
        damaged = stream[:position] + bytes([stream[position] ^ 0xFF]) + stream[position + 1 :]
        try:
            out, _ = nsisbzip2.decompress(damaged, 1 << 20)
        except nsisbzip2.ContainerError:
            continue
        assert len(out) <= 1 << 20
