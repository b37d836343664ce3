"""Load-generating clients and process probes shared by the hardening tests and bench/stress.py.

Strategy: every scenario is a plain function of its scale (connections,
clients, seconds), so the CI tests run it small and ``bench/stress.py`` runs
the same code large.  Clients are threads with blocking sockets: the
daemon, not the test, is what must stay responsive.  A verdict counts as
right only when the whole reply line is the expected one; anything else,
a short line or a closed connection included, is counted against it.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.daemons import (
    EICAR,
    REFERENCE_CLAMD,
    RunningDaemon,
    _start,
    start_clamkit_clamd,
)

INFECTED = EICAR + b"\n" + b"A" * 4000
CLEAN = bytes(range(256)) * 16
INFECTED_REPLY = b"stream: Eicar-Test-Signature.UNOFFICIAL FOUND\0"
CLEAN_REPLY = b"stream: OK\0"


def instream_request(data: bytes, chunk: int = 65536) -> bytes:
    """A whole zINSTREAM request for ``data`` in chunks of ``chunk`` bytes."""
    pieces = [b"zINSTREAM\0"]
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        pieces += [struct.pack(">I", len(piece)), piece]
    return b"".join([*pieces, struct.pack(">I", 0)])


def raise_fd_limit(wanted: int) -> None:
    """Let this process hold ``wanted`` descriptors (as far as the hard limit allows)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def status_kib(pid: int, field_name: str) -> int:
    """A ``kB`` figure of /proc/PID/status: VmRSS, VmHWM."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


def connect(address: str | Path | tuple[str, int], timeout: float = 30.0) -> socket.socket:
    family = socket.AF_INET if isinstance(address, tuple) else socket.AF_UNIX
    client = socket.socket(family, socket.SOCK_STREAM)
    try:
        # A blocking connect waits while the backlog is full, as a real client
        # does; with a timeout a Unix socket fails at once with EAGAIN instead.
        client.connect(address if isinstance(address, tuple) else str(address))
    except BaseException:
        client.close()
        raise
    client.settimeout(timeout)
    return client


def read_until_close(client: socket.socket) -> bytes:
    received = bytearray()
    try:
        while chunk := client.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return bytes(received)


def ask(address: str | Path | tuple[str, int], request: bytes, timeout: float = 30.0) -> bytes:
    """One request on a fresh connection; the whole answer."""
    with connect(address, timeout) as client:
        client.sendall(request)
        return read_until_close(client)


def ping_ms(address: str | Path) -> float:
    """Milliseconds from connecting to a complete PONG (inf when it is not PONG)."""
    started = time.perf_counter()
    reply = ask(address, b"zPING\0", timeout=10.0)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed if reply == b"PONG\0" else float("inf")


@dataclass
class Tally:
    """What the scanning clients saw."""

    right: int = 0
    wrong: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, reply: bytes, expected: bytes) -> None:
        with self.lock:
            if reply == expected:
                self.right += 1
            else:
                self.wrong.append(reply)


@contextmanager
def scanning_clients(daemon: RunningDaemon, clients: int) -> Iterator[Tally]:
    """``clients`` threads streaming infected and clean data, alternately, until the block ends.

    Half the clients use the Unix socket and half TCP.
    """
    tally = Tally()
    stop = threading.Event()
    requests = [
        (instream_request(INFECTED, 1024), INFECTED_REPLY),
        (instream_request(CLEAN, 1024), CLEAN_REPLY),
    ]

    def client(number: int) -> None:
        address = daemon.unix_path if number % 2 else daemon.tcp_address
        turn = number
        while not stop.is_set():
            request, expected = requests[turn % 2]
            turn += 1
            try:
                reply = ask(address, request)
            except OSError as error:
                reply = f"client error: {error}".encode()
            tally.record(reply, expected)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield tally
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


@contextmanager
def clamkit_daemon(
    tmp_path: Path, extra_config: str = "", database: Path | None = None
) -> Iterator[RunningDaemon]:
    daemon = start_clamkit_clamd(tmp_path, extra_config, database)
    try:
        yield daemon
    finally:
        daemon.stop()


# Root without these capabilities is held to file permissions like any user.
_WITHOUT_FILE_PERMISSIONS = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
    "--",
]


@contextmanager
def start_without_file_permissions(
    tmp_path: Path, extra_config: str = "", database: Path | None = None, *, reference: bool = False
) -> Iterator[RunningDaemon]:
    """A daemon (clamkit's, or the reference's) that file modes apply to, even run as root.

    The daemon cannot simply run as another user here: the interpreter may
    live where only root can reach it.
    """
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's file capabilities")
    if reference and not REFERENCE_CLAMD.exists():
        pytest.skip(f"reference clamd not installed at {REFERENCE_CLAMD}")
    command = (
        [str(REFERENCE_CLAMD)]
        if reference
        else [sys.executable, "-m", "clamkit.cli.clamd", "--foreground"]
    )
    prefix = _WITHOUT_FILE_PERMISSIONS if os.geteuid() == 0 else []
    daemon = _start([*prefix, *command], tmp_path, extra_config, database)
    try:
        yield daemon
    finally:
        daemon.stop()
