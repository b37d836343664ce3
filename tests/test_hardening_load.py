"""clamkit's clamd under load: many connections, slow clients, timeouts, big concurrent streams.

The scenarios are functions of their scale; the tests run them small enough
for CI and ``bench/stress.py`` runs them at the issue's figures (500 held
connections, 200 idle and 50 slow clients, 64 streams at StreamMaxLength).
Timeouts and the listen backlog are compared with the reference's.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.daemons import RunningDaemon, exchange, start_reference_clamd
from tests.test_hardening_harness import (
    CLEAN_REPLY,
    ask,
    clamkit_daemon,
    connect,
    instream_request,
    ping_ms,
    raise_fd_limit,
    scanning_clients,
    status_kib,
)

# A PING must be answered within this while idle and slow clients hang on.
PING_BOUND_MS = 100.0
# Growth of the network process's peak RSS allowed while streams arrive:
# uploads are spooled to temporary files, never held in memory.
STREAM_RSS_BOUND_KIB = 48 * 1024


def hold_connections(daemon: RunningDaemon, held: int, scanners: int, seconds: float) -> dict:
    """``held`` sessions stay open while ``scanners`` clients scan; then each must answer PING."""
    raise_fd_limit(held + 256)
    sessions = []
    try:
        for number in range(held):
            address = daemon.unix_path if number % 2 else daemon.tcp_address
            sessions.append(connect(address))
            sessions[-1].sendall(b"zIDSESSION\0")
        with scanning_clients(daemon, scanners) as tally:
            time.sleep(seconds)
        answered = 0
        for session in sessions:
            session.sendall(b"zPING\0")
        for session in sessions:
            answered += session.recv(64) == b"1: PONG\0"
            session.sendall(b"zEND\0")
    finally:
        for session in sessions:
            session.close()
    return {"held": held, "answered": answered, "scans_right": tally.right, "wrong": tally.wrong}


def ping_latency(daemon: RunningDaemon, idle: int, slow: int, seconds: float) -> dict:
    """PING round trips while ``idle`` sessions wait and ``slow`` clients send a byte a second."""
    raise_fd_limit(idle + slow + 256)
    idlers = [connect(daemon.unix_path) for _ in range(idle)]
    for idler in idlers:
        idler.sendall(b"zIDSESSION\0")
    slow_request = instream_request(CLEAN_REPLY * 8, 16)
    senders = [connect(daemon.tcp_address) for _ in range(slow)]
    stop = threading.Event()

    def trickle() -> None:
        position = 0
        while not stop.is_set() and position < len(slow_request):
            for sender in senders:
                sender.sendall(slow_request[position : position + 1])
            position += 1
            stop.wait(1.0)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    latencies = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            latencies.append(ping_ms(daemon.unix_path))
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
        for client in idlers + senders:
            client.close()
    return {
        "idle": idle,
        "slow": slow,
        "pings": len(latencies),
        "median_ms": round(statistics.median(latencies), 2),
        "max_ms": round(max(latencies), 2),
    }


def concurrent_streams(daemon: RunningDaemon, streams: int, size: int) -> dict:
    """``streams`` INSTREAMs of ``size`` bytes at once; the network process's peak RSS growth."""
    raise_fd_limit(streams + 256)
    request = instream_request(b"\x5a" * size, 1 << 20)
    before = status_kib(daemon.pid, "VmHWM")
    replies: list[bytes] = []

    def client() -> None:
        replies.append(ask(daemon.unix_path, request, timeout=600))

    threads = [threading.Thread(target=client) for _ in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "streams": streams,
        "size": size,
        "ok": replies.count(CLEAN_REPLY),
        "hwm_growth_kib": status_kib(daemon.pid, "VmHWM") - before,
        "rss_kib": status_kib(daemon.pid, "VmRSS"),
    }


def test_held_connections_all_served_while_clients_scan(tmp_path: Path) -> None:
    with clamkit_daemon(tmp_path) as daemon:
        figures = hold_connections(daemon, held=500, scanners=16, seconds=3)
    assert figures["answered"] == 500
    assert figures["wrong"] == []
    assert figures["scans_right"] > 16


def test_idle_and_slow_clients_do_not_delay_ping(tmp_path: Path) -> None:
    with clamkit_daemon(tmp_path) as daemon:
        figures = ping_latency(daemon, idle=200, slow=50, seconds=4)
    assert figures["pings"] >= 10
    # The median holds the bound outright; the maximum gets scheduling slack
    # on a busy shared CI machine (bench/stress.py records the true maximum).
    assert figures["median_ms"] < PING_BOUND_MS
    assert figures["max_ms"] < 5 * PING_BOUND_MS


def test_concurrent_streams_at_stream_max_length_keep_rss_bounded(tmp_path: Path) -> None:
    size = 1 << 20
    with clamkit_daemon(tmp_path, f"StreamMaxLength {size}") as daemon:
        figures = concurrent_streams(daemon, streams=64, size=size)
    assert figures["ok"] == 64
    assert figures["hwm_growth_kib"] < STREAM_RSS_BOUND_KIB


TIMEOUTS = "CommandReadTimeout 1\nReadTimeout 2\nIdleTimeout 1"
# What a client sends before going quiet; the reply and the second it comes at.
QUIET_CLIENTS = {
    "nothing": [b""],
    "half a command": [b"zPI"],
    "session": [b"zIDSESSION\0"],
    # Past IdleTimeout (a thread's wait for work), before ReadTimeout: answered.
    "session, late ping": [b"zIDSESSION\0", b"zPING\0"],
    "stream": [b"zINSTREAM\0"],
    "half a chunk": [b"zINSTREAM\0\0\0\0\x10ab"],
}


def _quiet_clients(daemon: RunningDaemon) -> dict[str, tuple[bytes, int]]:
    results: dict[str, tuple[bytes, int]] = {}

    def run(name: str, packets: list[bytes]) -> None:
        started = time.monotonic()
        if name == "session, late ping":
            with connect(daemon.unix_path) as client:
                client.sendall(packets[0])
                time.sleep(1.5)
                client.sendall(packets[1])
                data = b""
                while chunk := client.recv(4096):
                    data += chunk
        else:
            data = exchange(daemon.unix_path, packets, timeout=10).data
        results[name] = (data, round(time.monotonic() - started))

    threads = [threading.Thread(target=run, args=item) for item in QUIET_CLIENTS.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_read_timeouts_as_the_reference(tmp_path: Path) -> None:
    reference = start_reference_clamd(tmp_path / "ref", TIMEOUTS)
    try:
        with clamkit_daemon(tmp_path / "ours", TIMEOUTS) as ours:
            found = _quiet_clients(ours)
        expected = _quiet_clients(reference)
    finally:
        reference.stop()
    for name, (data, seconds) in expected.items():
        assert found[name][0] == data, name
        # The reference's poll loop rounds up by up to a second.
        assert seconds - 1 <= found[name][1] <= seconds, name
    assert found["session, late ping"][0] == b"1: PONG\0COMMAND READ TIMED OUT\n"


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) not installed")
def test_max_connection_queue_length_is_the_listen_backlog(tmp_path: Path) -> None:
    with clamkit_daemon(tmp_path, "MaxConnectionQueueLength 7") as daemon:
        listing = subprocess.run(
            ["ss", "-ltnH", f"sport = :{daemon.tcp_port}"], capture_output=True, text=True
        ).stdout.split()
        assert ask(daemon.unix_path, b"zPING\0") == b"PONG\0"
    # State, Recv-Q, Send-Q: for a listening socket Send-Q is the backlog.
    assert listing[2] == "7"


def test_daemon_lifts_its_descriptor_soft_limit(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 1024:
        pytest.skip(f"hard descriptor limit {hard}: nothing to lift a soft limit to")
    # The daemon inherits a soft limit of 1024 from this process.
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        with clamkit_daemon(tmp_path) as daemon:
            limits = Path(f"/proc/{daemon.pid}/limits").read_text()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert line.split()[3:5] == [str(hard), str(hard)]
