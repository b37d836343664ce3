"""The daemon benchmark's pure helpers: percentiles, targets, the table, /proc memory sums.

The benchmark itself (bench/daemon_bench.py) starts both daemons on the
real databases and takes minutes; it is not part of the suite.  What is
tested here is what its figures rest on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.daemon_bench import (
    FULL,
    UPDATED_DATABASE,
    Memory,
    MemorySampler,
    Row,
    Target,
    change_databases,
    config_text,
    format_table,
    own_at_most,
    percentile,
    process_tree,
    ratio_at_least,
    ratio_at_most,
    rollup_kib,
    rows,
    scan_mistakes,
    tree_memory,
)


def test_percentile_interpolates_between_ranks() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 0.5) == 3.0
    assert percentile(values, 1.0) == 5.0
    assert percentile(values, 0.99) == pytest.approx(4.96)
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_targets_compare_clamkit_with_the_reference_or_with_its_own_bound() -> None:
    assert ratio_at_least(4).met(10.0, 40.0)
    assert not ratio_at_least(4).met(10.0, 39.9)
    assert ratio_at_most(0.5).met(100.0, 50.0)
    assert not ratio_at_most(0.5).met(100.0, 51.0)
    # The reload target is clamkit's own ratio, whatever the reference's.
    assert own_at_most(1.3).met(2.0, 1.3)
    assert not own_at_most(1.3).met(1.0, 1.31)


def test_table_shows_figures_ratio_and_result() -> None:
    table = format_table(
        [
            Row("INSTREAM (MB/s)", 50.0, 250.0, ratio_at_least(4)),
            Row("p99 (ms)", 1200.0, 900.0, ratio_at_most(0.5)),
            Row("peak RSS (MiB)", 150.0, 1234.5),
            Row("wrong verdicts", 0, 0, Target("none", lambda _, clamkit: not clamkit)),
        ]
    ).splitlines()
    assert table[0].startswith("| scenario | reference | clamkit | clamkit/reference |")
    assert table[2] == "| INSTREAM (MB/s) | 50.0 | 250 | 5.00 | >= 4x | PASS |"
    assert table[3] == "| p99 (ms) | 1,200 | 900 | 0.75 | <= 0.5x | FAIL |"
    # Shown for information: no target, no result; thousands separated.
    assert table[4] == "| peak RSS (MiB) | 150 | 1,234 | 8.23 |  |  |"
    # No ratio when the reference's figure is zero.
    assert table[5] == "| wrong verdicts | 0 | 0 | - | none | PASS |"


def _figures(scale: float) -> dict:
    """Per-daemon figures shaped as ``measure`` returns them."""
    memory = {"rss_kib": int(2048 * scale), "pss_kib": int(1024 * scale), "processes": 1}
    return {
        "startup_seconds": 1.0 * scale,
        "second_startup_seconds": 1.0 * scale,
        "memory": {"start-up": memory, "steady": memory},
        "second_memory": {"start-up": memory},
        "instream": {"mb_per_s": 50.0 * scale, "wrong": []},
        "scan": {"files_per_s": 100.0 * scale, "wrong": []},
        "multiscan": {"files_per_s": 300.0 * scale, "wrong": []},
        "concurrent": {"p50_ms": 100.0, "p99_ms": 200.0, "wrong": []},
        "infected": {"CONTSCAN": {"wrong": []}, "MULTISCAN": {"wrong": ["missing: x"]}},
        "reload": {"pss_ratio": 2.0, "rss_ratio": 2.0, "reload_seconds": [1.0], "wrong": []},
        "changed_reload": {
            "pss_ratio": 1.2,
            "rss_ratio": 1.2,
            "reload_seconds": [2.0],
            "wrong": [],
        },
        "cache": {
            "first": {"files_per_s": 300.0, "wrong": []},
            "control": {"files_per_s": 300.0, "wrong": []},
            "second": {"files_per_s": 900.0, "wrong": []},
            "speedup": 3.0,
            "over_uncached": 3.0,
        },
    }


def test_rows_cover_every_target_of_issue_7() -> None:
    table = {row.scenario: row for row in rows(_figures(1.0), _figures(4.0), FULL)}
    targets = {name: row.target.text for name, row in table.items() if row.target}
    assert targets == {
        "start-up to first PONG, 2nd start (s)": "<= 1x",
        "peak PSS, 2nd start-up (MiB, all processes)": "<= 1x",
        "peak PSS, steady (MiB, all processes)": "<= 1x",
        "INSTREAM 200 MB random (MB/s, best of 3)": ">= 4x",
        "SCAN 5,000 files (files/s)": ">= 3x",
        "MULTISCAN 5,000 files (files/s)": ">= 3x",
        "64 x 1 MB INSTREAM at once, p99 (ms)": "<= 0.5x",
        "3 RELOADs under load, peak/steady PSS": "clamkit <= 1.3",
        "2 RELOADs after database updates, under load, peak/steady PSS": "clamkit <= 1.3",
        "cache on, second pass / pass over other files": "clamkit >= 2",
        "wrong verdicts, all scenarios": "none",
    }
    assert table["INSTREAM 200 MB random (MB/s, best of 3)"].passed
    assert table["peak RSS, steady (MiB, all processes)"].clamkit == 8.0
    assert not table["3 RELOADs under load, peak/steady PSS"].passed
    assert table["2 RELOADs after database updates, under load, peak/steady PSS"].passed
    assert table["RELOAD after a database update, under load, slowest (s)"].clamkit == 2.0
    assert table["wrong verdicts, all scenarios"].clamkit == 1
    assert not table["wrong verdicts, all scenarios"].passed


def test_database_changes_are_undone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / UPDATED_DATABASE).write_text("Original:0:*:41424344\n")
    directory = tmp_path / "db"
    directory.mkdir()
    (directory / UPDATED_DATABASE).symlink_to(shared / UPDATED_DATABASE)
    undo = [change_databases(directory, number) for number in (1, 2)]
    assert sorted(path.name for path in directory.iterdir()) == ["bench-change-1.ndb", "daily.ndb"]
    updated = directory / UPDATED_DATABASE
    assert not updated.is_symlink()
    assert updated.read_text().splitlines()[0] == "Original:0:*:41424344"
    assert updated.read_text().splitlines()[1].startswith("Bench.Change.2:0:*:")
    for undo_change in reversed(undo):
        undo_change()
    assert [path.name for path in directory.iterdir()] == [UPDATED_DATABASE]
    assert updated.readlink() == shared / UPDATED_DATABASE
    assert (shared / UPDATED_DATABASE).read_text() == "Original:0:*:41424344\n"


def test_scan_mistakes_are_whole_lines_extra_or_missing() -> None:
    expected = frozenset({"/d/a: X FOUND", "/d/b: Y FOUND"})
    assert scan_mistakes(b"/d/a: X FOUND\0/d/b: Y FOUND\0", expected) == []
    assert scan_mistakes(b"/d/b: Y FOUND\0/d/c: Can't open file ERROR\0", expected) == [
        "unexpected: /d/c: Can't open file ERROR",
        "missing: /d/a: X FOUND",
    ]


def test_config_is_the_same_for_both_daemons_but_for_the_cache(tmp_path: Path) -> None:
    without = config_text(tmp_path, tmp_path / "db", cache=False).splitlines()
    with_cache = config_text(tmp_path, tmp_path / "db", cache=True).splitlines()
    assert "DisableCache yes" in without
    assert "DisableCache no" in with_cache
    assert set(without) ^ set(with_cache) == {"DisableCache yes", "DisableCache no"}
    assert f"MaxThreads {os.cpu_count()}" in without
    assert {"Foreground yes", "StreamMaxLength 300M"} <= set(without)


def test_memory_of_this_process_from_its_rollup() -> None:
    rss, pss = rollup_kib(os.getpid()) or (0, 0)
    assert rss > 0
    assert 0 < pss <= rss
    assert rollup_kib(2**22 + 1) is None  # above the kernel's pid limit: no such process


def test_tree_memory_counts_children() -> None:
    # A child that touches 32 MiB of its own: the tree's sums must grow by about that.
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; b = bytearray(32 << 20); sys.stdin.read()"],
        stdin=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while (rollup_kib(child.pid) or (0, 0))[0] < 32 * 1024 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert child.pid in process_tree(os.getpid())
        alone = rollup_kib(os.getpid()) or (0, 0)
        memory = tree_memory(os.getpid())
        assert memory.processes >= 2
        assert memory.rss_kib >= alone[0] + 32 * 1024
        assert memory.pss_kib >= 32 * 1024
        sampler = MemorySampler(child.pid)
        try:
            with sampler.phase("outer"), sampler.phase("inner"):
                time.sleep(0.12)
        finally:
            sampler.close()
        # Phases nest: a sample counts for every open one.
        assert sampler.peaks["outer"] == sampler.peaks["inner"]
        assert sampler.peaks["inner"].processes == 1
        assert sampler.peaks["inner"].pss_kib >= 32 * 1024
    finally:
        child.communicate(b"")


def test_memory_peak_takes_each_figure_s_maximum() -> None:
    assert Memory(10, 5, 1).peak(Memory(8, 7, 3)) == Memory(10, 7, 3)
