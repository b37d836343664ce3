"""The clean-file cache: keyed by content, shared by forked workers, only for
final clean verdicts, emptied by reloads (tests/test_clamd_server.py's reload
test runs with it on), off with DisableCache."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from daemons import EICAR, send, start_clamkit_clamd, write_test_database

from clamkit.daemon import worker
from clamkit.daemon.cleancache import PROBES, CleanCache
from clamkit.daemon.ipc import PoolSettings, ScanJob
from clamkit.engine.options import ScanOptions, ScanResult


def _digest(text: bytes) -> bytes:
    return hashlib.md5(text).digest()


def test_digests_are_found_after_being_added() -> None:
    cache = CleanCache(64)
    assert _digest(b"a") not in cache
    cache.add(_digest(b"a"))
    cache.add(_digest(b"a"))
    assert _digest(b"a") in cache
    assert _digest(b"b") not in cache


def test_a_full_neighbourhood_replaces_the_home_slot() -> None:
    cache = CleanCache(PROBES)  # every digest shares the same few slots
    digests = [_digest(bytes([n])) for n in range(PROBES + 1)]
    for digest in digests:
        cache.add(digest)
    assert digests[-1] in cache
    assert sum(digest in cache for digest in digests) == PROBES


def test_workers_forked_after_creation_share_the_table() -> None:
    cache = CleanCache(1024)
    pid = os.fork()
    if pid == 0:
        cache.add(_digest(b"learnt by a child"))
        os._exit(0)
    os.waitpid(pid, 0)
    assert _digest(b"learnt by a child") in cache


@dataclass
class _CountingEngine:
    names: tuple[str, ...] = ()
    scans: int = 0

    def scan_file(self, path: str, options: ScanOptions) -> ScanResult:
        self.scans += 1
        return ScanResult(names=self.names, bytes_read=3, bytes_scanned=3)


class _Watch:
    cancelled = False

    def __call__(self) -> bool:
        return self.cancelled


def _settings(**options: object) -> PoolSettings:
    return PoolSettings(
        database_dir="unused",
        detect_pua=False,
        official_only=False,
        workers=1,
        scan_options=ScanOptions(**options),
        extended_detection_info=False,
        clean_cache_entries=1024,
    )


def _run(engine: _CountingEngine, path: Path, cache: CleanCache, watch=None, **options):
    job = ScanJob(job_id=1, path=str(path), allmatch=False)
    return worker._run_job(engine, _settings(**options), cache, job, [], watch or _Watch())


def test_clean_content_is_scanned_once(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"same content")
    second.write_bytes(b"same content")
    engine, cache = _CountingEngine(), CleanCache(1024)
    assert _run(engine, first, cache).names == ()
    result = _run(engine, second, cache)
    assert (result.names, result.size, engine.scans) == ((), 12, 1)
    second.write_bytes(b"other content")
    _run(engine, second, cache)
    assert engine.scans == 2


def test_detections_cancelled_and_timed_out_scans_are_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"content")
    infected, cache = _CountingEngine(names=("Found",)), CleanCache(1024)
    assert _run(infected, path, cache).names == ("Found",)
    assert _run(infected, path, cache).names == ("Found",)
    assert infected.scans == 2

    watch = _Watch()
    watch.cancelled = True
    clean = _CountingEngine()
    _run(clean, path, cache, watch)
    assert not _run(clean, path, cache, watch).names
    assert clean.scans == 2

    # A scan that ran into MaxScanTime (silently) may have missed something.
    ticks = iter([0.0, 5.0, 10.0, 15.0])
    monkeypatch.setattr(worker.time, "monotonic", lambda: next(ticks))
    _run(clean, path, cache, max_scantime_ms=1000)
    _run(clean, path, cache, max_scantime_ms=1000)
    assert clean.scans == 4


@pytest.mark.parametrize("disable_cache", ["no", "yes"])
def test_the_daemon_keys_verdicts_by_content_not_by_path(
    tmp_path: Path, disable_cache: str
) -> None:
    database = write_test_database(tmp_path / "db")
    daemon = start_clamkit_clamd(tmp_path, f"DisableCache {disable_cache}", database)
    target = tmp_path / "target"
    try:
        target.write_bytes(b"harmless text\n")
        command = f"zSCAN {target}\0".encode()
        assert send(daemon.unix_path, command) == f"{target}: OK\0".encode()
        assert send(daemon.unix_path, command) == f"{target}: OK\0".encode()
        target.write_bytes(EICAR)
        assert send(daemon.unix_path, command) == (
            f"{target}: Eicar-Test-Signature.UNOFFICIAL FOUND\0".encode()
        )
    finally:
        daemon.stop()
