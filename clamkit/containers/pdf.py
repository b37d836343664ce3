"""PDF documents as containers: every stream object, decoded through its filters.

Strategy: as ClamAV does when the cross-reference table cannot be trusted
(it never can in malware), objects are found by scanning for ``N G obj``
and each one's stream is cut out by its ``/Length`` (direct, or an indirect
integer object) when ``endstream`` follows there, else up to the next
``endstream``.  The stream then goes through its ``/Filter`` chain:
FlateDecode, ASCIIHexDecode, ASCII85Decode, LZWDecode and RunLengthDecode
are decoded here; at the first other filter (images, Crypt), or one whose
input is invalid, the data is handed on as decoded so far.  Flate keeps
what it inflated before corrupt input; every decoder stops at the member
budget, so a Flate or LZW
bomb costs no more than the limit.

An encrypted PDF (``/Encrypt`` in its trailer) raises
``Heuristics.Encrypted.PDF`` under AlertEncryptedDoc; its streams are
handed on undecrypted.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable, Iterator

from clamkit.containers.base import Alert, Extraction, Member
from clamkit.containers.transfer import bounded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = ["ENCRYPTED_ALERT", "FORMAT", "PdfFormat", "decode_stream"]

ENCRYPTED_ALERT = "Heuristics.Encrypted.PDF"

_OBJECT = re.compile(rb"(?<![0-9])([0-9]+)[ \t\r\n\f\0]+([0-9]+)[ \t\r\n\f\0]+obj(?![a-zA-Z])")
_STREAM = re.compile(rb"stream(?:\r\n|\n|\r)?")
_ENDSTREAM = re.compile(rb"[\r\n]*endstream")
_LENGTH = re.compile(rb"/Length[ \t\r\n\f\0]*([0-9]+)(?:[ \t\r\n\f\0]+([0-9]+)[ \t\r\n\f\0]+R)?")
_FILTER = re.compile(rb"/Filter[ \t\r\n\f\0]*(\[[^\]]*\]|/[^ \t\r\n\f\0/\[\]<>()]+)")
_NAME = re.compile(rb"/([^ \t\r\n\f\0/\[\]<>()]+)")
_INTEGER = re.compile(rb"[ \t\r\n\f\0]*([0-9]+)")
_ENCRYPT = re.compile(rb"/Encrypt(?![a-zA-Z])")
_NOT_HEX = re.compile(rb"[^0-9a-fA-F]+")
_WHITESPACE = b" \t\r\n\f\0"

# Flate input is fed in pieces so that what precedes a corrupt spot is kept.
_INFLATE_PIECE = 64 * 1024


def _inflate(data: bytes, cap: int) -> bytes:
    inflater = zlib.decompressobj()
    out = bytearray()
    for start in range(0, len(data), _INFLATE_PIECE):
        try:
            out += inflater.decompress(data[start : start + _INFLATE_PIECE], cap - len(out))
        except zlib.error:
            break
        if len(out) >= cap or inflater.eof:
            break
    return bytes(out)


def _ascii_hex(data: bytes, cap: int) -> bytes:
    digits = _NOT_HEX.sub(b"", data.split(b">", 1)[0])
    if len(digits) % 2:
        digits += b"0"
    return bytes.fromhex(digits[: 2 * cap].decode("ascii"))


def _ascii85(data: bytes, cap: int) -> bytes:
    # The reference takes no "<~" prefix: a stream with one fails to decode.
    text = data.split(b"~>", 1)[0]
    return base64.a85decode(text, ignorechars=_WHITESPACE)[:cap]


def _run_length(data: bytes, cap: int) -> bytes:
    out = bytearray()
    pos = 0
    while pos < len(data) and len(out) < cap:
        length = data[pos]
        if length == 128:
            break
        if length < 128:
            out += data[pos + 1 : pos + 2 + length]
            pos += 2 + length
        else:
            out += data[pos + 1 : pos + 2] * (257 - length)
            pos += 2
    return bytes(out[:cap])


def _lzw(data: bytes, cap: int) -> bytes:
    """PDF's LZW (MSB first, early change) up to ``cap`` bytes; stops at bad codes."""
    out = bytearray()
    table = [bytes([i]) for i in range(256)] + [b"", b""]
    width, buffer, bits, previous = 9, 0, 0, b""
    for byte in data:
        buffer = buffer << 8 | byte
        bits += 8
        while bits >= width:
            bits -= width
            code = buffer >> bits & ((1 << width) - 1)
            if code == 256:  # clear table
                del table[258:]
                width, previous = 9, b""
                continue
            if code == 257:  # end of data
                return bytes(out[:cap])
            if code < len(table):
                entry = table[code]
            elif code == len(table) and previous:
                entry = previous + previous[:1]
            else:
                return bytes(out[:cap])
            out += entry
            if len(out) >= cap:
                return bytes(out[:cap])
            if previous:
                table.append(previous + entry[:1])
            previous = entry
            # Early change: the width grows one code before the table needs it.
            if len(table) + 1 >= 1 << width and width < 12:
                width += 1
        buffer &= (1 << bits) - 1
    return bytes(out)


_DECODERS: dict[bytes, Callable[[bytes, int], bytes]] = {
    b"FlateDecode": _inflate,
    b"Fl": _inflate,
    b"ASCIIHexDecode": _ascii_hex,
    b"AHx": _ascii_hex,
    b"ASCII85Decode": _ascii85,
    b"A85": _ascii85,
    b"LZWDecode": _lzw,
    b"LZW": _lzw,
    b"RunLengthDecode": _run_length,
    b"RL": _run_length,
}


def decode_stream(raw: bytes, filters: list[bytes], cap: int) -> bytes:
    """``raw`` through ``filters`` in order, stopping at the first filter not decoded here.

    A filter whose input is invalid stops the chain too, and what the
    previous filters gave is handed on, as the reference does.
    """
    data = raw
    for name in filters:
        decoder = _DECODERS.get(name)
        if decoder is None:
            break
        try:
            data = decoder(data, cap)
        except ValueError:
            break
    return data


def _filters(dictionary: bytes) -> list[bytes]:
    found = _FILTER.search(dictionary)
    if found is None:
        return []
    return _NAME.findall(found.group(1))


class _Objects:
    """The objects of one PDF, found by scanning for ``N G obj``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.starts = [(m.group(1), m.group(2), m.end()) for m in _OBJECT.finditer(data)]
        self.by_id = {(number, generation): end for number, generation, end in self.starts}

    def integer(self, number: bytes, generation: bytes) -> int | None:
        start = self.by_id.get((number, generation))
        found = None if start is None else _INTEGER.match(self.data, start)
        return None if found is None else int(found.group(1))

    def streams(self) -> Iterator[tuple[str, bytes, list[bytes]]]:
        """Name, raw stream and filter names of every object that has a stream."""
        data = self.data
        for index, (number, generation, start) in enumerate(self.starts):
            end = self.starts[index + 1][2] if index + 1 < len(self.starts) else len(data)
            keyword = _STREAM.search(data, start, end)
            if keyword is None:
                continue
            dictionary = data[start : keyword.start()]
            first = keyword.end()
            length = _LENGTH.search(dictionary)
            size: int | None = None
            if length is not None:
                size = (
                    self.integer(length.group(1), length.group(2))
                    if length.group(2) is not None
                    else int(length.group(1))
                )
            if size is None or _ENDSTREAM.match(data, first + size) is None:
                closing = _ENDSTREAM.search(data, first)
                size = (len(data) if closing is None else closing.start()) - first
            name = f"pdf obj {number.decode()} {generation.decode()}"
            yield name, data[first : first + size], _filters(dictionary)


class PdfFormat:
    """PDF documents (``CL_TYPE_PDF``)."""

    name = "pdf"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_PDF

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        content = bytes(data)
        trailer = content.rfind(b"trailer")
        if _ENCRYPT.search(content, max(trailer, 0)):
            yield Alert(ENCRYPTED_ALERT, "alert_encrypted_doc")
        for name, raw, filters in _Objects(content).streams():
            decoded = decode_stream(raw, filters, extraction.member_budget() + 1)
            member = bounded_member(name, decoded, extraction)
            if member is None:
                return
            yield member


FORMAT = PdfFormat()
