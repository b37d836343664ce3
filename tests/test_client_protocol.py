"""The client side of the clamd protocol: request bytes, reply splitting, session numbering,
and the pipelined session loop against clamkit's own server-side parser.

The loop is driven over a socketpair whose far end is a thread feeding
``clamkit.protocol.ServerConnection`` and answering in reverse order, so
what the client frames is checked by the parser the daemon uses, and the
in-order hand-out of out-of-order replies is exercised.
"""

from __future__ import annotations

import io
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from clamkit.client.connection import (
    Address,
    ConnectError,
    Segment,
    address_from_config,
    connect,
    descriptor_upload,
    pipeline,
    stream_upload,
)
from clamkit.client.protocol import (
    INSTREAM_END,
    ReplyError,
    ReplyReader,
    Session,
    instream_chunk,
    request,
    result_text,
    split_session_reply,
)
from clamkit.config.parser import parse_config
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
from tests.test_clamdscan_cli import receive


def test_requests_are_z_prefixed_and_nul_terminated() -> None:
    assert request(Command.PING) == b"zPING\0"
    assert request(Command.CONTSCAN, "/tmp/a b") == b"zCONTSCAN /tmp/a b\0"
    # File names that are not UTF-8 go out as the bytes they are.
    assert request(Command.SCAN, os.fsdecode(b"/x\xff")) == b"zSCAN /x\xff\0"


def test_instream_chunks_carry_their_length_in_network_order() -> None:
    assert instream_chunk(b"abc") == b"\0\0\0\3abc"
    assert instream_chunk(b"") == INSTREAM_END


REPLIES = b"1: stream: OK\x002: /a: Eicar FOUND\x00COMMAND READ TIMED OUT\n"
EXPECTED = ["1: stream: OK", "2: /a: Eicar FOUND", "COMMAND READ TIMED OUT"]


@pytest.mark.parametrize("split", ["whole", "bytewise"])
def test_reply_reader_any_split(split: str) -> None:
    reader = ReplyReader()
    pieces = [REPLIES] if split == "whole" else [REPLIES[i : i + 1] for i in range(len(REPLIES))]
    got = [text for piece in pieces for text in reader.feed(piece)]
    assert got == EXPECTED
    assert reader.rest() is None


def test_reply_reader_keeps_an_unterminated_tail() -> None:
    reader = ReplyReader()
    assert reader.feed(b"PONG\0PON") == ["PONG"]
    assert reader.rest() == "PON"


def test_session_replies_split_into_number_and_text() -> None:
    assert split_session_reply("12: /p: OK") == (12, "/p: OK")
    assert split_session_reply("/p: OK") == (None, "/p: OK")
    assert result_text("/dir: odd: name: Eicar FOUND") == ("/dir: odd: name", "Eicar FOUND")


def test_session_numbers_from_one_and_maps_replies_back() -> None:
    session: Session[str] = Session()
    assert [session.open("a"), session.open("b")] == [1, 2]
    assert session.in_flight == 2
    assert session.receive("2: stream: OK") == (2, "b", "stream: OK")
    assert session.in_flight == 1
    with pytest.raises(ReplyError):
        session.receive("7: stream: OK")
    with pytest.raises(ReplyError):
        session.receive("UNKNOWN COMMAND")


def test_address_from_config_prefers_the_local_socket() -> None:
    both = parse_config("LocalSocket /run/c.sock\nTCPSocket 3310\nTCPAddr 127.0.0.1\n", "x")
    assert address_from_config(both) == Address(unix_path="/run/c.sock")
    tcp = parse_config("TCPSocket 3310\nTCPAddr 127.0.0.1\n", "x")
    assert address_from_config(tcp) == Address(host="127.0.0.1", port=3310)
    assert Address(host="127.0.0.1", port=3310).is_local()
    assert not Address(host="192.0.2.1", port=3310).is_local()
    # A port without an address: the reference fails without a word.
    assert address_from_config(parse_config("TCPSocket 3310\n", "x")) is None


def test_connect_failure_has_the_reference_wording(tmp_path: object) -> None:
    with pytest.raises(ConnectError, match=r"^Could not connect to clamd on LocalSocket /nonex"):
        connect(Address(unix_path="/nonexistent/clamd.sock"))
    with pytest.raises(ConnectError, match=r"^$"):
        connect(None)


# ---------------------------------------------------------------------------
# The pipelined loop against the server-side parser


def _serve(server: socket.socket, log: list[object]) -> None:
    """Parse a whole session with ServerConnection; answer every request in reverse order."""
    connection = ServerConnection(unix_socket=True, stream_max_length=0)
    pending: list[Request] = []
    sizes: dict[int, int] = {}
    with server:
        while True:
            data, fds = receive(server)
            connection.receive_data(data, fds)
            while (event := connection.next_event()) is not NEED_DATA:
                if event is CLOSED or isinstance(event, SessionEnded):
                    for done in reversed(pending):
                        name = "stream" if done.command is Command.INSTREAM else "fd[9]"
                        size = sizes.get(id(done), 0)
                        server.sendall(reply(done, f"{name}: {size} OK"))
                    return
                if isinstance(event, StreamChunk):
                    key = id(next(p for p in pending if p.session_id == event.request.session_id))
                    sizes[key] = sizes.get(key, 0) + len(event.data)
                elif isinstance(event, StreamEnd):
                    continue
                elif isinstance(event, Request):
                    pending.append(event)
                    if event.fd is not None:
                        sizes[id(event)] = os.fstat(event.fd).st_size
                        os.close(event.fd)
                log.append(event)
            if not data:
                return


def _uploads(tmp_path: object, count: int) -> Iterator[tuple[int, Iterator[Segment] | None]]:
    for number in range(count):
        if number % 3 == 2:
            yield number, None  # nothing sent: handed on in its turn
        elif number % 3 == 1:
            path = os.path.join(str(tmp_path), f"f{number}")
            with open(path, "wb") as handle:
                handle.write(b"x" * number)
            yield number, descriptor_upload(os.open(path, os.O_RDONLY))
        else:
            yield number, stream_upload(io.BytesIO(b"y" * (number * 1000)), limit=10_000)


def test_pipeline_sends_what_the_server_parser_accepts_and_hands_replies_on_in_order(
    tmp_path: object,
) -> None:
    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    log: list[object] = []
    thread = threading.Thread(target=_serve, args=(server, log))
    thread.start()
    got: list[tuple[int, str | None]] = []
    outcome = pipeline(client, _uploads(tmp_path, 30), lambda tag, text: got.append((tag, text)))
    thread.join(10)
    assert not [event for event in log if isinstance(event, Reject)]
    assert outcome.unanswered == [] and outcome.problem is None
    assert [tag for tag, _ in got] == list(range(30))
    for tag, text in got:
        if tag % 3 == 2:
            assert text is None
        elif tag % 3 == 1:
            assert text == f"fd[9]: {tag} OK"
        else:
            # StreamMaxLength on the client's side: never more than the limit.
            assert text == f"stream: {min(tag * 1000, 10_000)} OK"


def test_pipeline_bounds_requests_in_flight(tmp_path: object) -> None:
    """With a bound of 2, the third request is not sent before a reply came:
    a server that answers only at END sees just two."""
    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(None)
    received = bytearray()

    def serve() -> None:
        with server:
            server.settimeout(1.0)
            try:
                while chunk := server.recv(65536):
                    received.extend(chunk)
            except TimeoutError:
                pass
            server.sendall(b"1: stream: OK\0")

    thread = threading.Thread(target=serve)
    thread.start()
    uploads = ((n, stream_upload(io.BytesIO(b"z"), 10)) for n in range(5))
    outcome = pipeline(client, uploads, lambda tag, text: None, max_in_flight=2)
    thread.join(10)
    assert received.count(b"zINSTREAM\0") == 2
    assert outcome.unanswered[:1] == [1]
