"""The compiled engine end to end: databases written to disk, loaded, compiled, scanned."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from clamkit.database.loader import load_database
from clamkit.engine import Engine, ScanOptions, compile_engine
from clamkit.engine import matching as scanner_module

BINARY_PREFIX = b"\x00\x01\x02\x03binary\xff\xfe"


def engine_from(tmp_path: Path, **files: str) -> Engine:
    directory = tmp_path / "db"
    directory.mkdir()
    for name, text in files.items():
        (directory / name.replace("_", ".")).write_text(text)
    return compile_engine(load_database([directory]))


def names(engine: Engine, data: bytes, **options: object) -> tuple[str, ...]:
    return engine.scan_bytes(data, ScanOptions(**options)).names


def test_md5_sha1_sha256_hashes_with_sizes_and_wildcards(tmp_path: Path) -> None:
    sample = BINARY_PREFIX + b"hash me"
    md5 = hashlib.md5(sample).hexdigest()
    sha1 = hashlib.sha1(sample).hexdigest()
    sha256 = hashlib.sha256(sample).hexdigest()
    engine = engine_from(
        tmp_path,
        a_hdb=f"{md5}:{len(sample)}:Md5.Sized\n",
        b_hsb=f"{sha1}:*:Sha1.Any:73\n{sha256}:{len(sample)}:Sha256.Sized\n",
    )
    assert names(engine, sample, allmatch=True) == (
        "Md5.Sized.UNOFFICIAL",
        "Sha1.Any.UNOFFICIAL",
        "Sha256.Sized.UNOFFICIAL",
    )
    # A wrong size never matches a sized hash; the wildcard still does.
    assert names(engine, sample + b"x") == ()


def test_wrong_size_hash_does_not_match(tmp_path: Path) -> None:
    sample = BINARY_PREFIX + b"sized"
    md5 = hashlib.md5(sample).hexdigest()
    engine = engine_from(tmp_path, a_hdb=f"{md5}:{len(sample) + 1}:Md5.WrongSize\n")
    assert names(engine, sample) == ()


def test_body_offsets_any_absolute_eof_and_shift(tmp_path: Path) -> None:
    engine = engine_from(
        tmp_path,
        a_ndb="\n".join(
            [
                "Any:0:*:6d61726b6572",  # "marker" anywhere
                "At4:0:4:62696e617279",  # "binary" at 4
                "At5:0:5:62696e617279",  # not at 5
                "Eof:0:EOF-4:656e6421",  # "end!" as the last 4 bytes
                "Shift:0:2,3:62696e617279",  # "binary" in [2, 5]
                "",
            ]
        ),
    )
    data = BINARY_PREFIX + b"...marker...end!"
    assert set(names(engine, data, allmatch=True)) == {
        f"{name}.UNOFFICIAL" for name in ("Any", "At4", "Eof", "Shift")
    }


def test_wildcards_and_alternatives_are_verified(tmp_path: Path) -> None:
    engine = engine_from(
        tmp_path,
        a_ndb="Wild:0:*:6d61726b6572??(41|42){2-4}454e44\n",
    )
    assert names(engine, BINARY_PREFIX + b"marker_B..END") == ("Wild.UNOFFICIAL",)
    assert names(engine, BINARY_PREFIX + b"marker_C..END") == ()
    assert names(engine, BINARY_PREFIX + b"marker_B.....END") == ()


def test_star_gap_after_the_anchor(tmp_path: Path) -> None:
    engine = engine_from(tmp_path, a_ndb="Star:0:*:6669727374*7365636f6e64\n")
    assert names(engine, BINARY_PREFIX + b"first" + b"." * 5000 + b"second") == ("Star.UNOFFICIAL",)
    assert names(engine, BINARY_PREFIX + b"second first") == ()


def test_target_type_filters(tmp_path: Path) -> None:
    engine = engine_from(tmp_path, a_ndb="PeOnly:1:*:6d61726b6572\n")
    assert names(engine, BINARY_PREFIX + b"marker") == ()


def test_executable_offsets_never_match_and_never_crash(tmp_path: Path) -> None:
    engine = engine_from(
        tmp_path,
        a_ndb="Ep:1:EP+0:6d61726b6572\nSect:1:S0+0,100:6d61726b6572\nLast:1:SL+0:6d61726b6572\n",
    )
    assert engine.report.needs_executable == 3
    assert names(engine, b"MZ" + BINARY_PREFIX + b"marker", allmatch=True) == ()


def test_logical_signature_counts(tmp_path: Path) -> None:
    engine = engine_from(
        tmp_path,
        a_ldb="Two;Engine:51-255,Target:0;0>1&1;6162;78797a\n",
    )
    assert names(engine, BINARY_PREFIX + b"ab..ab..xyz") == ("Two.UNOFFICIAL",)
    assert names(engine, BINARY_PREFIX + b"ab..xyz") == ()


def test_logical_nocase_and_wide_modifiers(tmp_path: Path) -> None:
    engine = engine_from(
        tmp_path,
        a_ldb="Mods;Engine:51-255,Target:0;0&1;6d61726b6572::i;776964::w\n",
    )
    assert names(engine, BINARY_PREFIX + b"MaRkEr w\x00i\x00d\x00") == ("Mods.UNOFFICIAL",)
    assert names(engine, BINARY_PREFIX + b"MaRkEr wid") == ()


def test_allmatch_reports_every_signature_once_in_order(tmp_path: Path) -> None:
    sample = BINARY_PREFIX + b"hello world marker"
    md5 = hashlib.md5(sample).hexdigest()
    engine = engine_from(
        tmp_path,
        a_ndb="Late:0:*:6d61726b6572\nEarly:0:*:68656c6c6f\n",
        b_hdb=f"{md5}:{len(sample)}:Hash\n",
        c_ldb="Logic;Engine:51-255,Target:0;0;776f726c64\n",
    )
    assert names(engine, sample, allmatch=True) == (
        "Early.UNOFFICIAL",
        "Late.UNOFFICIAL",
        "Hash.UNOFFICIAL",
        "Logic.UNOFFICIAL",
    )
    assert names(engine, sample) == ("Early.UNOFFICIAL",)


def test_allow_list_makes_a_detected_file_clean(tmp_path: Path) -> None:
    sample = BINARY_PREFIX + b"marker"
    md5 = hashlib.md5(sample).hexdigest()
    engine = engine_from(
        tmp_path,
        a_ndb="Any:0:*:6d61726b6572\n",
        b_fp=f"{md5}:{len(sample)}:known-good\n",
    )
    assert names(engine, sample, allmatch=True) == ()
    assert names(engine, sample + b"!") == ("Any.UNOFFICIAL",)


def test_anchor_across_chunk_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engine_from(tmp_path, a_ndb="Straddle:0:*:6d61726b65723132\n")
    monkeypatch.setattr(scanner_module, "CHUNK_SIZE", 64)
    for cut in range(60, 70):
        data = BINARY_PREFIX + b"." * (cut - len(BINARY_PREFIX)) + b"marker12" + b"." * 100
        assert names(engine, data) == ("Straddle.UNOFFICIAL",), cut


def test_size_limits(tmp_path: Path) -> None:
    engine = engine_from(tmp_path, a_ndb="Any:0:*:6d61726b6572\n")
    data = BINARY_PREFIX + b"marker"
    result = engine.scan_bytes(data, ScanOptions(max_filesize=len(data) - 1))
    assert result.names == () and result.bytes_scanned == 0
    result = engine.scan_bytes(data, ScanOptions(max_scansize=len(data) - 1))
    assert result.names == ()


def test_scan_file_and_stream(tmp_path: Path) -> None:
    engine = engine_from(tmp_path, a_ndb="Any:0:*:6d61726b6572\n")
    target = tmp_path / "sample.bin"
    target.write_bytes(BINARY_PREFIX + b"marker")
    assert engine.scan_file(target).names == ("Any.UNOFFICIAL",)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert engine.scan_file(empty).names == ()
    stream = io.BytesIO(BINARY_PREFIX + b"marker")
    assert engine.scan_fileobj(stream).names == ("Any.UNOFFICIAL",)
    with pytest.raises(OSError):
        engine.scan_file(tmp_path / "missing")


def test_text_is_seen_raw_and_normalised(tmp_path: Path) -> None:
    engine = engine_from(
        tmp_path,
        a_ndb="Norm:7:*:68656c6c6f20776f726c64\nRaw:0:*:48454c4c4f\n",
    )
    text = b"HELLO    World\n"
    assert set(names(engine, text, allmatch=True)) == {"Norm.UNOFFICIAL", "Raw.UNOFFICIAL"}
