"""Files encoded by Microsoft's Script Encoder (``#@~^``, .vbe/.jse) as containers.

Strategy: the reference decodes such a file into ``<script>`` + the decoded
text + ``</script>`` and scans that as HTML; the same text is the one
member here.  The encoding substitutes each character below 0x80 through
one of three tables, chosen by the character's position modulo 64.  The
tables, the position pattern and every rule below were measured on the
reference (ClamAV 1.4.6) by decoding probe files and reading what it wrote:

* after ``#@~^`` come six base64 characters giving the encoded length
  (32 bits, little-endian; a character outside the alphabet counts as 0)
  and two more that are skipped;
* ``@`` starts an escape: ``@&`` LF, ``@#`` CR, ``@*`` ``>``, ``@!`` ``<``,
  ``@$`` ``@``, anything else 0xFF; it counts 2 towards the length and
  takes one position;
* CR and LF are dropped, count nothing and take no position;
* a byte from 0x80 up is copied with the byte after it (a double-byte
  character), counting 1 and taking no position;
* any other byte takes a position and counts 1; bytes the tables do not
  cover (controls, ``<``, ``>``) are copied;
* once the length is reached, the next 12 bytes (checksum and ``^#~@``)
  are skipped if there are that many, and the rest is copied as it is.

:func:`decode_block` decodes one block wherever it starts, for the HTML
normaliser, which the reference also has decode blocks inside pages.
"""

from __future__ import annotations

from collections.abc import Iterator

from clamkit.containers.base import Alert, Extraction, Member
from clamkit.containers.transfer import bounded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = ["FORMAT", "ScriptEncodedFormat", "decode_block", "decode_script"]

_MAGIC = b"#@~^"
# Tab and the printable characters but "<", ">" and "@", in byte order.
_CIPHER = bytes([9, *(c for c in range(32, 128) if c not in b"<>@")])
# What each character of _CIPHER decodes to, in each of the three tables.
_PLAIN = (
    b'W.GzVBj/&IA42[vrC89pEhqO\tbD#u~^wJa]"KoN;LPg*}tT+-,0nkf5%!'
    b"dMRc?{x)(sY3\x7fmUS|:_eFX1ilZH'\\=$y7`Q 6",
    b"n-uR`q^I\\b})6 |z\x7fkc3+hQfv1dTC:~E,*t'7DyY/o&rj9{?8wgSG4x]0#"
    b'Z[lHUpi.L!$NP\tVs5aKX;W"mM%(FJ2A=_OBe',
    b"{20!)[83=X:5e9\\VsfNEkbYx^}Jmq`SB'Hru17MR\"TjGd- \x7f.L]~loytC&v%$"
    b"+(#A4\t*D?w;UiacPgQIOFh|6pnz/_KZ,W",
)
_TABLES = tuple(bytes.maketrans(_CIPHER, plain) for plain in _PLAIN)
# Which table decodes the character at each position modulo 64.
_PATTERN = tuple(int(d) for d in "0120121221210212021200122102122100212120200120210212001220012021")
_ESCAPES = {ord("&"): 0x0A, ord("#"): 0x0D, ord("*"): 0x3E, ord("!"): 0x3C, ord("$"): 0x40}
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TRAILER = 12  # checksum (6 + "==") and "^#~@"


def _length(field: bytes) -> int:
    bits = 0
    for char in field:
        bits = bits << 6 | max(_BASE64.find(char), 0)
    return int.from_bytes((bits >> 4).to_bytes(4, "big"), "little")


def decode_block(data: bytes, start: int, cap: int) -> tuple[bytes, int]:
    """One encoded block at ``data[start:]`` (at its ``#@~^``): the decoded text and where it ends.

    The end is past the checksum and ``^#~@`` when 12 bytes remain for
    them; the text is cut at ``cap`` bytes.
    """
    remaining = _length(data[start + 4 : start + 10])
    out = bytearray()
    position = 0
    pos = start + 12
    while pos < len(data) and remaining > 0 and len(out) < cap:
        char = data[pos]
        if char == 0x40:  # '@'
            following = data[pos + 1] if pos + 1 < len(data) else None
            out.append(_ESCAPES.get(following, 0xFF))
            pos += 2
            position += 1
            remaining -= 2
        elif char in (0x0A, 0x0D):
            pos += 1
        elif char >= 0x80:
            out += data[pos : pos + 2]
            pos += 2
            remaining -= 1
        else:
            out += bytes([char]).translate(_TABLES[_PATTERN[position % 64]])
            pos += 1
            position += 1
            remaining -= 1
    if len(data) - pos >= _TRAILER:
        pos += _TRAILER
    return bytes(out[:cap]), min(pos, len(data))


def decode_script(data: bytes, cap: int) -> bytes:
    """The ``<script>`` text the reference makes of an encoded file, cut at about ``cap`` bytes."""
    decoded, end = decode_block(data, 0, cap)
    rest = data[end : end + max(cap - len(decoded), 0)]
    return b"<script>" + decoded + rest + b"</script>"


class ScriptEncodedFormat:
    """Script Encoder output (``CL_TYPE_SCRENC``)."""

    name = "screnc"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_SCRENC

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        content = bytes(data)
        if not content.startswith(_MAGIC):
            return
        decoded = decode_script(content, extraction.member_budget() + 1)
        member = bounded_member("screnc.html", decoded, extraction)
        if member is not None:
            yield member


FORMAT = ScriptEncodedFormat()
