"""Properties of the protocol state machine over generated input.

Any bytes in any split, with descriptors on any read: it never raises, it
ends in CLOSED after EOF, and every descriptor comes out exactly once
(in a FILDES request or as unclaimed).  INSTREAM data comes out as it went
in, whatever the chunking and the split; a prefixed session means the same
whatever the split.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from clamkit.protocol.framing import (
    CLOSED,
    NEED_DATA,
    Command,
    Reject,
    Request,
    ServerConnection,
    SessionEnded,
    SessionStarted,
    StreamChunk,
    StreamEnd,
)

STREAM_MAX = 4096

FRAGMENTS = [
    b"zIDSESSION\0",
    b"nIDSESSION\n",
    b"zPING\0",
    b"nPING\r\n",
    b"PING",
    b"zFILDES\0",
    b"nFILDES\n",
    b"FILDES",
    b"\0",
    b"x",
    b"zINSTREAM\0",
    b"\0\0\0\3abc",
    b"\0\0\0\0",
    b"\0\0\x20\0",
    b"zSCAN /tmp\0",
    b"zEND\0",
    b"zRELOAD\0",
    b"\r\n",
]

packets = st.lists(
    st.one_of(
        st.binary(min_size=1, max_size=40),
        st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4).map(b"".join),
    ),
    max_size=8,
)


def chunk(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def drain(connection: ServerConnection) -> list[object]:
    events: list[object] = []
    while (event := connection.next_event()) is not NEED_DATA:
        events.append(event)
        if event is CLOSED:
            break
    return events


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=300, deadline=None)
@given(reads=packets, fd_counts=st.lists(st.integers(0, 2), max_size=8), tcp=st.booleans())
def test_any_input_ends_cleanly_and_accounts_for_every_descriptor(
    reads: list[bytes], fd_counts: list[int], tcp: bool
) -> None:
    connection = ServerConnection(unix_socket=not tcp, stream_max_length=STREAM_MAX)
    given_fds: list[int] = []
    claimed: list[int] = []
    events: list[object] = []
    for index, packet in enumerate(reads):
        count = 0 if tcp or index >= len(fd_counts) else fd_counts[index]
        fds = list(range(100 + len(given_fds), 100 + len(given_fds) + count))
        given_fds += fds
        connection.receive_data(packet, fds)
        events += drain(connection)
        if events and events[-1] is CLOSED:
            break
    else:
        connection.receive_data(b"")
        events += drain(connection)
    assert events[-1] is CLOSED
    assert connection.waiting_for == "nothing"
    for event in events[:-1]:
        assert isinstance(
            event, Request | StreamChunk | StreamEnd | SessionStarted | SessionEnded | Reject
        )
        if isinstance(event, Request) and event.fd is not None:
            assert event.command is Command.FILDES
            claimed.append(event.fd)
    assert sorted(claimed + list(connection.take_unclaimed_fds())) == given_fds


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.binary(min_size=1, max_size=300), max_size=6),
    cuts=st.lists(st.integers(0, 10_000), max_size=10),
    session=st.booleans(),
)
def test_stream_data_out_equals_data_in(
    pieces: list[bytes], cuts: list[int], session: bool
) -> None:
    wire = (b"zIDSESSION\0" if session else b"") + b"zINSTREAM\0"
    wire += b"".join(chunk(piece) for piece in pieces) + chunk(b"")
    connection = ServerConnection(unix_socket=True, stream_max_length=0)
    received = bytearray()
    ends = 0
    for packet in split(wire, cuts):
        connection.receive_data(packet)
        for event in drain(connection):
            if isinstance(event, StreamChunk):
                assert len(event.data) > 0
                received += event.data
            ends += isinstance(event, StreamEnd)
    assert bytes(received) == b"".join(pieces)
    assert ends == 1


session_commands = st.lists(
    st.one_of(
        st.sampled_from([b"zPING\0", b"nVERSION\n", b"zVERSIONCOMMANDS\0", b"nSTATS\n"]),
        st.text(
            st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=30
        ).map(lambda path: b"zSCAN /" + path.encode() + b"\0"),
        st.binary(min_size=1, max_size=50).map(
            lambda data: b"zINSTREAM\0" + chunk(data) + chunk(b"")
        ),
    ),
    max_size=6,
)


def _merged(events: list[object]) -> list[object]:
    merged: list[object] = []
    for event in events:
        if isinstance(event, StreamChunk):
            data = bytes(event.data)
            if merged and isinstance(merged[-1], StreamChunk):
                data = bytes(merged.pop().data) + data  # type: ignore[union-attr]
            event = StreamChunk(event.request, data)
        merged.append(event)
    return merged


@settings(max_examples=200, deadline=None)
@given(commands=session_commands, cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_prefixed_session_means_the_same_in_any_split(
    commands: list[bytes], cuts: list[int]
) -> None:
    wire = b"zIDSESSION\0" + b"".join(commands) + b"zEND\0"

    def events_for(reads: list[bytes]) -> list[object]:
        connection = ServerConnection(unix_socket=True, stream_max_length=0)
        events: list[object] = []
        for packet in reads:
            connection.receive_data(packet)
            events += drain(connection)
        return _merged(events)

    whole = events_for([wire])
    assert whole == events_for(split(wire, cuts))
    assert whole[-1] is CLOSED
    requests = [event for event in whole if isinstance(event, Request)]
    assert [request.session_id for request in requests] == list(range(1, len(commands) + 1))
