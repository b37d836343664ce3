"""The client side of the clamd protocol, without I/O: requests as bytes, replies as lines.

Strategy: mirror image of ``clamkit.protocol.framing``.  Every request is
sent in the ``z`` form (NUL-terminated), which is the only one the daemon
accepts inside IDSESSION and the one whose replies can hold any file name.
``ReplyReader`` is fed whatever the socket returned and hands back complete
replies, remembering how far it already searched for the terminator.
``Session`` numbers the requests of one IDSESSION as the daemon does (from
1, in sending order) and maps each numbered reply back to the tag its caller
gave the request, so replies may come back in any order; it also says when a
request is finished (its last reply arrived) so the caller can bound how
many are in flight.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from clamkit.protocol.framing import Command

TERMINATOR = b"\0"
# What ends an INSTREAM upload: a chunk of length zero.
INSTREAM_END = b"\0\0\0\0"
# The byte that carries a FILDES descriptor (SCM_RIGHTS needs at least one byte).
DESCRIPTOR_CARRIER = b"\0"
# The reply to a scan of one file or stream ends with one of these words.
FOUND_SUFFIX = " FOUND"
OK_SUFFIX = " OK"
ERROR_SUFFIX = " ERROR"

Tag = TypeVar("Tag")


class ReplyError(Exception):
    """The daemon answered something a client cannot place (an unknown session id)."""


def request(command: Command, argument: str | None = None) -> bytes:
    """``zCOMMAND[ argument]\\0``; the argument is encoded as file names are."""
    text = command.value if argument is None else f"{command.value} {argument}"
    return b"z" + os.fsencode(text) + TERMINATOR


def instream_chunk(data: bytes | memoryview) -> bytes:
    """One INSTREAM chunk: its length (4 bytes, network order), then the data."""
    return struct.pack("!I", len(data)) + bytes(data)


class ReplyReader:
    """Cuts what the daemon sends into NUL-terminated replies (newline-terminated too:
    COMMAND READ TIMED OUT is always sent that way)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._searched = 0  # bytes of the buffer known to hold no terminator

    def feed(self, data: bytes) -> list[str]:
        """Buffer ``data``; return the replies now complete, terminators removed."""
        self._buffer += data
        replies = []
        start = 0
        for position in range(self._searched, len(self._buffer)):
            if self._buffer[position] in b"\0\n":
                replies.append(os.fsdecode(bytes(self._buffer[start:position])))
                start = position + 1
        del self._buffer[:start]
        self._searched = len(self._buffer)
        return replies

    def rest(self) -> str | None:
        """What the daemon sent after its last terminator before closing, if anything."""
        return os.fsdecode(bytes(self._buffer)) if self._buffer else None


def split_session_reply(reply: str) -> tuple[int | None, str]:
    """``"3: /path: OK"`` -> ``(3, "/path: OK")``; a reply without a number -> ``(None, reply)``."""
    number, colon, text = reply.partition(": ")
    if colon and number.isascii() and number.isdigit():
        return int(number), text
    return None, reply


def result_text(reply: str) -> tuple[str, str]:
    """Split a scan result at the separator after the name: ``("/path", "Eicar FOUND")``.

    The name is everything up to the last ``": "`` before the verdict, as a
    path may contain ``": "`` itself but a signature name never does.
    """
    name, _, verdict = reply.rpartition(": ")
    return name, verdict


@dataclass
class Session(Generic[Tag]):
    """The numbering of one IDSESSION: what was sent under which number, what is still open."""

    _next_id: int = 1
    _open: dict[int, Tag] = field(default_factory=dict)

    @staticmethod
    def start() -> bytes:
        return request(Command.IDSESSION)

    @staticmethod
    def end() -> bytes:
        return request(Command.END)

    def open(self, tag: Tag) -> int:
        """Number the request about to be sent as the daemon will, and remember its tag."""
        number = self._next_id
        self._open[number] = tag
        self._next_id += 1
        return number

    @property
    def in_flight(self) -> int:
        return len(self._open)

    def receive(self, reply: str) -> tuple[int, Tag, str]:
        """The number and tag of the request ``reply`` answers, and the reply
        without its number.

        A request is finished with its first reply: the ones sent in a
        session (INSTREAM, FILDES) get exactly one.
        """
        number, text = split_session_reply(reply)
        if number is None or number not in self._open:
            raise ReplyError(reply)
        return number, self._open.pop(number), text
