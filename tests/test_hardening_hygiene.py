"""clamkit's clamd gives back what each connection took: descriptors and memory.

One round opens a connection of every kind, the unhappy ones included
(FILDES with and without a descriptor, a client leaving mid-INSTREAM, a
session dropped mid-way, garbage); after many rounds the network process's
open descriptors are exactly its baseline and its RSS is within a small
bound of it.  ``bench/stress.py`` runs 1,000 rounds (10,000 connections).
"""

from __future__ import annotations

import re
import struct
import time
from pathlib import Path

from tests.daemons import EICAR, RunningDaemon, exchange, send
from tests.test_hardening_harness import (
    CLEAN,
    CLEAN_REPLY,
    INFECTED,
    INFECTED_REPLY,
    clamkit_daemon,
    connect,
    instream_request,
    open_fds,
    status_kib,
)

# Seven checked exchanges and three clients that leave half-way.
CONNECTIONS_PER_ROUND = 10
# RSS the network process may keep after the rounds (allocator slack, caches).
RSS_GROWTH_BOUND_KIB = 8 * 1024


def _round(daemon: RunningDaemon, scanned: Path) -> list[str]:
    """One connection of each kind; the kinds whose answer was wrong."""
    unix = daemon.unix_path
    checks = {
        "PING": (send(unix, b"zPING\0"), b"PONG\0"),
        "INSTREAM clean": (send(daemon.tcp_address, instream_request(CLEAN)), CLEAN_REPLY),
        "INSTREAM infected": (send(unix, instream_request(INFECTED)), INFECTED_REPLY),
        "SCAN": (
            send(unix, f"zSCAN {scanned}\0".encode()),
            f"{scanned}: Eicar-Test-Signature.UNOFFICIAL FOUND\0".encode(),
        ),
        "FILDES without a descriptor": (
            send(unix, [b"zFILDES\0", b"x"]),
            b"No file descriptor received. ERROR\0",
        ),
        "garbage": (send(unix, b"\xff\x00garbage\n" * 3), b"UNKNOWN COMMAND\n"),
    }
    with scanned.open("rb") as handle:
        fildes = send(unix, [b"zFILDES\0", b"x"], fds=[handle.fileno()], fds_with=1)
    # The name is the daemon's own descriptor number.
    checks["FILDES"] = (re.sub(rb"^fd\[\d+\]", b"stream", fildes), INFECTED_REPLY)
    wrong = [kind for kind, (got, expected) in checks.items() if got != expected]
    # Clients that leave half-way: mid-stream, mid-session, mid-command.
    with connect(unix) as client:
        client.sendall(b"zINSTREAM\0" + struct.pack(">I", 100_000) + b"partial")
    with connect(daemon.tcp_address) as client:
        client.sendall(b"zIDSESSION\0zPING\0zINSTREAM\0" + struct.pack(">I", 10) + b"x")
    exchange(unix, b"zPIN", timeout=0.01)
    return wrong


def connection_rounds(daemon: RunningDaemon, scanned: Path, rounds: int) -> dict:
    """Descriptors and RSS after a warm-up round, and again after ``rounds`` more."""
    _round(daemon, scanned)
    time.sleep(0.5)
    fds_before, rss_before = open_fds(daemon.pid), status_kib(daemon.pid, "VmRSS")
    wrong: list[str] = []
    for _ in range(rounds):
        wrong += _round(daemon, scanned)
    # The daemon notices clients that left only on its next read or poll.
    deadline = time.monotonic() + 10
    while open_fds(daemon.pid) != fds_before and time.monotonic() < deadline:
        time.sleep(0.1)
    return {
        "connections": (rounds + 1) * CONNECTIONS_PER_ROUND,
        "wrong": wrong,
        "fds_before": fds_before,
        "fds_after": open_fds(daemon.pid),
        "rss_before_kib": rss_before,
        "rss_after_kib": status_kib(daemon.pid, "VmRSS"),
    }


def test_connections_of_every_kind_leak_nothing(tmp_path: Path) -> None:
    scanned = tmp_path / "eicar.com"
    scanned.write_bytes(EICAR)
    with clamkit_daemon(tmp_path) as daemon:
        figures = connection_rounds(daemon, scanned, rounds=40)
        still_serving = send(daemon.unix_path, b"zPING\0")
    assert figures["wrong"] == []
    assert figures["fds_after"] == figures["fds_before"]
    assert figures["rss_after_kib"] - figures["rss_before_kib"] < RSS_GROWTH_BOUND_KIB
    assert still_serving == b"PONG\0"
