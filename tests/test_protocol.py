"""The clamd protocol state machine, without sockets, against what the reference answered.

``MEASURED`` is a table of conversations recorded on ClamAV 1.4.6's clamd
(StreamMaxLength 1M, a database that finds EICAR, a directory ``{DIR}``
holding ``eicar.com`` and ``clean.txt``): the packets a client sent and the
bytes the reference wrote back.  Here the packets go through
``ServerConnection`` and a fake server that answers each request with a
canned result (scans hand their replies back later, as clamd's worker
threads do; PING and the like answer at once); the bytes must be the
reference's.  tests/test_protocol_reference.py replays the same table
against live daemons.
"""

from __future__ import annotations

import errno
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from clamkit.protocol import framing, replies
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

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_NAME = "Eicar-Test-Signature.UNOFFICIAL"
VERSION = "ClamAV 1.4.6"
STREAM_MAX = 1024 * 1024
FAKE_DIR = "/srv/files"
FIRST_FAKE_FD = 40


def chunk(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@dataclass(frozen=True)
class Case:
    """One recorded conversation: ``reads`` as separate packets, what came back.

    ``fds_with``: the packet that carried descriptors (``fd_count`` of them,
    the first on eicar.com); ``eof``: the client half-closed after sending;
    ``closed``: the daemon hung up (else it was still waiting).
    """

    name: str
    reads: tuple[bytes, ...]
    reply: bytes
    closed: bool = True
    eof: bool = False
    fds_with: int | None = None
    fd_count: int = 1
    tcp: bool = False


def case(name: str, reads: bytes | Sequence[bytes], reply: bytes, **kwargs: object) -> Case:
    packets = (reads,) if isinstance(reads, bytes) else tuple(reads)
    return Case(name, packets, reply, **kwargs)  # type: ignore[arg-type]


UNKNOWN_Z = b"UNKNOWN COMMAND\0"
UNKNOWN_N = b"UNKNOWN COMMAND\n"
FOUND_EICAR = f"{{DIR}}/eicar.com: {EICAR_NAME} FOUND".encode()
STREAM_FOUND = f"stream: {EICAR_NAME} FOUND".encode()
FD_FOUND = f"fd[*]: {EICAR_NAME} FOUND".encode()
COMMANDS = replies.versioncommands_reply(VERSION).encode()
INVALID = b"Command invalid inside IDSESSION. ERROR"
LEGACY = rb"Only nCMDS\n and zCMDS\0 are accepted inside IDSESSION. ERROR"
PROCESSING = b"Error processing command. ERROR"
ANCILLARY = b"PROTOCOL ERROR: ancillary data sent without FILDES. ERROR"
NO_FD = b"No file descriptor received. ERROR"
LIMIT = b"INSTREAM size limit exceeded. ERROR"
ENOENT = b": File path check failure: No such file or directory. ERROR"
TOO_LONG = b": File path check failure: File name too long. ERROR"
LONG_PATH = b"/" + b"a" * 5000


def _invalid_in_session(command: bytes) -> Case:
    return case(
        f"session forbids {command!r}",
        b"zIDSESSION\0zPING\0z" + command + b"\0zPING\0zEND\0",
        b"1: PONG\x002: " + INVALID + b"\0",
    )


MEASURED: tuple[Case, ...] = (
    # Framing: z, n, legacy; C strings; trailing CRs; one command per connection.
    case("z", b"zPING\0", b"PONG\0"),
    case("n", b"nPING\n", b"PONG\n"),
    case("legacy without terminator", b"PING", b"PONG\n"),
    case("legacy line", b"PING\n", b"PONG\n"),
    case("legacy CRLF", b"PING\r\n", b"PONG\n"),
    case("n CRLF", b"nPING\r\n", b"PONG\n"),
    case("n CRs", b"nPING\r\r\r\n", b"PONG\n"),
    case("legacy lone CR", b"PING\r", b"PONG\n"),
    case("legacy NUL ends the text", b"PING\0junk", b"PONG\n"),
    case("n NUL ends the text", b"nPING\r\0x\n", b"PONG\n"),
    case("legacy second line ignored", b"PING\nx", b"PONG\n"),
    case("z lowercase", b"zping\0", UNKNOWN_Z),
    case("z extra argument", b"zPING extra\0", UNKNOWN_Z),
    case("z trailing space", b"zPING \0", UNKNOWN_Z),
    case("z keeps CR", b"zPING\r\0", UNKNOWN_Z),
    case("n inner CR", b"nPING\rx\n", UNKNOWN_N),
    case("legacy trailing space", b"PING \r\n", UNKNOWN_N),
    case("legacy tab", b"PING\t\n", UNKNOWN_N),
    case("legacy leading space", b" PING", UNKNOWN_N),
    case("legacy leading NUL", b"\0PING", UNKNOWN_N),
    case("legacy garbage", b"PINGjunk", UNKNOWN_N),
    case("z NUL inside", b"zPI\0NG\0", UNKNOWN_Z),
    case("n NUL inside", b"nPI\0NG\n", UNKNOWN_N),
    case("legacy NUL inside", b"PI\0NG\n", UNKNOWN_N),
    case("empty line", b"\n", UNKNOWN_N),
    case("lone NUL", b"\0", UNKNOWN_N),
    case("lone CR", b"\r", UNKNOWN_N),
    case("empty n command", b"n\n", UNKNOWN_N),
    case("empty z command", b"z\0", UNKNOWN_Z),
    case("z with newline", b"zPING\n", b"", eof=True),
    case("n with NUL", b"nPING\0", b"", eof=True),
    case("nothing", (), b"", eof=True),
    case("z unterminated", b"zPING", b"", closed=False),
    case("z byte by byte, unterminated", (b"z", b"P", b"I", b"N", b"G"), b"", closed=False),
    case("z byte by byte", (b"z", b"P", b"I", b"N", b"G", b"\0"), b"PONG\0"),
    case("n in two packets", (b"nPI", b"NG\n"), b"PONG\n"),
    case("legacy split: first packet is the command", (b"PI", b"NG\n"), UNKNOWN_N),
    case("legacy: one command per connection", (b"PING\n", b"VERSION\n"), b"PONG\n"),
    case("z: one command per connection", b"zPING\0zVERSION\0", b"PONG\0"),
    case("legacy: two lines in one packet", b"PING\r\nVERSION\r\n", b"PONG\n"),
    case("z with NUL padding", b"zPING" + b"\0" * 4995, b"PONG\0"),
    case("TCP legacy", b"PING", b"PONG\n", tcp=True),
    # Which commands exist, and in which framing.
    case("VERSION z", b"zVERSION\0", VERSION.encode() + b"\0"),
    case("VERSION legacy", b"VERSION", VERSION.encode() + b"\n"),
    case("VERSION n", b"nVERSION\n", VERSION.encode() + b"\n"),
    case("VERSIONCOMMANDS z", b"zVERSIONCOMMANDS\0", COMMANDS + b"\0"),
    case("VERSIONCOMMANDS n", b"nVERSIONCOMMANDS\n", COMMANDS + b"\n"),
    case("VERSIONCOMMANDS legacy", b"VERSIONCOMMANDS", UNKNOWN_N),
    case("INSTREAM legacy", b"INSTREAM", UNKNOWN_N),
    case("STATS legacy", b"STATS", UNKNOWN_N),
    case("IDSESSION legacy", b"IDSESSION\n", UNKNOWN_N),
    case("FILDES legacy waits", b"FILDES", b"", closed=False),
    case("FILDES legacy, EOF", b"FILDES", b"", eof=True),
    case("FILDES legacy, next packet", (b"FILDES", b"x"), UNKNOWN_N),
    case("FILDES legacy, descriptor", (b"FILDES", b"x"), UNKNOWN_N, fds_with=1),
    case("END legacy", b"END", UNKNOWN_N),
    case("END z outside a session", b"zEND\0", UNKNOWN_Z),
    case("END n outside a session", b"nEND\n", UNKNOWN_N),
    case("ALLMATCHSCAN legacy", b"ALLMATCHSCAN {DIR}", UNKNOWN_N),
    case("DETSTATS z", b"zDETSTATS\0", b""),
    case("DETSTATS legacy", b"DETSTATS", b""),
    case("DETSTATSCLEAR z", b"zDETSTATSCLEAR\0", b""),
    case("DETSTATSCLEAR legacy", b"DETSTATSCLEAR", b""),
    case("DETSTATS argument", b"zDETSTATS x\0", UNKNOWN_Z),
    case("DETSTATS legacy argument", b"DETSTATS x", UNKNOWN_N),
    case("QUIT argument", b"zQUIT x\0", UNKNOWN_Z),
    case("SHUTDOWN argument", b"zSHUTDOWN x\0", UNKNOWN_Z),
    case("RELOAD argument", b"zRELOAD x\0", UNKNOWN_Z),
    case("VERSION argument", b"zVERSION x\0", UNKNOWN_Z),
    case("IDSESSION argument", b"zIDSESSION x\0", UNKNOWN_Z),
    case("STATS argument", b"zSTATS x\0", UNKNOWN_Z),
    case("FILDES argument", b"zFILDES x\0", UNKNOWN_Z),
    case("INSTREAM argument", b"zINSTREAM x\0" + chunk(EICAR) + chunk(b""), UNKNOWN_Z),
    case("SCAN without argument", b"zSCAN\0", UNKNOWN_Z),
    case("CONTSCAN without argument", b"zCONTSCAN\0", UNKNOWN_Z),
    case("SCAN legacy without argument", b"SCAN", UNKNOWN_N),
    case("RELOAD z", b"zRELOAD\0", b"RELOADING\0"),
    case("RELOAD legacy", b"RELOAD", b"RELOADING\n"),
    # Command buffer: 4104 bytes.
    case(
        "z at the buffer size",
        b"zSCAN " + LONG_PATH[:4097] + b"\0",
        LONG_PATH[:4097] + TOO_LONG + b"\0",
    ),
    case("z over the buffer size", b"zSCAN " + LONG_PATH[:4098] + b"\0", b""),
    case(
        "n at the buffer size",
        b"nSCAN " + LONG_PATH[:4097] + b"\n",
        LONG_PATH[:4097] + TOO_LONG + b"\n",
    ),
    case("n over the buffer size", b"nSCAN " + LONG_PATH[:4098] + b"\n", b""),
    case(
        "z over the buffer size, split",
        (b"zSCAN " + LONG_PATH[:2000], LONG_PATH[2000:4000], LONG_PATH[4000:4098] + b"\0"),
        b"",
    ),
    case(
        "legacy longer than the buffer",
        b"SCAN " + LONG_PATH + b"a" * 900,
        LONG_PATH[:4099] + TOO_LONG + b"\n",
    ),
    # Scans (the fake file system mirrors the reference test's directory).
    case("SCAN clean", b"zSCAN {DIR}/clean.txt\0", b"{DIR}/clean.txt: OK\0"),
    case("SCAN directory", b"zSCAN {DIR}\0", FOUND_EICAR + b"\0"),
    case("SCAN directory, slash", b"zSCAN {DIR}/\0", FOUND_EICAR + b"\0"),
    case("CONTSCAN", b"zCONTSCAN {DIR}\0", FOUND_EICAR + b"\0"),
    case("MULTISCAN", b"zMULTISCAN {DIR}\0", FOUND_EICAR + b"\0"),
    case("ALLMATCHSCAN", b"zALLMATCHSCAN {DIR}\0", FOUND_EICAR + b"\0"),
    case("CONTSCAN legacy", b"CONTSCAN {DIR}", FOUND_EICAR + b"\n"),
    case("MULTISCAN legacy", b"MULTISCAN {DIR}", FOUND_EICAR + b"\n"),
    case("SCAN legacy", b"SCAN {DIR}/clean.txt", b"{DIR}/clean.txt: OK\n"),
    case("SCAN missing", b"zSCAN /nonexistent\0", b"/nonexistent" + ENOENT + b"\0"),
    case("SCAN relative", b"zSCAN files\0", b"files" + ENOENT + b"\0"),
    case("SCAN empty argument", b"zSCAN \0", ENOENT + b"\0"),
    case("CONTSCAN empty argument", b"zCONTSCAN \0", ENOENT + b"\0"),
    case("SCAN legacy empty argument", b"SCAN ", ENOENT + b"\n"),
    case("SCAN two spaces", b"zSCAN  {DIR}/clean.txt\0", b" {DIR}/clean.txt" + ENOENT + b"\0"),
    case(
        "SCAN with a command behind it",
        b"zSCAN {DIR}/clean.txt\0zPING\0",
        PROCESSING + b"\0{DIR}/clean.txt: OK\0",
    ),
    case(
        "SCAN n with bytes behind it",
        b"nSCAN {DIR}/clean.txt\nxx",
        PROCESSING + b"\n{DIR}/clean.txt: OK\n",
    ),
    case(
        "SCAN with a later packet",
        (b"zSCAN {DIR}/clean.txt\0", b"zPING\0"),
        b"{DIR}/clean.txt: OK\0",
    ),
    # INSTREAM.
    case("INSTREAM no chunks", b"zINSTREAM\0" + chunk(b""), b"stream: OK\0"),
    case("INSTREAM clean", b"zINSTREAM\0" + chunk(b"hello") + chunk(b""), b"stream: OK\0"),
    case("INSTREAM EICAR", b"zINSTREAM\0" + chunk(EICAR) + chunk(b""), STREAM_FOUND + b"\0"),
    case("INSTREAM n", b"nINSTREAM\n" + chunk(EICAR) + chunk(b""), STREAM_FOUND + b"\n"),
    case(
        "INSTREAM split",
        (
            b"zINST",
            b"REAM\0\0\0",
            b"\0\x0a" + EICAR[:10],
            chunk(EICAR[10:])[:30],
            chunk(EICAR[10:])[30:] + b"\0\0\0\0",
        ),
        STREAM_FOUND + b"\0",
    ),
    case("INSTREAM no data", b"zINSTREAM\0", b"", eof=True),
    case("INSTREAM waiting", b"zINSTREAM\0", b"", closed=False),
    case(
        "INSTREAM truncated chunk", b"zINSTREAM\0" + struct.pack(">I", 100) + b"abc", b"", eof=True
    ),
    case("INSTREAM truncated length", b"zINSTREAM\0\0\0", b"", eof=True),
    case("INSTREAM without end", b"zINSTREAM\0" + chunk(EICAR), b"", eof=True),
    case(
        "INSTREAM declares too much",
        b"zINSTREAM\0" + struct.pack(">I", 2 * STREAM_MAX) + b"abc",
        LIMIT + b"\0",
    ),
    case("INSTREAM declares 4 GiB", b"zINSTREAM\0" + struct.pack(">I", 0xFFFFFFFF), LIMIT + b"\0"),
    case(
        "INSTREAM at the limit",
        b"zINSTREAM\0" + chunk(b"a" * STREAM_MAX) + chunk(b""),
        b"stream: OK\0",
    ),
    case(
        "INSTREAM one over",
        b"zINSTREAM\0" + struct.pack(">I", STREAM_MAX + 1) + b"abc",
        LIMIT + b"\0",
    ),
    case(
        "INSTREAM over in total",
        b"zINSTREAM\0" + chunk(b"a" * 600_000) + chunk(b"b" * 600_000) + chunk(b""),
        LIMIT + b"\0",
    ),
    case(
        "INSTREAM data after the end",
        b"zINSTREAM\0" + chunk(EICAR) + chunk(b"") + b"zPING\0",
        STREAM_FOUND + b"\0",
    ),
    case(
        "INSTREAM TCP", b"zINSTREAM\0" + chunk(EICAR) + chunk(b""), STREAM_FOUND + b"\0", tcp=True
    ),
    # IDSESSION.
    case(
        "session z",
        b"zIDSESSION\0zPING\0zVERSION\0zEND\0",
        b"1: PONG\x002: " + VERSION.encode() + b"\0",
    ),
    case(
        "session n",
        b"nIDSESSION\nnPING\nnVERSION\nnEND\n",
        b"1: PONG\n2: " + VERSION.encode() + b"\n",
    ),
    case("session mixed terminators", b"zIDSESSION\0nPING\nzPING\0zEND\0", b"1: PONG\n2: PONG\0"),
    case("session in packets", (b"zIDSESSION\0", b"zPING\0", b"zEND\0"), b"1: PONG\0"),
    case("session EOF without END", b"zIDSESSION\0zPING\0", b"1: PONG\0", eof=True),
    case("session open", b"zIDSESSION\0zPING\0", b"1: PONG\0", closed=False),
    case("session idle", b"zIDSESSION\0", b"", closed=False),
    case(
        "session ids",
        b"zIDSESSION\0" + b"zPING\0" * 12 + b"zEND\0",
        b"".join(b"%d: PONG\0" % i for i in range(1, 13)),
    ),
    case("session END ends it", b"zIDSESSION\0zPING\0zEND\0zPING\0", b"1: PONG\0"),
    case("session END n", b"zIDSESSION\0zPING\0nEND\n", b"1: PONG\0"),
    case("session SCAN", b"zIDSESSION\0zSCAN {DIR}/clean.txt\0zEND\0", b"1: {DIR}/clean.txt: OK\0"),
    case(
        "session INSTREAM answered after PING",
        b"zIDSESSION\0zINSTREAM\0" + chunk(EICAR) + chunk(b"") + b"zPING\0zEND\0",
        b"2: PONG\x001: " + STREAM_FOUND + b"\0",
    ),
    case(
        "session VERSIONCOMMANDS",
        b"zIDSESSION\0zVERSIONCOMMANDS\0zEND\0",
        b"1: " + COMMANDS + b"\0",
    ),
    case(
        "session INSTREAM over the limit",
        b"nIDSESSION\nnPING\nnINSTREAM\n" + struct.pack(">I", 2_000_000),
        b"1: PONG\n2: " + LIMIT + b"\n",
    ),
    *(
        _invalid_in_session(command)
        for command in (
            b"RELOAD",
            b"SHUTDOWN",
            b"QUIT",
            b"CONTSCAN {DIR}",
            b"MULTISCAN {DIR}",
            b"ALLMATCHSCAN {DIR}",
            b"DETSTATS",
            b"DETSTATSCLEAR",
            b"IDSESSION",
            b"FOO",
            b"ping",
            b"PING x",
            b"SCAN",
            b"INSTREAM x",
            b"END x",
        )
    ),
    case("session invalid: own terminator", b"zIDSESSION\0nFOO\n", b"1: " + INVALID + b"\n"),
    case(
        "session invalid: own terminator, n session",
        b"nIDSESSION\nzFOO\0",
        b"1: " + INVALID + b"\0",
    ),
    case("session empty command", b"zIDSESSION\0z\0zPING\0", b"1: " + INVALID + b"\0"),
    case(
        "session legacy command",
        (b"zIDSESSION\0", b"PING\n"),
        b"1: " + LEGACY + b"\x001: " + PROCESSING + b"\0",
    ),
    case("session legacy left over waits", b"zIDSESSION\0PING\n", b"", closed=False),
    case("session legacy left over, EOF", b"zIDSESSION\0PING\n", b"", eof=True),
    case(
        "session legacy left over, next packet",
        (b"zIDSESSION\0PING\n", b"zPING\0"),
        b"1: " + LEGACY + b"\x001: " + PROCESSING + b"\0",
    ),
    case(
        "session NUL starts a packet",
        (b"zIDSESSION\0", b"\0zPING\0"),
        b"1: " + LEGACY + b"\x001: " + PROCESSING + b"\0",
    ),
    case("session CRLF leaves a newline", b"nIDSESSION\r\nnPING\nnEND\n", b"", closed=False),
    case(
        "session CRLF newline meets the next packet",
        (b"nIDSESSION\n", b"nPING\r\n", b"nEND\n"),
        b"1: PONG\n2: " + LEGACY + b"\n2: " + PROCESSING + b"\n",
    ),
    case(
        "session error terminator is the last command's",
        (b"zIDSESSION\0", b"nPING\r\n", b"zPING\0"),
        b"1: PONG\n2: " + LEGACY + b"\n2: " + PROCESSING + b"\n",
    ),
    case("session CRLF on END", b"nIDSESSION\nnPING\nnEND\r\n", b"1: PONG\n"),
    # FILDES: the descriptor comes with a later packet, whose first byte it uses.
    case("FILDES", (b"zFILDES\0", b"\0"), FD_FOUND + b"\0", fds_with=1),
    case("FILDES n", (b"nFILDES\n", b"x"), FD_FOUND + b"\n", fds_with=1),
    case("FILDES with a one-byte packet", (b"zFILDES\0", b"z"), FD_FOUND + b"\0", fds_with=1),
    case(
        "FILDES packet with more bytes",
        (b"zFILDES\0", b"zPING\0"),
        PROCESSING + b"\0" + FD_FOUND + b"\0",
        fds_with=1,
    ),
    case(
        "FILDES descriptor with the command",
        b"zFILDES\0",
        ANCILLARY + b"\0" + PROCESSING + b"\0",
        fds_with=0,
    ),
    case(
        "FILDES n descriptor with the command",
        b"nFILDES\n",
        ANCILLARY + b"\0" + PROCESSING + b"\0",
        fds_with=0,
    ),
    case(
        "FILDES legacy with a descriptor",
        b"FILDES",
        ANCILLARY + b"\0" + PROCESSING + b"\0",
        fds_with=0,
    ),
    case(
        "FILDES descriptor with the end of the command",
        (b"zFIL", b"DES\0"),
        ANCILLARY + b"\0" + PROCESSING + b"\0",
        fds_with=1,
    ),
    case(
        "FILDES n, byte behind it in the same packet", b"nFILDES\nx", FD_FOUND + b"\n", fds_with=0
    ),
    case("FILDES waiting", b"zFILDES\0", b"", closed=False),
    case("FILDES EOF", b"zFILDES\0", b"", eof=True),
    case("FILDES packet without descriptor", (b"zFILDES\0", b"x"), NO_FD + b"\0"),
    case("FILDES n packet without descriptor", (b"nFILDES\n", b"x"), NO_FD + b"\n"),
    case("FILDES two descriptors", (b"zFILDES\0", b"x"), NO_FD + b"\0", fds_with=1, fd_count=2),
    case(
        "FILDES two descriptors with the command",
        b"zFILDES\0",
        b"",
        closed=False,
        fds_with=0,
        fd_count=2,
    ),
    case("FILDES TCP", (b"zFILDES\0", b"x"), NO_FD + b"\0", tcp=True),
    case("descriptor with PING", b"zPING\0", b"PONG\0", fds_with=0),
    case("descriptor with a partial command", b"zPI", ANCILLARY + b"\0", fds_with=0),
    case("descriptor with a partial n command", b"nPI", ANCILLARY + b"\0", fds_with=0),
    case("descriptor with a legacy command", b"PI", UNKNOWN_N, fds_with=0),
    case(
        "session FILDES",
        (b"zIDSESSION\0zFILDES\0", b"\0", b"zVERSION\0"),
        b"1: " + FD_FOUND + b"\x002: " + VERSION.encode() + b"\0",
        closed=False,
        fds_with=1,
    ),
    case(
        "session FILDES packet leaves a legacy remainder",
        (b"zIDSESSION\0zFILDES\0", b"zPING\0", b"zVERSION\0"),
        b"1: " + FD_FOUND + b"\x002: " + LEGACY + b"\x002: " + PROCESSING + b"\0",
        fds_with=1,
    ),
    case(
        "session FILDES with a command behind it",
        (b"zIDSESSION\0zFILDES\0zPING\0", b"\0"),
        b"1: " + NO_FD + b"\0",
        fds_with=1,
    ),
    case(
        "session second FILDES without descriptor",
        (b"zIDSESSION\0zFILDES\0", b"\0", b"zFILDES\0", b"\0", b"zEND\0"),
        b"1: " + FD_FOUND + b"\x002: " + NO_FD + b"\0",
        fds_with=1,
    ),
    case(
        "session descriptor with PING",
        (b"zIDSESSION\0", b"zPING\0", b"zEND\0"),
        b"1: PONG\x002: " + ANCILLARY + b"\0",
        fds_with=1,
    ),
    case(
        "session n descriptor with PING",
        (b"nIDSESSION\n", b"nPING\n"),
        b"1: PONG\n2: " + ANCILLARY + b"\n",
        fds_with=1,
    ),
    case(
        "session descriptor with FILDES",
        (b"nIDSESSION\n", b"nFILDES\n"),
        b"1: " + ANCILLARY + b"\n1: " + PROCESSING + b"\n",
        fds_with=1,
    ),
    case(
        "session descriptor with a partial command",
        (b"nIDSESSION\n", b"nPI"),
        b"1: " + ANCILLARY + b"\n",
        fds_with=1,
    ),
    case(
        "session FILDES TCP",
        (b"zIDSESSION\0zFILDES\0", b"zPING\0"),
        b"1: " + NO_FD + b"\0",
        tcp=True,
    ),
)


# -- a fake server -------------------------------------------------------------


def _fake_scan(path: str, found_in_dir: bool = True) -> str:
    name = path.rstrip("/") or path
    if any(len(part) > 255 for part in path.split("/")):
        return replies.path_check_failure(path, errno.ENAMETOOLONG)
    if name == FAKE_DIR and found_in_dir:
        return replies.found_line(f"{FAKE_DIR}/eicar.com", EICAR_NAME)
    if name == f"{FAKE_DIR}/eicar.com":
        return replies.found_line(path, EICAR_NAME)
    if name == f"{FAKE_DIR}/clean.txt":
        return replies.ok_line(path)
    return replies.path_check_failure(path, errno.ENOENT)


_SCANS = {Command.SCAN, Command.CONTSCAN, Command.MULTISCAN, Command.ALLMATCHSCAN}
_IMMEDIATE = {
    Command.PING: replies.PONG,
    Command.VERSION: VERSION,
    Command.VERSIONCOMMANDS: replies.versioncommands_reply(VERSION),
    Command.RELOAD: replies.RELOADING,
}


@dataclass
class FakeServer:
    """Answers requests like clamd: scans later (worker threads), the rest at once."""

    connection: ServerConnection
    written: bytearray = field(default_factory=bytearray)
    later: list[bytes] = field(default_factory=list)
    streams: dict[Request, bytearray] = field(default_factory=dict)
    claimed: list[int] = field(default_factory=list)
    events: list[object] = field(default_factory=list)

    def pump(self) -> bool:
        """Handle events until the connection needs data (False) or is closed (True)."""
        while True:
            event = self.connection.next_event()
            self.events.append(event)
            if event is NEED_DATA or event is CLOSED:
                self.written += b"".join(self.later)
                self.later.clear()
                return event is CLOSED
            self.handle(event)

    def handle(self, event: object) -> None:
        match event:
            case Reject(reply=data, drop_pending=drop):
                self.written += data
                if drop:
                    self.later.clear()
            case Request(command=Command.INSTREAM) as request:
                self.streams[request] = bytearray()
            case Request(command=Command.FILDES, fd=fd) as request:
                assert fd is not None
                self.claimed.append(fd)
                found = replies.found_line(replies.descriptor_name(fd), EICAR_NAME)
                self.later.append(framing.reply(request, found))
            case Request(command=command, argument=argument) as request if command in _SCANS:
                assert argument is not None
                self.later.append(framing.reply(request, _fake_scan(argument)))
            case Request(command=command) as request if command in _IMMEDIATE:
                self.written += framing.reply(request, _IMMEDIATE[command])
            case Request(command=Command.SHUTDOWN):
                pass
            case StreamChunk(request=request, data=data):
                self.streams[request] += data
            case StreamEnd(request=request):
                data = self.streams.pop(request)
                name = replies.STREAM_NAME
                text = (
                    replies.found_line(name, EICAR_NAME) if EICAR in data else replies.ok_line(name)
                )
                self.later.append(framing.reply(request, text))
            case SessionStarted() | SessionEnded():
                pass
            case _:
                raise AssertionError(f"unexpected event {event!r}")


def substitute(data: bytes, directory: str) -> bytes:
    return data.replace(b"{DIR}", directory.encode())


def mask(data: bytes) -> bytes:
    """Hide what legitimately differs between daemons: descriptor numbers."""
    return re.sub(rb"fd\[\d+\]", rb"fd[*]", data)


@dataclass(frozen=True)
class Outcome:
    reply: bytes
    closed: bool
    fds_accounted: bool


def converse(
    item: Case, *, stream_max: int = STREAM_MAX, enabled: frozenset[Command] | None = None
) -> Outcome:
    connection = ServerConnection(
        unix_socket=not item.tcp, stream_max_length=stream_max, enabled_commands=enabled
    )
    server = FakeServer(connection)
    given: list[int] = []
    closed = server.pump()
    for index, packet in enumerate(item.reads):
        if closed:
            break
        fds: tuple[int, ...] = ()
        if index == item.fds_with:
            fds = tuple(
                range(FIRST_FAKE_FD + len(given), FIRST_FAKE_FD + len(given) + item.fd_count)
            )
            given += fds
        connection.receive_data(substitute(packet, FAKE_DIR), fds)
        closed = server.pump()
    if item.eof and not closed:
        connection.receive_data(b"")
        closed = server.pump()
    unclaimed = connection.take_unclaimed_fds()
    accounted = sorted(server.claimed + list(unclaimed)) == given if closed else True
    return Outcome(bytes(server.written), closed, accounted)


@pytest.mark.parametrize("item", MEASURED, ids=lambda item: item.name)
def test_measured_conversation(item: Case) -> None:
    outcome = converse(item)
    assert mask(outcome.reply) == substitute(item.reply, FAKE_DIR)
    assert outcome.closed == item.closed
    assert outcome.fds_accounted


# -- the state machine's own guarantees ----------------------------------------------


def events_of(reads: Sequence[bytes], **kwargs: object) -> list[object]:
    connection = ServerConnection(unix_socket=True, stream_max_length=STREAM_MAX, **kwargs)  # type: ignore[arg-type]
    events: list[object] = []
    for packet in reads:
        connection.receive_data(packet)
        while (event := connection.next_event()) is not NEED_DATA:
            events.append(event)
            if event is CLOSED:
                return events
    return events


SESSION = (
    b"zIDSESSION\0zPING\0nVERSION\nzSCAN /x y\0zINSTREAM\0" + chunk(b"ab") + chunk(b"") + b"zEND\0"
)


def _normalise(events: list[object]) -> list[object]:
    """Stream chunks merged, so that differently split input compares equal."""
    merged: list[object] = []
    for event in events:
        if isinstance(event, StreamChunk):
            previous = merged[-1] if merged else None
            data = bytes(event.data)
            if isinstance(previous, StreamChunk):
                merged[-1] = StreamChunk(event.request, bytes(previous.data) + data)
                continue
            event = StreamChunk(event.request, data)
        merged.append(event)
    return merged


def test_prefixed_session_any_split() -> None:
    whole = _normalise(events_of([SESSION]))
    bytewise = _normalise(events_of([SESSION[i : i + 1] for i in range(len(SESSION))]))
    assert whole == bytewise
    assert [type(event).__name__ for event in whole] == [
        "SessionStarted",
        "Request",
        "Request",
        "Request",
        "Request",
        "StreamChunk",
        "StreamEnd",
        "SessionEnded",
        "Sentinel",
    ]
    scan = whole[3]
    assert isinstance(scan, Request)
    assert (scan.command, scan.argument, scan.session_id, scan.terminator) == (
        Command.SCAN,
        "/x y",
        3,
        b"\0",
    )


def test_trailing_bytes_after_session_end_are_ignored() -> None:
    assert _normalise(events_of([SESSION + b"zPING\0garbage"])) == _normalise(events_of([SESSION]))


def test_quit_arrives_as_shutdown() -> None:
    request = events_of([b"zQUIT\0"])[0]
    assert isinstance(request, Request) and request.command is Command.SHUTDOWN


def test_path_bytes_round_trip() -> None:
    request = events_of([b"zSCAN /tmp/\xff\xfe name\0"])[0]
    assert isinstance(request, Request)
    assert (
        framing.reply(request, replies.ok_line(request.argument or ""))
        == b"/tmp/\xff\xfe name: OK\0"
    )


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        (b"zVERSION\0", b"COMMAND UNAVAILABLE\0"),
        (b"nSTATS\n", b"COMMAND UNAVAILABLE\n"),
        (b"QUIT", b"COMMAND UNAVAILABLE\n"),
        (b"zIDSESSION\0zPING\0zVERSION\0", b"2: COMMAND UNAVAILABLE\0"),
    ],
)
def test_disabled_commands(packet: bytes, expected: bytes) -> None:
    enabled = frozenset(Command) - {Command.VERSION, Command.STATS, Command.SHUTDOWN}
    outcome = converse(case("disabled", packet, b""), enabled=enabled)
    assert outcome.reply.endswith(expected) and outcome.closed
    assert converse(case("enabled", b"zPING\0", b""), enabled=enabled).reply == b"PONG\0"


def test_stream_without_limit() -> None:
    packet = b"zINSTREAM\0" + chunk(b"a" * (3 * STREAM_MAX)) + chunk(b"")
    assert converse(case("unlimited", packet, b""), stream_max=0).reply == b"stream: OK\0"


@pytest.mark.parametrize(
    ("reads", "waiting_for"),
    [
        ((), "command"),
        ((b"zPI",), "command"),
        ((b"zFILDES\0",), "command"),
        ((b"zINSTREAM\0",), "data"),
        ((b"zIDSESSION\0",), "data"),
        ((b"zIDSESSION\0zFILDES\0",), "data"),
        ((b"zPING\0",), "nothing"),
    ],
)
def test_waiting_for_names_the_timeout(reads: tuple[bytes, ...], waiting_for: str) -> None:
    """CommandReadTimeout until a command has started, as measured; ReadTimeout after."""
    connection = ServerConnection(unix_socket=True, stream_max_length=STREAM_MAX)
    for packet in reads:
        connection.receive_data(packet)
    while connection.next_event() not in (NEED_DATA, CLOSED):
        pass
    assert connection.waiting_for == waiting_for


def test_descriptors_over_tcp_are_a_programming_error() -> None:
    connection = ServerConnection(unix_socket=False, stream_max_length=STREAM_MAX)
    with pytest.raises(ValueError, match="Unix socket"):
        connection.receive_data(b"zFILDES\0", [5])


def test_descriptors_after_close_are_unclaimed() -> None:
    connection = ServerConnection(unix_socket=True, stream_max_length=STREAM_MAX)
    connection.receive_data(b"zPING\0")
    assert isinstance(connection.next_event(), Request)
    assert connection.next_event() is CLOSED
    connection.receive_data(b"\0", [7, 8])
    assert connection.take_unclaimed_fds() == (7, 8)
    assert connection.take_unclaimed_fds() == ()


def test_data_after_eof_is_refused() -> None:
    connection = ServerConnection(unix_socket=True, stream_max_length=STREAM_MAX)
    connection.receive_data(b"")
    with pytest.raises(RuntimeError):
        connection.receive_data(b"zPING\0")


# -- reply texts ----------------------------------------------------------------


def test_version_reply_with_database() -> None:
    # The reference, with a daily.cvd built at 2021-06-23 01:34:05 UTC (TZ=UTC here).
    text = replies.version_reply("1.4.6", 6, 1624412045)
    assert re.fullmatch(r"ClamAV 1\.4\.6/6/\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d 2021", text)
    assert replies.version_reply("0.1.0") == "ClamAV 0.1.0"
    assert replies.version_reply("0.1.0", 6, None) == "ClamAV 0.1.0"


def test_versioncommands_lists_every_command_in_the_references_order() -> None:
    assert replies.versioncommands_reply("ClamAV 1.4.6") == (
        "ClamAV 1.4.6| COMMANDS: SCAN QUIT RELOAD PING CONTSCAN VERSIONCOMMANDS VERSION END "
        "SHUTDOWN MULTISCAN FILDES STATS IDSESSION INSTREAM DETSTATSCLEAR DETSTATS ALLMATCHSCAN"
    )


def test_found_line_extended() -> None:
    # ExtendedDetectionInfo's form, as the reference logs it (its replies never carry it).
    assert (
        replies.found_line(
            "stream", "Eicar-Test-Signature", ("44d88612fea8a8f36de82e1278abb02f", 68)
        )
        == "stream: Eicar-Test-Signature(44d88612fea8a8f36de82e1278abb02f:68) FOUND"
    )


def test_stats_idle_daemon() -> None:
    snapshot = replies.StatsSnapshot(
        threads_live=1,
        threads_idle=0,
        threads_max=10,
        idle_timeout=30,
        jobs=(replies.Job("STATS", 0.000005),),
        memory=replies.MemoryFigures(pools=1, pools_used=5.883, pools_total=5.964),
    )
    assert replies.stats_reply(snapshot) == (
        "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 1  idle 0 max 10 idle-timeout 30\n"
        "QUEUE: 0 items\n\tSTATS 0.000005 \n\nMEMSTATS: heap N/A mmap N/A used N/A free N/A "
        "releasable N/A pools 1 pools_used 5.883M pools_total 5.964M\nEND"
    )


def test_stats_busy_daemon() -> None:
    snapshot = replies.StatsSnapshot(
        threads_live=2,
        threads_idle=0,
        threads_max=2,
        idle_timeout=30,
        queue_waits=(0.000030, 0.008024),
        jobs=(
            replies.Job("STATS", 0.000001),
            replies.Job("SCAN", 0.303553, "/tmp/g/big.bin"),
            replies.Job("IDLE", 0.049833),
        ),
        memory=replies.MemoryFigures(pools=1, pools_used=5.922, pools_total=5.999),
    )
    assert replies.stats_reply(snapshot) == (
        "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 2  idle 0 max 2 idle-timeout 30\n"
        "QUEUE: 2 items min_wait: 0.000030 max_wait: 0.008024 avg_wait: 0.004027\n"
        "\tSTATS 0.000001 \n\tSCAN 0.303553 /tmp/g/big.bin\n\tIDLE 0.049833 \n\n"
        "MEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 "
        "pools_used 5.922M pools_total 5.999M\nEND"
    )


def test_error_texts() -> None:
    assert replies.path_check_failure("/x", errno.ENOENT) == (
        "/x: File path check failure: No such file or directory. ERROR"
    )
    assert replies.error_line("/x", "Access denied.") == "/x: Access denied. ERROR"
    assert replies.READ_TIMED_OUT == b"COMMAND READ TIMED OUT\n"
