"""The on-disk engine cache: one part per database file, reused while the file
(and the ignore lists before it) are unchanged, never trusted from a
directory others may write, never a reason for a load to fail."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from clamkit.database.loader import DatabaseError, LoadOptions
from clamkit.engine.cache import PickledItems, load_engine
from clamkit.engine.options import ScanOptions

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SAMPLES = {
    "eicar": EICAR,
    "body": b"\x00\x01prefix clamkit-body-marker suffix",
    "logical": b"first-part ... second-part",
    "clean": b"nothing to see here",
}


@pytest.fixture
def databases(tmp_path: Path) -> Path:
    directory = tmp_path / "db"
    directory.mkdir()
    md5 = hashlib.md5(EICAR).hexdigest()
    (directory / "test.hdb").write_text(f"{md5}:{len(EICAR)}:Test.Hash\n")
    (directory / "test.ndb").write_text(f"Test.Body:0:*:{b'clamkit-body-marker'.hex()}\n")
    (directory / "test.ldb").write_text(
        f"Test.Logical;Target:0;0&1;{b'first-part'.hex()};{b'second-part'.hex()}\n"
    )
    return directory


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    return directory


def _verdicts(engine) -> dict[str, tuple[str, ...]]:
    return {name: engine.scan_bytes(data).names for name, data in SAMPLES.items()}


def _cache_files(cache_dir: Path) -> set[str]:
    return {path.name for path in cache_dir.glob("engine-*.cache")}


@pytest.fixture
def compiled_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the database files compiled (not read from the cache), in order."""
    from clamkit.engine import cache

    names: list[str] = []
    compiled = cache._compiled

    def counting(unit, *arguments):
        names.append(unit.path.name)
        return compiled(unit, *arguments)

    monkeypatch.setattr(cache, "_compiled", counting)
    return names


def test_a_second_load_comes_from_the_cache_and_scans_alike(
    databases: Path, cache_dir: Path
) -> None:
    compiled, report, hit = load_engine([databases], LoadOptions(), cache_dir)
    assert not hit
    assert len(_cache_files(cache_dir)) == 3  # one per database file
    cached, cached_report, hit = load_engine([databases], LoadOptions(), cache_dir)
    assert hit
    assert cached_report == report
    assert cached.signature_count == compiled.signature_count == 3
    assert (
        _verdicts(cached)
        == _verdicts(compiled)
        == {
            "eicar": ("Test.Hash.UNOFFICIAL",),
            "body": ("Test.Body.UNOFFICIAL",),
            "logical": ("Test.Logical.UNOFFICIAL",),
            "clean": (),
        }
    )


def test_only_changed_or_added_files_are_compiled_again(
    databases: Path, cache_dir: Path, compiled_files: list[str]
) -> None:
    load_engine([databases], LoadOptions(), cache_dir)
    assert compiled_files == ["test.hdb", "test.ldb", "test.ndb"]
    first = _cache_files(cache_dir)
    compiled_files.clear()
    (databases / "test.ndb").write_text(f"Test.Other:0:*:{b'nothing'.hex()}\n")
    (databases / "added.ndb").write_text(f"Test.Added:0:*:{b'to see'.hex()}\n")
    engine, _, hit = load_engine([databases], LoadOptions(), cache_dir)
    assert not hit
    assert compiled_files == ["added.ndb", "test.ndb"]
    assert engine.signature_count == 4
    assert engine.scan_bytes(SAMPLES["clean"], ScanOptions(allmatch=True)).names == (
        "Test.Other.UNOFFICIAL",
        "Test.Added.UNOFFICIAL",
    )
    assert _verdicts(engine)["logical"] == ("Test.Logical.UNOFFICIAL",)
    assert first <= _cache_files(cache_dir)  # the previous databases' parts are kept
    compiled_files.clear()
    assert not load_engine([databases], LoadOptions(detect_pua=True), cache_dir)[2]
    assert len(compiled_files) == 4  # other options: all compiled again


def test_the_previous_load_is_kept_and_older_parts_pruned(databases: Path, cache_dir: Path) -> None:
    """Kept: the parts of this load and of the one before."""
    parts = []
    for generation in range(4):
        (databases / "test.ndb").write_text(
            "".join(
                f"Body.{generation}.{n}:0:*:{f'{generation} {n}'.encode().hex()}\n"
                for n in range(300)
            )
        )
        before = _cache_files(cache_dir)
        load_engine([databases], LoadOptions(), cache_dir)
        (new,) = _cache_files(cache_dir) - before if generation else [None]
        parts.append(new)
    kept = _cache_files(cache_dir)
    assert parts[3] in kept and parts[2] in kept
    assert parts[1] not in kept
    assert len(kept) == 4  # test.hdb's, test.ldb's and two of test.ndb's


def test_an_ignore_list_recompiles_what_it_may_drop(
    databases: Path, cache_dir: Path, compiled_files: list[str]
) -> None:
    load_engine([databases], LoadOptions(), cache_dir)
    compiled_files.clear()
    (databases / "local.ign2").write_text("Test.Body\n")
    engine, report, _ = load_engine([databases], LoadOptions(), cache_dir)
    # Ignore lists are read first: every file after it may lose signatures.
    assert compiled_files == ["local.ign2", "test.hdb", "test.ldb", "test.ndb"]
    assert _verdicts(engine)["body"] == ()
    assert report.skipped == {"ignored by .ign/.ign2": 1}
    assert engine.signature_count == 2
    compiled_files.clear()
    (databases / "local.ign2").unlink()
    engine, _, hit = load_engine([databases], LoadOptions(), cache_dir)
    assert hit and not compiled_files
    assert _verdicts(engine)["body"] == ("Test.Body.UNOFFICIAL",)


def test_a_directory_others_may_write_is_not_trusted(databases: Path, cache_dir: Path) -> None:
    os.chmod(cache_dir, 0o777)
    load_engine([databases], LoadOptions(), cache_dir)
    assert not list(cache_dir.iterdir())
    os.chmod(cache_dir, 0o700)
    load_engine([databases], LoadOptions(), cache_dir)
    cache_file = next(cache_dir.iterdir())
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in cache_dir.iterdir())
    os.chmod(cache_file, 0o666)  # a file others could have replaced
    assert not load_engine([databases], LoadOptions(), cache_dir)[2]


def test_a_damaged_cache_file_is_compiled_over(databases: Path, cache_dir: Path) -> None:
    load_engine([databases], LoadOptions(), cache_dir)
    for cache_file in cache_dir.iterdir():
        data = bytearray(cache_file.read_bytes())
        data[len(data) // 2 :] = b"\xff" * (len(data) - len(data) // 2)
        cache_file.write_bytes(bytes(data))
    engine, _, hit = load_engine([databases], LoadOptions(), cache_dir)
    assert not hit
    assert _verdicts(engine)["body"] == ("Test.Body.UNOFFICIAL",)
    assert load_engine([databases], LoadOptions(), cache_dir)[2]


def test_an_unwritable_cache_directory_still_loads(databases: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-directory"
    blocked.write_text("")
    engine, _, hit = load_engine([databases], LoadOptions(), blocked / "cache")
    assert not hit
    assert _verdicts(engine)["eicar"] == ("Test.Hash.UNOFFICIAL",)


def test_cached_items_are_unpickled_only_when_used(databases: Path, cache_dir: Path) -> None:
    # One file: its engine is the cached part itself, not a join.
    load_engine([databases / "test.ldb"], LoadOptions(), cache_dir)
    cached, _, hit = load_engine([databases / "test.ldb"], LoadOptions(), cache_dir)
    assert hit
    items = cached.matchers
    assert isinstance(items, PickledItems)
    assert len(items) > 0 and not items._memo
    first = items[0]
    assert items[0] is first and list(items._memo) == [0]
    assert items[-1] is items[len(items) - 1]
    assert all(item is items[n] for n, item in enumerate(items))


def test_compiling_apart_fills_the_cache_and_reports_load_errors(
    databases: Path, cache_dir: Path
) -> None:
    engine, _, hit = load_engine([databases], LoadOptions(), cache_dir, compile_apart=True)
    assert not hit
    assert _verdicts(engine)["logical"] == ("Test.Logical.UNOFFICIAL",)
    assert len(_cache_files(cache_dir)) == 3
    (databases / "broken.ndb").write_text("not a signature\n")
    with pytest.raises(DatabaseError) as raised:
        load_engine([databases], LoadOptions(), cache_dir, compile_apart=True)
    assert "broken.ndb" in str(raised.value)
    assert raised.value.summary


def test_the_same_databases_elsewhere_share_the_engine(
    databases: Path, cache_dir: Path, tmp_path: Path
) -> None:
    _, report, _ = load_engine([databases], LoadOptions(), cache_dir)
    moved = tmp_path / "moved"
    databases.rename(moved)
    engine, moved_report, hit = load_engine([moved], LoadOptions(), cache_dir)
    assert hit
    assert [file.path for file in moved_report.files] == [
        file.path.replace(str(databases), str(moved)) for file in report.files
    ]
    assert all(str(moved) in file.path for file in moved_report.files)
    assert _verdicts(engine)["body"] == ("Test.Body.UNOFFICIAL",)


def test_a_cache_written_apart_appears_without_delaying_the_load(
    databases: Path, cache_dir: Path
) -> None:
    engine, _, hit = load_engine([databases], LoadOptions(), cache_dir, write_apart=True)
    assert not hit
    assert _verdicts(engine)["eicar"] == ("Test.Hash.UNOFFICIAL",)
    deadline = time.monotonic() + 30
    while len(_cache_files(cache_dir)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert load_engine([databases], LoadOptions(), cache_dir)[2]


def test_large_flat_arrays_are_read_in_place_and_scan_alike(
    tmp_path: Path, cache_dir: Path
) -> None:
    """Large arrays come back as read-only views of the mapped cache file
    (so every process and every reload share their pages), small ones as copies."""
    directory = tmp_path / "many"
    directory.mkdir()
    # Distinct throughout, so that each has an anchor of its own.
    bodies = [hashlib.sha1(bytes([n % 256, n // 256])).hexdigest().encode() for n in range(2000)]
    (directory / "many.hdb").write_text(
        "".join(
            f"{hashlib.md5(body).hexdigest()}:{len(body)}:Hash.{n}\n"
            for n, body in enumerate(bodies)
        )
    )
    (directory / "many.ndb").write_text(
        "".join(f"Body.{n}:0:*:{body.hex()}\n" for n, body in enumerate(bodies))
    )
    compiled, _, _ = load_engine([directory], LoadOptions(), cache_dir)
    cached, _, hit = load_engine([directory], LoadOptions(), cache_dir)
    assert hit
    (hashes,) = cached.hashes.values()
    in_place = [hashes.keys, hashes.names, cached.anchors.first_ref, cached.anchors.ref_matchers]
    assert all(isinstance(array, memoryview) and array.readonly for array in in_place)
    assert not isinstance(cached.hashes[next(iter(cached.hashes))].sizes, memoryview)
    for number in (0, 777, 1999):
        body = bodies[number]
        assert cached.scan_bytes(body).names == compiled.scan_bytes(body).names
        assert cached.scan_bytes(b"x" + body).names == (f"Body.{number}.UNOFFICIAL",)
    assert cached.scan_bytes(b"clamkit" * 50).names == ()


def test_a_failed_write_leaves_no_partial_file(
    databases: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clamkit.engine import cache

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "_write_state", disk_full)
    engine, _, hit = load_engine([databases], LoadOptions(), cache_dir)
    assert not hit
    assert engine.scan_bytes(EICAR).names == ("Test.Hash.UNOFFICIAL",)
    assert list(cache_dir.iterdir()) == []
