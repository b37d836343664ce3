"""clamkit's clamd over real sockets: scanning commands, sessions, reloads, clients.

The byte-level protocol cases live in test_protocol_reference.py; here the
daemon's own behaviour is checked, against the reference where it is
installed: what the path commands answer for a tree, that INSTREAM, FILDES
and sessions scan, that reloads keep serving and a broken database leaves the
old engine in place, that no client's bytes cost a descriptor, and that real
clients (Debian's clamdscan in all its modes, the Python ``clamd`` library)
work unchanged.
"""

from __future__ import annotations

import array
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.daemon_bench import children
from tests.daemons import (
    EICAR,
    EICAR_NAME,
    RunningDaemon,
    exchange,
    send,
    start_clamkit_clamd,
    start_reference_clamd,
    write_test_database,
)

TEST_FILE = Path("/usr/share/clamav-testfiles/clam.exe")
TEST_NAME = "ClamAV-Test-File.UNOFFICIAL"
REFERENCE_CLAMDSCAN = Path("/usr/bin/clamdscan")


def _instream(data: bytes, chunk: int = 4096) -> bytes:
    body = b"".join(
        struct.pack(">I", len(data[i : i + chunk])) + data[i : i + chunk]
        for i in range(0, len(data), chunk)
    )
    return b"zINSTREAM\0" + body + struct.pack(">I", 0)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Infected and clean files, a nested directory, a link and a FIFO."""
    if not TEST_FILE.exists():
        pytest.skip(f"{TEST_FILE} missing (package clamav-testfiles)")
    root = tmp_path_factory.mktemp("tree")
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "clean").mkdir()
    (root / "empty").mkdir()
    shutil.copyfile(TEST_FILE, root / "a.exe")
    shutil.copyfile(TEST_FILE, root / "sub" / "b.exe")
    (root / "sub" / "deeper" / "eicar.com").write_bytes(EICAR)
    (root / "clean" / "notes.txt").write_text("nothing to see\n")
    (root / "readme.txt").write_text("hello\n")
    (root / "skipme").mkdir()
    shutil.copyfile(TEST_FILE, root / "skipme" / "hidden.exe")
    shutil.copyfile(TEST_FILE, root / "sub" / "skipme.exe")
    os.symlink("/etc", root / "link")
    os.symlink(TEST_FILE, root / "filelink")
    os.mkfifo(root / "pipe")
    return root


def _start_pair(
    tmp_path_factory: pytest.TempPathFactory, name: str, extra: str = ""
) -> Iterator[dict[str, RunningDaemon]]:
    ours = start_clamkit_clamd(tmp_path_factory.mktemp(f"{name}-ours"), extra)
    try:
        reference = start_reference_clamd(tmp_path_factory.mktemp(f"{name}-ref"), extra)
    except BaseException:
        ours.stop()
        raise
    try:
        yield {"clamkit": ours, "reference": reference}
    finally:
        ours.stop()
        reference.stop()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningDaemon]]:
    yield from _start_pair(tmp_path_factory, "pair", "ExcludePath skipme")


@pytest.fixture(scope="module")
def clamkit(pair: dict[str, RunningDaemon]) -> RunningDaemon:
    return pair["clamkit"]


PATH_COMMANDS = ["SCAN", "CONTSCAN", "MULTISCAN", "ALLMATCHSCAN"]


def _lines(reply: bytes) -> list[bytes]:
    return [line for line in reply.split(b"\0") if line]


@pytest.mark.parametrize("command", PATH_COMMANDS)
@pytest.mark.parametrize(
    "target",
    [
        "",
        "/a.exe",
        "/clean",
        "/clean/",
        "/empty",
        "/sub",
        "/link",
        "/filelink",
        "/pipe",
        "/missing",
    ],
)
def test_path_commands_answer_as_the_reference(
    pair: dict[str, RunningDaemon], tree: Path, command: str, target: str
) -> None:
    request = f"z{command} {tree}{target}\0".encode()
    replies = {name: send(daemon.unix_path, request) for name, daemon in pair.items()}
    ours, theirs = _lines(replies["clamkit"]), _lines(replies["reference"])
    if command == "MULTISCAN":
        # Files are scanned in parallel: the order of their lines is not fixed.
        ours, theirs = sorted(ours), sorted(theirs)
    assert ours == theirs


def test_scan_stops_at_the_first_infected_file(clamkit: RunningDaemon, tree: Path) -> None:
    scan = _lines(send(clamkit.unix_path, f"zSCAN {tree}\0".encode()))
    assert [line for line in scan if line.endswith(b" FOUND")] == [
        f"{tree}/a.exe: {TEST_NAME} FOUND".encode()
    ]
    lines = _lines(send(clamkit.unix_path, f"zCONTSCAN {tree}\0".encode()))
    found = [line for line in lines if line.endswith(b" FOUND")]
    assert sorted(found) == sorted(
        [
            f"{tree}/a.exe: {TEST_NAME} FOUND".encode(),
            f"{tree}/sub/b.exe: {TEST_NAME} FOUND".encode(),
            f"{tree}/sub/deeper/eicar.com: {EICAR_NAME} FOUND".encode(),
        ]
    )


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_instream_in_any_chunking(clamkit: RunningDaemon, chunk: int) -> None:
    data = TEST_FILE.read_bytes()
    reply = send(clamkit.unix_path, _instream(data, chunk))
    assert reply == f"stream: {TEST_NAME} FOUND\0".encode()
    assert send(clamkit.tcp_address, _instream(b"clean " * 1000, chunk)) == b"stream: OK\0"


def test_instream_over_stream_max_length(tmp_path: Path) -> None:
    daemon = start_clamkit_clamd(tmp_path, "StreamMaxLength 1K")
    try:
        reply = send(daemon.unix_path, _instream(b"x" * 2048, 512))
        assert reply == b"INSTREAM size limit exceeded. ERROR\0"
        assert send(daemon.unix_path, b"zPING\0") == b"PONG\0"
    finally:
        daemon.stop()


def test_fildes_scans_the_descriptor(clamkit: RunningDaemon) -> None:
    with open(TEST_FILE, "rb") as handle:
        reply = send(clamkit.unix_path, [b"zFILDES\0", b"x"], fds=[handle.fileno()], fds_with=1)
    assert re.fullmatch(rb"fd\[\d+\]: " + TEST_NAME.encode() + rb" FOUND\0", reply)


def test_session_answers_every_command_with_its_id(clamkit: RunningDaemon, tree: Path) -> None:
    data = TEST_FILE.read_bytes()
    request = (
        b"zIDSESSION\0zPING\0"
        + f"zSCAN {tree}/a.exe\0".encode()
        + _instream(data)
        + b"zVERSION\0zEND\0"
    )
    replies = sorted(_lines(send(clamkit.unix_path, request)))
    assert replies[0] == b"1: PONG"
    assert replies[1] == f"2: {tree}/a.exe: {TEST_NAME} FOUND".encode()
    assert replies[2] == f"3: stream: {TEST_NAME} FOUND".encode()
    assert replies[3].startswith(b"4: ClamAV ")


def test_session_answers_as_each_command_finishes(clamkit: RunningDaemon, tmp_path: Path) -> None:
    """A slow scan's reply does not hold back a PING sent after it."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(24 * 1024 * 1024))
    request = f"zIDSESSION\0zSCAN {big}\0zPING\0zEND\0".encode()
    replies = _lines(send(clamkit.unix_path, request, timeout=60))
    assert replies == [b"2: PONG", f"1: {big}: OK".encode()]


def test_multiscan_uses_every_scanner_process(clamkit: RunningDaemon, tree: Path) -> None:
    # Idle ones may have stopped (IdleTimeout); MULTISCAN brings them all back.
    send(clamkit.unix_path, f"zMULTISCAN {tree}\0".encode(), timeout=60)
    stats = send(clamkit.unix_path, b"zSTATS\0").decode()
    idle = int(re.search(r"idle (\d+)", stats).group(1))
    assert idle == min(os.cpu_count() or 1, 10)


def test_idle_scanner_processes_stop_and_come_back_when_needed(tmp_path: Path) -> None:
    daemon = start_clamkit_clamd(tmp_path, "IdleTimeout 1", write_test_database(tmp_path / "db"))
    try:
        (spawner,) = children(daemon.pid)
        (leader,) = children(spawner)
        assert _wait_for(lambda: not children(leader), timeout=10)
        stats = send(daemon.unix_path, b"zSTATS\0").decode()
        assert re.search(r"THREADS: live 1 +idle 0 max \d+ idle-timeout 1\n", stats), stats
        # A scan has a worker forked for it, which stops again once idle.
        for _ in range(2):
            assert (
                send(daemon.unix_path, _instream(EICAR)) == f"stream: {EICAR_NAME} FOUND\0".encode()
            )
            assert len(children(leader)) == 1
            assert _wait_for(lambda: not children(leader), timeout=10)
    finally:
        daemon.stop()


def test_garbage_never_costs_a_descriptor(clamkit: RunningDaemon) -> None:
    baseline = len(os.listdir(f"/proc/{clamkit.pid}/fd"))
    rng = __import__("random").Random(7)
    for _ in range(60):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        exchange(clamkit.unix_path, [junk[: len(junk) // 2], junk[len(junk) // 2 :]], timeout=0.5)
    with open(TEST_FILE, "rb") as handle:
        # Descriptors without FILDES, and FILDES with two descriptors: all closed.
        send(clamkit.unix_path, b"zPING\0", fds=[handle.fileno()])
        send(clamkit.unix_path, [b"zFILDES\0", b"x"], fds=[handle.fileno()] * 2, fds_with=1)
    # A client that leaves in the middle of a stream.
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(clamkit.unix_path))
        client.sendall(b"zINSTREAM\0" + struct.pack(">I", 1000) + b"partial")
    time.sleep(0.5)
    assert send(clamkit.unix_path, b"zPING\0") == b"PONG\0"
    assert len(os.listdir(f"/proc/{clamkit.pid}/fd")) == baseline


def test_silent_client_gets_the_read_timeout(tmp_path: Path) -> None:
    daemon = start_clamkit_clamd(tmp_path, "CommandReadTimeout 1")
    try:
        conversation = exchange(daemon.unix_path, b"", timeout=5)
        assert conversation.data == b"COMMAND READ TIMED OUT\n"
        assert conversation.closed
    finally:
        daemon.stop()


def test_disabled_commands(tmp_path: Path) -> None:
    extra = "EnableShutdownCommand no\nEnableReloadCommand no\nEnableStatsCommand no"
    daemon = start_clamkit_clamd(tmp_path, extra)
    try:
        for command in (b"zSHUTDOWN\0", b"zRELOAD\0", b"zSTATS\0"):
            assert send(daemon.unix_path, command) == b"COMMAND UNAVAILABLE\0"
        assert send(daemon.unix_path, b"zPING\0") == b"PONG\0"
    finally:
        daemon.stop()


def _wait_for(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_reload_picks_up_new_signatures_and_keeps_serving_on_failure(tmp_path: Path) -> None:
    database = write_test_database(tmp_path / "db")
    daemon = start_clamkit_clamd(tmp_path, "", database)
    marker = b"clamkit reload marker 0123456789"
    try:
        assert send(daemon.unix_path, _instream(marker)) == b"stream: OK\0"
        (database / "marker.ndb").write_text(f"Reload.Marker:0:*:{marker.hex()}\n")
        assert send(daemon.unix_path, b"zRELOAD\0") == b"RELOADING\0"

        def marker_found() -> bool:
            return send(daemon.unix_path, _instream(marker)) == (
                b"stream: Reload.Marker.UNOFFICIAL FOUND\0"
            )

        assert _wait_for(marker_found)
        # A malformed database: the reload fails, the loaded engine keeps serving.
        (database / "broken.ndb").write_text("not a signature\n")
        os.kill(daemon.pid, signal.SIGUSR2)
        assert _wait_for(lambda: "reload db failed" in daemon.log())
        assert marker_found()
    finally:
        daemon.stop()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_pool_leaders_come_from_one_spawner_that_a_reload_replaces_if_it_died(
    tmp_path: Path,
) -> None:
    database = write_test_database(tmp_path / "db")
    daemon = start_clamkit_clamd(tmp_path, "", database)
    marker = b"clamkit spawner marker 13579"
    try:
        # The network process has one child, the spawner; the pool leader is
        # the spawner's child (forked, sharing its imported code), and the
        # workers are the leader's.
        (spawner,) = children(daemon.pid)
        (leader,) = children(spawner)
        assert len(children(leader)) >= 1
        os.kill(spawner, signal.SIGKILL)
        assert _wait_for(lambda: not _alive(spawner))
        # The old pool serves on; the reload starts a new spawner.
        assert send(daemon.unix_path, _instream(EICAR)) == f"stream: {EICAR_NAME} FOUND\0".encode()
        (database / "marker.ndb").write_text(f"Spawner.Marker:0:*:{marker.hex()}\n")
        assert send(daemon.unix_path, b"zRELOAD\0") == b"RELOADING\0"
        assert _wait_for(
            lambda: (
                send(daemon.unix_path, _instream(marker))
                == b"stream: Spawner.Marker.UNOFFICIAL FOUND\0"
            )
        )
        (new_spawner,) = children(daemon.pid)
        assert new_spawner != spawner
        # The old leader left once its workers had finished.
        assert _wait_for(lambda: not _alive(leader))
        (new_leader,) = children(new_spawner)
    finally:
        daemon.stop()
    # Stopping the daemon stops every scanner process.
    assert not _alive(new_spawner)
    assert not _alive(new_leader)


def test_selfcheck_reloads_a_changed_database(tmp_path: Path) -> None:
    database = write_test_database(tmp_path / "db")
    daemon = start_clamkit_clamd(tmp_path, "SelfCheck 1", database)
    marker = b"clamkit selfcheck marker 987654"
    try:
        (database / "marker.ndb").write_text(f"SelfCheck.Marker:0:*:{marker.hex()}\n")
        assert _wait_for(
            lambda: (
                send(daemon.unix_path, _instream(marker))
                == b"stream: SelfCheck.Marker.UNOFFICIAL FOUND\0"
            )
        )
    finally:
        daemon.stop()


def test_shutdown_command_stops_the_daemon(tmp_path: Path) -> None:
    daemon = start_clamkit_clamd(tmp_path)
    try:
        assert send(daemon.unix_path, b"zSHUTDOWN\0") == b""
        assert daemon.process.wait(timeout=20) == 0
        assert not daemon.unix_path.exists()
        assert not (daemon.workdir / "clamd.pid").exists()
    finally:
        daemon.stop()


def test_log_clean_extended_info_and_virus_event(tmp_path: Path) -> None:
    record = tmp_path / "event.txt"
    event = f'echo "$CLAM_VIRUSEVENT_VIRUSNAME %v $CLAM_VIRUSEVENT_FILENAME" >> {record}'
    extra = f"LogClean yes\nExtendedDetectionInfo yes\nVirusEvent {event}"
    daemon = start_clamkit_clamd(tmp_path, extra)
    hostile = tmp_path / "a;touch $(echo pwned)`id`.exe"
    shutil.copyfile(TEST_FILE, hostile)
    clean = tmp_path / "clean.txt"
    clean.write_text("clean\n")
    try:
        assert send(daemon.unix_path, f"zSCAN {hostile}\0".encode()) == (
            f"{hostile}: {TEST_NAME} FOUND\0".encode()
        )
        send(daemon.unix_path, f"zSCAN {clean}\0".encode())
        assert _wait_for(lambda: record.exists() and record.read_text().count("\n") == 1)
        assert record.read_text() == f"{TEST_NAME} {TEST_NAME} {hostile}\n"
        assert not (Path("/") / "pwned").exists()
        log = daemon.log()
        size = TEST_FILE.stat().st_size
        assert re.search(
            rf"{re.escape(str(hostile))}: {TEST_NAME}\([0-9a-f]{{32}}:{size}\) FOUND", log
        )
        assert f"{clean}: OK" in log
    finally:
        daemon.stop()


# -- real clients ----------------------------------------------------------


def _clamdscan(daemon: RunningDaemon, *args: str) -> tuple[int, list[str]]:
    config = daemon.workdir / "clamdscan.conf"
    config.write_text(f"LocalSocket {daemon.unix_path}\n")
    completed = subprocess.run(
        [str(REFERENCE_CLAMDSCAN), "-c", str(config), "--no-summary", *args],
        capture_output=True,
        timeout=60,
    )
    lines = (completed.stdout + completed.stderr).decode(errors="replace").splitlines()
    return completed.returncode, sorted(lines)


@pytest.mark.parametrize("mode", [[], ["--multiscan"], ["--stream"], ["--fdpass"], ["-z"]])
def test_debian_clamdscan_as_a_client(
    pair: dict[str, RunningDaemon], tree: Path, mode: list[str]
) -> None:
    if not REFERENCE_CLAMDSCAN.exists():
        pytest.skip(f"{REFERENCE_CLAMDSCAN} not installed (package clamdscan)")
    targets = [str(tree / "a.exe"), str(tree / "clean"), str(tree / "sub"), str(tree / "missing")]
    ours = _clamdscan(pair["clamkit"], *mode, *targets)
    theirs = _clamdscan(pair["reference"], *mode, *targets)
    assert ours == theirs
    assert ours[0] == 1


def test_python_clamd_library_as_a_client(clamkit: RunningDaemon, tree: Path) -> None:
    clamd = pytest.importorskip("clamd")
    client = clamd.ClamdUnixSocket(path=str(clamkit.unix_path))
    assert client.ping() == "PONG"
    assert client.version().startswith("ClamAV ")
    assert client.scan(str(tree / "a.exe")) == {str(tree / "a.exe"): ("FOUND", TEST_NAME)}
    found = client.contscan(str(tree / "sub" / "deeper"))
    assert found == {str(tree / "sub" / "deeper" / "eicar.com"): ("FOUND", EICAR_NAME)}
    assert client.multiscan(str(tree / "clean")) == {str(tree / "clean"): ("OK", None)}
    import io

    assert client.instream(io.BytesIO(EICAR)) == {"stream": ("FOUND", EICAR_NAME)}
    assert client.stats().startswith("POOLS:")
    network = clamd.ClamdNetworkSocket(host="127.0.0.1", port=clamkit.tcp_port)
    assert network.ping() == "PONG"


def test_descriptor_passing_from_another_process(clamkit: RunningDaemon) -> None:
    """FILDES with the command and the descriptor in one message is refused as on the reference."""
    with open(TEST_FILE, "rb") as handle, socket.socket(socket.AF_UNIX) as client:
        client.connect(str(clamkit.unix_path))
        rights = array.array("i", [handle.fileno()]).tobytes()
        client.sendmsg([b"zFILDES\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
        client.settimeout(5)
        reply = client.recv(4096)
    assert reply.endswith(b"ERROR\0")


def test_one_byte_writes_oversized_lengths_and_half_close(clamkit: RunningDaemon) -> None:
    data = TEST_FILE.read_bytes()
    request = _instream(data, 100)
    one_byte_packets = [request[i : i + 1] for i in range(0, len(request))]
    reply = send(clamkit.unix_path, one_byte_packets, timeout=30)
    assert reply == f"stream: {TEST_NAME} FOUND\0".encode()
    # A chunk length far past StreamMaxLength: refused, connection closed.
    oversized = exchange(clamkit.unix_path, b"zINSTREAM\0\xff\xff\xff\xff" + b"x" * 100)
    assert oversized.data == b"INSTREAM size limit exceeded. ERROR\0"
    assert oversized.closed
    # A client that half-closes after its command still gets the reply.
    assert send(clamkit.unix_path, b"zPING\0", half_close=True) == b"PONG\0"
    assert send(clamkit.unix_path, b"PING", half_close=True) == b"PONG\n"


def test_client_that_never_reads_is_dropped(clamkit: RunningDaemon) -> None:
    """Replies pile up unread: the daemon gives up on that client, not on the others."""
    with socket.socket(socket.AF_UNIX) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(str(clamkit.unix_path))
        client.setblocking(False)
        request = b"zIDSESSION\0" + b"zSTATS\0" * 20000
        sent = 0
        deadline = time.monotonic() + 20
        while sent < len(request) and time.monotonic() < deadline:
            try:
                sent += client.send(request[sent:])
            except BlockingIOError:
                time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                break
        assert send(clamkit.unix_path, b"zPING\0") == b"PONG\0"

        def dropped() -> bool:
            try:
                client.send(b"zPING\0")
            except (BrokenPipeError, ConnectionResetError):
                return True
            except BlockingIOError:
                pass
            return False

        assert _wait_for(dropped)


def test_allmatchscan_can_be_disabled(tmp_path: Path, tree: Path) -> None:
    daemon = start_clamkit_clamd(tmp_path, "AllowAllMatchScan no")
    try:
        # The reference's words, recorded from clamd 1.4.6.
        assert send(daemon.unix_path, f"zALLMATCHSCAN {tree}\0".encode()) == (
            f"{tree}: ALLMATCHSCAN command disabled by clamd configuration. ERROR\0".encode()
        )
        assert b"FOUND" in send(daemon.unix_path, f"zSCAN {tree}\0".encode())
    finally:
        daemon.stop()


def test_official_database_only(tmp_path: Path) -> None:
    database = tmp_path / "db"
    database.mkdir()
    shutil.copyfile(Path(__file__).parent.parent / "sigs" / "daily.cld", database / "daily.cld")
    marker = b"clamkit unofficial marker 4242"
    (database / "marker.ndb").write_text(f"Unofficial.Marker:0:*:{marker.hex()}\n")
    daemon = start_clamkit_clamd(tmp_path, "OfficialDatabaseOnly yes", database)
    try:
        assert send(daemon.unix_path, _instream(marker)) == b"stream: OK\0"
        assert send(daemon.unix_path, _instream(EICAR)) == b"stream: Win.Test.EICAR_HDB-1 FOUND\0"
    finally:
        daemon.stop()
