"""The scanner's container walk: recursion, limits and their alerts, switches, scratch space."""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from containers_support import (
    PAYLOAD,
    PAYLOAD_NAME,
    deflate_bomb,
    gzip_wrap,
    nested_zip,
    payload_engine,
    scan_names,
    sevenzip_bytes,
    tar_bytes,
    zip_bytes,
)

from clamkit.containers.base import (
    EXCEEDED_MAX_FILE_SIZE,
    EXCEEDED_MAX_FILES,
    EXCEEDED_MAX_RECURSION,
    EXCEEDED_MAX_SCAN_SIZE,
    EXCEEDED_MAX_SCAN_TIME,
    Alert,
    Extraction,
    Member,
)
from clamkit.database.loader import load_database
from clamkit.engine import ScanOptions, compile_engine, matching, scanner
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

MiB = 1 << 20
FILLER = b"\x00\x01filler"


class _Fake:
    """A format registered for a test: opens files starting with ``FAKE``."""

    name = "fake"

    def __init__(self, produce: object) -> None:
        self.produce = produce

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return bytes(data[:4]) == b"FAKE"

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        return self.produce(extraction)  # type: ignore[operator, no-any-return]


@pytest.fixture
def register(monkeypatch: pytest.MonkeyPatch) -> object:
    def add(produce: object, gate: str | None = None) -> None:
        monkeypatch.setattr(
            scanner.registry, "FORMATS", ((_Fake(produce), gate), *scanner.registry.FORMATS)
        )

    return add


def _fake_file() -> bytes:
    return b"FAKE\x00\x01" + bytes(100)


# -- recursion -------------------------------------------------------------------


def test_members_at_the_recursion_limit_are_not_scanned() -> None:
    assert scan_names(nested_zip(PAYLOAD, 2), max_recursion=3) == (PAYLOAD_NAME,)
    assert scan_names(nested_zip(PAYLOAD, 3), max_recursion=3) == ()
    assert scan_names(nested_zip(PAYLOAD, 3), max_recursion=3, alert_exceeds_max=True) == (
        EXCEEDED_MAX_RECURSION,
    )
    # The default, 17, reaches depth 16 as the reference does.
    assert scan_names(nested_zip(PAYLOAD, 16)) == (PAYLOAD_NAME,)
    assert scan_names(nested_zip(PAYLOAD, 17)) == ()


def test_recursion_limit_skips_only_the_deep_member() -> None:
    data = zip_bytes([("deep", nested_zip(b"x", 3)), ("payload", PAYLOAD)])
    names = scan_names(data, max_recursion=3, alert_exceeds_max=True, allmatch=True)
    assert names == (PAYLOAD_NAME, EXCEEDED_MAX_RECURSION)


def test_container_chain_reaches_every_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[FileType, tuple[FileType, ...]]] = []
    real = matching.scan_layer

    def spy(engine: object, layer: matching.Layer, options: ScanOptions) -> matching.LayerVerdict:
        seen.append((layer.file_type, layer.containers))
        return real(engine, layer, options)  # type: ignore[arg-type]

    monkeypatch.setattr(scanner, "scan_layer", spy)
    data = zlib.compress(tar_bytes([("inner.zip", zip_bytes([("p", PAYLOAD)]))]), wbits=31)
    # As the reference, a container's members are matched before its own
    # bytes: the innermost layer first, and with allmatch every layer.
    assert scan_names(data, allmatch=True) == (PAYLOAD_NAME,)
    t = FileType
    assert seen == [
        (t.CL_TYPE_BINARY_DATA, (t.CL_TYPE_GZ, t.CL_TYPE_POSIX_TAR, t.CL_TYPE_ZIP)),
        (t.CL_TYPE_ZIP, (t.CL_TYPE_GZ, t.CL_TYPE_POSIX_TAR)),
        (t.CL_TYPE_POSIX_TAR, (t.CL_TYPE_GZ,)),
        (t.CL_TYPE_GZ, ()),
    ]
    # Without it, the scan ends at the payload: the outer layers' own bytes are not matched.
    seen.clear()
    assert scan_names(data) == (PAYLOAD_NAME,)
    assert seen == [(t.CL_TYPE_BINARY_DATA, (t.CL_TYPE_GZ, t.CL_TYPE_POSIX_TAR, t.CL_TYPE_ZIP))]


# -- MaxFiles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (12, (EXCEEDED_MAX_FILES,)),
        # ZIP's first pass counts the archive too: at the limit it alerts, yet reads on.
        (13, (PAYLOAD_NAME, EXCEEDED_MAX_FILES)),
        (14, (PAYLOAD_NAME,)),
    ],
)
def test_max_files(limit: int, expected: tuple[str, ...]) -> None:
    data = zip_bytes([*((f"f{i}", b"junk%d" % i) for i in range(12)), ("payload", PAYLOAD)])
    names = scan_names(data, max_files=limit, alert_exceeds_max=True, allmatch=True)
    assert names == expected
    quiet = scan_names(data, max_files=limit, allmatch=True)
    assert quiet == tuple(n for n in expected if n != EXCEEDED_MAX_FILES)


@pytest.mark.parametrize(("limit", "found"), [(4, False), (5, True)])
def test_max_files_counts_the_top_level_object_and_no_tiny_members(limit: int, found: bool) -> None:
    junk = [(f"f{i}", b"junk%d" % i * 20) for i in range(3)]
    tiny = [(f"t{i}", b"tiny%d" % i) for i in range(8)]  # 5 bytes: not counted
    data = tar_bytes([*junk, *tiny, ("payload", PAYLOAD)])
    names = scan_names(data, max_files=limit, alert_exceeds_max=True, allmatch=True)
    assert names == ((PAYLOAD_NAME,) if found else (EXCEEDED_MAX_FILES,))


# -- sizes ---------------------------------------------------------------------------


def test_top_level_over_max_filesize_is_not_scanned() -> None:
    assert scan_names(PAYLOAD, max_filesize=100) == ()
    assert scan_names(PAYLOAD, max_filesize=100, alert_exceeds_max=True) == (
        EXCEEDED_MAX_FILE_SIZE,
    )
    result = payload_engine().scan_bytes(PAYLOAD, ScanOptions(max_filesize=100))
    assert result.bytes_read == len(PAYLOAD) and result.bytes_scanned == 0


def test_declared_size_over_max_filesize_skips_the_member() -> None:
    data = sevenzip_bytes([("big", bytes(3000)), ("payload", PAYLOAD)])
    assert len(data) < 2000
    options = {"max_filesize": 2000, "alert_exceeds_max": True, "allmatch": True}
    assert scan_names(data, **options) == (PAYLOAD_NAME, EXCEEDED_MAX_FILE_SIZE)


def test_stream_cut_at_max_filesize_is_scanned_with_an_alert() -> None:
    data = gzip_wrap(deflate_bomb(3))
    assert scan_names(data, max_filesize=MiB) == ()
    assert scan_names(data, max_filesize=MiB, alert_exceeds_max=True) == (EXCEEDED_MAX_FILE_SIZE,)


def test_zip_members_are_trimmed_silently() -> None:
    data = zip_bytes([("zeros", bytes(3 * MiB)), ("payload", PAYLOAD)])
    names = scan_names(data, max_filesize=MiB, alert_exceeds_max=True, allmatch=True)
    assert names == (PAYLOAD_NAME,)


def test_max_scansize_counts_every_object_and_ends_the_scan() -> None:
    big_first = zip_bytes([("big", bytes(3 * MiB)), ("payload", PAYLOAD)])
    options = {"max_scansize": MiB, "alert_exceeds_max": True, "allmatch": True}
    assert scan_names(big_first, **options) == (EXCEEDED_MAX_SCAN_SIZE,)
    assert scan_names(big_first, max_scansize=MiB) == ()
    big_last = zip_bytes([("payload", PAYLOAD), ("big", bytes(3 * MiB))])
    assert scan_names(big_last, **options) == (PAYLOAD_NAME, EXCEEDED_MAX_SCAN_SIZE)
    # The top-level object counts too: alone over the limit, it is not scanned.
    too_big = tar_bytes([("payload", PAYLOAD), ("big", bytes(3 * MiB))])
    assert scan_names(too_big, **options) == (EXCEEDED_MAX_SCAN_SIZE,)
    # ... and with its members it reaches the limit sooner.
    half = tar_bytes([("payload", PAYLOAD), ("half", bytes(MiB // 2 + 1000))])
    assert len(half) < MiB
    assert scan_names(half, **options) == (PAYLOAD_NAME, EXCEEDED_MAX_SCAN_SIZE)


def test_stream_cut_at_max_scansize_ends_the_scan() -> None:
    data = gzip_wrap(deflate_bomb(3))
    assert scan_names(data, max_scansize=MiB, alert_exceeds_max=True) == (EXCEEDED_MAX_SCAN_SIZE,)


def test_nested_bomb_ends_within_its_limits() -> None:
    """A 42.zip-like bomb: 16 copies per level, 4 levels of 1 MiB of zeros (64 GiB in all)."""
    data = zip_bytes([("zeros", bytes(MiB))])
    for level in range(4):
        data = zip_bytes([(f"l{level}-{i}.zip", data) for i in range(16)])
    started = time.monotonic()
    names = scan_names(data, max_scansize=8 * MiB, alert_exceeds_max=True)
    assert names == (EXCEEDED_MAX_SCAN_SIZE,)
    assert scan_names(data, max_files=50, alert_exceeds_max=True) == (EXCEEDED_MAX_FILES,)
    assert time.monotonic() - started < 20


# -- time, stop, alerts and switches -------------------------------------------------------


def test_should_stop_ends_the_walk(register: object) -> None:
    calls: list[int] = []

    def produce(extraction: Extraction) -> Iterator[Member | Alert]:
        yield Member("first", b"harmless")
        yield Member("second", PAYLOAD)

    register(produce)  # type: ignore[operator]

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 1

    assert scan_names(_fake_file(), should_stop=stop) == ()
    assert scan_names(_fake_file()) == (PAYLOAD_NAME,)


def test_max_scantime(register: object) -> None:
    def produce(extraction: Extraction) -> Iterator[Member | Alert]:
        time.sleep(0.05)
        yield Member("payload", PAYLOAD)

    register(produce)  # type: ignore[operator]
    assert scan_names(_fake_file(), max_scantime_ms=1) == ()
    assert scan_names(_fake_file(), max_scantime_ms=1, alert_exceeds_max=True) == (
        EXCEEDED_MAX_SCAN_TIME,
    )
    assert scan_names(_fake_file(), max_scantime_ms=0) == (PAYLOAD_NAME,)


def test_alerts_need_their_option_and_yield_to_signatures(register: object) -> None:
    def produce(extraction: Extraction) -> Iterator[Member | Alert]:
        yield Alert("Heuristics.Test.Alert", "alert_ole2_macros")
        yield Member("payload", PAYLOAD)

    register(produce)  # type: ignore[operator]
    data = _fake_file()
    assert scan_names(data) == (PAYLOAD_NAME,)
    assert scan_names(data, alert_ole2_macros=True) == (PAYLOAD_NAME,)
    assert scan_names(data, alert_ole2_macros=True, allmatch=True) == (
        PAYLOAD_NAME,
        "Heuristics.Test.Alert",
    )
    assert scan_names(data, alert_ole2_macros=True, heuristic_scan_precedence=True) == (
        "Heuristics.Test.Alert",
    )


def test_gate_switches_formats_off(register: object) -> None:
    def produce(extraction: Extraction) -> Iterator[Member | Alert]:
        yield Member("payload", PAYLOAD)

    register(produce, "scan_mail")  # type: ignore[operator]
    assert scan_names(_fake_file()) == (PAYLOAD_NAME,)
    assert scan_names(_fake_file(), scan_mail=False) == ()
    assert scan_names(zip_bytes([("p", PAYLOAD)]), scan_archive=False) == ()


def test_corrupt_container_keeps_what_came_before(register: object) -> None:
    def produce(extraction: Extraction) -> Iterator[Member | Alert]:
        yield Member("payload", PAYLOAD)
        raise scanner.ContainerError("damaged")

    register(produce)  # type: ignore[operator]
    assert scan_names(_fake_file(), allmatch=True) == (PAYLOAD_NAME,)


def test_scratch_dir_is_private_and_removed_even_on_errors(register: object) -> None:
    made: list[Path] = []

    def produce(extraction: Extraction) -> Iterator[Member | Alert]:
        scratch = extraction.scratch_dir()
        made.append(scratch)
        assert scratch.stat().st_mode & 0o777 == 0o700
        (scratch / "member").write_bytes(PAYLOAD)
        yield Member("payload", (scratch / "member").read_bytes())
        raise RuntimeError("a bug in a format")

    register(produce)  # type: ignore[operator]
    with pytest.raises(RuntimeError):
        scan_names(_fake_file(), allmatch=True)
    assert made and not made[0].exists()
    assert scan_names(_fake_file()) == (PAYLOAD_NAME,)
    assert not made[1].exists()


def test_budget_seen_by_formats(register: object) -> None:
    budgets: list[int] = []

    def produce(extraction: Extraction) -> Iterator[Member | Alert]:
        budgets.append(extraction.member_budget())
        yield Member("a", bytes(300))
        budgets.append(extraction.member_budget())

    register(produce)  # type: ignore[operator]
    top = _fake_file()
    scan_names(top, max_filesize=1000, max_scansize=500 + len(top))
    # MaxScanSize counts the top-level object, then each member.
    assert budgets == [500, 200]


def test_objects_of_five_bytes_or_fewer_are_not_scanned(tmp_path: Path) -> None:
    hashes = "".join(
        f"{hashlib.sha256(data).hexdigest()}:{len(data)}:Tiny.{len(data)}\n"
        for data in (b"hello", b"hello!")
    )
    (tmp_path / "tiny.hdb").write_text(hashes)
    engine = compile_engine(load_database([tmp_path / "tiny.hdb"]))
    options = ScanOptions(allmatch=True)
    assert engine.scan_bytes(b"hello", options).names == ()
    assert engine.scan_bytes(b"hello!", options).names == ("Tiny.6.UNOFFICIAL",)
    archive = zip_bytes([("five", b"hello"), ("six", b"hello!")])
    assert engine.scan_bytes(archive, options).names == ("Tiny.6.UNOFFICIAL",)


def test_embedded_magic_search_crosses_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    from clamkit.containers import embedded

    data = b"MZ" + b"." * 5 + b"MZ" + b"." * 3 + b"MZMZ" + b"." * 7 + b"MZ"
    expected = [i for i in range(1, len(data)) if data.startswith(b"MZ", i)]
    monkeypatch.setattr(embedded, "CHUNK_SIZE", 4)
    assert list(embedded._starts(data, b"MZ")) == expected
    assert list(embedded._starts(memoryview(data), b"MZ")) == expected
