"""PDF documents as containers: every stream object, decoded through its filters.

Strategy: as ClamAV does when the cross-reference table cannot be trusted
(it never can in malware), objects are found by scanning for ``N G obj``
and each one's stream is cut out by its ``/Length`` (direct, or an indirect
integer object) when ``endstream`` follows there, else up to the next
``endstream``, the line end before it included, as the reference cuts it.
Which streams are extracted at all follows the reference
(:func:`stream_filters`: LZW or RunLength alone, fax and JPEG 2000 images,
Crypt and unknown filters keep a stream out).  The stream then goes
through its ``/Filter`` chain: FlateDecode, ASCIIHexDecode, ASCII85Decode,
LZWDecode and RunLengthDecode are decoded here; at the first other filter
(images, Crypt), or one whose input is invalid, the data is handed on as
decoded so far.  Flate keeps what it
inflated before corrupt input; every decoder stops at the member budget,
so a Flate or LZW bomb costs no more than the limit.  Predictors
(``/DecodeParms``) are not undone: the reference does not undo them.

An encrypted PDF (``/Encrypt`` in its trailer) is opened with the empty
user password when that works, as the reference does, and its streams are
decrypted before their filters (``pdfcrypt``); otherwise it raises
``Heuristics.Encrypted.PDF`` under AlertEncryptedDoc and its streams are
handed on as they are.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterator

from clamkit.containers.base import Alert, Extraction, Member
from clamkit.containers.pdfcrypt import empty_password_decryptor, pdf_string
from clamkit.containers.transfer import bounded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = [
    "ENCRYPTED_ALERT",
    "FORMAT",
    "PdfFormat",
    "decode_stream",
    "page_text",
    "stream_filters",
]

ENCRYPTED_ALERT = "Heuristics.Encrypted.PDF"

_OBJECT = re.compile(rb"(?<![0-9])([0-9]+)[ \t\r\n\f\0]+([0-9]+)[ \t\r\n\f\0]+obj(?![a-zA-Z])")
_STREAM = re.compile(rb"stream(?:\r\n|\n|\r)?")
_ENDSTREAM = re.compile(rb"[\r\n]*endstream")
_LENGTH = re.compile(rb"/Length[ \t\r\n\f\0]*([0-9]+)(?:[ \t\r\n\f\0]+([0-9]+)[ \t\r\n\f\0]+R)?")
_FILTER = re.compile(rb"/Filter[ \t\r\n\f\0]*(\[[^\]]*\]|/[^ \t\r\n\f\0/\[\]<>()]+)")
_NAME = re.compile(rb"/([^ \t\r\n\f\0/\[\]<>()]+)")
_INTEGER = re.compile(rb"[ \t\r\n\f\0]*([0-9]+)")
_ENCRYPT = re.compile(rb"/Encrypt(?![a-zA-Z])")
_REFERENCE = re.compile(rb"[ \t\r\n\f\0]*([0-9]+)[ \t\r\n\f\0]+([0-9]+)[ \t\r\n\f\0]+R")
_FILE_ID = re.compile(rb"/ID[ \t\r\n\f\0]*\[[ \t\r\n\f\0]*(<[^>]*>|\((?:\\.|[^\\)])*\))", re.DOTALL)
_XREF_STREAM = re.compile(rb"/Type[ \t\r\n\f\0]*/XRef(?![a-zA-Z])")
_CONTENTS = re.compile(rb"/Contents[ \t\r\n\f\0]*([0-9]+)[ \t\r\n\f\0]+([0-9]+)[ \t\r\n\f\0]+R")
_DIRECT_CONTENTS = re.compile(
    rb"/Contents(?![a-zA-Z])(?![ \t\r\n\f\0]*[0-9]+[ \t\r\n\f\0]+[0-9]+[ \t\r\n\f\0]+R)"
)
_TEXT_OBJECT = re.compile(
    rb"(?<![a-zA-Z])BT(?![a-zA-Z])(.*?)(?<![a-zA-Z])ET(?![a-zA-Z])", re.DOTALL
)
_LITERAL = re.compile(rb"\((?:\\.|[^\\)])*\)", re.DOTALL)
_TEXT_SPACE = re.compile(rb"[ \t\r\n\f\v]+")
# An encryption dictionary written inline is read from this many bytes.
_INLINE_ENCRYPT_WINDOW = 4096
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
    """Hex digits up to ``>``; any byte but a digit or white space is invalid (ValueError)."""
    text = data.split(b">", 1)[0]
    digits = text.translate(None, _WHITESPACE)
    if _NOT_HEX.search(digits):
        raise ValueError("invalid byte in ASCIIHex data")
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


# Filters the reference knows by name (full and abbreviated); the first three
# kinds and the image codecs make it extract a stream, the others alone do not.
_KNOWN_FILTERS = frozenset(_DECODERS) | {
    b"DCTDecode",
    b"DCT",
    b"JBIG2Decode",
    b"CCITTFaxDecode",
    b"CCF",
    b"JPXDecode",
    b"Crypt",
}
_EXTRACTING_FILTERS = frozenset(
    {
        b"FlateDecode",
        b"Fl",
        b"ASCIIHexDecode",
        b"AHx",
        b"ASCII85Decode",
        b"A85",
        b"DCTDecode",
        b"DCT",
        b"JBIG2Decode",
    }
)


def stream_filters(dictionary: bytes) -> list[bytes] | None:
    """The filters of an object's stream, in order; None when the reference does not extract it.

    As measured on the reference: a stream without filters is extracted; one
    with filters only when one of them is Flate, ASCIIHex, ASCII85, DCT or
    JBIG2.  In a filter array unknown names are skipped and nothing after
    ``Crypt`` counts; a lone unknown name keeps the stream from extraction.
    """
    found = _FILTER.search(dictionary)
    if found is None:
        return []
    names = _NAME.findall(found.group(1))
    if not found.group(1).startswith(b"["):
        names = names[:1]
        if names and names[0] not in _KNOWN_FILTERS:
            return None
    filters = []
    for name in names:
        if name in _KNOWN_FILTERS:
            filters.append(name)
            if name == b"Crypt":
                break
    if filters and not _EXTRACTING_FILTERS.intersection(filters):
        return None
    return filters


def _last_match(pattern: re.Pattern[bytes], data: bytes) -> re.Match[bytes] | None:
    """The last match (incremental updates repeat the trailer; the last one counts)."""
    last = deque(pattern.finditer(data), maxlen=1)
    return last[0] if last else None


def page_text(content: bytes) -> bytes:
    """The text a page content stream shows, as the reference writes it beside
    the stream: the literal strings of its text objects run together, lower
    case, each run of white space one space."""
    shown = b"".join(
        pdf_string(literal.group(0))
        for text in _TEXT_OBJECT.finditer(content)
        for literal in _LITERAL.finditer(text.group(1))
    )
    return _TEXT_SPACE.sub(b" ", shown.lower())


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

    def dictionary(self, number: bytes, generation: bytes) -> bytes:
        """The text of an object up to its ``endobj`` (empty when there is no such object)."""
        start = self.by_id.get((number, generation))
        if start is None:
            return b""
        end = self.data.find(b"endobj", start)
        return self.data[start : len(self.data) if end < 0 else end]

    def streams(self) -> Iterator[tuple[int, int, bytes, bytes | None]]:
        """Number, generation, dictionary and raw stream of every object, in
        file order; objects without a stream come with the text of their body
        (up to ``endobj``) as dictionary and None as stream."""
        data = self.data
        for index, (number, generation, start) in enumerate(self.starts):
            end = self.starts[index + 1][2] if index + 1 < len(self.starts) else len(data)
            keyword = _STREAM.search(data, start, end)
            if keyword is None:
                closing = data.find(b"endobj", start, end)
                yield (
                    int(number),
                    int(generation),
                    data[start : end if closing < 0 else closing],
                    None,
                )
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
                # As the reference does, the line end before "endstream" then stays.
                closing = data.find(b"endstream", first)
                size = (len(data) if closing < 0 else closing) - first
            yield int(number), int(generation), dictionary, data[first : first + size]

    def encryption(self) -> tuple[bytes, bytes] | None:
        """The encryption dictionary's text and the first file ID, None when not encrypted."""
        found = _last_match(_ENCRYPT, self.data)
        if found is None:
            return None
        reference = _REFERENCE.match(self.data, found.end())
        if reference is not None:
            encrypt = self.dictionary(reference.group(1), reference.group(2))
        else:
            encrypt = self.data[found.end() : found.end() + _INLINE_ENCRYPT_WINDOW]
        file_id = _last_match(_FILE_ID, self.data)
        return encrypt, b"" if file_id is None else pdf_string(file_id.group(1))


class PdfFormat:
    """PDF documents (``CL_TYPE_PDF``)."""

    name = "pdf"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_PDF

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        objects = _Objects(bytes(data))
        encryption = objects.encryption()
        decryptor = None
        if encryption is not None:
            decryptor = empty_password_decryptor(*encryption)
            if decryptor is None:
                yield Alert(ENCRYPTED_ALERT, "alert_encrypted_doc")
        # A page's content stream is scanned again as the text it shows.
        contents = {found.groups() for found in _CONTENTS.finditer(objects.data)}
        for number, generation, dictionary, raw in objects.streams():
            if raw is None:
                # An object without a stream is scanned whole only when it has
                # a /Contents of its own (an annotation's text, say), as the
                # reference does.
                if _DIRECT_CONTENTS.search(dictionary):
                    member = bounded_member(
                        f"pdf obj {number} {generation}", dictionary, extraction
                    )
                    if member is None:
                        return
                    yield member
                continue
            if decryptor is not None and _XREF_STREAM.search(dictionary) is None:
                raw = decryptor.stream(number, generation, raw)
            filters = stream_filters(dictionary)
            if filters is None:
                continue
            decoded = decode_stream(raw, filters, extraction.member_budget() + 1)
            found = [(f"pdf obj {number} {generation}", decoded)]
            if (b"%d" % number, b"%d" % generation) in contents:
                found.append((f"pdf obj {number} {generation} contents", page_text(decoded)))
            for name, content in found:
                member = bounded_member(name, content, extraction)
                if member is None:
                    return
                yield member


FORMAT = PdfFormat()
