"""Executable headers judged by the reference: crafted PE, ELF and Mach-O files.

PE: headers built field by field (``pebuild``) are scanned with
``--alert-broken`` (which ones the reference reports as
Heuristics.Broken.Executable) and with an EOF-n signature (whose headers it
parses at all); hand-built ELF files likewise with ``--alert-broken``.
Mach-O: hand-built 32 and 64 bit files with and without entry point
commands are scanned with EP, section and EntryPoint signatures.  The
``broken-sigs`` of ``pe_allmatch`` (SE1 signatures) are loaded and applied
to a mingw-built PE holding their strings.  Every directory goes to the
reference in one call.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from pebuild import PE_HEADERS, TEXT_SECTION, Section, build_pe
from test_executables import elf64

from clamkit.database.loader import load_database
from clamkit.engine import ScanOptions, compile_engine

# Raw data past the end of a 0x400-byte file, whose raw offset plus size
# (0xF0000000 + 0x20000000) overflows 32 bits.
_PAST_END = (0x2000, 0x1000, 0xF0000000, 0x20000000)

# Headers beyond pebuild's table, found on the reference while probing:
# (name, sections, other build_pe arguments).
_EXTRA_HEADERS: tuple[tuple[str, tuple[Section, ...], dict[str, int]], ...] = (
    ("virtual address not aligned", ((0x1010, 0x1000, 0x200, 0x200),), {"entry": 0x1010}),
    (
        "raw offset plus size overflows inside the file",
        (TEXT_SECTION, (0x2000, 0x1000, 0x300, 0xFFFFFF00)),
        {"size": 0x400},
    ),
    ("raw data past the end, overflowing", (TEXT_SECTION, _PAST_END), {"size": 0x400}),
    (
        "raw data past the end at a high address",
        (TEXT_SECTION, (0x80000000, 0x1000, 0xF0000000, 0x20000000)),
        {"size": 0x400},
    ),
    (
        "raw data past the end with a 2 GiB virtual size",
        (TEXT_SECTION, (0x2000, 0x80000000, 0xF0000000, 0x20000000)),
        {"size": 0x400},
    ),
    (
        "raw data past the end, then a gap",
        (TEXT_SECTION, _PAST_END, (0x5000, 0x1000, 0x400, 0x200)),
        {"size": 0x600},
    ),
    (
        "raw data past the end leaves no gap behind",
        (TEXT_SECTION, (0x5000, 0x1000, 0x9000, 0x200)),
        {"size": 0x400},
    ),
    ("second section's raw data past the end", (TEXT_SECTION, (0x2000, 0x1000, 0x3000, 0x200)), {}),
    ("gap between sections", (TEXT_SECTION, (0x5000, 0x1000, 0x400, 0x200)), {}),
    (
        "gap between sections at a high address",
        (TEXT_SECTION, (0x90909000, 0x1000, 0x400, 0x200)),
        {},
    ),
    ("first section after a gap", ((0x2000, 0x1000, 0x200, 0x200),), {"entry": 0x2000}),
    (
        "97 sections in a row",
        tuple((0x1000 * (n + 1), 0x1000, 0x200, 0x200) for n in range(97)),
        {"section_count": 97},
    ),
    (
        "raw data past the end, first",
        ((0x1000, 0x1000, 0xF0000000, 0x20000000), (0x2000, 0x1000, 0x200, 0x200)),
        {"entry": 0x2000, "size": 0x400},
    ),
    (
        "raw data past the end, misaligned",
        (TEXT_SECTION, (0x2010, 0x1000, 0xF0000000, 0x20000000)),
        {"size": 0x400},
    ),
    (
        "raw data past the end holds the entry point",
        (TEXT_SECTION, _PAST_END),
        {"entry": 0x2010, "size": 0x400},
    ),
    (
        "raw data past the end, then a 2 GiB virtual size",
        ((0x1000, 0x1000, 0x9000, 0x200), (0x2000, 0x90909090, 0x400, 0x200)),
        {"entry": 0x200, "size": 0x600},
    ),
    (
        "no raw data, past the end, after a gap",
        (TEXT_SECTION, (0x5000, 0x1000, 0x9000, 0)),
        {"size": 0x400},
    ),
    ("sections overlap", (TEXT_SECTION, (0x1800, 0x1000, 0x400, 0x200)), {}),
    ("first section at address 0", ((0x0, 0x1000, 0x200, 0x200),), {"entry": 0x10}),
    (
        "first section at a high address",
        ((0x90909000, 0x1000, 0x200, 0x200),),
        {"entry": 0x90909000},
    ),
    ("virtual size 0x7fffd000", ((0x1000, 0x7FFFD000, 0x200, 0x200),), {}),
    ("virtual size 0x80000000", ((0x1000, 0x80000000, 0x200, 0x200),), {}),
    ("second virtual size 0x90000000", (TEXT_SECTION, (0x2000, 0x90000000, 0x400, 0x200)), {}),
)


def extra_pe_headers() -> dict[str, bytes]:
    return {
        name: build_pe(sections=sections, **arguments)
        for name, sections, arguments in _EXTRA_HEADERS
    }


def _scan_both(
    clamscan: str, database: Path, directory: Path, *extra: str, **options: bool
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Names per file name, from the reference and from clamkit."""
    result = subprocess.run(
        [clamscan, "--no-summary", "-z", *extra, "-d", str(database), str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    files = sorted(path for path in directory.iterdir() if path.is_file())
    reference: dict[str, set[str]] = {path.name: set() for path in files}
    for line in result.stdout.splitlines():
        if line.endswith(" FOUND"):
            path, _, name = line[: -len(" FOUND")].rpartition(": ")
            reference[Path(path).name].add(name)
    engine = compile_engine(load_database([database]))
    scan_options = ScanOptions(allmatch=True, **options)
    ours = {path.name: set(engine.scan_file(path, scan_options).names) for path in files}
    return reference, ours


def _pe_headers(directory: Path) -> dict[str, bytes]:
    directory.mkdir()
    images = {name: image for name, image, _ in PE_HEADERS} | extra_pe_headers()
    files = {}
    for number, image in enumerate(images.values()):
        files[f"pe{number:02d}.exe"] = image
        (directory / f"pe{number:02d}.exe").write_bytes(image)
    return files


def test_broken_executable_alerts_are_the_references(
    reference_clamscan: str, tmp_path: Path
) -> None:
    directory = tmp_path / "headers"
    _pe_headers(directory)
    database = tmp_path / "unrelated.ndb"
    database.write_text("Unrelated:0:*:00112233445566778899\n")
    reference, ours = _scan_both(
        reference_clamscan, database, directory, "--alert-broken=yes", alert_broken_executables=True
    )
    assert ours == reference
    assert sum(bool(names) for names in reference.values()) >= 10
    _, quiet = _scan_both(reference_clamscan, database, directory)
    assert not any(quiet.values())


def test_broken_elf_and_macho_are_judged_as_by_the_reference(
    reference_clamscan: str, tmp_path: Path
) -> None:
    directory = tmp_path / "elf"
    directory.mkdir()
    images = {
        "ok": elf64(),
        "object": elf64(entry=0, program_headers=False),
        "entry in no segment": elf64(entry=0x900000),
        "section table cut off": elf64(truncate=0x1A0),
        "unknown class": b"\x7fELF" + bytes([3, 1]) + b"\0" * 60,
        "header cut off": b"\x7fELF\x02\x01\x01" + b"\0" * 20,
        "Mach-O commands past the end": struct.pack("<IiiIIII", 0xFEEDFACE, 7, 3, 2, 1, 0x1000, 0)
        + b"\x11" * 64,
    }
    for number, image in enumerate(images.values()):
        (directory / f"elf{number}").write_bytes(image)
    database = tmp_path / "unrelated.ndb"
    database.write_text("Unrelated:0:*:00112233445566778899\n")
    reference, ours = _scan_both(
        reference_clamscan, database, directory, "--alert-broken=yes", alert_broken_executables=True
    )
    assert ours == reference
    assert sum(bool(names) for names in reference.values()) == 3
    # EOF-n offsets: the reference drops them in broken ELF files only.
    lines = [
        f"EOF_{path.name}:0:EOF-{len(data) - 4}:{data[4:8].hex()}"
        for path in sorted(directory.iterdir())
        for data in [path.read_bytes()]
    ]
    database.write_text("\n".join(lines) + "\n")
    reference, ours = _scan_both(reference_clamscan, database, directory)
    assert ours == reference


def test_offsets_resolve_where_the_reference_parses_the_header(
    reference_clamscan: str, tmp_path: Path
) -> None:
    directory = tmp_path / "headers"
    files = _pe_headers(directory)
    database = tmp_path / "eof.ndb"
    # The 8 bytes after the DOS header, as an EOF-n offset of each file.
    lines = [
        f"EOF_{name[:-4]}:0:EOF-{len(image) - 0x40}:{image[0x40:0x48].hex()}"
        for name, image in files.items()
    ]
    database.write_text("\n".join(lines) + "\n")
    reference, ours = _scan_both(reference_clamscan, database, directory)
    assert ours == reference


def test_an_rva_in_two_sections_maps_through_the_later_one(
    reference_clamscan: str, tmp_path: Path
) -> None:
    # The first section's raw size reaches into the second's virtual range,
    # where the entry point lies: each section holds a marker at its reading.
    image = bytearray(
        build_pe(
            sections=((0x1000, 0x1000, 0x200, 0x1200), (0x2000, 0x1000, 0x1400, 0x200)),
            entry=0x2010,
        )
    )
    image[0x1210:0x1214] = b"AAAA"
    image[0x1410:0x1414] = b"BBBB"
    directory = tmp_path / "overlap"
    directory.mkdir()
    (directory / "overlap.exe").write_bytes(image)
    database = tmp_path / "ep.ndb"
    database.write_text("First:1:EP+0:41414141\nLast:1:EP+0:42424242\n")
    reference, ours = _scan_both(reference_clamscan, database, directory)
    assert reference == {"overlap.exe": {"Last.UNOFFICIAL"}}
    assert ours == reference


def _macho(*, wide: bool, command: str | None, pc: int) -> bytes:
    """A Mach-O executable: one __TEXT segment with one __text section at 0xf00."""
    text_offset, text_size, total = 0xF00, 0x100, 0x1000
    address = 0x100000F00 if wide else 0x1F00
    word = "Q" if wide else "I"
    section = struct.pack(
        f"<16s16s{word}{word}IIIIIII",
        b"__text",
        b"__TEXT",
        address,
        text_size,
        text_offset,
        0,
        0,
        0,
        0,
        0,
        0,
    ) + (b"\0" * 4 if wide else b"")
    segment_size = (72 if wide else 56) + len(section)
    segment = (
        struct.pack(
            f"<II16s{word}{word}{word}{word}iiII",
            0x19 if wide else 0x1,
            segment_size,
            b"__TEXT",
            address - text_offset,
            0x1000,
            0,
            total,
            7,
            5,
            1,
            0,
        )
        + section
    )
    commands = [segment]
    if command == "thread":
        registers = [0] * (21 if wide else 16)
        registers[16 if wide else 10] = pc if wide else pc & 0xFFFFFFFF
        state = struct.pack(f"<{len(registers)}{word}", *registers)
        flavor, count = (4, 42) if wide else (1, 16)
        commands.append(struct.pack("<IIII", 5, 16 + len(state), flavor, count) + state)
    elif command == "main":
        commands.append(struct.pack("<IIQQ", 0x80000028, 24, pc, 0))
    body = b"".join(commands)
    magic, cpu = (0xFEEDFACF, 0x01000007) if wide else (0xFEEDFACE, 7)
    header = struct.pack("<IiiIIII", magic, cpu, 3, 2, len(commands), len(body), 0)
    header += b"\0\0\0\0" if wide else b""
    image = bytearray(header + body + b"\0" * (total - len(header) - len(body)))
    for position in range(text_offset, text_offset + text_size):
        image[position] = (position * 7 + 3) & 0xFF
    return bytes(image)


def test_macho_offsets_are_the_references(reference_clamscan: str, tmp_path: Path) -> None:
    directory = tmp_path / "macho"
    directory.mkdir()
    for wide in (False, True):
        for command in (None, "thread", "main"):
            for pc in (0xF10, 0x1F10, 0x100000F10, 0x9000):
                image = _macho(wide=wide, command=command, pc=pc)
                (directory / f"m{int(wide)}-{command}-{pc:x}.macho").write_bytes(image)
    sample = _macho(wide=True, command=None, pc=0)
    lines = [f"EP{at:x}:9:EP+0:{sample[at : at + 8].hex()}" for at in (0, 0xF10, 0xF20)]
    lines += [
        f"EPm1:9:EP+1:{sample[1:9].hex()}",
        f"S0:9:S0+4:{sample[0xF04:0xF0C].hex()}",
        f"S1:9:S1+4:{sample[0xF04:0xF0C].hex()}",
        f"SL:9:SL+8:{sample[0xF08:0xF10].hex()}",
        f"SE0:9:SE0:{sample[0xFF8:0x1000].hex()}",
    ]
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "macho.ndb").write_text("\n".join(lines) + "\n")
    conditions = ("EntryPoint:0-0", "EntryPoint:3856-3856", "NumberOfSections:1-1")
    (tmp_path / "db" / "macho.ldb").write_text(
        "".join(
            f"Cond{number};Engine:51-255,Target:9,{condition};0;0:{sample[4:8].hex()}\n"
            for number, condition in enumerate(conditions)
        )
    )
    reference, ours = _scan_both(reference_clamscan, tmp_path / "db", directory)
    assert ours == reference
    assert all(reference.values())


def test_pe_allmatch_broken_sigs_behave_as_on_the_reference(
    reference_clamscan: str, shared_sigs: Path, tmp_path: Path
) -> None:
    """The reference loads both SE1 lines; at scan time an SE1 window reaches one
    byte past section 1, so a string at the very start of section 2 matches."""
    compiler = shutil.which("x86_64-w64-mingw32-gcc")
    other = shutil.which("i686-w64-mingw32-gcc")
    if compiler is None or other is None:
        pytest.skip("mingw-w64 cross compilers not installed (apt-get install gcc-mingw-w64)")
    directory = tmp_path / "programs"
    directory.mkdir()
    source = tmp_path / "strings.c"
    source.write_text(
        "#include <stdio.h>\nint main(void) {\n"
        '    printf("CLAMAV_TEST_PRINTF_STRING_ffa8_3994_1788_e8b6\\n");\n'
        '    printf("CLAMAV_TEST_PRINTF_STRING_e4d7_7b43_3155_040a\\n");\n'
        "    return 0;\n}\n"
    )
    for name, gcc in (("pe64.exe", compiler), ("pe32.exe", other)):
        subprocess.run([gcc, "-O1", str(source), "-o", str(directory / name)], check=True)
    database = shared_sigs / "pe_allmatch" / "broken-sigs"
    assert compile_engine(load_database([database])).signature_count == 2
    reference, ours = _scan_both(reference_clamscan, database, directory)
    assert ours == reference
