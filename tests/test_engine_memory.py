"""Memory per scan is bounded by the chunk size, never by the size of the file.

Python heap allocations are traced (tracemalloc) while a file several times
the scanner's chunk size is scanned; pages of the file itself are mapped, not
copied, so they do not count.  Binary and text inputs both, since text is
also scanned in its normalised form.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from clamkit.database.loader import load_database
from clamkit.engine import Engine, ScanOptions, compile_engine
from clamkit.engine import matching as scanner_module

CHUNK = 1024 * 1024
FILE_SIZE = 24 * CHUNK


def _engine(tmp_path: Path) -> Engine:
    database = tmp_path / "db.ndb"
    database.write_text("Tail.Marker:0:*:636c616d6b69742d7461696c2d6d61726b6572\n")
    return compile_engine(load_database([database]))


def _peak_while_scanning(engine: Engine, path: Path) -> tuple[int, tuple[str, ...]]:
    tracemalloc.start()
    try:
        result = engine.scan_file(path, ScanOptions(max_filesize=0, max_scansize=0))
        return tracemalloc.get_traced_memory()[1], result.names
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "unit",
    [
        pytest.param(bytes(range(1, 256)) * 4, id="binary"),
        pytest.param(b"Some plain TEXT,   with runs of space\n" * 27, id="text"),
    ],
)
def test_scan_memory_does_not_grow_with_file_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unit: bytes
) -> None:
    monkeypatch.setattr(scanner_module, "CHUNK_SIZE", CHUNK)
    engine = _engine(tmp_path)
    sample = tmp_path / "large"
    with sample.open("wb") as handle:
        for _ in range(FILE_SIZE // len(unit)):
            handle.write(unit)
        handle.write(b" clamkit-tail-marker ")
    peak, names = _peak_while_scanning(engine, sample)
    assert names == ("Tail.Marker.UNOFFICIAL",)
    # A few chunk-sized buffers at a time (raw slice, its latin-1 text, a
    # normalised piece), never the whole file.
    assert peak < 8 * CHUNK, f"peak {peak / CHUNK:.1f} chunks for a {FILE_SIZE // CHUNK}-chunk file"
