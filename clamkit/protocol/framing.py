"""The clamd wire protocol of one client connection, without any I/O.

Strategy (h11's): ``ServerConnection`` is fed what each recv/recvmsg call
returned (``receive_data``, ``b""`` for EOF) and hands out events
(``next_event``): the commands the server must run, INSTREAM data as it
arrives, session boundaries, and ``Reject`` for everything the protocol
answers by itself, with the reference's exact bytes.  ``reply`` frames the
server's answers.  The socket layer only moves bytes and descriptors.

Read boundaries matter, because ClamAV 1.4's clamd works per read:

* A command without a ``z``/``n`` prefix ("legacy") is the read up to its
  first newline, or the whole read: one packet is one command.  It is only
  recognised at the start of a read; bytes left over from an earlier read
  count as the start of the next one.
* Command text is a C string: it ends at the first NUL, and a newline
  command also loses its trailing CRs (``nPING\\r\\n`` is PING), after which
  the next command starts right behind the shortened text, i.e. at the
  ``\\n`` in that example.
* clamd's command buffer holds ``COMMAND_BUFFER`` bytes; a read is taken
  only as far as it fits, and a prefixed command that does not fit ends the
  connection without a reply.
* Outside IDSESSION a connection carries one command.  A scan handed to a
  worker (SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN, FILDES) with more bytes
  behind it in the same read also draws ``Error processing command.``
  (racy in the reference; here always).
* FILDES takes its descriptor from a *later* read: the first byte of that
  read carries it and is dropped.  A descriptor arriving with the FILDES
  line itself, or with no FILDES at all, is a protocol error; a read with
  more than one descriptor counts as none (clamd's control buffer holds one).
* Every rejection ends the connection.

Every descriptor passed in ends up in exactly one ``Request.fd`` or in
``take_unclaimed_fds()``, so the server can close it.
"""

from __future__ import annotations

import enum
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

# clamd's per-connection command buffer: the longest command it accepts,
# prefix and terminator included, and the most of a read it takes at once.
COMMAND_BUFFER: Final = 4104

# Replies the protocol gives by itself.
UNKNOWN_COMMAND = "UNKNOWN COMMAND"
# ClamAV 1.5's answer to a command switched off by Enable*Command.
COMMAND_UNAVAILABLE = "COMMAND UNAVAILABLE"
INVALID_IN_SESSION = "Command invalid inside IDSESSION. ERROR"
# The reference writes the two characters backslash-n and backslash-0.
LEGACY_IN_SESSION = "Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR"
PROCESSING_ERROR = "Error processing command. ERROR"
STREAM_LIMIT_EXCEEDED = "INSTREAM size limit exceeded. ERROR"
NO_DESCRIPTOR = "No file descriptor received. ERROR"
ANCILLARY_WITHOUT_FILDES = "PROTOCOL ERROR: ancillary data sent without FILDES. ERROR"


class Command(enum.Enum):
    """Every command clamd 1.4 knows, in the order VERSIONCOMMANDS lists them."""

    SCAN = "SCAN"
    QUIT = "QUIT"
    RELOAD = "RELOAD"
    PING = "PING"
    CONTSCAN = "CONTSCAN"
    VERSIONCOMMANDS = "VERSIONCOMMANDS"
    VERSION = "VERSION"
    END = "END"
    SHUTDOWN = "SHUTDOWN"
    MULTISCAN = "MULTISCAN"
    FILDES = "FILDES"
    STATS = "STATS"
    IDSESSION = "IDSESSION"
    INSTREAM = "INSTREAM"
    DETSTATSCLEAR = "DETSTATSCLEAR"
    DETSTATS = "DETSTATS"
    ALLMATCHSCAN = "ALLMATCHSCAN"


@dataclass(frozen=True, slots=True)
class _Rules:
    argument: bool  # takes "<COMMAND> <argument>" (the argument may be empty)
    legacy: bool  # accepted without a z/n prefix
    in_session: bool  # answered inside IDSESSION (the others end the session)
    outside_session: bool


_RULES: Final = {
    Command.SCAN: _Rules(argument=True, legacy=True, in_session=True, outside_session=True),
    Command.QUIT: _Rules(argument=False, legacy=True, in_session=False, outside_session=True),
    Command.RELOAD: _Rules(argument=False, legacy=True, in_session=False, outside_session=True),
    Command.PING: _Rules(argument=False, legacy=True, in_session=True, outside_session=True),
    Command.CONTSCAN: _Rules(argument=True, legacy=True, in_session=False, outside_session=True),
    Command.VERSIONCOMMANDS: _Rules(
        argument=False, legacy=False, in_session=True, outside_session=True
    ),
    Command.VERSION: _Rules(argument=False, legacy=True, in_session=True, outside_session=True),
    Command.END: _Rules(argument=False, legacy=False, in_session=True, outside_session=False),
    Command.SHUTDOWN: _Rules(argument=False, legacy=True, in_session=False, outside_session=True),
    Command.MULTISCAN: _Rules(argument=True, legacy=True, in_session=False, outside_session=True),
    Command.FILDES: _Rules(argument=False, legacy=False, in_session=True, outside_session=True),
    Command.STATS: _Rules(argument=False, legacy=False, in_session=True, outside_session=True),
    Command.IDSESSION: _Rules(argument=False, legacy=False, in_session=False, outside_session=True),
    Command.INSTREAM: _Rules(argument=False, legacy=False, in_session=True, outside_session=True),
    Command.DETSTATSCLEAR: _Rules(
        argument=False, legacy=True, in_session=False, outside_session=True
    ),
    Command.DETSTATS: _Rules(argument=False, legacy=True, in_session=False, outside_session=True),
    Command.ALLMATCHSCAN: _Rules(
        argument=True, legacy=False, in_session=False, outside_session=True
    ),
}
_BY_NAME: Final = {command.value.encode(): command for command in Command}
# Commands clamd hands to a worker thread, so that the reading loop goes on
# with the rest of the read (see the module docstring).
_DISPATCHED: Final = frozenset(
    {Command.SCAN, Command.CONTSCAN, Command.MULTISCAN, Command.ALLMATCHSCAN, Command.FILDES}
)
# ClamAV 1.4 parses these but neither answers nor runs them: it just hangs up.
_SILENT: Final = frozenset({Command.DETSTATS, Command.DETSTATSCLEAR})


@dataclass(frozen=True, slots=True)
class Request:
    """A command for the server to run; answer it with ``reply(request, text)``.

    QUIT arrives as SHUTDOWN.  ``fd`` is the received descriptor of a
    FILDES; from here on the server owns it and must close it.
    """

    command: Command
    argument: str | None
    terminator: bytes
    session_id: int | None
    fd: int | None = None


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """INSTREAM data as it arrived, in any split (a read-only view, safe to keep)."""

    request: Request
    data: bytes | memoryview


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The zero-length chunk: the stream is complete and can be scanned."""

    request: Request


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """IDSESSION: commands are now numbered from 1 and answered as they finish."""


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """END: answer what is still running, then close."""


@dataclass(frozen=True, slots=True)
class Reject:
    """The protocol's own answer: write ``reply`` (in one write), then close.

    ``drop_pending`` means close at once, dropping the replies of commands
    still running (the reference does so for a command invalid inside
    IDSESSION); otherwise close once they are written.  An empty ``reply``
    means hang up without a word.
    """

    reply: bytes
    drop_pending: bool = False


Event = Request | StreamChunk | StreamEnd | SessionStarted | SessionEnded | Reject


class Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"
    CLOSED = "CLOSED"


# More bytes are needed before anything else happens.
NEED_DATA: Final = Sentinel.NEED_DATA
# The client has nothing more to say: stop reading, write what is owed
# (replies of requests handed out), then close.  An INSTREAM without its
# StreamEnd was abandoned.
CLOSED: Final = Sentinel.CLOSED

WaitingFor = Literal["command", "data", "nothing"]


class _State(enum.Enum):
    COMMAND = enum.auto()
    STREAM = enum.auto()
    DESCRIPTOR = enum.auto()
    DONE = enum.auto()


@dataclass(frozen=True, slots=True)
class _Line:
    text: bytes
    terminator: bytes
    legacy: bool


def _frame(session_id: int | None, text: str, terminator: bytes) -> bytes:
    prefix = "" if session_id is None else f"{session_id}: "
    return os.fsencode(prefix + text) + terminator


def reply(request: Request, text: str) -> bytes:
    """The bytes answering ``request`` with ``text``: session prefix, text, terminator.

    Call it once per line for commands that report several files.  Text is
    encoded as file names are, so a path that came in as bytes goes back
    unchanged.
    """
    return _frame(request.session_id, text, request.terminator)


def _parse(text: bytes, legacy: bool) -> tuple[Command, str | None] | None:
    """The command and argument in one command's text, None if unknown."""
    name, space, argument = text.partition(b" ")
    command = _BY_NAME.get(name)
    if command is None:
        return None
    rules = _RULES[command]
    if bool(space) != rules.argument or (legacy and not rules.legacy):
        return None
    return command, (os.fsdecode(argument) if space else None)


class ServerConnection:
    """The protocol state of one client connection, on the server's side.

    ``stream_max_length`` is StreamMaxLength (0: no limit);
    ``enabled_commands`` is None for all, else the commands the
    Enable*Command options leave on (QUIT follows SHUTDOWN).
    """

    def __init__(
        self,
        *,
        unix_socket: bool,
        stream_max_length: int,
        enabled_commands: frozenset[Command] | None = None,
    ) -> None:
        self._unix_socket = unix_socket
        self._stream_max_length = stream_max_length
        self._enabled = enabled_commands
        self._reads: deque[tuple[memoryview, tuple[int, ...]]] = deque()
        self._eof = False
        # The read being processed (with what an earlier read left over):
        # bytes while commands are parsed, a view of the read during a stream.
        self._buf: bytes | memoryview = b""
        self._pos = 0
        # Where the search for the current prefixed command's terminator resumes.
        self._searched = 0
        # Nothing of the current read consumed yet: a legacy command may start here.
        self._read_start = False
        # The descriptor that came with the current read, until claimed.
        self._fds: tuple[int, ...] = ()
        self._unclaimed: list[int] = []
        self._events: deque[Event] = deque()
        self._state = _State.COMMAND
        self._started = False
        self._session = False
        self._next_id = 1
        # Terminator of connection-level errors: NUL until a session command sets it.
        self._last_terminator = b"\0"
        self._request: Request | None = None  # the INSTREAM or FILDES in progress
        self._legacy_fildes = False
        self._stream_total = 0
        self._chunk_left = 0
        self._header = bytearray()

    # -- public interface -------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview, fds: Sequence[int] = ()) -> None:
        """Take what one recv/recvmsg call returned; ``b""`` means EOF."""
        if fds and not self._unix_socket:
            raise ValueError("file descriptors can only arrive over a Unix socket")
        if self._eof:
            raise RuntimeError("data received after EOF")
        if self._state is _State.DONE or not data:
            self._unclaimed.extend(fds)
            self._eof = not data
            return
        # A view of immutable bytes: slices cost nothing and StreamChunk data stays valid.
        view = memoryview(data if isinstance(data, bytes) else bytes(data))
        self._reads.append((view, tuple(fds)))

    def next_event(self) -> Event | Sentinel:
        """The next event, ``NEED_DATA``, or ``CLOSED`` (from then on, always ``CLOSED``)."""
        while not self._events:
            if self._state is _State.DONE:
                return CLOSED
            if not self._advance():
                return NEED_DATA
        return self._events.popleft()

    def take_unclaimed_fds(self) -> tuple[int, ...]:
        """Descriptors received that no FILDES took: the server must close them."""
        fds = tuple(self._unclaimed)
        self._unclaimed.clear()
        return fds

    @property
    def waiting_for(self) -> WaitingFor:
        """Which timeout applies while no data comes.

        ``command``: nothing has started yet (CommandReadTimeout; a FILDES
        still waiting for its descriptor counts as not started, as in the
        reference).  ``data``: later commands of a session, stream data, a
        descriptor (ReadTimeout).  ``nothing``: the client is done.
        """
        if self._state is _State.DONE:
            return "nothing"
        return "data" if self._started else "command"

    # -- machinery --------------------------------------------------------

    def _advance(self) -> bool:
        """Make one step; False when nothing can happen without more data."""
        if self._state is _State.STREAM:
            return self._advance_stream()
        if self._state is _State.DESCRIPTOR:
            return self._advance_descriptor()
        line = self._extract_line()
        if line is None:
            return self._end_of_read()
        self._dispatch(line)
        return True

    def _consume_to(self, pos: int) -> None:
        self._pos = self._searched = pos
        self._read_start = False

    def _extract_line(self) -> _Line | None:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            return None
        prefix = buf[pos : pos + 1]
        if prefix in (b"z", b"n"):
            terminator = b"\0" if prefix == b"z" else b"\n"
            end = buf.find(terminator, max(pos + 1, self._searched))
            if end < 0:
                self._searched = len(buf)
                return None
            text = buf[pos:end].partition(b"\0")[0]
            if terminator == b"\n":
                text = text.rstrip(b"\r\n")
                self._consume_to(pos + len(text) + 1)
            else:
                self._consume_to(end + 1)
            return _Line(text[1:], terminator, legacy=False)
        if not self._read_start:
            return None
        end = buf.find(b"\n", pos)
        stop = len(buf) if end < 0 else end
        self._consume_to(len(buf) if end < 0 else end + 1)
        return _Line(buf[pos:stop].partition(b"\0")[0].rstrip(b"\r\n"), b"\n", legacy=True)

    def _dispatch(self, line: _Line) -> None:
        if self._session:
            self._dispatch_in_session(line)
            return
        if line.legacy and line.text == b"FILDES":
            # The reference waits for the descriptor of an unprefixed FILDES
            # too, only to answer UNKNOWN COMMAND when the next read comes.
            self._request = Request(Command.FILDES, None, line.terminator, None)
            self._legacy_fildes = True
            self._state = _State.DESCRIPTOR
            return
        parsed = _parse(line.text, line.legacy)
        if parsed is None or not _RULES[parsed[0]].outside_session:
            self._reject(_frame(None, UNKNOWN_COMMAND, line.terminator))
            return
        command, argument = parsed
        if command is Command.IDSESSION:
            self._session = self._started = True
            self._last_terminator = line.terminator
            self._events.append(SessionStarted())
            return
        self._start(command, argument, line.terminator, None)

    def _dispatch_in_session(self, line: _Line) -> None:
        session_id = self._next_id
        self._next_id += 1
        if line.legacy:
            terminator = self._last_terminator
            self._reject(
                _frame(session_id, LEGACY_IN_SESSION, terminator)
                + _frame(session_id, PROCESSING_ERROR, terminator)
            )
            return
        self._last_terminator = line.terminator
        parsed = _parse(line.text, legacy=False)
        if parsed is None or not _RULES[parsed[0]].in_session:
            self._reject(_frame(session_id, INVALID_IN_SESSION, line.terminator), drop=True)
            return
        command, argument = parsed
        if command is Command.END:
            self._events.append(SessionEnded())
            self._finish()
            return
        self._start(command, argument, line.terminator, session_id)

    def _start(
        self, command: Command, argument: str | None, terminator: bytes, session_id: int | None
    ) -> None:
        if command is Command.QUIT:
            command = Command.SHUTDOWN
        if self._enabled is not None and command not in self._enabled:
            self._reject(_frame(session_id, COMMAND_UNAVAILABLE, terminator))
            return
        if command in _SILENT:
            self._reject(b"")
            return
        request = Request(command, argument, terminator, session_id)
        if command is Command.FILDES:
            self._request = request
            self._state = _State.DESCRIPTOR
            return
        self._started = True
        self._events.append(request)
        if command is Command.INSTREAM:
            self._request = request
            self._stream_total = 0
            self._state = _State.STREAM
            return
        self._after_request(request)

    def _after_request(self, request: Request) -> None:
        if self._session:
            return
        if request.command in _DISPATCHED and self._pos < len(self._buf):
            self._reject(reply(request, PROCESSING_ERROR))
        else:
            self._finish()

    def _advance_stream(self) -> bool:
        request = self._request
        assert request is not None
        if self._chunk_left == 0:
            piece = self._take(4 - len(self._header))
            if piece is None:
                return self._end_of_read()
            self._header += piece
            if len(self._header) < 4:
                return True
            length = int.from_bytes(self._header, "big")
            self._header.clear()
            if length == 0:
                self._events.append(StreamEnd(request))
                self._request = None
                self._state = _State.COMMAND
                # The rest of this read is parsed as commands again.
                self._buf = bytes(self._buf[self._pos :])
                self._pos = self._searched = 0
                if not self._session:
                    self._finish()
                return True
            self._stream_total += length
            limit = self._stream_max_length
            if limit and self._stream_total > limit:
                self._reject(reply(request, STREAM_LIMIT_EXCEEDED))
            else:
                self._chunk_left = length
            return True
        piece = self._take(self._chunk_left)
        if piece is None:
            return self._end_of_read()
        self._chunk_left -= len(piece)
        self._events.append(StreamChunk(request, piece))
        return True

    def _take(self, count: int) -> memoryview | None:
        """Up to ``count`` bytes of the current read, without copying them."""
        available = len(self._buf) - self._pos
        if available == 0:
            return None
        count = min(count, available)
        piece = memoryview(self._buf)[self._pos : self._pos + count]
        self._consume_to(self._pos + count)
        return piece

    def _advance_descriptor(self) -> bool:
        request = self._request
        assert request is not None
        if self._pos < len(self._buf):
            if self._legacy_fildes:
                self._reject(reply(request, UNKNOWN_COMMAND))
                return True
            if not self._fds:
                self._reject(reply(request, NO_DESCRIPTOR))
                return True
            # The byte that carried the descriptor is not part of any command.
            self._consume_to(self._pos + 1)
            request = replace(request, fd=self._fds[0])
            self._fds = ()
            self._request = None
            self._state = _State.COMMAND
            self._started = True
            self._events.append(request)
            self._after_request(request)
            return True
        if self._fds:
            # The descriptor came in the same read as the FILDES line.
            terminator = request.terminator if self._session else b"\0"
            self._reject(
                _frame(request.session_id, ANCILLARY_WITHOUT_FILDES, terminator)
                + _frame(request.session_id, PROCESSING_ERROR, terminator)
            )
            return True
        return self._next_read()

    def _end_of_read(self) -> bool:
        """Nothing more to take from the current read: check its descriptor, read on."""
        if self._fds:
            session_id = None
            if self._session:
                session_id = self._next_id
                self._next_id += 1
            self._reject(_frame(session_id, ANCILLARY_WITHOUT_FILDES, self._last_terminator))
            return True
        return self._next_read()

    def _next_read(self) -> bool:
        leftover = self._buf[self._pos :]
        if self._state is not _State.STREAM and len(leftover) >= COMMAND_BUFFER:
            # A prefixed command longer than the buffer: clamd hangs up silently.
            self._finish()
            return True
        if not self._reads:
            if self._eof:
                self._finish()
                return True
            return False
        data, fds = self._reads[0]
        if self._state is _State.STREAM:
            # Stream data is passed on as it comes, without copying.
            self._reads.popleft()
            self._buf = data
        else:
            # Commands are read only as far as clamd's buffer holds.
            room = COMMAND_BUFFER - len(leftover)
            if len(data) > room:
                self._reads[0] = (data[room:], ())
                data = data[:room]
            else:
                self._reads.popleft()
            self._buf = bytes(leftover) + data
        # A leftover prefixed command was searched to its end already.
        self._searched = len(leftover) if leftover[:1] in (b"z", b"n") else 0
        self._pos = 0
        self._read_start = True
        if len(fds) == 1:
            self._fds = fds
        else:
            self._unclaimed.extend(fds)
        return True

    def _reject(self, data: bytes, *, drop: bool = False) -> None:
        self._events.append(Reject(data, drop_pending=drop))
        self._finish()

    def _finish(self) -> None:
        self._state = _State.DONE
        self._unclaimed.extend(self._fds)
        self._fds = ()
        for _data, fds in self._reads:
            self._unclaimed.extend(fds)
        self._reads.clear()
        self._buf = b""
        self._pos = 0
        self._request = None
