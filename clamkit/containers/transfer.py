"""Text transfer encodings shared by the mail, HTML and uuencoded-file containers.

Strategy: decode the way ClamAV's mail code does, leniently: base64 skips
every byte outside its alphabet and decodes a final partial quantum,
uuencode lines are read whatever garbage they carry.  Decoded
data never outgrows its encoded form, so these work on whole buffers; the
size limit is applied by :func:`bounded_member`, which every format of this
family uses to turn decoded bytes into a ``Member``.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator

from clamkit.containers.base import Extraction, Member

__all__ = [
    "bounded_member",
    "decode_base64",
    "decode_uuencoded_lines",
    "find_uuencoded",
]

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]+")

# Every byte folded into uuencode's 64-character range, as ``(c - 32) & 63``
# does, so ``binascii.a2b_uu`` accepts any line.
_UU_FOLD = bytes(32 + ((c - 32) & 63) for c in range(256))

_UU_BEGIN = re.compile(rb"^begin [0-7]{1,5} +([^\r\n]*?)[ \t]*\r?$", re.MULTILINE)
_UU_END = re.compile(rb"^end[ \t]*\r?$", re.MULTILINE)


def bounded_member(
    name: str, data: bytes, extraction: Extraction, declared_size: int | None = None
) -> Member | None:
    """``data`` as a member cut to the scan's member budget (None once nothing may be extracted)."""
    budget = extraction.member_budget()
    if budget <= 0:
        return None
    size = len(data) if declared_size is None else declared_size
    if len(data) > budget:
        return Member(name, data[:budget], size, truncated=True)
    return Member(name, data, size)


def decode_base64(text: bytes) -> bytes:
    """Base64 ignoring everything outside the alphabet, padding included."""
    clean = _NOT_BASE64.sub(b"", text)
    whole = len(clean) // 4 * 4
    decoded = binascii.a2b_base64(clean[:whole]) if whole else b""
    rest = clean[whole:]
    # A final 2 or 3 characters still carry 1 or 2 bytes; a single one none.
    if len(rest) >= 2:
        decoded += binascii.a2b_base64(rest + b"=" * (4 - len(rest)))
    return decoded


def decode_uuencoded_lines(lines: list[bytes]) -> bytes:
    """The bytes of uuencoded body lines (no ``begin``/``end``), each read by its length byte.

    An empty line or a line of length 0 ends the data, whatever follows.
    """
    out = bytearray()
    for line in lines:
        line = line.rstrip(b"\r\n")
        count = (line[0] - 32) & 63 if line else 0
        if count == 0:
            break
        needed = (count + 2) // 3 * 4
        body = line[1 : 1 + needed].translate(_UU_FOLD).ljust(needed, b" ")
        try:
            out += binascii.a2b_uu(bytes([32 + count]) + body)
        except binascii.Error:
            # A line that is not uuencoding after all ends the data.
            break
    return bytes(out)


def find_uuencoded(text: bytes) -> Iterator[tuple[str, bytes]]:
    """Every ``begin MODE NAME`` ... ``end`` block in ``text``: its name and decoded bytes.

    A block without ``end`` runs to the end of the text, as in ClamAV.
    """
    pos = 0
    while (begin := _UU_BEGIN.search(text, pos)) is not None:
        end = _UU_END.search(text, begin.end())
        stop = len(text) if end is None else end.start()
        lines = text[begin.end() + 1 : stop].split(b"\n")
        yield begin.group(1).decode("latin-1"), decode_uuencoded_lines(lines)
        pos = stop if end is None else end.end()
        if end is None:
            return
