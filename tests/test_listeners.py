"""Listening sockets: systemd's, the Unix socket's permissions and stale files, TCP addresses.

Messages and decisions were read from clamd 1.4.6: a stale socket is
removed (``LOCAL: Removing stale socket file``) with FixStaleSocket, one
that answers is ``in use by another process``, a missing parent directory
is created (one level), no TCPAddr binds 0.0.0.0 and ::, a TCPAddr that
cannot be bound is an error but not fatal while another address works, and
systemd's sockets replace the configured ones.
"""

from __future__ import annotations

import grp
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from clamkit.config.parser import parse_config
from clamkit.daemon.listeners import (
    ALL_INTERFACES_WARNING,
    NO_SERVER_TYPE,
    NOT_LISTENING,
    Listener,
    ListenerError,
    close_listeners,
    open_listeners,
)
from clamkit.daemon.log import DaemonLog

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Opened:
    """What one ``open_listeners`` call gave and logged."""

    def __init__(self, tmp_path: Path) -> None:
        self.log_path = tmp_path / "clamd.log"
        self.log = DaemonLog(str(self.log_path))
        self.listeners: list[Listener] = []

    def open(self, text: str) -> list[Listener]:
        self.listeners = open_listeners(parse_config(text, "clamd.conf"), self.log)
        return self.listeners

    def lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Opened]:
    state = Opened(tmp_path)
    yield state
    close_listeners(state.listeners)
    state.log.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------
# Unix socket


def test_unix_socket_default_mode_and_log(opened: Opened, tmp_path: Path) -> None:
    path = tmp_path / "clamd.sock"
    [listener] = opened.open(f"LocalSocket {path}\nMaxConnectionQueueLength 7\n")
    assert listener.kind == "unix"
    assert listener.address == str(path)
    assert listener.owned_path == path
    assert not listener.sock.getblocking()
    assert stat.S_IMODE(path.lstat().st_mode) == 0o666
    assert opened.lines() == [
        f"LOCAL: Unix socket file {path}",
        "LOCAL: Setting connection queue length to 7",
    ]
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(path))


def test_unix_socket_mode_and_group(opened: Opened, tmp_path: Path) -> None:
    path = tmp_path / "clamd.sock"
    group = grp.getgrgid(os.getgid()).gr_name
    opened.open(f"LocalSocket {path}\nLocalSocketMode 640\nLocalSocketGroup {group}\n")
    info = path.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert info.st_gid == os.getgid()


def test_no_window_with_other_permissions(
    opened: Opened, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clamd.sock"
    seen: list[tuple[int, bool]] = []
    chmod = os.chmod

    def spy(target: str, mode: int) -> None:
        with socket.socket(socket.AF_UNIX) as client:
            accepted = client.connect_ex(str(path)) == 0
        seen.append((stat.S_IMODE(path.lstat().st_mode), accepted))
        chmod(target, mode)

    monkeypatch.setattr(os, "chmod", spy)
    opened.open(f"LocalSocket {path}\nLocalSocketMode 660\n")
    # Until its mode is set the socket has no permission bits and is not listening.
    assert seen == [(0, False)]
    assert stat.S_IMODE(path.lstat().st_mode) == 0o660


def test_socket_swapped_for_a_link_is_not_chmodded(
    opened: Opened, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clamd.sock"
    victim = tmp_path / "victim"
    victim.write_text("")
    victim.chmod(0o600)
    bind = socket.socket.bind

    def swapping_bind(sock: socket.socket, address: object) -> None:
        bind(sock, address)
        # Someone who can write to the directory replaces the new socket.
        path.unlink()
        path.symlink_to(victim)

    monkeypatch.setattr(socket.socket, "bind", swapping_bind)
    with pytest.raises(ListenerError):
        opened.open(f"LocalSocket {path}\n")
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600


def test_umask_is_restored(opened: Opened, tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        opened.open(f"LocalSocket {tmp_path / 's'}\n")
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("LocalSocketMode 99z", "Invalid LocalSocketMode 99z"),
        ("LocalSocketMode 8", "Invalid LocalSocketMode 8"),
        ("LocalSocketGroup no-such-group-here", "Unknown group no-such-group-here"),
    ],
)
def test_bad_mode_or_group(opened: Opened, tmp_path: Path, setting: str, message: str) -> None:
    path = tmp_path / "clamd.sock"
    with pytest.raises(ListenerError, match=f"^{message}$"):
        opened.open(f"LocalSocket {path}\n{setting}\n")
    assert not path.exists()


def test_stale_socket_is_replaced(opened: Opened, tmp_path: Path) -> None:
    path = tmp_path / "clamd.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))
    opened.open(f"LocalSocket {path}\n")
    assert opened.lines()[0] == f"LOCAL: Removing stale socket file {path}"


def test_socket_in_use_is_refused(opened: Opened, tmp_path: Path) -> None:
    path = tmp_path / "clamd.sock"
    with socket.socket(socket.AF_UNIX) as alive:
        alive.bind(str(path))
        alive.listen()
        with pytest.raises(ListenerError) as caught:
            opened.open(f"LocalSocket {path}\n")
    assert str(caught.value) == f"LOCAL: Socket file {path} is in use by another process."
    assert path.exists()


def test_socket_in_use_without_fix_stale(opened: Opened, tmp_path: Path) -> None:
    path = tmp_path / "clamd.sock"
    with socket.socket(socket.AF_UNIX) as alive:
        alive.bind(str(path))
        alive.listen()
        with pytest.raises(ListenerError, match=r"is in use by another process\.$"):
            opened.open(f"LocalSocket {path}\nFixStaleSocket no\n")


def test_existing_socket_without_fix_stale(opened: Opened, tmp_path: Path) -> None:
    path = tmp_path / "clamd.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))
    with pytest.raises(ListenerError) as caught:
        opened.open(f"LocalSocket {path}\nFixStaleSocket no\n")
    assert str(caught.value) == (
        f"LOCAL: Socket file {path} exists. Either remove it, or configure a different one."
    )


def test_regular_file_is_never_removed(opened: Opened, tmp_path: Path) -> None:
    # The reference deletes it; a misconfigured path must not cost a file.
    path = tmp_path / "precious"
    path.write_text("keep me")
    with pytest.raises(ListenerError, match=r"exists\. Either remove it"):
        opened.open(f"LocalSocket {path}\n")
    assert path.read_text() == "keep me"


def test_missing_directory_is_created(opened: Opened, tmp_path: Path) -> None:
    path = tmp_path / "run" / "clamd.sock"
    opened.open(f"LocalSocket {path}\n")
    assert path.parent.is_dir()
    assert opened.lines()[0] == f"Localserver: Creating socket directory: {path.parent}"


def test_only_one_directory_level_is_created(opened: Opened, tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "clamd.sock"
    with pytest.raises(ListenerError) as caught:
        opened.open(f"LocalSocket {path}\n")
    assert str(caught.value) == (
        f"LOCAL: Socket file {path} could not be bound: No such file or directory"
    )
    assert opened.lines()[1:] == [
        f"ERROR: LOCAL: Could not create socket directory: {path.parent}: "
        "No such file or directory",
        "ERROR: LOCAL: Ensure parent directory exists.",
    ]


def test_too_long_path(opened: Opened, tmp_path: Path) -> None:
    path = tmp_path / ("x" * 120)
    with pytest.raises(ListenerError, match=r"could not be bound: File name too long$"):
        opened.open(f"LocalSocket {path}\n")


def test_close_removes_only_our_socket_file(tmp_path: Path) -> None:
    log = DaemonLog(str(tmp_path / "clamd.log"))
    config = parse_config(f"LocalSocket {tmp_path / 'a'}\n", "clamd.conf")
    listeners = open_listeners(config, log)
    close_listeners(listeners, log)
    assert not (tmp_path / "a").exists()
    assert (tmp_path / "clamd.log").read_text().splitlines()[-1] == "Socket file removed."
    # A socket file that another daemon put in place since is left alone.
    listeners = open_listeners(config, log)
    (tmp_path / "a").unlink()
    with socket.socket(socket.AF_UNIX) as other:
        other.bind(str(tmp_path / "a"))
        close_listeners(listeners, log)
        assert (tmp_path / "a").exists()
    log.close()


# ---------------------------------------------------------------------------
# TCP


def test_tcp_addresses(opened: Opened) -> None:
    port = free_port()
    addresses = ["127.0.0.1", "::1"] if ipv6_loopback() else ["127.0.0.1"]
    text = f"TCPSocket {port}\n" + "".join(f"TCPAddr {a}\n" for a in addresses)
    listeners = opened.open(text + "MaxConnectionQueueLength 9\n")
    assert [listener.kind for listener in listeners] == ["tcp"] * len(addresses)
    expected = []
    for address in addresses:
        expected += [
            f"TCP: Bound to [{address}]:{port}",
            "TCP: Setting connection queue length to 9",
        ]
    assert opened.lines() == expected
    for address in addresses:
        with socket.create_connection((address, port), timeout=2):
            pass


def test_tcp_and_unix_together(opened: Opened, tmp_path: Path) -> None:
    port = free_port()
    listeners = opened.open(f"TCPSocket {port}\nTCPAddr 127.0.0.1\nLocalSocket {tmp_path / 's'}\n")
    assert [(listener.kind, listener.address) for listener in listeners] == [
        ("tcp", f"127.0.0.1:{port}"),
        ("unix", str(tmp_path / "s")),
    ]


def test_no_tcp_address_means_every_interface_with_a_warning(opened: Opened) -> None:
    port = free_port()
    listeners = opened.open(f"TCPSocket {port}\n")
    hosts = {listener.address.rsplit(":", 1)[0] for listener in listeners}
    assert "0.0.0.0" in hosts
    lines = opened.lines()
    assert lines[0] == f"WARNING: {ALL_INTERFACES_WARNING}"
    assert lines[1] == f"TCP: Bound to []:{port}"


def test_unknown_host(opened: Opened) -> None:
    with pytest.raises(ListenerError, match=r"^TCP: getaddrinfo failed: "):
        opened.open(f"TCPSocket {free_port()}\nTCPAddr no-such-host.invalid\n")


def test_one_busy_address_is_not_fatal(opened: Opened, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        listeners = opened.open(
            f"TCPSocket {port}\nTCPAddr 127.0.0.1\nLocalSocket {tmp_path / 's'}\n"
        )
        assert [listener.kind for listener in listeners] == ["unix"]
        assert opened.lines()[0] == (
            f"ERROR: TCP: Cannot bind to [127.0.0.1]:{port}: Address already in use"
        )
        with pytest.raises(ListenerError, match=f"^{NOT_LISTENING}$"):
            open_listeners(parse_config(f"TCPSocket {port}\nTCPAddr 127.0.0.1\n", "c"), opened.log)


def test_nothing_to_listen_on(opened: Opened) -> None:
    with pytest.raises(ListenerError) as caught:
        opened.open("LogTime yes\n")
    assert str(caught.value) == NO_SERVER_TYPE == "Please define server type (local and/or TCP)."


# ---------------------------------------------------------------------------
# systemd socket activation (in a child process: it needs descriptors 3 and up)

_SYSTEMD_CHILD = textwrap.dedent(
    """
    import json, os, socket, sys
    from clamkit.config.parser import parse_config
    from clamkit.daemon.listeners import open_listeners
    from clamkit.daemon.log import DaemonLog

    specs, config_text, log_path = json.loads(sys.argv[1])
    parked = []
    for spec in specs:
        if spec == "tcp":
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
        else:
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(spec)
        sock.listen()
        parked.append(os.dup2(sock.fileno(), 100 + len(parked)))
        sock.close()
    for number, fd in enumerate(parked):
        os.dup2(fd, 3 + number)
        os.close(fd)
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDS"] = str(len(specs))
    listeners = open_listeners(parse_config(config_text, "c"), DaemonLog(log_path))
    print(json.dumps({
        "listeners": [[item.kind, item.sock.fileno(), item.owned_path is None]
                      for item in listeners],
        "environment": [name for name in os.environ if name.startswith("LISTEN_")],
    }))
    """
)


def run_systemd_child(tmp_path: Path, specs: list[str], config_text: str) -> dict[str, object]:
    log_path = tmp_path / "clamd.log"
    result = subprocess.run(
        [sys.executable, "-c", _SYSTEMD_CHILD, json.dumps([specs, config_text, str(log_path)])],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=PROJECT_ROOT,
        check=True,
    )
    report: dict[str, object] = json.loads(result.stdout)
    report["log"] = log_path.read_text().splitlines()
    return report


def test_systemd_sockets_replace_the_configured_ones(tmp_path: Path) -> None:
    configured = tmp_path / "configured.sock"
    report = run_systemd_child(
        tmp_path,
        [str(tmp_path / "systemd.sock")],
        f"LocalSocket {configured}\nTCPSocket {free_port()}\n",
    )
    assert report["listeners"] == [["unix", 3, True]]
    assert report["environment"] == []
    assert report["log"] == [
        "TCP: No tcp AF_INET/AF_INET6 SOCK_STREAM socket received from systemd.",
        "LOCAL: Received AF_UNIX SOCK_STREAM socket from systemd.",
    ]
    assert not configured.exists()


def test_systemd_tcp_socket(tmp_path: Path) -> None:
    report = run_systemd_child(tmp_path, ["tcp", str(tmp_path / "s")], "")
    assert report["listeners"] == [["tcp", 3, True], ["unix", 4, True]]
    assert report["log"] == [
        "TCP: Received AF_INET SOCK_STREAM socket from systemd.",
        "LOCAL: Received AF_UNIX SOCK_STREAM socket from systemd.",
    ]


def test_systemd_variables_for_another_process_are_ignored(
    opened: Opened, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LISTEN_PID", str(os.getpid() + 1))
    monkeypatch.setenv("LISTEN_FDS", "1")
    [listener] = opened.open(f"LocalSocket {tmp_path / 's'}\n")
    assert listener.owned_path is not None
