"""Talking to a clamd: where it listens, one-command conversations, and pipelined sessions.

Strategy: the daemon's address comes from the same clamd.conf the daemon
reads (LocalSocket first, else TCPSocket on the first TCPAddr), as ClamAV's
clamdscan finds it.  A command outside a session is one connection: send,
then read replies until the daemon hangs up.  Many files in stream or
descriptor mode go through one IDSESSION driven by a non-blocking loop that
keeps sending while replies come back, with at most ``MAX_IN_FLIGHT``
requests unanswered so the daemon's queue (MaxQueue) is never overrun; the
byte framing and the numbering come from ``clamkit.client.protocol``.
"""

from __future__ import annotations

import array
import errno
import os
import selectors
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Generic, TypeVar

from clamkit.client.protocol import (
    DESCRIPTOR_CARRIER,
    INSTREAM_END,
    ReplyError,
    ReplyReader,
    Session,
    instream_chunk,
    request,
)
from clamkit.config.parser import Config
from clamkit.protocol.framing import Command

Tag = TypeVar("Tag")
# One piece of a request: bytes, and the descriptor that travels with them.
Segment = tuple[bytes, int | None]

# Requests of one session sent but not yet answered.  Below the daemon's
# default MaxQueue (100), so a full queue never makes it hang up on us, and
# enough to keep every scanner thread of the daemon busy.
MAX_IN_FLIGHT = 32
# How much file data one INSTREAM chunk carries (the reference's clamdscan
# sends chunks of this size too).
CHUNK_SIZE = 8192
# Stop reading files while this much is queued for the socket.
SEND_HIGH_WATER = 256 * 1024
# A daemon that neither reads nor answers for this long is given up on
# (twice clamd's default MaxScanTime, so a slow scan is never cut short).
SILENCE_TIMEOUT = 240.0


class ConnectError(Exception):
    """No connection: ``str()`` is the reference's message, empty when it prints none."""


@dataclass(frozen=True, slots=True)
class Address:
    """Where a clamd listens: a Unix socket path, or a TCP host and port."""

    unix_path: str | None = None
    host: str | None = None
    port: int = 0

    def describe(self) -> str:
        """How the reference names it in "Could not connect to clamd on ..."."""
        return f"LocalSocket {self.unix_path}" if self.unix_path else str(self.host)

    @property
    def passes_descriptors(self) -> bool:
        return self.unix_path is not None

    def is_local(self) -> bool:
        """Does the daemon see this machine's files?  A TCP address is local
        when it is one of this machine's own (it can be bound to)."""
        if self.unix_path is not None:
            return True
        try:
            infos = socket.getaddrinfo(self.host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return False
        for family, kind, proto, _name, sockaddr in infos:
            with socket.socket(family, kind, proto) as probe:
                try:
                    probe.bind((sockaddr[0], 0, *sockaddr[2:]))
                except OSError:
                    continue
                return True
        return False


def address_from_config(config: Config) -> Address | None:
    """LocalSocket if set, else TCPSocket on the first TCPAddr; None if neither is usable."""
    local = config.text("LocalSocket")
    if local:
        return Address(unix_path=local)
    port = config["TCPSocket"]
    addresses = config.every("TCPAddr")
    if isinstance(port, int) and addresses:
        return Address(host=addresses[0], port=port)
    # With a port but no address the reference's clamdscan fails without a
    # word; so does this one.
    return None


def connect(address: Address | None) -> socket.socket:
    """A connected, blocking socket; ConnectError with the reference's wording."""
    if address is None:
        raise ConnectError("")
    try:
        if address.unix_path is not None:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                client.connect(address.unix_path)
            except BaseException:
                client.close()
                raise
            return client
        return socket.create_connection((address.host, address.port))
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConnectError(
            f"Could not connect to clamd on {address.describe()}: {reason}"
        ) from None


def converse(address: Address | None, data: bytes) -> list[str]:
    """Send one command, return every reply until the daemon hangs up.

    A text after the last terminator (a daemon cut short) counts as a reply.
    """
    with connect(address) as client:
        reader = ReplyReader()
        replies: list[str] = []
        try:
            client.sendall(data, socket.MSG_NOSIGNAL)
            client.settimeout(SILENCE_TIMEOUT)
            while chunk := client.recv(65536):
                replies += reader.feed(chunk)
        except OSError:
            pass
        rest = reader.rest()
        return [*replies, rest] if rest else replies


def stream_upload(stream: BinaryIO, limit: int) -> Iterator[Segment]:
    """INSTREAM with at most ``limit`` bytes of ``stream`` (the daemon's StreamMaxLength:
    it would refuse more), which is closed at the end."""
    with stream:
        yield request(Command.INSTREAM), None
        left = limit
        while left > 0 and (data := stream.read(min(CHUNK_SIZE, left))):
            left -= len(data)
            yield instream_chunk(data), None
        yield INSTREAM_END, None


def descriptor_upload(fd: int) -> Iterator[Segment]:
    """FILDES: the command, then one byte carrying the descriptor, which is closed
    once sent (the daemon holds its own copy)."""
    try:
        yield request(Command.FILDES), None
        yield DESCRIPTOR_CARRIER, fd
    finally:
        os.close(fd)


@dataclass(slots=True)
class SessionOutcome(Generic[Tag]):
    """How a session ended: the tags never answered, whether every upload was
    taken (False: the daemon hung up first, the rest are still to send), and
    what went wrong, if anything."""

    unanswered: list[Tag]
    complete: bool
    problem: str | None = None


class _InOrder(Generic[Tag]):
    """Hands replies on in the order the uploads came, whatever order the
    daemon answers in, so output does not depend on which scan ends first.
    An upload without a request (``segments`` None) is handed on, with no
    text, when its turn comes."""

    def __init__(self, on_reply: Callable[[Tag, str | None], None]) -> None:
        self._on_reply = on_reply
        self._queue: deque[tuple[int | None, Tag]] = deque()
        self._answers: dict[int, str] = {}

    def expect(self, number: int | None, tag: Tag) -> None:
        self._queue.append((number, tag))

    def answer(self, number: int, text: str) -> None:
        self._answers[number] = text

    def release(self) -> None:
        while self._queue:
            number, tag = self._queue[0]
            if number is not None and number not in self._answers:
                return
            self._queue.popleft()
            self._on_reply(tag, None if number is None else self._answers.pop(number))

    def unanswered(self) -> list[Tag]:
        """Hand on what can be; return the rest in order: the first request
        never answered and everything after it (to be sent again elsewhere)."""
        self.release()
        rest = [tag for _number, tag in self._queue]
        self._queue.clear()
        return rest


class _Sender:
    """The outgoing side of a session: bytes queued, at most one descriptor waiting."""

    def __init__(self, client: socket.socket) -> None:
        self._client = client
        self.queued = bytearray()
        self.descriptor: Segment | None = None

    @property
    def busy(self) -> bool:
        return bool(self.queued) or self.descriptor is not None

    def send(self) -> None:
        if self.queued:
            sent = self._client.send(self.queued, socket.MSG_NOSIGNAL)
            del self.queued[:sent]
        elif self.descriptor is not None:
            data, fd = self.descriptor
            rights = array.array("i", [fd]).tobytes()
            self._client.sendmsg(
                [data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)], socket.MSG_NOSIGNAL
            )
            self.descriptor = None


def pipeline(
    client: socket.socket,
    uploads: Iterable[tuple[Tag, Iterator[Segment] | None]],
    on_reply: Callable[[Tag, str | None], None],
    max_in_flight: int = MAX_IN_FLIGHT,
) -> SessionOutcome[Tag]:
    """Send every upload in one IDSESSION, calling ``on_reply(tag, text)`` in
    upload order as the answers come in.

    ``client`` is a fresh connection (from ``connect``), closed at the end.
    ``uploads`` is consumed lazily: files are opened only when their turn
    comes.
    """
    session: Session[Tag] = Session()
    ordered = _InOrder(on_reply)
    reader = ReplyReader()
    sender = _Sender(client)
    sender.queued += Session.start()
    pending = iter(uploads)
    current: Iterator[Segment] | None = None
    ended = False
    problem: str | None = None

    def fill() -> None:
        nonlocal current, ended
        while not ended and sender.descriptor is None and len(sender.queued) < SEND_HIGH_WATER:
            if current is None:
                if session.in_flight >= max_in_flight:
                    return
                upload = next(pending, None)
                if upload is None:
                    sender.queued += Session.end()
                    ended = True
                    return
                tag, current = upload
                if current is None:
                    ordered.expect(None, tag)
                    continue
                ordered.expect(session.open(tag), tag)
            segment = next(current, None)
            if segment is None:
                current = None
            elif segment[1] is None:
                sender.queued += segment[0]
            else:
                sender.descriptor = segment

    client.setblocking(False)
    with client, selectors.DefaultSelector() as selector:
        selector.register(client, selectors.EVENT_READ)
        writing = True
        while True:
            if writing:
                fill()
                ordered.release()
                wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if sender.busy else 0)
                selector.modify(client, wanted)
            events = selector.select(SILENCE_TIMEOUT)
            if not events:
                problem = "no reply from clamd"
                break
            mask = events[0][1]
            if mask & selectors.EVENT_WRITE:
                try:
                    sender.send()
                except BlockingIOError:
                    pass
                except OSError:
                    # The daemon hung up on us (a limit, a shutdown): what it
                    # said before is still to be read.
                    writing = False
                    selector.modify(client, selectors.EVENT_READ)
            if mask & selectors.EVENT_READ:
                try:
                    data = client.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as error:
                    problem = os.strerror(error.errno or errno.ECONNRESET)
                    break
                if not data:
                    break
                try:
                    for reply in reader.feed(data):
                        number, _tag, text = session.receive(reply)
                        ordered.answer(number, text)
                except ReplyError as error:
                    problem = str(error)
                    break
                ordered.release()
        if current is not None:
            current.close()
    return SessionOutcome(ordered.unanswered(), ended, problem)
