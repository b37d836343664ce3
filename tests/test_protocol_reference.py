"""Byte-level conversations with live daemons: the reference's clamd and clamkit's.

Every case of ``test_protocol.MEASURED`` is replayed over real sockets
against each daemon, and what comes back must be the recorded bytes, after
masking what legitimately differs (descriptor numbers, version texts).  The
reference run checks the table itself; the clamkit run checks the daemon
(skipped until clamkit/cli/clamd.py exists).

Where ClamAV 1.4.6 differs from its man page or says nothing (all measured
here, the table has the exact bytes):

* Unprefixed ("legacy") commands are one read each: the read up to its first
  newline, or all of it, at most 4104 bytes.  Only SCAN, CONTSCAN, MULTISCAN,
  PING, VERSION, RELOAD, SHUTDOWN, QUIT and DETSTATS(CLEAR) work unprefixed;
  VERSIONCOMMANDS, STATS, INSTREAM, FILDES, IDSESSION, END and ALLMATCHSCAN
  answer UNKNOWN COMMAND (an unprefixed FILDES first waits for the next
  read, as if for a descriptor).  QUIT, deprecated, still shuts the daemon
  down.
* Command text is a C string: NUL ends it; n and legacy commands lose all
  trailing CRs, and the next command starts behind the shortened text, so in
  a session ``nPING\\r\\n`` leaves a newline that makes the next packet fail
  with "Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION" (the
  backslashes are literal) plus "Error processing command.".
* A prefixed command longer than 4104 bytes, prefix and terminator included,
  is dropped with the connection, without a reply.
* DETSTATS and DETSTATSCLEAR are listed by VERSIONCOMMANDS but answer
  nothing: the connection just closes.  SHUTDOWN and QUIT close it without a
  reply either.  ``SCAN `` with an empty argument is a scan of "".
* IDSESSION takes no number; ids count every later command, invalid ones too.
  Any command not allowed inside (unknown ones included) answers "Command
  invalid inside IDSESSION. ERROR" with its own terminator and closes at
  once, dropping replies still owed; session-level errors use the terminator
  of the last command.
* FILDES wants its descriptor in a later message (clamdscan sends one byte
  with it, which is consumed); a descriptor in the same message as FILDES is
  "PROTOCOL ERROR: ancillary data sent without FILDES" + "Error processing
  command.", NUL-terminated outside a session even after nFILDES.  Two
  descriptors in one message count as none.
* StreamMaxLength is checked against the declared chunk lengths, before the
  data arrives; 0 means no limit.
* More bytes in the same read after a scan outside a session draw "Error
  processing command. ERROR" before the scan result (timing-dependent in
  the reference for one extra byte; the table uses more).
* ExtendedDetectionInfo changes the log line only, never the reply.
* Timeouts answer "COMMAND READ TIMED OUT\\n" (newline even in z sessions):
  CommandReadTimeout until the first command has started (a FILDES waiting
  for its descriptor has not), ReadTimeout afterwards, in sessions too.
* STATS counts queued jobs (with min/max/avg wait) but lists only the
  threads' current jobs.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from daemons import (
    EICAR,
    RunningDaemon,
    exchange,
    start_clamkit_clamd,
    start_reference_clamd,
    write_test_database,
)
from test_protocol import MEASURED, Case, substitute

import clamkit
from clamkit.database.cvd import parse_header
from clamkit.protocol import replies

DAEMON_CONFIG = "StreamMaxLength 1M"
Starter = Callable[..., RunningDaemon]
STARTERS: dict[str, Starter] = {"reference": start_reference_clamd, "clamkit": start_clamkit_clamd}


def mask(data: bytes) -> bytes:
    """Descriptor numbers and versions differ between daemons and runs."""
    data = re.sub(rb"fd\[\d+\]", rb"fd[*]", data)
    return re.sub(rb"ClamAV [0-9][^|\0\n]*", rb"ClamAV <version>", data)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("files")
    (directory / "eicar.com").write_bytes(EICAR)
    (directory / "clean.txt").write_bytes(b"hello\n")
    return directory


@pytest.fixture(scope="module", params=sorted(STARTERS))
def daemon(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningDaemon]:
    running = STARTERS[request.param](tmp_path_factory.mktemp(request.param), DAEMON_CONFIG)
    yield running
    running.stop()


@pytest.mark.parametrize("item", MEASURED, ids=lambda item: item.name)
def test_same_bytes_as_recorded(daemon: RunningDaemon, files: Path, item: Case) -> None:
    with ExitStack() as stack:
        fds: list[int] = []
        for name in ("eicar.com", "clean.txt")[: item.fd_count if item.fds_with is not None else 0]:
            fd = os.open(files / name, os.O_RDONLY)
            stack.callback(os.close, fd)
            fds.append(fd)
        conversation = exchange(
            daemon.tcp_address if item.tcp else daemon.unix_path,
            [substitute(packet, str(files)) for packet in item.reads],
            fds=fds,
            fds_with=item.fds_with or 0,
            half_close=item.eof,
            # A conversation left open is recognised by silence.
            timeout=10.0 if item.closed else 0.5,
        )
    got, recorded = mask(conversation.data), mask(substitute(item.reply, str(files)))
    if b"Error processing command" in recorded:
        # The reference's reading loop and its scanning thread race to write
        # first: the same lines, in either order.
        assert _lines(got) == _lines(recorded)
    else:
        assert got == recorded
    assert conversation.closed == item.closed
    assert daemon.process.poll() is None


def _lines(data: bytes) -> list[bytes]:
    """The reply's lines, each with its terminator, in sorted order."""
    return sorted(re.findall(rb"[^\0\n]*[\0\n]", data))


STATS_LAYOUT = re.compile(
    rb"POOLS: 1\n\nSTATE: VALID PRIMARY\n"
    rb"THREADS: live \d+  idle \d+ max \d+ idle-timeout \d+\n"
    rb"QUEUE: \d+ items( min_wait: \d+\.\d{6} max_wait: \d+\.\d{6} avg_wait: \d+\.\d{6})?\n"
    rb"(\t[A-Z]+ \d+\.\d{6} [^\n]*\n)+\n"
    rb"MEMSTATS: heap \S+ mmap \S+ used \S+ free \S+ releasable \S+ pools \d+"
    rb" pools_used \d+\.\d{3}M pools_total \d+\.\d{3}M\nEND"
)


@pytest.mark.parametrize("framing", [(b"zSTATS\0", b"\0"), (b"nSTATS\n", b"\n")])
def test_stats_layout(daemon: RunningDaemon, framing: tuple[bytes, bytes]) -> None:
    command, terminator = framing
    data = exchange(daemon.unix_path, command).data
    assert data.endswith(b"END" + terminator)
    assert STATS_LAYOUT.fullmatch(data[: -len(terminator)]), data
    assert b"\tSTATS " in data


def test_session_stats_is_numbered(daemon: RunningDaemon) -> None:
    data = exchange(daemon.unix_path, b"zIDSESSION\0zSTATS\0zEND\0").data
    assert data.startswith(b"1: POOLS: 1\n") and data.endswith(b"\nEND\0")


@pytest.mark.parametrize("name", sorted(STARTERS))
@pytest.mark.parametrize("command", [b"zSHUTDOWN\0", b"QUIT"])
def test_shutdown_closes_without_reply(tmp_path: Path, name: str, command: bytes) -> None:
    running = STARTERS[name](tmp_path)
    try:
        assert exchange(running.unix_path, command).data == b""
        running.process.wait(timeout=20)
    finally:
        running.stop()


@pytest.mark.parametrize("name", sorted(STARTERS))
def test_timeouts(tmp_path: Path, name: str) -> None:
    """Which silence each timeout covers, and what the daemon says then."""
    running = STARTERS[name](tmp_path, "CommandReadTimeout 1\nReadTimeout 3")
    cases = {
        "nothing sent": (b"", b"COMMAND READ TIMED OUT\n", 1.0),
        "FILDES without descriptor": (b"zFILDES\0", b"COMMAND READ TIMED OUT\n", 1.0),
        "idle session": (b"zIDSESSION\0zPING\0", b"1: PONG\0COMMAND READ TIMED OUT\n", 3.0),
        "stalled stream": (b"zINSTREAM\0\0\0\0\1", b"COMMAND READ TIMED OUT\n", 3.0),
    }
    results: dict[str, tuple[bytes, bool, float]] = {}

    def converse(label: str, packet: bytes) -> None:
        started = time.monotonic()
        conversation = exchange(running.unix_path, [packet] if packet else [], timeout=8.0)
        results[label] = (conversation.data, conversation.closed, time.monotonic() - started)

    try:
        threads = [
            threading.Thread(target=converse, args=(label, packet))
            for label, (packet, _, _) in cases.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        running.stop()
    for label, (_, expected, seconds) in cases.items():
        data, closed, elapsed = results[label]
        assert (data, closed) == (expected, True), label
        assert seconds - 0.5 < elapsed < seconds + 1.5, (label, elapsed)


@pytest.mark.parametrize("name", sorted(STARTERS))
def test_version_with_a_daily_database(tmp_path: Path, shared_sigs: Path, name: str) -> None:
    """``ClamAV <version>/<daily version>/<ctime of its build>``, also in VERSIONCOMMANDS."""
    cvd = shared_sigs.parent / "cvd" / "test-6.cvd"
    database = write_test_database(tmp_path / "db")
    shutil.copyfile(cvd, database / "daily.cvd")
    header = parse_header(cvd.read_bytes()[:512])
    running = STARTERS[name](tmp_path, database=database)
    try:
        version = exchange(running.unix_path, b"zVERSION\0").data
        commands = exchange(running.unix_path, b"nVERSIONCOMMANDS\n").data
    finally:
        running.stop()
    program = re.match(rb"ClamAV ([^/]+)/", version)
    assert program is not None, version
    if name == "clamkit":
        assert program.group(1).decode() == clamkit.__version__
    text = replies.version_reply(program.group(1).decode(), 6, header.build_time_seconds)
    assert version == text.encode() + b"\0"
    assert commands == replies.versioncommands_reply(text).encode() + b"\n"
