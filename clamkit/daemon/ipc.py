"""Messages between the daemon's network process and its scanner processes.

Strategy: both ends are ours and run the same code, so a message is a
pickled dataclass behind a 4-byte big-endian length, sent over a Unix
socketpair; file descriptors (a client's FILDES, a spooled INSTREAM, a new
worker's socket) travel with it as SCM_RIGHTS.  The scanner side uses
blocking calls (``send``/``receive``); the network side uses ``Channel``,
which waits on the event loop and never blocks it.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import pickle
import socket
import struct
from dataclasses import dataclass, field

from clamkit.engine.options import ScanOptions

_LENGTH = struct.Struct(">I")
# Enough for the few descriptors one message carries.
MAX_FDS = 4
_ANCILLARY_SIZE = socket.CMSG_SPACE(MAX_FDS * array.array("i").itemsize)
_RECV_SIZE = 65536


class ChannelClosed(Exception):
    """The other end went away."""


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """What a scanner pool needs to know: sent once to a new pool leader."""

    database_dir: str
    detect_pua: bool
    official_only: bool
    workers: int  # at most this many; the leader forks them all at first
    scan_options: ScanOptions
    extended_detection_info: bool
    clean_cache_entries: int = 0  # 0: DisableCache
    # A worker idle this long is stopped (IdleTimeout); another is forked when needed.
    idle_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class StartLeader:
    """To the spawner: fork a pool leader; its control socket travels as the fd."""


@dataclass(frozen=True, slots=True)
class PoolReady:
    """The pool loaded its database and compiled its engine."""

    leader_pid: int
    signature_count: int
    database_version: int | None
    database_time: int | None  # seconds since the epoch
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolFailed:
    """Loading or compiling failed; ``message`` says why, as the log should."""

    message: str


@dataclass(frozen=True, slots=True)
class AddWorker:
    """To a pool leader: fork one more worker (answered by WorkerAdded or WorkerNotAdded)."""


@dataclass(frozen=True, slots=True)
class WorkerAdded:
    """A scanner process started; its end of the job socket travels as the fd."""

    pid: int


@dataclass(frozen=True, slots=True)
class WorkerNotAdded:
    """The leader could not fork a worker (``reason``: the system's error)."""

    reason: str


@dataclass(frozen=True, slots=True)
class ScanJob:
    """Scan ``path``, or the descriptor sent along when ``path`` is None."""

    job_id: int
    path: str | None
    allmatch: bool


@dataclass(frozen=True, slots=True)
class CancelJob:
    """The client of ``job_id`` went away: stop as soon as possible."""

    job_id: int


@dataclass(frozen=True, slots=True)
class JobResult:
    """``error`` is an OSError's errno-based text when the object could not be read."""

    job_id: int
    names: tuple[str, ...] = ()
    error: str | None = None
    errno: int | None = None
    md5: str | None = None
    size: int = 0
    bytes_scanned: int = 0
    cancelled: bool = False


@dataclass(slots=True)
class _Reader:
    """Reassembles length-prefixed messages from whatever recvmsg returns.

    Descriptors arrive with the first byte of the message they were sent
    with, and a recvmsg that delivers them ends there; so they belong to the
    last message that starts within that read.
    """

    buffer: bytearray = field(default_factory=bytearray)
    # buffer offset of a message start -> the descriptors sent with it
    fds: dict[int, list[int]] = field(default_factory=dict)

    def feed(self, data: bytes, ancillary: list[tuple[int, int, bytes]]) -> None:
        start_of_read = len(self.buffer)
        self.buffer += data
        received = array.array("i")
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
        if received:
            self.fds.setdefault(self._last_start_from(start_of_read), []).extend(received)

    def _last_start_from(self, low: int) -> int:
        position = last = 0
        while position < len(self.buffer):
            if position >= low:
                last = position
            if position + _LENGTH.size > len(self.buffer):
                break
            (length,) = _LENGTH.unpack_from(self.buffer, position)
            position += _LENGTH.size + length
        return last

    def message(self) -> tuple[object, list[int]] | None:
        if len(self.buffer) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(self.buffer)
        end = _LENGTH.size + length
        if len(self.buffer) < end:
            return None
        payload = bytes(self.buffer[_LENGTH.size : end])
        del self.buffer[:end]
        fds = self.fds.pop(0, [])
        self.fds = {start - end: held for start, held in self.fds.items()}
        return pickle.loads(payload), fds


def _frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


def _ancillary(fds: tuple[int, ...]) -> list[tuple[int, int, bytes]]:
    if not fds:
        return []
    return [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]


def send(sock: socket.socket, message: object, fds: tuple[int, ...] = ()) -> None:
    """Blocking send (scanner side)."""
    data = _frame(message)
    try:
        sent = sock.sendmsg([data], _ancillary(fds))
        if sent < len(data):
            sock.sendall(data[sent:])
    except (BrokenPipeError, ConnectionResetError) as error:
        raise ChannelClosed from error


class BlockingReceiver:
    """Blocking receive (scanner side); ``poll`` peeks without waiting."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader = _Reader()

    def receive(self) -> tuple[object, list[int]]:
        while (complete := self._reader.message()) is None:
            self._fill(block=True)
        return complete

    def poll(self) -> tuple[object, list[int]] | None:
        """A message if one has fully arrived, else None; never waits."""
        if (complete := self._reader.message()) is not None:
            return complete
        self._fill(block=False)
        return self._reader.message()

    def _fill(self, *, block: bool) -> None:
        flags = 0 if block else socket.MSG_DONTWAIT
        try:
            data, ancillary, _, _ = self.sock.recvmsg(_RECV_SIZE, _ANCILLARY_SIZE, flags)
        except BlockingIOError:
            return
        if not data:
            raise ChannelClosed
        self._reader.feed(data, ancillary)


class Channel:
    """One end of a socketpair on the event loop (network side)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._reader = _Reader()
        self._loop = asyncio.get_running_loop()

    async def receive(self) -> tuple[object, list[int]]:
        while (complete := self._reader.message()) is None:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(_RECV_SIZE, _ANCILLARY_SIZE)
            except BlockingIOError:
                await self._wait(readable=True)
                continue
            except OSError as error:
                raise ChannelClosed from error
            if not data:
                raise ChannelClosed
            self._reader.feed(data, ancillary)
        return complete

    async def send(self, message: object, fds: tuple[int, ...] = ()) -> None:
        data = memoryview(_frame(message))
        ancillary = _ancillary(fds)
        while data:
            try:
                sent = self.sock.sendmsg([data], ancillary)
            except BlockingIOError:
                await self._wait(readable=False)
                continue
            except OSError as error:
                raise ChannelClosed from error
            data = data[sent:]
            ancillary = []  # the descriptors went with the first byte

    async def _wait(self, *, readable: bool) -> None:
        ready = self._loop.create_future()
        fd = self.sock.fileno()
        add, remove = (
            (self._loop.add_reader, self._loop.remove_reader)
            if readable
            else (self._loop.add_writer, self._loop.remove_writer)
        )
        add(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            remove(fd)

    def stop_sending(self) -> None:
        """Tell the other end nothing more is coming; its replies can still be read."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()
