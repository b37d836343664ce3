"""Executable-aware signatures judged by the reference, on real executables.

PE32 and PE32+ programs are built with mingw-w64 (``test_pe_programs``),
ELF files are taken from the machine and the packed PEs from
clamav-testfiles.  For each file the test writes signatures of every
executable-aware kind from its parsed layout (EP+n, EP-n, Sx+n, SEx, SL+n
with and without shifts, EntryPoint/NumberOfSections conditions, section
and import hashes) plus near misses (a wrong EP offset, a section hash with
the wrong size, ...), loads them all into one database and scans every file
with the reference (``-z``) and with clamkit: the names found must agree,
file by file.  Section and import hashes are taken from ``sigtool``, so
the test does not trust clamkit's own parser for them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_pe_programs import build_programs, programs_directory

from clamkit.database.loader import load_database
from clamkit.engine import ScanOptions, compile_engine
from clamkit.engine.filetypes import FileType, detect_file_type
from clamkit.executables import ExecutableLayout, parse_executable

ELF_FILES = ("/usr/bin/true", "/usr/lib/x86_64-linux-gnu/crt1.o", "/bin/ls")
PACKED = ("clam-upx.exe", "clam-fsg.exe", "clam-mew.exe", "clam-petite.exe", "clam.exe")
_TARGETS = {FileType.CL_TYPE_MSEXE: 1, FileType.CL_TYPE_ELF: 6}


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build_programs(programs_directory(tmp_path_factory))


def _sigtool_lines(path: Path, option: str) -> list[str]:
    sigtool = shutil.which("sigtool")
    if sigtool is None:
        pytest.skip("reference sigtool is not installed")
    result = subprocess.run(
        [sigtool, "--debug", option, str(path)], capture_output=True, text=True, check=False
    )
    return (result.stdout + result.stderr).splitlines()


def _section_hashes(path: Path) -> list[tuple[int, str, str]]:
    """(section index, size, md5) as ``sigtool --mdb`` prints them."""
    found = []
    for line in _sigtool_lines(path, "--mdb"):
        match = re.search(r"Section\{(\d+)\}: (\d+):([0-9a-f]{32})$", line)
        if match:
            found.append((int(match[1]), match[2], match[3]))
    return found


def _import_hash(path: Path) -> tuple[str, str] | None:
    for line in _sigtool_lines(path, "--imp"):
        match = re.search(r"Imphash: ([0-9a-f]{32}):(\d+)$", line)
        if match:
            return match[1], match[2]
    return None


class _Signatures:
    """Signature lines per database extension, named after the file they were made for."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {"ndb": [], "ldb": [], "mdb": [], "imp": []}

    def add(self, extension: str, line: str) -> None:
        self.lines[extension].append(line)

    def write(self, directory: Path) -> None:
        directory.mkdir()
        for extension, lines in self.lines.items():
            if lines:
                (directory / f"generated.{extension}").write_text("\n".join(lines) + "\n")


def _body_signatures(
    signatures: _Signatures, tag: str, target: int, data: bytes, layout: ExecutableLayout
) -> None:
    def pattern(at: int, length: int = 12) -> str | None:
        piece = data[at : at + length]
        # One byte repeated (padding) would match far beyond the intended place.
        plain = at >= 0 and len(piece) == length and piece.count(piece[:1]) != length
        return piece.hex() if plain else None

    def ndb(name: str, offset: str, at: int, length: int = 12) -> None:
        hex_pattern = pattern(at, length)
        if hex_pattern is not None:
            signatures.add("ndb", f"{tag}.{name}:{target}:{offset}:{hex_pattern}")

    entry = layout.entry_point
    if entry is not None:
        ndb("ep0", "EP+0", entry)
        ndb("ep1_miss", "EP+1", entry)
        ndb("ep_minus", "EP-16", entry - 16)
        ndb("ep_shift", "EP+0,24", entry + 20)
        ndb("ep_shift_miss", "EP+0,19", entry + 20)
        ndb("ep_minus_shift", "EP-8,4", entry - 5)
    sections = [s for s in layout.sections if s.raw_size >= 32]
    for index, section in enumerate(layout.sections):
        if section not in sections:
            continue
        start, size = section.raw_offset, section.raw_size
        ndb(f"s{index}", f"S{index}+4", start + 4)
        ndb(f"s{index}_shift", f"S{index}+4,8", start + 10)
        ndb(f"s{index}_wrong", f"S{index + 1}+4", start + 4)
        ndb(f"se{index}_mid", f"SE{index}", start + size // 2)
        ndb(f"se{index}_last", f"SE{index}", start + size - 4, 4)
        ndb(f"se{index}_past", f"SE{index}", start + size, 4)
        ndb(f"se{index}_before", f"SE{index}", start - 4, 4)
    if layout.sections:
        last = layout.sections[-1]
        ndb("sl", "SL+0", last.raw_offset)
        ndb("sl_miss", "SL+1", last.raw_offset)
        ndb("s_out_of_range", f"S{len(layout.sections)}+0", last.raw_offset)
    # Logical signatures on the layout's numbers; subsignature 0 is the MZ/ELF magic.
    magic = data[:4].hex()
    count = len(layout.sections)
    conditions = {
        "count": f"NumberOfSections:{count}-{count}",
        "count_miss": "NumberOfSections:0-0",
    }
    if entry is not None:
        conditions["entry"] = f"EntryPoint:{entry}-{entry}"
        conditions["entry_miss"] = f"EntryPoint:{entry + 1}-{entry + 10}"
        if layout.sections:
            conditions["entry_ep_sub"] = f"EntryPoint:0-{entry}"
    for name, condition in conditions.items():
        description = f"Engine:51-255,Target:{target},{condition}"
        signatures.add("ldb", f"{tag}.ldb_{name};{description};0;0:{magic}")
    if entry is not None and pattern(entry) is not None:
        signatures.add(
            "ldb",
            f"{tag}.ldb_ep_sub;Engine:51-255,Target:{target};0&1;0:{magic};EP+0:{pattern(entry)}",
        )


def _hash_signatures(signatures: _Signatures, tag: str, path: Path, seen: set[str]) -> None:
    for index, size, digest in _section_hashes(path):
        # Identical sections recur across the programs; the reference then
        # reports one of the names sharing a hash and size: keep one.
        if digest in seen:
            continue
        seen.add(digest)
        signatures.add("mdb", f"{size}:{digest}:{tag}.mdb{index}")
        signatures.add("mdb", f"{int(size) + 1}:{digest}:{tag}.mdb{index}_size_miss")
        signatures.add("mdb", f"*:{digest}:{tag}.mdb{index}_star:73")
    found = _import_hash(path)
    if found is not None and found[1] != "0" and found[0] not in seen:
        digest, size = found
        seen.add(digest)
        signatures.add("imp", f"{digest}:{size}:{tag}.imp")
        signatures.add("imp", f"{digest}:{int(size) - 1}:{tag}.imp_size_miss")
        signatures.add("imp", f"{digest}:*:{tag}.imp_star:73")


def _reference_findings(clamscan: str, database: Path, paths: list[Path]) -> dict[str, set[str]]:
    result = subprocess.run(
        [clamscan, "--no-summary", "-z", "-d", str(database), *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    found: dict[str, set[str]] = {str(path): set() for path in paths}
    for line in result.stdout.splitlines():
        if line.endswith(" FOUND"):
            path, _, name = line[: -len(" FOUND")].rpartition(": ")
            found[path].add(name)
    return found


def _inputs(programs: list[Path], testfiles_dir: Path | None) -> list[Path]:
    paths = list(programs)
    paths += [Path(p) for p in ELF_FILES if Path(p).is_file()]
    if testfiles_dir is not None:
        paths += [testfiles_dir / name for name in PACKED if (testfiles_dir / name).is_file()]
    return paths


def test_generated_signatures_get_the_references_verdicts(
    reference_clamscan: str, programs: list[Path], tmp_path: Path
) -> None:
    testfiles_dir = Path("/usr/share/clamav-testfiles")
    paths = _inputs(programs, testfiles_dir if testfiles_dir.is_dir() else None)
    signatures = _Signatures()
    seen: set[str] = set()
    for number, path in enumerate(paths):
        data = path.read_bytes()
        file_type = detect_file_type(data[:4096], len(data))
        layout = parse_executable(file_type, data)
        assert isinstance(layout, ExecutableLayout), path
        tag = f"F{number}"
        _body_signatures(signatures, tag, _TARGETS[file_type], data, layout)
        if file_type is FileType.CL_TYPE_MSEXE:
            _hash_signatures(signatures, tag, path, seen)
    database = tmp_path / "db"
    signatures.write(database)
    reference = _reference_findings(reference_clamscan, database, paths)
    engine = compile_engine(load_database([database]))
    options = ScanOptions(allmatch=True)
    differences = {}
    for number, path in enumerate(paths):
        # Only the file's own signatures: the reference also scans what it
        # unpacks from packed files, which clamkit does not.
        own = f"F{number}."
        theirs = {name for name in reference[str(path)] if name.startswith(own)}
        ours = {name for name in engine.scan_file(path, options).names if name.startswith(own)}
        if theirs != ours:
            differences[path.name] = (sorted(theirs - ours), sorted(ours - theirs))
    assert not differences
    # The generated near misses must not all be trivially absent: some match.
    assert sum(len(names) for names in reference.values()) > 10 * len(paths)
