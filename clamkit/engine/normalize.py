"""The normalised views of text and HTML that typed signatures are matched against.

Strategy: one linear pass per view, no backtracking, output never longer than
the input plus a bounded amount per tag; inputs are cut at ClamAV's limits
(``--max-htmlnormalize`` and ``--max-htmlnotags`` defaults below); plain
text is not cut by default, as on the reference.

Rules, found by scanning with the reference ClamAV 1.4.6:

Text (what target 7 sees; ASCII and UTF-16 files alike, target 0 sees it too,
and target 0 also sees the raw bytes; target 7 never sees the raw bytes):
  * ``A``-``Z`` become lower case; other bytes 0x21-0x7F are kept;
  * a run of HT LF VT FF CR and space becomes one space (runs are joined
    across dropped bytes, leading and trailing runs are kept as one space);
  * every other byte (NUL and the other controls, 0x80-0xFF) is dropped.

HTML (what target 3 sees, and target 0 too; a file typed HTML from its head
is not scanned raw at all).  Two views are scanned:
  * *normalised*: comments (``<!-- -->``) and declarations (``<!...>``)
    removed; every ``<`` opens a tag (``3 < 4 > 5`` gives ``3 <4>5``); tag
    and attribute names and values lower-cased, quoted values re-quoted with
    ``"``, unquoted ones left bare, one space between attributes, none
    before ``>``; ``;``-terminated character references decoded to a Latin-1
    byte (lower-cased), code points above 0xFF written ``&#x20ac;``, unknown
    or unterminated ones left as written; text lower-cased with whitespace
    runs folded to one space and whitespace right after a tag dropped;
    inside ``<script>`` and ``<style>`` all whitespace is dropped;
  * *text*: only the text outside tags, script and style, lower-cased; every
    tag and every character reference becomes a space, runs of spaces fold
    to one; the ``href`` of a link is added verbatim (original case).
    (ClamAV also adds an image's ``src`` and ``alt`` here; not reproduced.)
ClamAV also normalises the JavaScript of ``<script>`` elements into a third
view (renamed identifiers, decoded strings) that targets 7 and 0 see; that
JavaScript normaliser is not reproduced here.
"""

from __future__ import annotations

import html.entities
import re
from dataclasses import dataclass

__all__ = [
    "MAX_HTML_NORMALIZE",
    "MAX_HTML_NOTAGS",
    "MAX_SCRIPT_NORMALIZE",
    "HtmlViews",
    "html_views",
    "normalize_html",
    "normalize_text",
]

MAX_SCRIPT_NORMALIZE = 5 * 1024 * 1024
"""ClamAV's MaxScriptNormalize default.  It does not cut plain text: the
reference still matched target 7 at 5.6 MB into a 6.5 MB text file, so
:func:`normalize_text` only cuts when given a limit."""

MAX_HTML_NORMALIZE = 10 * 1024 * 1024
"""Bytes of an HTML file that are normalised (ClamAV's MaxHTMLNormalize default)."""

MAX_HTML_NOTAGS = 2 * 1024 * 1024
"""Longest text-only HTML view that is kept (ClamAV's MaxHTMLNoTags default)."""

_WHITESPACE = b"\t\n\x0b\x0c\r "
_KEPT = bytes(range(0x21, 0x80))
_DROPPED = bytes(b for b in range(256) if b not in _KEPT and b not in _WHITESPACE)
_TEXT_TABLE = bytes.maketrans(
    bytes(range(ord("A"), ord("Z") + 1)) + _WHITESPACE[:-1],
    bytes(range(ord("a"), ord("z") + 1)) + b" " * (len(_WHITESPACE) - 1),
)
_SPACES = re.compile(rb" {2,}")


def normalize_text(data: bytes, limit: int | None = None) -> bytes:
    """The normalised text that target-7 signatures see (first ``limit`` bytes)."""
    folded = (data if limit is None else data[:limit]).translate(_TEXT_TABLE, _DROPPED)
    return _SPACES.sub(b" ", folded)


# ---------------------------------------------------------------------------
# HTML


@dataclass(frozen=True, slots=True)
class HtmlViews:
    """The two normalised forms of an HTML document that signatures see."""

    normalized: bytes
    text: bytes


_RAW_TEXT_ELEMENTS = (b"script", b"style")
_NAME_CHARS = re.compile(rb"[^\s/>=]+")
_ATTR_VALUE = re.compile(rb"\"[^\"]*\"?|'[^']*'?|[^\s>]+")
_WORD_OR_SPACE = re.compile(rb"\s+|\S+")
_REFERENCE = re.compile(
    rb"&(?:#[xX]([0-9a-fA-F]{1,6})|#([0-9]{1,7})|([A-Za-z][A-Za-z0-9]{0,31}));?"
)
_ASCII_SPACE = frozenset(b" \t\n\x0b\x0c\r")


def _decode_reference(match: re.Match[bytes]) -> bytes:
    """A reference as normalised HTML shows it: a Latin-1 byte, ``&#x..;`` or as is."""
    hex_digits, decimal, name = match.groups()
    if not match.group(0).endswith(b";"):
        return match.group(0)
    if hex_digits is not None:
        code = int(hex_digits, 16)
    elif decimal is not None:
        code = int(decimal)
    else:
        code = html.entities.name2codepoint.get(name.decode("ascii"), -1)
    if code <= 0:
        return match.group(0).lower()
    if code > 0xFF:
        return b"&#x%x;" % code
    return bytes([code]).lower()


class _HtmlNormalizer:
    """A single left-to-right pass producing both views."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.norm = bytearray()
        self.text = bytearray()
        self.after_tag = True  # whitespace right after a tag is dropped

    def run(self) -> HtmlViews:
        data = self.data
        while self.pos < len(data):
            lt = data.find(b"<", self.pos)
            end = len(data) if lt < 0 else lt
            self._text(data[self.pos : end])
            self.pos = end
            if lt >= 0:
                self._markup()
        return HtmlViews(bytes(self.norm), bytes(self.text[:MAX_HTML_NOTAGS]))

    def _text_space(self) -> None:
        if not self.text or self.text[-1] != 0x20:
            self.text.append(0x20)

    def _text(self, chunk: bytes) -> None:
        pos = 0
        for match in _REFERENCE.finditer(chunk):
            self._plain(chunk[pos : match.start()])
            self.norm += _decode_reference(match)
            self.after_tag = False
            self._text_space()
            pos = match.end()
        self._plain(chunk[pos:])

    def _plain(self, chunk: bytes) -> None:
        for match in _WORD_OR_SPACE.finditer(chunk.lower()):
            piece = match.group(0)
            if piece[0] in _ASCII_SPACE:
                if not self.after_tag and self.norm and self.norm[-1] != 0x20:
                    self.norm.append(0x20)
                self._text_space()
            else:
                self.norm += piece
                self.text += piece
                self.after_tag = False

    def _markup(self) -> None:
        data, start = self.data, self.pos
        if data.startswith(b"<!--", start):
            close = data.find(b"-->", start + 4)
            self.pos = len(data) if close < 0 else close + 3
            return
        nxt = data[start + 1 : start + 2]
        if nxt == b"!" or nxt == b"?":
            close = data.find(b">", start)
            self.pos = len(data) if close < 0 else close + 1
            return
        self._tag()

    def _tag(self) -> None:
        data = self.data
        pos = self.pos + 1
        while pos < len(data) and data[pos] in _ASCII_SPACE:
            pos += 1
        closing = data.startswith(b"/", pos)
        if closing:
            pos += 1
        name_match = _NAME_CHARS.match(data, pos)
        name = name_match.group(0).lower() if name_match else b""
        pos = name_match.end() if name_match else pos
        out = bytearray(b"</" if closing else b"<") + name
        href: bytes | None = None
        while pos < len(data):
            while pos < len(data) and data[pos] in _ASCII_SPACE:
                pos += 1
            if pos >= len(data) or data[pos] == 0x3E:  # '>'
                pos += 1
                break
            attr = _NAME_CHARS.match(data, pos)
            if attr is None:
                pos += 1  # a stray '/' or '='
                continue
            attr_name = attr.group(0).lower()
            pos = attr.end()
            while pos < len(data) and data[pos] in _ASCII_SPACE:
                pos += 1
            out += b" " + attr_name
            if data.startswith(b"=", pos):
                pos += 1
                while pos < len(data) and data[pos] in _ASCII_SPACE:
                    pos += 1
                value_match = _ATTR_VALUE.match(data, pos)
                raw = value_match.group(0) if value_match else b""
                pos = value_match.end() if value_match else pos
                quoted = raw[:1] in (b'"', b"'")
                value = raw.strip(b"\"'") if quoted else raw
                out += b'="' + value.lower() + b'"' if quoted else b"=" + value.lower()
                if attr_name == b"href" and name == b"a" and not closing:
                    href = value
        self.pos = pos
        self.norm += out + b">"
        self.after_tag = True
        self._text_space()
        if href is not None:
            self.text += href
            self._text_space()
        if not closing and name in _RAW_TEXT_ELEMENTS:
            self._raw_text(name)

    def _raw_text(self, name: bytes) -> None:
        data = self.data
        close = re.compile(rb"</" + name + rb"\s*>", re.IGNORECASE).search(data, self.pos)
        end = len(data) if close is None else close.start()
        body = data[self.pos : end].lower()
        self.norm += body.translate(None, _WHITESPACE)
        self.pos = end


def html_views(data: bytes, limit: int = MAX_HTML_NORMALIZE) -> HtmlViews:
    """Both normalised views of an HTML document (its first ``limit`` bytes)."""
    return _HtmlNormalizer(data[:limit]).run()


def normalize_html(data: bytes, limit: int = MAX_HTML_NORMALIZE) -> bytes:
    """The normalised HTML (tags and text) that target-3 signatures see."""
    return html_views(data, limit).normalized
