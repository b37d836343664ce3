"""clamd's whole life, run for real: start, answer, reopen its log, stop; detached or not.

The daemon is ``python3 -m clamkit.cli.clamd`` on a Unix socket in a
temporary directory.  In the foreground it is driven through a terminal
(pexpect), as a user would run it, and is ready when it prints what the
reference prints when it starts accepting (``Self checking every N
seconds.``).  Detached, ``clamd`` must return 0 only once the daemon
answers, and its pid file must name the daemon, not the parent that left.
Every daemon started here is stopped by its fixture, whatever the test did.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from daemons import RunningDaemon, start_clamkit_clamd, start_reference_clamd

pexpect = pytest.importorskip("pexpect")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READY = r"Self checking every \d+ seconds\."
START_TIMEOUT = 60
SAMPLE = b"clamkit life-cycle test sample\n"
SAMPLE_NAME = "Clamkit.Life.Sample"


def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path / "runtime"),
    }


def ask(path: Path, command: bytes, timeout: float = 10) -> bytes:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(timeout)
        client.connect(str(path))
        client.sendall(command)
        reply = b""
        while chunk := client.recv(4096):
            reply += chunk
    return reply


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(pid: int) -> None:
    """SIGTERM, then SIGKILL if the daemon is still there after a while."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sent)
        except ProcessLookupError:
            return
        if wait_until(lambda: not process_alive(pid), timeout=10):
            return


class Setup:
    def __init__(self, tmp_path: Path, foreground: bool) -> None:
        self.root = tmp_path
        self.socket = tmp_path / "clamd.sock"
        self.log = tmp_path / "clamd.log"
        self.pid_file = tmp_path / "clamd.pid"
        self.sample = tmp_path / "sample.txt"
        self.sample.write_bytes(SAMPLE)
        database = tmp_path / "db"
        database.mkdir()
        digest = hashlib.md5(SAMPLE).hexdigest()
        (database / "life.hdb").write_text(f"{digest}:{len(SAMPLE)}:{SAMPLE_NAME}\n")
        self.config = tmp_path / "clamd.conf"
        self.config.write_text(
            f"LocalSocket {self.socket}\nLogFile {self.log}\nPidFile {self.pid_file}\n"
            f"DatabaseDirectory {database}\nForeground {'yes' if foreground else 'no'}\n"
        )


@pytest.fixture
def foreground(tmp_path: Path) -> Iterator[tuple[Setup, Any]]:
    setup = Setup(tmp_path, foreground=True)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "clamkit.cli.clamd", "-F", "-c", str(setup.config)],
        cwd=str(PROJECT_ROOT),
        env=environment(tmp_path),
        encoding="utf-8",
        timeout=START_TIMEOUT,
    )
    try:
        yield setup, child
    finally:
        if child.isalive():
            stop(child.pid)
        child.close(force=True)


def test_foreground_life(foreground: tuple[Setup, Any]) -> None:
    setup, child = foreground
    child.expect(READY)
    assert ask(setup.socket, b"zPING\0") == b"PONG\0"
    assert setup.pid_file.read_text() == f"{child.pid}\n"

    # SIGHUP: an outside rotation moved the log; the daemon writes to a new file.
    setup.log.rename(setup.root / "clamd.log.1")
    os.kill(child.pid, signal.SIGHUP)
    assert wait_until(setup.log.exists)
    reply = ask(setup.socket, f"zSCAN {setup.sample}\0".encode())
    assert reply == f"{setup.sample}: {SAMPLE_NAME}.UNOFFICIAL FOUND\0".encode()
    assert wait_until(lambda: f"{SAMPLE_NAME}.UNOFFICIAL FOUND" in setup.log.read_text())
    assert "FOUND" not in (setup.root / "clamd.log.1").read_text()

    os.kill(child.pid, signal.SIGTERM)
    child.expect(pexpect.EOF)
    child.wait()
    assert child.exitstatus == 0
    assert not setup.socket.exists()
    assert not setup.pid_file.exists()


@pytest.fixture
def detached(tmp_path: Path) -> Iterator[Setup]:
    setup = Setup(tmp_path, foreground=False)
    yield setup
    if setup.pid_file.exists():
        text = setup.pid_file.read_text().strip()
        if text.isdigit():
            stop(int(text))


def start_detached(setup: Setup) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clamkit.cli.clamd", "-c", str(setup.config)],
        cwd=PROJECT_ROOT,
        env=environment(setup.root),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


def test_detached_life(detached: Setup) -> None:
    result = start_detached(detached)
    assert (result.returncode, result.stderr) == (0, "")
    # Returned only once ready: it answers at once.
    assert ask(detached.socket, b"zPING\0") == b"PONG\0"
    daemon = int(detached.pid_file.read_text())
    assert process_alive(daemon)
    assert os.getsid(daemon) == daemon
    os.kill(daemon, signal.SIGTERM)
    assert wait_until(lambda: not process_alive(daemon))
    assert not detached.socket.exists()
    assert not detached.pid_file.exists()


def test_detached_start_up_failure_reaches_the_terminal(detached: Setup) -> None:
    with socket.socket(socket.AF_UNIX) as squatter:
        squatter.bind(str(detached.socket))
        squatter.listen()
        result = start_detached(detached)
    assert result.returncode == 1
    # What the reference prints when it meets this before it forks.
    assert result.stderr == (
        f"ERROR: LOCAL: Socket file {detached.socket} is in use by another process.\n"
    )


def test_built_in_defaults(tmp_path: Path) -> None:
    # The reference has no way to name another default configuration file,
    # so the child is told in-process that /etc/clamav/clamd.conf is absent.
    program = (
        "import sys, clamkit.cli.clamd as clamd; "
        f"clamd.DEFAULT_CONFIG_PATH = {str(tmp_path / 'absent.conf')!r}; clamd.main()"
    )
    (tmp_path / "runtime").mkdir(mode=0o700)
    child = pexpect.spawn(
        sys.executable,
        ["-c", program, "--foreground"],
        cwd=str(PROJECT_ROOT),
        env=environment(tmp_path),
        encoding="utf-8",
        timeout=START_TIMEOUT,
    )
    try:
        socket_path = tmp_path / "runtime" / "clamkit" / "clamd.sock"
        child.expect(f"listening on {socket_path}")
        child.expect(READY)
        assert ask(socket_path, b"zPING\0") == b"PONG\0"
        os.kill(child.pid, signal.SIGTERM)
        child.expect(pexpect.EOF)
        child.wait()
        assert child.exitstatus == 0
        assert not socket_path.exists()
    finally:
        if child.isalive():
            stop(child.pid)
        child.close(force=True)


# What this part of clamd writes at start and at exit, as patterns over log lines.
OWN_NOTES = re.compile(
    r"\+\+\+ Started at |Received \d+ file descriptor|clamd daemon |Log file size limited"
    r"|LOCAL: |TCP: |Socket file removed\."
)


def notes_of(start: Callable[..., RunningDaemon], where: Path) -> list[tuple[str, bool]]:
    """This part's notes in the daemon's log, masked, each with whether the
    terminal showed it too."""
    where.mkdir()
    daemon = start(where, "LogVerbose no")
    try:
        daemon.process.send_signal(signal.SIGTERM)
        daemon.process.wait(timeout=30)
        log = daemon.log()
    finally:
        daemon.stop()
    terminal = (where / "clamd-output.txt").read_text()
    notes = []
    for line in log.splitlines():
        if OWN_NOTES.match(line):
            shown = line in terminal.splitlines()
            masked = line.replace(str(daemon.workdir), "WORK").replace(str(daemon.tcp_port), "PORT")
            masked = re.sub(r"Started at .*", "Started at TIME", masked)
            masked = re.sub(r"clamd daemon \S+", "clamd daemon VERSION", masked)
            notes.append((masked, shown))
    return notes


def test_start_and_stop_notes_match_the_reference(tmp_path: Path) -> None:
    ours = notes_of(start_clamkit_clamd, tmp_path / "ours")
    theirs = notes_of(start_reference_clamd, tmp_path / "theirs")
    assert ours == theirs
    assert len(ours) >= 9
