"""Helpers for container tests: a test ``Extraction``, a payload and its engine.

Format tests call a format's ``members()`` directly with ``TestExtraction``
(limits from its ``ScanOptions``, an optional smaller member budget, a
scratch directory under the test's tmp_path), and test end to end with
``payload_engine()``: one SHA-256 signature, ``PAYLOAD_NAME``, for the
bytes ``PAYLOAD``, so any container hiding ``PAYLOAD`` must be detected.
The corpus's ClamAV test executable works the same way with
``clamav_testsig_engine()`` (skips when the shared data is missing).
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import shutil
import struct
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import py7zr
import pytest

from clamkit.containers.base import Alert, ContainerFormat, Member
from clamkit.database.loader import load_database
from clamkit.engine import Engine, ScanOptions, compile_engine

SHARED_TESTSIG = Path(__file__).resolve().parent.parent.parent / "shared/sigs/clamav-testsig"
TESTFILES = Path("/usr/share/clamav-testfiles")

# Binary (not text), so no normalised view changes it; the digest is what matters.
PAYLOAD = b"\x00clamkit container test payload\x00" + bytes(range(256)) * 2
PAYLOAD_NAME = "Clamkit.Test.Payload.UNOFFICIAL"
TESTSIG_NAME = "ClamAV-Test-File.UNOFFICIAL"


@dataclass
class TestExtraction:
    """An ``Extraction`` for calling a format's ``members()`` directly.

    ``budget`` caps every member (default: the options' MaxFileSize, or
    unlimited when that is 0); ``scratch`` is created on first use.
    """

    __test__ = False  # not a test class, despite the name

    options: ScanOptions = field(default_factory=ScanOptions)
    budget: int | None = None
    scratch: Path | None = None
    scratch_used: bool = False

    def member_budget(self) -> int:
        if self.budget is not None:
            return self.budget
        return self.options.max_filesize or 1 << 62

    def scratch_dir(self) -> Path:
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix="clamkit-test-"))
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.scratch_used = True
        return self.scratch


def members_of(
    fmt: ContainerFormat, data: bytes, extraction: TestExtraction | None = None
) -> list[Member | Alert]:
    """Everything ``fmt`` yields for ``data`` (a scratch dir made here is removed)."""
    extraction = extraction or TestExtraction()
    made_here = extraction.scratch is None
    try:
        return list(fmt.members(data, extraction))
    finally:
        if made_here and extraction.scratch is not None:
            shutil.rmtree(extraction.scratch, ignore_errors=True)


def member_data(items: list[Member | Alert]) -> list[bytes]:
    """The bytes of the members among ``items``, in order."""
    return [bytes(item.data) for item in items if isinstance(item, Member)]


def _engine_with(lines: str) -> Engine:
    with tempfile.TemporaryDirectory(prefix="clamkit-db-") as directory:
        path = Path(directory) / "test.hdb"
        path.write_text(lines)
        return compile_engine(load_database([path]))


@cache
def payload_engine() -> Engine:
    """An engine whose only signature is PAYLOAD's SHA-256 (``PAYLOAD_NAME``)."""
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    return _engine_with(f"{digest}:{len(PAYLOAD)}:{PAYLOAD_NAME.removesuffix('.UNOFFICIAL')}\n")


@cache
def _testsig_engine() -> Engine:
    return compile_engine(load_database([SHARED_TESTSIG / "clamav.hdb"]))


def clamav_testsig_engine() -> Engine:
    """The engine of ClamAV's one test signature (finds the corpus's clam.exe)."""
    if not (SHARED_TESTSIG / "clamav.hdb").is_file():
        pytest.skip(f"shared test signature not found in {SHARED_TESTSIG}")
    return _testsig_engine()


def corpus_file(name: str) -> bytes:
    """A file of Debian's clamav-testfiles (skips when it is not installed)."""
    path = TESTFILES / name
    if not path.is_file():
        pytest.skip(f"{path} not found (Debian's clamav-testfiles)")
    return path.read_bytes()


def scan_names(data: bytes, engine: Engine | None = None, **options: object) -> tuple[str, ...]:
    """Names found in ``data`` by ``engine`` (default: ``payload_engine()``)."""
    return (engine or payload_engine()).scan_bytes(data, ScanOptions(**options)).names


# ---------------------------------------------------------------------------
# Container builders: small archives made in memory with Python's libraries,
# or by hand where no writer exists (cpio, tampered zips, bombs).


def zip_bytes(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_entry_by_hand(data: bytes, method: int, compressed: bytes, flags: int = 0) -> bytes:
    """A one-entry zip written by hand, for methods zipfile cannot write."""
    name = b"member"
    crc = zlib.crc32(data)
    local = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0, crc,
        len(compressed), len(data), len(name), 0,
    ) + name + compressed  # fmt: skip
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, method, 0, 0, crc,
        len(compressed), len(data), len(name), 0, 0, 0, 0, 0, 0,
    ) + name  # fmt: skip
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def zip_with_central(data: bytes, central_entries: list[bytes]) -> bytes:
    """``data`` (a zip) with its central directory replaced by ``central_entries``."""
    start = data.index(b"PK\x01\x02")
    end = bytearray(data[data.index(b"PK\x05\x06") :])
    directory = b"".join(central_entries)
    count = len(central_entries)
    struct.pack_into("<HHII", end, 8, count, count, len(directory), start)
    return data[:start] + directory + bytes(end)


def zip_central_entries(data: bytes) -> list[bytes]:
    """The central directory entries of ``data`` (a zip), each as bytes."""
    directory = data[data.index(b"PK\x01\x02") : data.index(b"PK\x05\x06")]
    starts = [i for i in range(len(directory)) if directory.startswith(b"PK\x01\x02", i)]
    return [directory[a:b] for a, b in zip(starts, [*starts[1:], len(directory)], strict=True)]


def flat_zip_bomb(entries: int, kernel: bytes = b"A" * 1000) -> bytes:
    """A stored zip whose every entry holds the next one's local header and
    all that follows it, down to one shared kernel (a flat zip bomb's shape)."""
    names = [b"f%02d" % i for i in range(entries)]
    tail = kernel
    sizes: list[tuple[int, int]] = []
    for name in reversed(names):
        crc = zlib.crc32(tail)
        local = struct.pack(
            "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(tail), len(tail),
            len(name), 0,
        )  # fmt: skip
        sizes.insert(0, (crc, len(tail)))
        tail = local + name + tail
    central, offset = b"", 0
    for name, (crc, size) in zip(names, sizes, strict=True):
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, size, size,
            len(name), 0, 0, 0, 0, 0, offset,
        ) + name  # fmt: skip
        offset += 30 + len(name)
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, entries, entries, len(central), len(tail), 0
    )
    return tail + central + end


def nested_zip(payload: bytes, depth: int) -> bytes:
    """``payload`` at ``depth`` (1: a zip holding it, 2: a zip of that zip, ...)."""
    data = payload
    for level in range(depth):
        data = zip_bytes([(f"level{level}", data)])
    return data


def tar_bytes(members: list[tuple[str, bytes]], tar_format: int = tarfile.USTAR_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sevenzip_bytes(
    members: list[tuple[str, bytes]],
    filters: list[dict[str, int]] | None = None,
    password: str | None = None,
    encrypt_header: bool = False,
) -> bytes:
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(
        buffer, "w", filters=filters, password=password, header_encryption=encrypt_header
    ) as archive:
        for name, data in members:
            archive.writestr(data, name)
    return buffer.getvalue()


def _cpio_pad(data: bytes, alignment: int) -> bytes:
    return data + bytes(-len(data) % alignment)


def cpio_bytes(members: list[tuple[str, bytes]], kind: str) -> bytes:
    """A cpio archive of kind ``newc``, ``crc``, ``odc``, ``bin-le`` or ``bin-be``."""
    out = b""
    for number, (name, data) in enumerate([*members, ("TRAILER!!!", b"")], start=1):
        encoded = name.encode() + b"\0"
        mode = 0o100644 if data or name != "TRAILER!!!" else 0
        if kind in ("newc", "crc"):
            magic = b"070701" if kind == "newc" else b"070702"
            check = sum(data) & 0xFFFFFFFF if kind == "crc" else 0
            fields = (number, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), check)
            header = magic + b"".join(b"%08X" % value for value in fields)
            out += _cpio_pad(header + encoded, 4) + _cpio_pad(data, 4)
        elif kind == "odc":
            header = b"070707" + b"%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o" % (
                0, number, mode, 0, 0, 1, 0, 0, len(encoded), len(data)
            )  # fmt: skip
            out += header + encoded + data
        else:
            order = "<" if kind == "bin-le" else ">"
            size = len(data)
            header = struct.pack(
                order + "13H", 0o070707, 0, number, mode, 0, 0, 1, 0, 0, 0,
                len(encoded), size >> 16, size & 0xFFFF,
            )  # fmt: skip
            out += _cpio_pad(header + encoded, 2) + _cpio_pad(data, 2)
    return out


def deflate_bomb(size_mib: int) -> bytes:
    """A raw deflate stream of ``size_mib`` MiB of zeros, about 1 KiB per MiB.

    One MiB is compressed once and its byte-aligned, dictionary-free block
    (a full flush) repeated, so a 10 GiB bomb is built in milliseconds.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * size_mib + b"\x03\x00"  # an empty final block


def gzip_wrap(deflated: bytes) -> bytes:
    """A gzip member around a raw deflate stream (CRC and size not checked by readers here)."""
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + deflated + bytes(8)


def _both_endian(value: int, size: int) -> bytes:
    return value.to_bytes(size, "little") + value.to_bytes(size, "big")


def _iso_record(extent: int, size: int, name: bytes, directory: bool) -> bytes:
    length = 33 + len(name) + (len(name) + 1) % 2
    record = (
        bytes([length, 0])
        + _both_endian(extent, 4)
        + _both_endian(size, 4)
        + bytes(7)  # recording date
        + bytes([2 if directory else 0, 0, 0])
        + _both_endian(1, 2)
        + bytes([len(name)])
        + name
    )
    return record + bytes(length - len(record))


def iso9660_bytes(members: list[tuple[str, bytes]], subdirectory: str | None = None) -> bytes:
    """A minimal ISO 9660 image: files in the root, or all in one subdirectory."""
    sector = 2048
    root, sub = 18, 19
    first_file = 20 if subdirectory else 19
    extents, position = [], first_file
    for _, data in members:
        extents.append(position)
        position += max(1, -(-len(data) // sector))
    files = b"".join(
        _iso_record(extent, len(data), name.upper().encode() + b";1", False)
        for (name, data), extent in zip(members, extents, strict=True)
    )
    parent = _iso_record(root, sector, b"\x01", True)
    dots = _iso_record(root, sector, b"\x00", True) + parent
    if subdirectory:
        sub_dots = _iso_record(sub, sector, b"\x00", True) + parent
        sub_dir = _iso_record(sub, sector, subdirectory.upper().encode(), True)
        directories = [dots + sub_dir, sub_dots + files]
    else:
        directories = [dots + files]
    pvd = (
        b"\x01CD001\x01\x00"
        + b" " * 32
        + b"CLAMKIT".ljust(32)
        + bytes(8)
        + _both_endian(position, 4)
        + bytes(32)
        + _both_endian(1, 2)
        + _both_endian(1, 2)
        + _both_endian(sector, 2)
        + _both_endian(0, 4)
        + bytes(16)
        + _iso_record(root, sector, b"\x00", True)
    )
    terminator = b"\xffCD001\x01"
    image = bytes(16 * sector) + pvd.ljust(sector, b"\0") + terminator.ljust(sector, b"\0")
    for directory in directories:
        image += directory.ljust(sector, b"\0")
    for _, data in members:
        image += data.ljust(max(1, -(-len(data) // sector)) * sector, b"\0")
    return image


def nsis_bzip2(data: bytes) -> bytes:
    """``data`` in NSIS's bzip2 variant, made from one standard bzip2 block.

    Standard bzip2 is ``BZh9``, a 48-bit block magic, a CRC and a randomised
    bit, the block body, then a 48-bit end magic and a CRC; NSIS keeps the
    body between one-byte magics (0x31, 0x17).  Needs one block (<= 900 kB).
    """
    compressed = bz2.compress(data, 9)
    bits = bin(int.from_bytes(compressed, "big"))[2:].zfill(len(compressed) * 8)
    end_magic = bin(0x177245385090)[2:].zfill(48)
    body_end = bits.rindex(end_magic)
    body = bits[32 + 48 + 32 + 1 : body_end]
    assert bits.count(bin(0x314159265359)[2:].zfill(48)) == 1, "one block only"
    nsis = "00110001" + body + "00010111"
    nsis += "0" * (-len(nsis) % 8)
    return int(nsis, 2).to_bytes(len(nsis) // 8, "big")


def _nsis_compress(block: bytes, method: str) -> bytes:
    if method == "bzip2":
        return nsis_bzip2(block)
    if method == "lzma":
        # The reference reads NSIS LZMA only with a dictionary of a multiple of 8 MiB.
        options = {"id": lzma.FILTER_LZMA1, "dict_size": 1 << 23, "lc": 3, "lp": 0, "pb": 2}
        properties = b"\x5d" + (1 << 23).to_bytes(4, "little")
        return properties + lzma.compress(block, format=lzma.FORMAT_RAW, filters=[options])
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(block) + compressor.flush()


def nsis_bytes(files: list[bytes], method: str = "lzma", *, solid: bool = False) -> bytes:
    """An NSIS-like installer: a stub, the first header and data blocks
    (a script header, then ``files``), compressed block by block or as one
    solid stream with ``method`` (``lzma``, ``bzip2``, ``deflate``), or
    stored (``method="stored"``, non-solid only)."""
    script = b"\x00" * 64
    blocks = [script, *files]
    if solid:
        body = _nsis_compress(b"".join(struct.pack("<I", len(b)) + b for b in blocks), method)
    elif method == "stored":
        body = b"".join(struct.pack("<I", len(b)) + b for b in blocks)
    else:
        packed = [_nsis_compress(b, method) for b in blocks]
        body = b"".join(struct.pack("<I", len(p) | 0x80000000) + p for p in packed)
    size = 28 + len(body) + 4
    first = struct.pack("<II12sII", 0, 0xDEADBEEF, b"NullsoftInst", len(script), size)
    return b"MZ" + bytes(510) + first + body + bytes(4)
