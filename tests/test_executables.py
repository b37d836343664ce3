"""The executable parsers on hand-built and damaged input, and the matcher's use of them."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pebuild import build_pe

from clamkit.database.loader import load_database
from clamkit.engine import ScanOptions, compile_engine
from clamkit.engine.filetypes import FileType
from clamkit.engine.matching import BROKEN_EXECUTABLE, Layer, scan_layer
from clamkit.executables import Broken, ExecutableLayout, parse_executable
from clamkit.executables.elf import parse_elf
from clamkit.executables.macho import parse_macho
from clamkit.executables.pe import import_hash_text, parse_pe


def elf64(*, entry: int = 0x400110, program_headers: bool = True, truncate: int = 0) -> bytes:
    """An ELF64 executable: one loadable segment at 0x400000 mapping the file, two sections."""
    size = 0x400
    header = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9
    ph_count = 1 if program_headers else 0
    header += struct.pack(
        "<HHIQQQIHHHHHH", 2, 62, 1, entry, 64, 0x200, 0, 64, 56, ph_count, 64, 2, 0
    )
    data = bytearray(header)
    if program_headers:
        data += struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, size, size, 0x1000)
    data += b"\0" * (0x200 - len(data))
    data += b"\0" * 64  # the null section
    data += struct.pack("<IIQQQQIIQQ", 1, 1, 6, 0x401000, 0x300, 0x80, 0, 0, 16, 0)
    data += b"\0" * (size - len(data))
    return bytes(data[: size - truncate])


def test_elf_entry_point_is_mapped_through_the_segments() -> None:
    layout = parse_elf(elf64())
    assert isinstance(layout, ExecutableLayout)
    assert layout.entry_point == 0x110
    assert [(s.raw_offset, s.raw_size) for s in layout.sections] == [(0, 0), (0x300, 0x80)]


def test_elf_without_program_headers_takes_the_entry_field_as_offset() -> None:
    layout = parse_elf(elf64(entry=0, program_headers=False))
    assert isinstance(layout, ExecutableLayout)
    assert layout.entry_point == 0


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param(elf64(entry=0x900000), Broken.MALFORMED, id="entry in no segment"),
        pytest.param(elf64(truncate=0x1A0), Broken.MALFORMED, id="section table cut off"),
        pytest.param(b"\x7fELF" + b"\0" * 20, Broken.NOT_EXECUTABLE, id="header cut off"),
        pytest.param(b"\x7fELF" + bytes([3, 1]) + b"\0" * 60, Broken.MALFORMED, id="unknown class"),
    ],
)
def test_broken_elf(image: bytes, expected: Broken) -> None:
    assert parse_elf(image) is expected


def test_macho_needs_its_load_commands_inside_the_file() -> None:
    header = struct.pack("<IiiIIII", 0xFEEDFACE, 7, 3, 2, 1, 0x1000, 0)
    assert parse_macho(header + b"\0" * 64) is Broken.NOT_EXECUTABLE
    assert parse_macho(b"\xca\xfe\xba\xbe" + b"\0" * 64) is Broken.NOT_EXECUTABLE


def test_only_executable_types_have_a_layout() -> None:
    assert parse_executable(FileType.CL_TYPE_BINARY_DATA, build_pe()) is None
    assert isinstance(parse_executable(FileType.CL_TYPE_MSEXE, build_pe()), ExecutableLayout)


_SEEDS = [build_pe(), build_pe(magic=0x20B, optional_size=0xF0), elf64()]


@settings(max_examples=300, deadline=None)
@given(
    seed=st.sampled_from(_SEEDS),
    changes=st.lists(st.tuples(st.integers(0, 0x3FF), st.integers(0, 255)), max_size=12),
    cut=st.integers(0, 0x400),
)
def test_damaged_headers_never_raise(seed: bytes, changes: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for position, value in changes:
        if position < len(data):
            data[position] = value
    damaged = bytes(data[: len(data) - cut])
    for parser in (parse_pe, parse_elf, parse_macho):
        result = parser(damaged)
        assert isinstance(result, ExecutableLayout | Broken)
        if isinstance(result, ExecutableLayout) and result.kind.name == "PE":
            import_hash_text(damaged, result)


def _engine(tmp_path: Path, name: str, text: str):  # type: ignore[no-untyped-def]
    database = tmp_path / name
    database.write_text(text)
    return compile_engine(load_database([database]))


def test_container_conditions_read_the_layer_chain(tmp_path: Path) -> None:
    engine = _engine(
        tmp_path,
        "c.ldb",
        "InZip;Engine:81-255,Target:0,Container:CL_TYPE_ZIP;0;41424344\n"
        "ZipInTar;Engine:81-255,Target:0,Intermediates:CL_TYPE_POSIX_TAR>CL_TYPE_ZIP;0;41424344\n",
    )
    options = ScanOptions(allmatch=True)

    def names(*containers: FileType) -> tuple[str, ...]:
        layer = Layer(b"xxABCDxx", FileType.CL_TYPE_BINARY_DATA, containers)
        return scan_layer(engine, layer, options).names

    assert names() == ()
    assert names(FileType.CL_TYPE_ZIP) == ("InZip.UNOFFICIAL",)
    assert names(FileType.CL_TYPE_POSIX_TAR, FileType.CL_TYPE_ZIP) == (
        "InZip.UNOFFICIAL",
        "ZipInTar.UNOFFICIAL",
    )
    assert names(FileType.CL_TYPE_ZIP, FileType.CL_TYPE_POSIX_TAR) == ()


def test_broken_executable_alert_yields_to_signatures(tmp_path: Path) -> None:
    image = build_pe(section_count=0)
    engine = _engine(tmp_path, "b.ndb", f"Body:0:0:{image[:16].hex()}\n")
    alert = ScanOptions(alert_broken_executables=True)
    assert engine.scan_bytes(image, alert).names == ("Body.UNOFFICIAL",)
    assert engine.scan_bytes(
        image, ScanOptions(alert_broken_executables=True, allmatch=True)
    ).names == (
        "Body.UNOFFICIAL",
        BROKEN_EXECUTABLE,
    )
    unrelated = _engine(tmp_path, "u.ndb", "Other:0:*:00112233445566778899\n")
    assert unrelated.scan_bytes(image, alert).names == (BROKEN_EXECUTABLE,)
    assert unrelated.scan_bytes(image).names == ()


def test_overlay_starts_after_the_last_section() -> None:
    image = build_pe()
    layout = parse_pe(image + b"appended data")
    assert isinstance(layout, ExecutableLayout)
    assert layout.overlay == len(image)
    plain = parse_pe(image)
    assert isinstance(plain, ExecutableLayout)
    assert plain.overlay is None
