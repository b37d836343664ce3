"""Mail as a container: RFC 822/MIME messages and mbox files of them.

Strategy: an mbox (a file whose first line is a ``From `` line) is cut
into messages where a ``From `` line follows an empty line; any other mail
is one message, whatever its body holds.  Each entity's header block is
parsed by the standard library's ``email`` package (lenient ``compat32``
policy: folding, parameters, RFC 2231 file names), while bodies are cut at
their multipart delimiters here, on the raw bytes, so nothing is
re-encoded on the way.  Every leaf part becomes a member, decoded by its
Content-Transfer-Encoding with the lenient decoders of ``transfer``; a
nested ``message/rfc822`` part is one member too (the reference scans it
as a file of its own, one recursion level down).

Parts that are not encoded (7bit, 8bit, binary, none) are handed on the way
ClamAV's line-oriented parser stores them, which the reference was seen to
do: each line loses its NUL bytes and ends in a single LF, CR and CR LF
counting as line ends.  Such text parts are also searched for uuencoded
and BinHex blocks, which become members of their own (not text that came
base64 or quoted-printable encoded: the reference does not look there).

A mail is held in memory with at most one decoded part beside it (decoding
never grows data, BinHex runs are cut at the member budget).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from itertools import chain

from clamkit.containers.base import Alert, Extraction, Member
from clamkit.containers.binhex import find_binhex
from clamkit.containers.transfer import (
    bounded_member,
    decode_base64,
    find_uuencoded,
)
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = ["FORMAT", "MailFormat", "messages"]

# A new mbox message: a "From " line right after an empty line.
_MBOX_SEPARATOR = re.compile(rb"\n\r?\n(?=From )")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r\n|\r|\n")

_UUENCODE_NAMES = frozenset({"uuencode", "x-uuencode", "x-uue", "uue"})
_UNENCODED = frozenset({"", "7bit", "8bit", "binary"})

# Names ClamAV gives a part that names no file, and a nested message.
_UNNAMED = "attachment"
_NESTED_MESSAGE = "textportion"

# Deeper multipart nesting than this is not followed: no mail needs it, and
# a crafted one would otherwise cost a stack frame per level.
MAX_NESTING = 64

_HEADERS = BytesParser(policy=compat32)


def _as_stored_by_lines(raw: bytes) -> bytes:
    lines = _LINE_END.split(raw)
    if lines and not lines[-1]:
        lines.pop()
    return b"".join(line.replace(b"\0", b"") + b"\n" for line in lines)


def _encoding(headers: Message) -> str:
    return str(headers.get("Content-Transfer-Encoding", "")).strip().lower()


def _decoded(headers: Message, body: bytes) -> bytes:
    encoding = _encoding(headers)
    if "base64" in encoding:
        return decode_base64(body)
    if encoding == "quoted-printable":
        # Decoded line by line too: every hard line break ends in one LF.
        return binascii.a2b_qp(_as_stored_by_lines(body))
    if encoding in _UUENCODE_NAMES:
        return b"".join(data for _, data in find_uuencoded(body))
    return _as_stored_by_lines(body)


def _split_entity(text: bytes) -> tuple[Message, bytes]:
    """An entity's parsed headers and its raw body."""
    if text.startswith((b"\n", b"\r\n")):
        head, body = b"", text[text.index(b"\n") + 1 :]
    elif (end := _HEAD_END.search(text)) is not None:
        head, body = text[: end.start()], text[end.end() :]
    else:
        head, body = text, b""
    return _HEADERS.parsebytes(head + b"\n\n", headersonly=True), body


def _parts(body: bytes, boundary: bytes) -> Iterator[bytes]:
    """The body parts of a multipart body, between its delimiter lines."""
    delimiter = re.compile(rb"^--" + re.escape(boundary) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    start: int | None = None
    for line in delimiter.finditer(body):
        if start is not None:
            # The line break before a delimiter belongs to the delimiter.
            yield body[start : line.start()].removesuffix(b"\n").removesuffix(b"\r")
        if line.group(1):
            return
        start = line.end() + 1
    if start is not None:
        yield body[start:]


def _embedded(decoded: bytes, extraction: Extraction) -> Iterator[tuple[str, bytes]]:
    yield from find_uuencoded(decoded)
    yield from find_binhex(decoded, extraction.member_budget() + 1)


def _entity_members(text: bytes, extraction: Extraction, depth: int) -> Iterator[Member]:
    headers, body = _split_entity(text)
    content_type = headers.get_content_type()
    if content_type == "message/rfc822":
        # A member of its own, as on the reference: typed like any file (a
        # mail only if it looks like one) and one recursion level deeper.
        member = bounded_member(_NESTED_MESSAGE, _decoded(headers, body), extraction)
        if member is not None:
            yield member
        return
    if headers.get_content_maintype() == "multipart":
        boundary = headers.get_param("boundary")
        if isinstance(boundary, str) and depth < MAX_NESTING:
            for part in _parts(body, boundary.encode("utf-8", "surrogateescape")):
                yield from _entity_members(part, extraction, depth + 1)
        return
    decoded = _decoded(headers, body)
    found: Iterable[tuple[str, bytes]] = [(headers.get_filename() or _UNNAMED, decoded)]
    if headers.get_content_maintype() == "text" and _encoding(headers) in _UNENCODED:
        # The reference looks for these in the lines as they came, so not in
        # text that arrived base64 or quoted-printable encoded.
        found = chain(found, _embedded(decoded, extraction))
    for name, data in found:
        member = bounded_member(name or _UNNAMED, data, extraction)
        if member is None:
            return
        yield member


def messages(data: bytes) -> list[bytes]:
    """The messages of an mbox; a file that does not open with a ``From `` line is one mail."""
    if not data.startswith(b"From "):
        return [data]
    return _MBOX_SEPARATOR.split(data)


class MailFormat:
    """Mail and mbox files (``CL_TYPE_MAIL``, and MIME HTML which is mail too)."""

    name = "mail"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type in (FileType.CL_TYPE_MAIL, FileType.CL_TYPE_MHTML)

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        for text in messages(bytes(data)):
            yield from _entity_members(text, extraction, 0)


FORMAT = MailFormat()
