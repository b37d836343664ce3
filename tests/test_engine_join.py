"""Engines of several database files joined (engine.join) find what one
compile of all of them finds: every kind of signature, in any file, shares
the numbering, the hash indexes and the allow list."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from clamkit.database.loader import LoadOptions, LoadUnit, load_database, load_unit, load_units
from clamkit.engine import ScanOptions, compile_engine
from clamkit.engine.compiler import Engine, HashIndexes
from clamkit.engine.join import ChainedItems, join_engines
from clamkit.engine.prefilter import available_backends
from clamkit.signatures.model import HashAlgorithm

ALLOWED = b"a file both a hash signature and the allow list name"
SAMPLES = {
    "shared pattern": b"..shared-marker..",
    "at zero": b"MZ-at-zero and more",
    "at end": b"some text then tail-marker",
    "logical": b"left-half ... right-half",
    "logical across": b"left-half ... second-file-half",
    "nocase": b"xx CaSeLeSs-MaRkEr xx",
    "hash one": b"first hashed file",
    "hash two": b"second hashed file",
    "allowed": ALLOWED,
    "always": b"nothing to match here",
    "many": b"shared-marker MZ left-half right-half tail-marker",
}


def _md5_line(data: bytes, name: str) -> str:
    return f"{hashlib.md5(data).hexdigest()}:{len(data)}:{name}\n"


@pytest.fixture
def databases(tmp_path: Path) -> Path:
    directory = tmp_path / "db"
    directory.mkdir()
    hexed = {name: name.encode().hex() for name in ("shared-marker", "tail-marker")}
    (directory / "a.ndb").write_text(
        f"A.Shared:0:*:{hexed['shared-marker']}\n"
        f"A.AtZero:0:0:{b'MZ-at-zero'.hex()}\n"
        f"A.AtEnd:0:EOF-11:{hexed['tail-marker']}\n"
    )
    # The same pattern in another file, and logical signatures of every shape.
    (directory / "b.ndb").write_text(f"B.Shared:0:*:{hexed['shared-marker']}\n")
    (directory / "c.ldb").write_text(
        f"C.Logical;Target:0;0&1;{b'left-half'.hex()};{b'right-half'.hex()}\n"
        f"C.Nocase;Target:0;0;{b'caseless-marker'.hex()}::i\n"
        f"C.Always;Target:0;0=0;{b'never-present'.hex()}\n"
    )
    (directory / "d.ldb").write_text(
        f"D.Logical;Target:0;0&1;{b'left-half'.hex()};{b'second-file-half'.hex()}\n"
    )
    (directory / "e.hdb").write_text(
        _md5_line(SAMPLES["hash one"], "E.Hash") + _md5_line(ALLOWED, "E.Allowed")
    )
    # Another file of the same algorithm, naming a file the first names too.
    (directory / "f.hdb").write_text(
        _md5_line(SAMPLES["hash two"], "F.Hash") + _md5_line(SAMPLES["hash one"], "A.Earlier")
    )
    (directory / "g.fp").write_text(_md5_line(ALLOWED, "G.Allow"))
    return directory


def _parts(directory: Path, backend: str | None = None) -> list[Engine]:
    return [compile_engine(load_unit(unit), backend) for unit in load_units([directory])]


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("allmatch", [False, True])
def test_joined_parts_find_what_one_compile_finds(
    databases: Path, allmatch: bool, backend: str
) -> None:
    whole = compile_engine(load_database([databases]), backend)
    joined = join_engines(_parts(databases, backend))
    options = ScanOptions(allmatch=allmatch)
    for name, data in SAMPLES.items():
        expected = whole.scan_bytes(data, options).names
        found = joined.scan_bytes(data, options).names
        assert found == expected, name
    assert joined.signature_count == whole.signature_count == 13
    assert isinstance(joined.hashes[HashAlgorithm.MD5], HashIndexes)
    assert joined.scan_bytes(SAMPLES["hash one"], ScanOptions(allmatch=True)).names[:2] == (
        "A.Earlier.UNOFFICIAL",
        "E.Hash.UNOFFICIAL",
    )
    assert joined.scan_bytes(SAMPLES["allowed"]).names == ()
    assert joined.scan_bytes(SAMPLES["hash two"]).names == ("F.Hash.UNOFFICIAL",)
    assert set(joined.scan_bytes(SAMPLES["many"], ScanOptions(allmatch=True)).names) == {
        "A.Shared.UNOFFICIAL",
        "B.Shared.UNOFFICIAL",
        "C.Logical.UNOFFICIAL",
        "A.AtEnd.UNOFFICIAL",
        "C.Always.UNOFFICIAL",
    }


def test_the_part_with_most_matchers_keeps_its_numbers(databases: Path) -> None:
    parts = _parts(databases)
    largest = max(parts, key=lambda part: len(part.matchers))
    assert largest is not parts[0]
    joined = join_engines(parts)
    assert all(joined.matchers[n] is largest.matchers[n] for n in range(len(largest.matchers)))
    assert joined.logical_signatures[0] is largest.logical_signatures[0]


def test_one_part_is_its_own_join(databases: Path) -> None:
    part = _parts(databases)[0]
    assert join_engines([part]) is part


def test_an_ignore_list_reaches_the_files_after_it(databases: Path) -> None:
    (databases / "drop.ign2").write_text("C.Logical\n")
    units = list(load_units([databases]))
    assert units[0].path.name == "drop.ign2"
    ignore = load_unit(units[0])
    assert ignore.ignored == frozenset({"C.Logical"})
    logical = next(unit for unit in units if unit.path.name == "c.ldb")
    assert len(load_unit(logical, LoadOptions(), ignore.ignored).logical_signatures) == 2
    assert len(load_unit(logical).logical_signatures) == 3


def test_chained_items_read_as_one_sequence() -> None:
    chained = ChainedItems([(1, 2), (), (3,), (4, 5)], [None, None, None, lambda n: n * 10])
    assert len(chained) == 5
    assert list(chained) == [1, 2, 3, 40, 50]
    assert chained[-1] == 50 and chained[3] is chained[3]
    with pytest.raises(IndexError):
        chained[5]


def test_directory_warnings_come_with_the_first_file(tmp_path: Path) -> None:
    (tmp_path / "x.ndb").write_text(f"X:0:*:{b'marker'.hex()}\n")
    (tmp_path / "y.ndb").write_text(f"Y:0:*:{b'marker'.hex()}\n")
    units = list(load_units([tmp_path, tmp_path / "x.ndb"]))
    assert units == [
        LoadUnit(tmp_path / "x.ndb", from_directory=True),
        LoadUnit(tmp_path / "y.ndb", from_directory=True),
        LoadUnit(tmp_path / "x.ndb", from_directory=False),
    ]
