"""The clamd wire protocol: framing and parsing (``framing``), reply texts (``replies``).

Both are pure: no sockets, no clocks, no threads.  The daemon feeds a
``ServerConnection`` what it reads and writes what ``reply`` and the
``replies`` functions give it.
"""

from clamkit.protocol.framing import (
    CLOSED,
    NEED_DATA,
    Command,
    Event,
    Reject,
    Request,
    ServerConnection,
    SessionEnded,
    SessionStarted,
    StreamChunk,
    StreamEnd,
    reply,
)

__all__ = [
    "CLOSED",
    "NEED_DATA",
    "Command",
    "Event",
    "Reject",
    "Request",
    "ServerConnection",
    "SessionEnded",
    "SessionStarted",
    "StreamChunk",
    "StreamEnd",
    "reply",
]
