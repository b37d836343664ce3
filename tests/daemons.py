"""Test harness for daemon tests: start clamd (the reference's or clamkit's), talk to it.

Strategy: each daemon gets a private directory (short, under /tmp, because
a Unix socket path may not exceed 107 bytes) with its configuration, log,
socket and, unless one is given, a two-signature database (ClamAV's test
executable by SHA-256, and EICAR by body); a free loopback TCP port; and is
ready once it answers zPING on its Unix socket.  ``RunningDaemon.stop`` is
meant for fixture finalizers: SIGTERM, then SIGKILL, then the directory goes.

``exchange``/``send`` play a client byte for byte: packets written one by one
with small gaps (clamd treats each read as a unit), descriptors passed with
SCM_RIGHTS, optional half-close, then everything read until EOF or timeout.
"""

from __future__ import annotations

import array
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_CLAMD = Path("/usr/sbin/clamd")
CLAMKIT_CLAMD = PROJECT_ROOT / "clamkit" / "cli" / "clamd.py"
TEST_SIGNATURE = PROJECT_ROOT.parent / "shared" / "sigs" / "clamav-testsig" / "clamav.hdb"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_NAME = "Eicar-Test-Signature.UNOFFICIAL"
READY_TIMEOUT = 20.0
# Long enough for clamd to read one packet before the next one arrives.
PACKET_GAP = 0.05

Address = str | Path | tuple[str, int]


@dataclass
class RunningDaemon:
    unix_path: Path
    tcp_port: int
    pid: int
    log_path: Path
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def tcp_address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.tcp_port)

    def stop(self) -> None:
        """SIGTERM, a grace period, then SIGKILL; idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_test_database(directory: Path) -> Path:
    """The two-signature database every daemon test can rely on."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEST_SIGNATURE, directory / "clamav.hdb")
    (directory / "eicar.ndb").write_text(f"Eicar-Test-Signature:0:0:{EICAR.hex()}\n")
    return directory


def _config(workdir: Path, port: int, database: Path, extra_config: str) -> str:
    options = {
        "Foreground": "yes",
        "LocalSocket": str(workdir / "clamd.sock"),
        "TCPSocket": str(port),
        "TCPAddr": "127.0.0.1",
        "DatabaseDirectory": str(database),
        "LogFile": str(workdir / "clamd.log"),
        "LogVerbose": "yes",
        "PidFile": str(workdir / "clamd.pid"),
    }
    # extra_config overrides the options above and adds others (one per line).
    for line in extra_config.splitlines():
        name, _, value = line.strip().partition(" ")
        if name and not name.startswith("#"):
            options[name] = value.strip()
    return "".join(f"{name} {value}\n" for name, value in options.items())


def _start(
    command: Sequence[str], tmp_path: Path, extra_config: str, database: Path | None
) -> RunningDaemon:
    workdir = Path(tempfile.mkdtemp(prefix="ckd", dir="/tmp"))
    database = database or write_test_database(tmp_path / "clamd-db")
    config = workdir / "clamd.conf"
    port = free_tcp_port()
    config.write_text(_config(workdir, port, database, extra_config))
    output = (tmp_path / "clamd-output.txt").open("wb")
    process = subprocess.Popen(
        [*command, "-c", str(config)], stdout=output, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT
    )
    output.close()
    daemon = RunningDaemon(
        workdir / "clamd.sock", port, process.pid, workdir / "clamd.log", process, workdir
    )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if send(daemon.unix_path, b"zPING\0", timeout=1.0) == b"PONG\0":
                return daemon
        except OSError:
            pass
        time.sleep(0.1)
    daemon.stop()
    text = (tmp_path / "clamd-output.txt").read_text(errors="replace")
    raise RuntimeError(f"{command[0]} did not answer PING within {READY_TIMEOUT} s:\n{text}")


def start_reference_clamd(
    tmp_path: Path, extra_config: str = "", database: Path | None = None
) -> RunningDaemon:
    """ClamAV's clamd; the calling test is skipped when it is not installed."""
    if not REFERENCE_CLAMD.exists():
        pytest.skip(f"reference clamd not installed at {REFERENCE_CLAMD} (package clamav-daemon)")
    return _start([str(REFERENCE_CLAMD)], tmp_path, extra_config, database)


def start_clamkit_clamd(
    tmp_path: Path, extra_config: str = "", database: Path | None = None
) -> RunningDaemon:
    """clamkit's clamd; the calling test is skipped until clamkit/cli/clamd.py exists."""
    if not CLAMKIT_CLAMD.exists():
        pytest.skip(f"clamkit's daemon is not written yet ({CLAMKIT_CLAMD} missing)")
    command = [sys.executable, "-m", "clamkit.cli.clamd", "--foreground"]
    return _start(command, tmp_path, extra_config, database)


@dataclass(frozen=True)
class Conversation:
    data: bytes  # everything the daemon wrote
    closed: bool  # the daemon closed the connection (else the read timed out)


def _connect(address: Address, timeout: float) -> socket.socket:
    if isinstance(address, tuple):
        return socket.create_connection(address, timeout=timeout)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.settimeout(timeout)
        client.connect(str(address))
    except BaseException:
        client.close()
        raise
    return client


def exchange(
    address: Address,
    data: bytes | Sequence[bytes],
    *,
    fds: Sequence[int] = (),
    fds_with: int = 0,
    half_close: bool = False,
    timeout: float = 5.0,
) -> Conversation:
    """Send ``data`` (one packet, or a list of packets), read until EOF or ``timeout``.

    ``fds`` travel with packet number ``fds_with``.  Sending stops quietly
    if the daemon hangs up first, as a real client would notice only then.
    """
    packets = [data] if isinstance(data, bytes) else list(data)
    with _connect(address, timeout) as client:
        try:
            for index, packet in enumerate(packets):
                if index:
                    time.sleep(PACKET_GAP)
                if fds and index == fds_with:
                    rights = array.array("i", fds).tobytes()
                    client.sendmsg([packet], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
                else:
                    client.sendall(packet)
            if half_close:
                client.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = bytearray()
        try:
            while chunk := client.recv(65536):
                received += chunk
        except TimeoutError:
            return Conversation(bytes(received), closed=False)
        except ConnectionResetError:
            pass
        return Conversation(bytes(received), closed=True)


def send(address: Address, data: bytes | Sequence[bytes], **options: Any) -> bytes:
    """What the daemon answered to ``data``; ``options`` as for ``exchange``."""
    return exchange(address, data, **options).data
