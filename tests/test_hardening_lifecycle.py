"""clamkit's clamd reloading and stopping while clients scan.

Reloads (RELOAD and SIGUSR2 in turn, each awaited) run while clients
stream infected and clean data: every verdict must be the right one and no
connection may go unanswered.  A reload from a database directory the
daemon cannot read, or holding a malformed file, keeps the old engine.
SIGTERM with scans in flight: each client gets its whole reply or a closed
connection, never part of a line; socket and pid file go, exit status 0
within a stated bound.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.daemons import RunningDaemon, write_test_database
from tests.test_hardening_harness import (
    CLEAN_REPLY,
    ask,
    clamkit_daemon,
    instream_request,
    scanning_clients,
    start_without_file_permissions,
)

RELOADED = "Database correctly reloaded"
# Reloads are counted in the log, which every detection also goes to: no size cap.
UNCAPPED_LOG = "LogFileMaxSize 0"
RELOAD_FAILED = "reload db failed"
# A signature whose PCRE backtracks over runs of "A": about a second per
# 40 KB, so scans are still running when the signal comes.
SLOW_SIGNATURE = "Slow.Pcre;Engine:81-255,Target:0;0&1;41414141;0/A+B/\n"
SLOW_DATA = b"A" * 40_000
# SIGTERM to exit: the daemon's 5 s grace for replies in flight, plus the
# scan step a worker cannot leave (about a second here), plus start-up slack.
SHUTDOWN_BOUND_SECONDS = 10.0


def _wait_for_log(daemon: RunningDaemon, text: str, count: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.log().count(text) >= count:
            return True
        time.sleep(0.05)
    return False


def reload_under_load(daemon: RunningDaemon, reloads: int, clients: int) -> dict:
    """``reloads`` reloads, RELOAD and SIGUSR2 in turn, while ``clients`` clients scan."""
    done = 0
    with scanning_clients(daemon, clients) as tally:
        for number in range(reloads):
            if number % 2:
                os.kill(daemon.pid, signal.SIGUSR2)
            else:
                assert ask(daemon.unix_path, b"zRELOAD\0") == b"RELOADING\0"
            done += _wait_for_log(daemon, RELOADED, number + 1)
    return {"reloads": reloads, "completed": done, "scans_right": tally.right, "wrong": tally.wrong}


def test_reloads_under_load_lose_nothing(tmp_path: Path) -> None:
    with clamkit_daemon(tmp_path, UNCAPPED_LOG) as daemon:
        figures = reload_under_load(daemon, reloads=6, clients=16)
    assert figures["completed"] == 6
    assert figures["wrong"] == []
    assert figures["scans_right"] > 16


@pytest.mark.parametrize("concurrent", ["yes", "no"])
def test_failed_reloads_under_load_keep_the_old_engine(tmp_path: Path, concurrent: str) -> None:
    database = write_test_database(tmp_path / "db")
    with (
        start_without_file_permissions(
            tmp_path, f"ConcurrentDatabaseReload {concurrent}\n{UNCAPPED_LOG}", database
        ) as daemon,
        scanning_clients(daemon, 8) as tally,
    ):
        database.chmod(0)
        try:
            assert ask(daemon.unix_path, b"zRELOAD\0") == b"RELOADING\0"
            assert _wait_for_log(daemon, RELOAD_FAILED, 1)
        finally:
            database.chmod(0o755)
        (database / "broken.ndb").write_text("not a signature\n")
        os.kill(daemon.pid, signal.SIGUSR2)
        assert _wait_for_log(daemon, RELOAD_FAILED, 2)
        time.sleep(0.5)
        log = daemon.log()
    assert tally.wrong == []
    assert tally.right > 8
    assert "Permission denied" in log
    assert "Database correctly reloaded" not in log


def shutdown_in_flight(daemon: RunningDaemon, scans: int) -> dict:
    """SIGTERM while ``scans`` slow INSTREAMs are under way; what each client got, how long."""
    replies: list[bytes] = []
    request = instream_request(SLOW_DATA)

    def client() -> None:
        replies.append(ask(daemon.unix_path, request, timeout=120))

    threads = [threading.Thread(target=client) for _ in range(scans)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    started = time.monotonic()
    os.kill(daemon.pid, signal.SIGTERM)
    status = daemon.process.wait(timeout=120)
    seconds = time.monotonic() - started
    for thread in threads:
        thread.join()
    return {
        "scans": scans,
        "replied": replies.count(CLEAN_REPLY),
        "closed": replies.count(b""),
        "other": [reply for reply in replies if reply not in (CLEAN_REPLY, b"")],
        "status": status,
        "seconds": round(seconds, 2),
        "socket_left": daemon.unix_path.exists(),
        "pid_file_left": (daemon.workdir / "clamd.pid").exists(),
    }


def test_sigterm_with_scans_in_flight(tmp_path: Path) -> None:
    database = write_test_database(tmp_path / "db")
    (database / "slow.ldb").write_text(SLOW_SIGNATURE)
    with clamkit_daemon(tmp_path, "", database) as daemon:
        figures = shutdown_in_flight(daemon, scans=16)
    assert figures["other"] == []
    assert figures["replied"] + figures["closed"] == 16
    assert figures["status"] == 0
    assert figures["seconds"] < SHUTDOWN_BOUND_SECONDS
    assert not figures["socket_left"]
    assert not figures["pid_file_left"]


def test_the_slow_signature_is_slow_and_finds_nothing(tmp_path: Path) -> None:
    """The shutdown test relies on scans that last; a faster engine would hollow it out."""
    database = write_test_database(tmp_path / "db")
    (database / "slow.ldb").write_text(SLOW_SIGNATURE)
    with clamkit_daemon(tmp_path, "", database) as daemon:
        started = time.monotonic()
        assert ask(daemon.unix_path, instream_request(SLOW_DATA)) == CLEAN_REPLY
        assert time.monotonic() - started > 0.2
