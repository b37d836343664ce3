"""clamdscan without the reference: its own rules, against a small in-process clamd.

``FakeClamd`` answers on a Unix socket with clamkit's server-side parser
(``clamkit.protocol``): EICAR is found, everything else is OK, each scan
optionally takes ``delay`` seconds (the terminal tests use it for a long
scan).  What is checked here is what the reference table cannot: the
--ping argument syntax, moving and copying that never overwrite or follow
a link out of the target directory, a failed move, the built-in socket when
there is no configuration file, and the one intended difference (piped
standard input with no path is scanned).
"""

from __future__ import annotations

import array
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clamkit.cli import clamdscan
from clamkit.cli.clamdscan import _Action, _parse_ping, _PingArgumentError, _Printer
from clamkit.protocol import (
    CLOSED,
    NEED_DATA,
    Command,
    Reject,
    Request,
    ServerConnection,
    SessionEnded,
    StreamChunk,
    StreamEnd,
    reply,
)
from clamkit.protocol.framing import COMMAND_BUFFER
from tests.daemons import EICAR, EICAR_NAME, PROJECT_ROOT

OURS = [sys.executable, "-m", "clamkit.cli.clamdscan"]


def receive(server: socket.socket) -> tuple[bytes, list[int]]:
    """One read as clamd makes it: at most its command buffer, so a descriptor
    always comes with the last byte of the read."""
    data, ancillary, _, _ = server.recvmsg(COMMAND_BUFFER, socket.CMSG_SPACE(16))
    fds = [
        fd
        for _level, _kind, payload in ancillary
        for fd in array.array("i", payload[: len(payload) - len(payload) % 4])
    ]
    return data, fds


class FakeClamd:
    """A clamd good enough for a client: PING, VERSION, RELOAD, path scans,
    INSTREAM and FILDES, inside IDSESSION or not."""

    def __init__(self, path: Path, delay: float = 0.0, stream_max_length: int = 0) -> None:
        self.path = path
        self.delay = delay
        self.stream_max_length = stream_max_length
        self.commands: list[str] = []
        self.connections = 0
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(16)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _verdict(self, name: str, data: bytes) -> str:
        time.sleep(self.delay)
        return f"{name}: {EICAR_NAME} FOUND" if EICAR in data else f"{name}: OK"

    def _answer(self, request: Request, streams: dict[int, bytearray]) -> str:
        self.commands.append(request.command.value)
        if request.command is Command.PING:
            return "PONG"
        if request.command is Command.VERSION:
            return "ClamAV fake"
        if request.command is Command.RELOAD:
            return "RELOADING"
        if request.command is Command.FILDES:
            assert request.fd is not None
            with os.fdopen(request.fd, "rb") as handle:
                return self._verdict(f"fd[{request.fd}]", handle.read())
        if request.command is Command.INSTREAM:
            return self._verdict("stream", bytes(streams.pop(id(request), b"")))
        path = str(request.argument)
        return self._verdict(path, Path(path).read_bytes() if Path(path).is_file() else b"")

    def _serve(self, client: socket.socket) -> None:
        connection = ServerConnection(unix_socket=True, stream_max_length=self.stream_max_length)
        streams: dict[int, bytearray] = {}
        with client:
            while True:
                data, fds = receive(client)
                connection.receive_data(data, fds)
                while (event := connection.next_event()) is not NEED_DATA:
                    if event is CLOSED or isinstance(event, SessionEnded):
                        return
                    if isinstance(event, Reject):
                        client.sendall(event.reply)
                        return
                    if isinstance(event, StreamChunk):
                        streams.setdefault(id(event.request), bytearray()).extend(event.data)
                        continue
                    request = event.request if isinstance(event, StreamEnd) else event
                    if not isinstance(request, Request):
                        continue
                    if request.command is Command.INSTREAM and not isinstance(event, StreamEnd):
                        continue
                    client.sendall(reply(request, self._answer(request, streams)))
                    if request.session_id is None:
                        return


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeClamd]:
    daemon = FakeClamd(tmp_path / "fake.sock")
    yield daemon
    daemon.close()


@pytest.fixture
def conf(tmp_path: Path, fake: FakeClamd) -> Path:
    path = tmp_path / "clamd.conf"
    path.write_text(f"LocalSocket {fake.path}\n")
    return path


def _ours(*args: str, cwd: Path, stdin: object = subprocess.DEVNULL, **kw: object) -> object:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [*OURS, *args], cwd=cwd, env=env, stdin=stdin, capture_output=True, timeout=60, **kw
    )


# ---------------------------------------------------------------------------
# --ping's argument, as the reference reads it (strtoul, then checks)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", (3, 1)),
        ("3:2", (3, 2)),
        ("0", (0, 1)),
        ("1:", (1, 0)),
        (" 4:+5", (4, 5)),
        ("-1", (2**64 - 1, 1)),
        ("99999999999999999999999:0", (2**64 - 1, 0)),
        (":7", (0, 7)),
    ],
)
def test_ping_argument(text: str, expected: tuple[int, int]) -> None:
    assert _parse_ping(text) == expected


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("x", "attempt_str would go past end of buffer"),
        ("1x", "attempt_str would go past end of buffer"),
        ("1:2x", "interval_str would go past end of buffer"),
    ],
)
def test_bad_ping_argument(text: str, warning: str) -> None:
    with pytest.raises(_PingArgumentError, match=warning):
        _parse_ping(text)


def test_help_lists_every_option() -> None:
    specs = clamdscan.option_specs(clamdscan.typer.main.get_command(clamdscan.app))
    text = clamdscan._help_text(clamdscan.typer.main.get_command(clamdscan.app))
    for spec in specs:
        assert spec.long in text
    assert {spec.long for spec in specs} >= {
        "--ping",
        "--wait",
        "--fdpass",
        "--stream",
        "--move",
        "--copy",
        "--remove",
        "--file-list",
        "--log",
        "--reload",
        "--allmatch",
        "--multiscan",
        "--config-file",
    }


# ---------------------------------------------------------------------------
# --move and --copy: never overwrite, never follow a link out of the directory


def _printer() -> _Printer:
    return _Printer(quiet=False, infected_only=False, to_stdout=False)


def test_copy_never_overwrites_nor_follows_a_link_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quarantine, outside = tmp_path / "quarantine", tmp_path / "outside"
    quarantine.mkdir()
    outside.write_text("precious\n")
    (quarantine / "bad.com").symlink_to(outside)
    (quarantine / "bad.com.001").write_text("earlier\n")
    source = tmp_path / "bad.com"
    source.write_bytes(EICAR)
    action = _Action.create(False, None, str(quarantine), _printer())
    assert action is not None and action.apply(str(source))
    assert outside.read_text() == "precious\n"
    assert (quarantine / "bad.com.001").read_text() == "earlier\n"
    assert (quarantine / "bad.com.002").read_bytes() == EICAR
    assert oct((quarantine / "bad.com.002").stat().st_mode & 0o777) == "0o600"
    assert source.exists()
    expected = f"{source}: copied to '{quarantine}/bad.com.002'\n"
    assert capsys.readouterr().out == expected


def test_move_links_and_unlinks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    (quarantine / "bad.com").write_text("keep\n")
    source = tmp_path / "bad.com"
    source.write_bytes(EICAR)
    action = _Action.create(False, str(quarantine), None, _printer())
    assert action is not None and action.apply(str(source))
    assert not source.exists()
    assert (quarantine / "bad.com").read_text() == "keep\n"
    assert (quarantine / "bad.com.001").read_bytes() == EICAR
    assert capsys.readouterr().out == f"{source}: moved to '{quarantine}/bad.com.001'\n"


def test_failed_move_is_an_error_and_the_file_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    source = tmp_path / "bad.com"
    source.write_bytes(EICAR)
    action = _Action.create(False, str(quarantine), None, _printer())
    # The directory goes away after it was opened: nothing can be put there.
    quarantine.rmdir()
    assert action is not None and not action.apply(str(source))
    assert source.read_bytes() == EICAR
    assert capsys.readouterr().err == f"ERROR: Can't move file '{source}'\n"


# ---------------------------------------------------------------------------
# Finding the daemon, and standard input


def test_built_in_socket_when_no_configuration_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(clamdscan, "DEFAULT_CONFIG_PATH", str(tmp_path / "absent.conf"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "clamkit").mkdir(mode=0o700)
    daemon = FakeClamd(tmp_path / "clamkit" / "clamd.sock")
    try:
        assert clamdscan.run(["--ping", "1"]) == 0
    finally:
        daemon.close()
    assert capsys.readouterr().out == "PONG\n"


def test_piped_stdin_without_paths_is_scanned(tmp_path: Path, conf: Path, fake: FakeClamd) -> None:
    result = _ours("-c", str(conf), "--no-summary", cwd=tmp_path, stdin=None, input=EICAR)
    assert result.stdout.decode() == f"stream: {EICAR_NAME} FOUND\n"  # type: ignore[attr-defined]
    assert result.returncode == 1  # type: ignore[attr-defined]


def test_redirected_stdin_without_paths_is_scanned(
    tmp_path: Path, conf: Path, fake: FakeClamd
) -> None:
    sample = tmp_path / "sample"
    sample.write_bytes(EICAR)
    with sample.open("rb") as stdin:
        result = _ours("-c", str(conf), "--no-summary", "--stream", cwd=tmp_path, stdin=stdin)
    assert result.stdout.decode() == f"stream: {EICAR_NAME} FOUND\n"  # type: ignore[attr-defined]


def test_dev_null_stdin_scans_the_current_directory(
    tmp_path: Path, conf: Path, fake: FakeClamd
) -> None:
    result = _ours("-c", str(conf), "--no-summary", cwd=tmp_path)
    assert result.stdout.decode() == f"{tmp_path}: OK\n"  # type: ignore[attr-defined]
    assert fake.commands == ["CONTSCAN"]


def test_many_files_go_through_one_session(tmp_path: Path, conf: Path, fake: FakeClamd) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for number in range(40):
        (tree / f"f{number:02d}").write_bytes(EICAR if number == 7 else b"clean %d" % number)
    result = _ours("-c", str(conf), "--fdpass", "--no-summary", "tree", cwd=tmp_path)
    assert result.stdout.decode() == f"{tree}/f07: {EICAR_NAME} FOUND\n"  # type: ignore[attr-defined]
    assert fake.commands == ["FILDES"] * 40
    assert fake.connections == 1


def test_a_daemon_hanging_up_mid_session_gets_a_new_one_for_the_rest(tmp_path: Path) -> None:
    """Over its StreamMaxLength the daemon answers with an error and hangs up;
    the files after that one are still scanned."""
    daemon = FakeClamd(tmp_path / "limited.sock", stream_max_length=1000)
    config = tmp_path / "limited.conf"
    config.write_text(f"LocalSocket {daemon.path}\n")
    (tmp_path / "big").write_bytes(b"x" * 5000)
    (tmp_path / "eicar.com").write_bytes(EICAR)
    try:
        result = _ours("-c", str(config), "--stream", "big", "eicar.com", cwd=tmp_path)
    finally:
        daemon.close()
    lines = result.stdout.decode().splitlines()  # type: ignore[attr-defined]
    assert lines[:2] == [
        f"{tmp_path}/big: INSTREAM size limit exceeded. ERROR",
        f"{tmp_path}/eicar.com: {EICAR_NAME} FOUND",
    ]
    assert "Infected files: 1" in lines and "Total errors: 1" in lines
    assert result.returncode == 1  # type: ignore[attr-defined]
