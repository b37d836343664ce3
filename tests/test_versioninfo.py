"""VI offsets: signatures that start at a key of a PE's version information.

Version resources are written node by node (``pebuild.version_info`` and
friends), well-formed and damaged in every way the walk checks, each as
the one resource of a small hand-built PE (``pebuild.build_version_pe``);
mingw-w64 adds real programs with windres's resource, and one holding more
version resources, under names and numbers and several languages, than the
reference reads.  Signatures with a ``VI`` offset for every key (and near
misses: a match starting inside a key, one on the value) are scanned with
the reference (``-z``, one call for all files) and with clamkit; the names
found must agree, file by file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pebuild import (
    build_version_pe,
    string_file_info,
    string_table,
    utf16,
    var_file_info,
    version_info,
    version_node,
    version_string,
)
from synth import logical_bytes, pattern_bytes
from test_executable_signatures_reference import _reference_findings
from test_pe_programs import COMPILERS, build_programs, programs_directory

from clamkit.database.loader import load_database
from clamkit.engine import ScanOptions, compile_engine
from clamkit.executables import ExecutableLayout
from clamkit.executables.pe import parse_pe
from clamkit.executables.resources import version_info_keys
from clamkit.signatures.logical import parse_ldb_line
from clamkit.signatures.model import BodySubsignature, LogicalSignature, OffsetKind
from clamkit.signatures.offsets import parse_offset


def _value(key: str) -> str:
    # An odd number of characters with the NUL: the string ends on a 4-byte
    # boundary, as a table's last string must (see "unaligned last string").
    value = f"value of {key}"
    return value if len(value) % 2 else value + "!"


def _string(key: str) -> bytes:
    return version_string(key, _value(key))


def _table(*keys: str) -> bytes:
    return string_table(*map(_string, keys))


# (name, version resource, resource size declared in the directory or None).
VARIANTS: list[tuple[str, bytes, int | None]] = [
    ("plain", version_info(string_file_info(_table("Alpha", "Bravo")), var_file_info()), None),
    ("var first", version_info(var_file_info(), string_file_info(_table("Charlie"))), None),
    (
        "var twice",
        version_info(var_file_info(), var_file_info(), string_file_info(_table("Delta"))),
        None,
    ),
    (
        "two tables",
        version_info(
            string_file_info(_table("Echo"), string_table(_string("Foxtrot"), key="040704b0"))
        ),
        None,
    ),
    (
        "two string file infos",
        version_info(string_file_info(_table("Golf")), string_file_info(_table("Hotel"))),
        None,
    ),
    (
        "var between string file infos",
        version_info(
            string_file_info(_table("India")), var_file_info(), string_file_info(_table("Juliet"))
        ),
        None,
    ),
    (
        "other child first",
        version_info(version_node("Other"), string_file_info(_table("Kilo"))),
        None,
    ),
    (
        "wrong version key",
        version_info(string_file_info(_table("Lima")), key="VS_VERSION_INFX"),
        None,
    ),
    ("wrong magic", version_info(string_file_info(_table("Mike")), magic=0xFEEF04BC), None),
    (
        "wrong value length",
        version_info(string_file_info(_table("November")), value_length=0x30),
        None,
    ),
    (
        "longer than the resource",
        version_info(string_file_info(_table("Oscar")), length=0x400),
        None,
    ),
    ("resource cut short", version_info(string_file_info(_table("Papa", "Quebec"))), 0xA0),
    (
        "wrong string file info key",
        version_info(string_file_info(_table("Romeo"), key="StringFileInfX")),
        None,
    ),
    (
        "empty value passed over",
        version_info(
            string_file_info(
                string_table(_string("Sierra"), version_string("Tango", ""), _string("Uniform"))
            )
        ),
        None,
    ),
    (
        "short string ends the walk",
        version_info(
            string_file_info(
                string_table(_string("Victor"), version_string("K", "v"), _string("Whiskey")),
                _table("Xray"),
            )
        ),
        None,
    ),
    (
        "unaligned last string",
        version_info(
            string_file_info(
                string_table(_string("Gold"), version_string("Hazel", "even")), _table("Ivory")
            )
        ),
        None,
    ),
    (
        "one-character value",
        version_info(string_file_info(string_table(version_string("Yankee", "v")))),
        None,
    ),
    (
        "string overruns its table",
        version_info(
            string_file_info(
                string_table(_string("Zulu"), version_string("Amber", "x" * 8, length=0x200))
            )
        ),
        None,
    ),
    (
        "unterminated key",
        version_info(
            string_file_info(string_table(version_node(utf16("Beige") * 4), _string("Coral")))
        ),
        None,
    ),
    (
        "table too short",
        version_info(string_file_info(string_table(_string("Denim"), length=24), _table("Ebony"))),
        None,
    ),
    (
        "table key not checked",
        version_info(string_file_info(string_table(_string("Fawn"), key="zzzzzzzz"))),
        None,
    ),
]

# Resources of the multi-resource build: (rc name, LANGUAGE line, key).  More
# than the reference's 16, under names and numbers and several languages.
MULTI = [(str(number), "LANGUAGE 9, 1", f"Multi{number}") for number in range(1, 16)] + [
    ("1", "LANGUAGE 7, 1", "MultiGerman"),
    ("NAMED", "LANGUAGE 9, 1", "MultiNamed"),
    ("20", "LANGUAGE 9, 1", "MultiLast"),
]


KEYS = [
    *("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India"),
    *("Juliet", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo"),
    *("Sierra", "Tango", "Uniform", "Victor", "Whiskey", "Xray", "Yankee", "Zulu", "Amber"),
    *("Beige", "Coral", "Denim", "Ebony", "Fawn", "Gold", "Hazel", "Ivory"),
    *("CompanyName", "FileDescription", "ProductName"),
    *(key for *_, key in MULTI),
]


def _signatures(directory: Path) -> Path:
    ndb, ldb = [], []
    for key in KEYS:
        pattern = utf16(key + "\0").hex()
        ndb.append(f"VI.{key}:1:VI:{pattern}")
        ndb.append(f"VI.{key}.shifted:1:VI,4:{utf16(key[1:] + chr(0)).hex()}")
        ndb.append(f"VI.{key}.value:1:VI:{utf16(_value(key)).hex()}")
        ndb.append(f"Anywhere.{key}:1:*:{pattern}")
        ldb.append(f"L.{key};Engine:51-255,Target:1;0&1;VI:{pattern};0:4d5a")
    directory.mkdir()
    (directory / "vi.ndb").write_text("\n".join(ndb) + "\n")
    (directory / "vi.ldb").write_text("\n".join(ldb) + "\n")
    return directory


def _variants(directory: Path) -> list[Path]:
    paths = []
    for number, (_, resource, declared) in enumerate(VARIANTS):
        path = directory / f"variant{number:02}.exe"
        path.write_bytes(build_version_pe(resource, declared))
        paths.append(path)
    return paths


def _multi(directory: Path) -> Path:
    """A mingw-built PE32 holding every resource of ``MULTI``."""
    prefix = COMPILERS["pe32"]
    lines = []
    for index, (name, language, key) in enumerate(MULTI):
        (directory / f"multi{index}.bin").write_bytes(version_info(string_file_info(_table(key))))
        lines.append(f'{language}\n{name} 16 "multi{index}.bin"')
    (directory / "multi.rc").write_text("\n".join(lines) + "\n")
    (directory / "main.c").write_text("int main(void) { return 0; }\n")
    subprocess.run(
        [f"{prefix}-windres", "multi.rc", "-O", "coff", "-o", "multi.o"], check=True, cwd=directory
    )
    subprocess.run(
        [f"{prefix}-gcc", "-s", "main.c", "multi.o", "-o", "multi.exe"], check=True, cwd=directory
    )
    return directory / "multi.exe"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("versioninfo")
    return _variants(directory)


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real programs: with windres's version resource, and with many version resources."""
    programs = build_programs(programs_directory(tmp_path_factory))
    return [*programs, _multi(tmp_path_factory.mktemp("versioninfo-multi"))]


def test_vi_offsets_parse_as_the_reference_reads_them() -> None:
    # Anything after "VI" is ignored, and so is the shift, but it must be a number.
    for text in ("VI", "VI5", "VIx", "VI+0", "VI,2"):
        assert parse_offset(text).kind is OffsetKind.VERSION_INFO
    assert parse_offset("VI,2").maxshift is None


def test_keys_are_where_the_strings_keys_start() -> None:
    image = build_version_pe(VARIANTS[0][1])
    layout = parse_pe(image)
    assert isinstance(layout, ExecutableLayout)
    keys = version_info_keys(image, layout)
    assert sorted(image[key : key + 10] for key in keys) == [utf16("Alpha"), utf16("Bravo")]


@settings(max_examples=200, deadline=None)
@given(
    variant=st.sampled_from([resource for _, resource, _ in VARIANTS]),
    changes=st.lists(st.tuples(st.integers(0, 0x3FF), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 0x300),
)
def test_damaged_resources_never_raise(
    variant: bytes, changes: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(build_version_pe(variant))
    for position, value in changes:
        # The resource tree and the version resource start at 0x200.
        if 0x200 + position < len(data):
            data[0x200 + position] = value
    damaged = bytes(data[: len(data) - cut])
    layout = parse_pe(damaged)
    if isinstance(layout, ExecutableLayout):
        assert all(0 <= key < len(damaged) for key in version_info_keys(damaged, layout))


def test_keys_of_a_windres_resource(tmp_path_factory: pytest.TempPathFactory) -> None:
    for path in build_programs(programs_directory(tmp_path_factory)):
        data = path.read_bytes()
        layout = parse_pe(data)
        assert isinstance(layout, ExecutableLayout)
        keys = {
            data[key : data.index(b"\0\0\0", key) + 1].decode("utf-16le")
            for key in version_info_keys(data, layout)
        }
        assert keys == {"CompanyName", "FileDescription", "ProductName"}, path


def test_vi_signatures_get_the_references_verdicts(
    reference_clamscan: str, built: list[Path], linked: list[Path], tmp_path: Path
) -> None:
    paths = [*built, *linked]
    database = _signatures(tmp_path / "db")
    reference = _reference_findings(reference_clamscan, database, paths)
    engine = compile_engine(load_database([database]))
    options = ScanOptions(allmatch=True)
    differences = {}
    for path in paths:
        ours = set(engine.scan_file(path, options).names)
        if reference[str(path)] != ours:
            differences[path.name] = (
                sorted(reference[str(path)] - ours),
                sorted(ours - reference[str(path)]),
            )
    assert not differences
    # Every variant tells something: some VI signatures match, some do not.
    found = set().union(*reference.values())
    assert any(name.startswith("VI.") for name in found)
    assert any(name.startswith("Anywhere.") and "VI." + name[9:] not in found for name in found)


def _real_vi_signatures(shared_sigs: Path) -> list[str]:
    """real-subset's logical signatures with VI subsignatures (IconGroup ones are skipped)."""
    lines = (shared_sigs / "real-subset" / "main.ldb").read_text("latin-1").splitlines()
    return [line for line in lines if ";VI:" in line and "IconGroup" not in line]


def _version_strings(signature: LogicalSignature, shift: bool) -> list[bytes]:
    """A String per VI subsignature, its key and value read from the pattern.

    With ``shift`` each key gets one more character in front, so the
    pattern starts inside the key: a near miss.
    """
    strings = []
    for sub in signature.subsignatures:
        if not isinstance(sub, BodySubsignature) or sub.offset.kind is not OffsetKind.VERSION_INFO:
            continue
        reading = pattern_bytes(sub.pattern)
        end = next(i for i in range(0, len(reading), 2) if reading[i : i + 2] == b"\0\0")
        key = (utf16("X") if shift else b"") + reading[: end + 2]
        value = reading[end + 2 :].lstrip(b"\0")
        value += b"\0" * (len(value) % 2) + utf16("tail\0")
        strings.append(version_node(key, value))
    return strings


def test_real_vi_signatures_get_the_references_verdicts(
    reference_clamscan: str, shared_sigs: Path, tmp_path: Path
) -> None:
    lines = _real_vi_signatures(shared_sigs)
    assert len(lines) >= 5
    database = tmp_path / "vi.ldb"
    database.write_text("\n".join(lines) + "\n")
    paths = []
    for number, line in enumerate(lines):
        signature = parse_ldb_line(line)
        for shift in (False, True):
            resource = version_info(
                string_file_info(string_table(*_version_strings(signature, shift)))
            )
            path = tmp_path / f"real{number}{'-shifted' if shift else ''}.exe"
            # The other subsignatures' bytes go after the image, as overlay.
            path.write_bytes(build_version_pe(resource) + logical_bytes(signature))
            paths.append(path)
    reference = _reference_findings(reference_clamscan, database, paths)
    engine = compile_engine(load_database([database]))
    options = ScanOptions(allmatch=True)
    ours = {str(path): set(engine.scan_file(path, options).names) for path in paths}
    assert ours == reference
    found = {Path(path).name for path, names in reference.items() if names}
    assert found and not any("shifted" in name for name in found)
