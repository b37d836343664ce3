"""The normalised views of text and HTML that typed signatures are matched against.

Strategy: text is one ``translate`` and one substitution.  HTML goes through
a state machine that reproduces ClamAV 1.4.6's normaliser state for state, so
that its quirks come out the same; runs of bytes that a state treats alike
are taken with one regular expression, so the Python loop turns once per
tag, word or space rather than once per byte.  The input is read in the
reference's chunks (8191 bytes, NULs removed, cut back to a whitespace),
because a chunk start skips whitespace whatever the state.

Text (what target 7 sees; ASCII and UTF-16 files alike, target 0 sees it too,
and target 0 also sees the raw bytes; target 7 never sees the raw bytes):
  * ``A``-``Z`` become lower case; other bytes 0x21-0x7F are kept;
  * a run of HT LF VT FF CR and space becomes one space (runs are joined
    across dropped bytes, leading and trailing runs are kept as one space);
  * every other byte (NUL and the other controls, 0x80-0xFF) is dropped.

HTML, three views (found by feeding the reference and reading the files it
leaves with ``--leave-temps``):
  * *normalised* (``nocomment.html``): ``<!...>`` up to the next ``>`` is
    dropped; every other ``<`` opens a tag whose name runs to a space or
    ``>`` (``<?php``, ``<a<b`` are names); names, attributes and text are
    lower-cased; whitespace after a tag is dropped, other runs become one
    space; values are re-quoted with ``"`` (a space inside quotes ends the
    quoting); ``&name;`` and ``&#...;`` are decoded (see
    :mod:`clamkit.engine.html_entities`); CR is dropped, LF is a space;
    inside ``<script>`` and ``<style>`` whitespace is dropped, ``'`` becomes
    ``"`` and only ``</`` starts a tag (``</script>`` ends either element);
  * *text* (``notags.html``): the text outside tags, scripts and styles, a
    space for every tag, character reference or control byte (runs fold to
    one), plus the ``href`` of ``<a>`` and the ``src`` of ``<img>`` as written;
  * *javascript*: each script normalised by :mod:`clamkit.engine.jsnorm`,
    one per line.
Bytes 0x80-0xFF are grouped by three (UTF-8 sequences mostly), and the text
view repeats the middle byte of a group instead of its last one, as the
reference does.  Not reproduced: ``data:`` URIs are removed from the views
as on the reference, but their decoded content (which the reference scans as
a mail) is not produced; scripts encoded with Microsoft's Script Encoder
(``language="jscript.encode"``) are not decoded.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass

from clamkit.engine.html_entities import ENTITIES
from clamkit.engine.jsnorm import JsNormalizer

__all__ = [
    "HtmlViews",
    "html_views",
    "normalize_text",
]

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
    """The normalised forms of an HTML document; ``javascript`` is None without scripts."""

    normalized: bytes
    text: bytes
    javascript: bytes | None


_CHUNK = 8191  # bytes per read, as the reference's reader hands them out
_LIMIT = 1024  # longest tag name, attribute name, value or entity name kept
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1
_SPACE = frozenset(_WHITESPACE)  # C isspace
_SPACE_RUN = re.compile(rb"[\t\n\x0b\x0c\r ]+")
_PLAIN_RUN = re.compile(rb"[!-%'-;=-\x7f]+")  # text bytes with no special meaning
_SCRIPT_RUN = re.compile(rb"[^<&\x80-\xff]+")
_TAG_NAME_RUN = re.compile(rb"[^\t\n\x0b\x0c\r >]+")
_ARG_NAME_RUN = re.compile(rb"[^\t\n\x0b\x0c\r =>]+")
_VALUE_RUN = re.compile(rb"[^\t\n\x0b\x0c\r &'\">\x80-\xff]+")
_ENTITY_NAME_RUN = re.compile(rb"[0-9A-Za-z_:\-]+")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")
# Ideographic, fullwidth and small full stops (UTF-8) read as ".".
_FULL_STOPS = frozenset({0xE38082, 0xEFBC8E, 0xEFB992})
_INVERTED_MARK_PAIRS = frozenset(b"CDO")  # 0xA1 then one of these reads as '.'
_TO_DOUBLE_QUOTE = bytes.maketrans(b"'", b'"')
_NO_SPACE = re.compile(rb"[\t\n\x0b\x0c\r ]")


class _S(enum.IntEnum):
    """The normaliser's states (an int enum: they index the handler table)."""

    BAD = enum.auto()
    NORM = enum.auto()
    EIGHT_BIT = enum.auto()
    COMMENT = enum.auto()
    CHAR_REF = enum.auto()
    ENTITY = enum.auto()
    NUMERIC = enum.auto()
    SKIP_WS = enum.auto()
    TRIM_WS = enum.auto()
    TAG = enum.auto()
    TAG_ARG = enum.auto()
    TAG_ARG_VAL = enum.auto()
    TAG_ARG_EQUAL = enum.auto()
    PROCESS_TAG = enum.auto()
    DATA_TYPE = enum.auto()
    DATA_INIT = enum.auto()
    DATA = enum.auto()
    DATA_FINISH = enum.auto()
    DATA_ESCAPE = enum.auto()
    DATA_ESCAPED = enum.auto()


class _Quote(enum.Enum):
    NONE = enum.auto()
    SINGLE = enum.auto()
    DOUBLE = enum.auto()


def _chunks(data: bytes) -> Iterator[bytes]:
    """The reference's reads: NULs dropped, each cut after its last whitespace."""
    offset, size = 0, len(data)
    while offset < size:
        start = offset
        length = min(size - offset, _CHUNK)
        piece = data[start : start + length]
        if b"\0" not in piece:
            chunk = piece
            offset += length
        else:
            kept = bytearray()
            pos = start
            while pos < size and len(kept) < _CHUNK:
                # Copy up to the next NUL, at most what still fits.
                nul = data.find(b"\0", pos, pos + _CHUNK - len(kept))
                stop = nul if nul >= 0 else min(size, pos + _CHUNK - len(kept))
                kept += data[pos:stop]
                pos = stop + (nul >= 0)
            chunk = bytes(kept)
            offset = pos
        if offset < size and data[offset] not in _SPACE:
            cut = len(chunk)
            while cut > 1 and chunk[cut - 1] not in _SPACE:
                cut -= 1
            if cut > 1 and cut < len(chunk):
                # The reference steps back by chunk bytes, NULs or not.
                offset -= len(chunk) - cut
                chunk = chunk[:cut]
        yield chunk


def _run_end(pattern: re.Pattern[bytes], chunk: bytes, pos: int, limit: int = -1) -> int:
    """Where a run of ``pattern`` starting at ``pos`` ends (at least one byte on)."""
    run = pattern.match(chunk, pos, len(chunk) if limit < 0 else limit)
    return run.end() if run is not None else pos + 1


def _u16_text(code: int) -> bytes:
    """How the reference writes a decoded UTF-16 unit."""
    if code == 0:
        return b""
    if code < 0xFF:
        return bytes([code])
    if code in (0x3002, 0xFF0E, 0xFE52):
        return b"."
    return b"&#x%04x;" % code


class _HtmlNormalizer:
    """One pass over a document, producing the three views."""

    def __init__(self) -> None:
        self.norm = bytearray()
        self.text = bytearray()
        self.scripts: list[bytes] = []
        self.state = _S.NORM
        self.next_state = _S.BAD
        self.in_script = False  # raw text: inside <script> or <style>
        self.in_style = False
        self.text_space = False  # a space ends the text view already
        self.binary = False  # inside data: URI content, CR and LF are kept
        self.tag = bytearray()
        self.tag_arg = bytearray()
        self.tag_val = bytearray()
        self.args: list[tuple[bytes, bytes | None]] = []
        self.quoted = _Quote.NONE
        self.escape = False
        self.multibyte = 0  # pending bytes >= 0x80 of the text
        self.value_multibyte = 0  # pending bytes >= 0x80 of an attribute value
        self.number = 0
        self.hex = False
        self.entity = bytearray()
        self.escape_length = 0
        self.js: JsNormalizer | None = None
        self.js_begin: int | None = None
        self.chunk = b""
        handlers = {
            _S.NORM: self._norm,
            _S.EIGHT_BIT: self._eight_bit,
            _S.COMMENT: self._comment,
            _S.CHAR_REF: self._char_ref,
            _S.ENTITY: self._entity,
            _S.NUMERIC: self._numeric,
            _S.SKIP_WS: self._skip_ws,
            _S.TRIM_WS: self._skip_ws,
            _S.TAG: self._tag,
            _S.TAG_ARG: self._tag_arg,
            _S.TAG_ARG_VAL: self._tag_arg_val,
            _S.TAG_ARG_EQUAL: self._tag_arg_equal,
            _S.PROCESS_TAG: self._process_tag,
            _S.DATA_TYPE: self._data_type,
            _S.DATA_INIT: self._data_init,
            _S.DATA: self._data,
            _S.DATA_FINISH: self._data_finish,
            _S.DATA_ESCAPE: self._data_escape,
            _S.DATA_ESCAPED: self._data_escaped,
        }
        # Indexed by state; the error state has none (the walk stops there).
        self.handlers = [handlers.get(state) for state in range(max(_S) + 1)]

    def run(self, data: bytes) -> HtmlViews:
        for raw in _chunks(data):
            lead = len(raw) - len(raw.lstrip(_WHITESPACE))
            # LF reads as a space wherever the loop walks (not the skipped lead).
            chunk = raw[:lead] + raw[lead:].replace(b"\n", b" ")
            self.chunk = chunk
            if not self._walk(chunk, lead):
                break  # the reference gives up, and skips what follows the loop
            if self.js is not None:
                self._feed_script(len(chunk))
            if self.next_state is self.state:
                self.next_state = _S.BAD  # the reference's guard against looping
        else:
            self._flush_entity()
        if self.js is not None:
            self._end_script()
        return HtmlViews(
            bytes(self.norm),
            bytes(self.text),
            b"\n".join(self.scripts) if self.scripts else None,
        )

    def _walk(self, chunk: bytes, pos: int) -> bool:
        """Run the machine over one chunk; False if it hit the error state."""
        size = len(chunk)
        handlers = self.handlers
        while pos < size:
            if chunk[pos] == 0x0D and not self.binary:
                pos += 1
                continue
            handler = handlers[self.state]
            if handler is None:
                return False
            pos = handler(chunk, pos)
        return True

    # -- helpers ------------------------------------------------------------

    def _goto(self, state: _S, next_state: _S = _S.BAD) -> None:
        self.state = state
        self.next_state = next_state

    def _resume(self) -> None:
        self.state = self.next_state
        self.next_state = _S.BAD

    def _text_gap(self) -> None:
        if not self.text_space and not self.in_script:
            self.text.append(0x20)
            self.text_space = True

    def _value_append(self, data: bytes) -> None:
        self.tag_val += data[: max(_LIMIT - len(self.tag_val), 0)]

    def _decoded(self, data: bytes) -> None:
        """A character reference's output: to the view, and to a value being read."""
        self.norm += data
        if self.next_state is _S.TAG_ARG_VAL:
            self._value_append(data)

    def _add_arg(self, value: bytes | None) -> None:
        if value is not None:
            # Kept as a C string: a decoded NUL ends it; a quoted one loses both ends.
            value = value.split(b"\0", 1)[0]
            if value[:1] == b'"':
                value = value[1:-1]
        self.args.append((bytes(self.tag_arg), value))

    def _arg_value(self, name: bytes) -> bytes | None:
        return next((value for arg, value in self.args if arg == name), None)

    def _start_value(self) -> None:
        self.escape = False
        self.quoted = _Quote.NONE
        self.tag_val.clear()
        self._goto(_S.SKIP_WS, _S.TAG_ARG_VAL)

    def _end_value(self) -> None:
        self._add_arg(bytes(self.tag_val))
        self.tag_arg.clear()
        self._goto(_S.SKIP_WS, _S.TAG_ARG)

    # -- text ---------------------------------------------------------------

    def _norm(self, chunk: bytes, pos: int) -> int:
        if self.in_script:
            # Script text reaches only the normalised view, whitespace removed.
            run = _SCRIPT_RUN.match(chunk, pos)
            if run is not None:
                piece = run.group(0).translate(None, _WHITESPACE).lower()
                self.norm += piece.translate(_TO_DOUBLE_QUOTE)
                return run.end()
        byte = chunk[pos]
        if byte == 0x3C:  # '<'
            self.norm.append(0x3C)
            self._text_gap()
            self.tag.clear()
            self._goto(_S.SKIP_WS, _S.TAG)
            return self._skip_ws(chunk, pos + 1)
        if byte in _SPACE:
            self._text_gap()
            self._goto(_S.TRIM_WS, _S.NORM)
            return self._skip_ws(chunk, pos)
        if byte == 0x26:  # '&'
            self._text_gap()
            self._goto(_S.CHAR_REF, _S.NORM)
            return pos + 1
        if byte >= 0x80:
            self._goto(_S.EIGHT_BIT, _S.NORM)
            self.multibyte = byte
            return pos + 1
        run = _PLAIN_RUN.match(chunk, pos)
        if run is None:  # a control byte: kept, but a gap in the text view
            self.norm.append(byte)
            if not self.in_script and not self.text_space:
                self.text.append(0x20)
                self.text_space = True
            return pos + 1
        piece = run.group(0).lower()
        if self.in_script:
            self.norm += piece.translate(_TO_DOUBLE_QUOTE)
        else:
            self.norm += piece
            self.text += piece
            self.text_space = False
        return run.end()

    def _skip_ws(self, chunk: bytes, pos: int) -> int:
        """Skip whitespace; at the next other byte, go on (TRIM_WS writes one space)."""
        run = _SPACE_RUN.match(chunk, pos)
        if run is not None:
            pos = run.end()
        if pos < len(chunk):
            if self.state is _S.TRIM_WS and not self.in_script:
                self.norm.append(0x20)
            self._resume()
        return pos

    def _eight_bit(self, chunk: bytes, pos: int) -> int:
        byte = chunk[pos]
        pending = self.multibyte
        if byte >= 0x80 and pending < 0x10000:
            self.multibyte = (pending << 8) | byte
            return pos + 1
        if pending in _FULL_STOPS or (pending == 0xA1 and byte in _INVERTED_MARK_PAIRS):
            self.norm.append(0x2E)
            self.text.append(0x2E)
            if pending == 0xA1:
                # The pair is consumed but the state stays, with nothing pending.
                self.multibyte = 0
                return pos + 1
        else:
            high, middle, low = pending >> 16, (pending >> 8) & 0xFF, pending & 0xFF
            lead = bytes([high, middle]) if high else bytes([middle]) if middle else b""
            self.norm += lead + bytes([low])
            # The reference writes the middle byte where the last one belongs.
            self.text += lead + bytes([middle])
        self.multibyte = 0
        self.state, self.next_state = self.next_state, _S.NORM
        return pos

    def _comment(self, chunk: bytes, pos: int) -> int:
        close = chunk.find(b">", pos)
        end = len(chunk) if close < 0 else close + 1
        if self.in_script:
            # Scripts inside comments still reach the normalised view.
            piece = _NO_SPACE.sub(b"", chunk[pos:end]).lower()
            self.norm += piece.translate(_TO_DOUBLE_QUOTE)
        if close >= 0:
            self._goto(_S.SKIP_WS, _S.NORM)
            return self._skip_ws(chunk, end)
        return end

    # -- character references -------------------------------------------------

    def _char_ref(self, chunk: bytes, pos: int) -> int:
        if chunk[pos] == 0x23:  # '#'
            self.number = 0
            self.hex = False
            self.state = _S.NUMERIC
            return pos + 1
        self.state = _S.ENTITY
        return pos

    def _entity(self, chunk: bytes, pos: int) -> int:
        byte = chunk[pos]
        if byte == 0x3B:  # ';'
            self._decoded(self._entity_text(bytes(self.entity), terminated=True))
            self.entity.clear()
            self._resume()
            return pos + 1
        run = _ENTITY_NAME_RUN.match(chunk, pos)
        if run is not None and len(self.entity) < _LIMIT:
            take = run.group(0)[: _LIMIT - len(self.entity)]
            self.entity += take
            return pos + len(take)
        self._decoded(b"&" + bytes(self.entity).lower())
        self.entity.clear()
        self._resume()
        return pos

    @staticmethod
    def _entity_text(name: bytes, terminated: bool) -> bytes:
        code = ENTITIES.get(name)
        if code is not None:
            return _u16_text(code)
        return b"&" + name.lower() + (b";" if terminated else b"")

    def _flush_entity(self) -> None:
        """A named reference still open at the end is decoded or written as is."""
        if self.entity:
            self.norm += self._entity_text(bytes(self.entity), terminated=False)

    def _numeric(self, chunk: bytes, pos: int) -> int:
        byte = chunk[pos]
        value = self.number
        if value == 0 and byte in b"xX":
            self.hex = True
            return pos + 1
        if byte == 0x3B:  # ';'
            if self.next_state is _S.TAG_ARG_VAL:
                self._value_append(bytes([value & 0xFF]))
            self.norm += bytes([value]).lower() if value < 0x80 else _u16_text(value & 0xFFFF)
            self._resume()
            return pos + 1
        if byte in _DIGITS or (self.hex and byte in _HEX):
            if self.hex and (value >> 32) * 16 < _INT32_MAX:
                value *= 16
            elif (value >> 32) * 10 < _INT32_MAX:
                value *= 10
            else:
                return self._numeric_abandon(pos + 1)
            digit = int(chr(byte), 16)
            if value > _INT64_MAX - digit:
                return self._numeric_abandon(pos + 1)
            self.number = value + digit
            return pos + 1
        return self._numeric_abandon(pos)

    def _numeric_abandon(self, pos: int) -> int:
        """An unterminated numeric reference: its value's low byte, as is."""
        self.norm.append(self.number & 0xFF)
        self._resume()
        return pos

    # -- tags ---------------------------------------------------------------

    def _tag(self, chunk: bytes, pos: int) -> int:
        byte = chunk[pos]
        if not self.tag and byte == 0x21:  # '<!': a comment or declaration
            if self.in_script:
                self.norm.append(0x21)
            elif self.norm:
                self.norm.pop()
            self._goto(_S.COMMENT)
            return pos + 1
        if byte == 0x3E:  # '>'
            self.norm.append(0x3E)
            self._goto(_S.SKIP_WS, _S.PROCESS_TAG)
            return self._skip_ws(chunk, pos + 1)
        if byte in _SPACE:
            self.tag_arg.clear()
            self._goto(_S.SKIP_WS, _S.PROCESS_TAG if self.in_script else _S.TAG_ARG)
            return self._skip_ws(chunk, pos)
        if self.in_script and not self.tag and byte != 0x2F:
            # Inside a script only "</" can start a tag.
            self.norm += bytes([byte]).lower()
            self.tag += bytes([byte]).lower()
            self.state = _S.NORM
            return pos + 1
        end = _run_end(_TAG_NAME_RUN, chunk, pos)
        piece = chunk[pos:end].lower()
        self.norm += piece
        self.tag += piece[: _LIMIT - len(self.tag)]
        return end

    def _tag_arg(self, chunk: bytes, pos: int) -> int:
        byte = chunk[pos]
        if byte == 0x3D:  # '='
            self.norm.append(0x3D)
            self._start_value()
            return self._skip_ws(chunk, pos + 1)
        if byte in _SPACE:
            self._goto(_S.SKIP_WS, _S.TAG_ARG_EQUAL)
            return self._skip_ws(chunk, pos + 1)
        if byte == 0x3E:  # '>'
            self.norm.append(0x3E)
            if self.tag_arg:
                self._add_arg(None)
            self._goto(_S.PROCESS_TAG)
            return pos + 1
        end = _run_end(_ARG_NAME_RUN, chunk, pos)
        if not self.tag_arg:
            self.norm.append(0x20)
        piece = chunk[pos:end].lower()
        self.norm += piece
        self.tag_arg += piece[: _LIMIT - len(self.tag_arg)]
        return end

    def _tag_arg_equal(self, chunk: bytes, pos: int) -> int:
        if chunk[pos] == 0x3D:  # '='
            self.norm.append(0x3D)
            self._start_value()
            return self._skip_ws(chunk, pos + 1)
        if self.tag_arg:
            self._add_arg(None)
        self.tag_arg.clear()
        self._goto(_S.TAG_ARG)
        return pos

    def _tag_arg_val(self, chunk: bytes, pos: int) -> int:
        value = self.tag_val
        if (len(value) == 5 and value == b"data:") or (len(value) == 6 and value == b'"data:'):
            # An RFC 2397 URI: its content leaves the views (the ':' too).
            if self.norm:
                self.norm.pop()
            if self.quoted is not _Quote.NONE:
                self.norm.append(0x22)
            value.clear()
            self._goto(_S.DATA_TYPE, _S.TAG_ARG)
            return pos
        pos = self._value_byte(chunk, pos)
        self.escape = pos < len(chunk) and chunk[pos] == 0x5C
        return pos

    def _value_byte(self, chunk: bytes, pos: int) -> int:
        byte = chunk[pos]
        if byte == 0x26:  # '&'
            self._goto(_S.CHAR_REF, _S.TAG_ARG_VAL)
            return pos + 1
        if byte in b"'\"":
            quote = _Quote.SINGLE if byte == 0x27 else _Quote.DOUBLE
            self.norm.append(0x22)
            closing = bool(self.tag_val) and not self.escape and self.quoted is quote
            if not self.tag_val:
                self.quoted = quote
            self._value_append(b'"')
            if closing:
                self._end_value()
            return pos + 1
        if byte in _SPACE or byte == 0x3E:
            if self.quoted is _Quote.NONE:
                self._end_value()
                return pos
            # Whitespace or '>' inside quotes is kept, and ends the quoting.
            self.norm.append(byte)
            self._value_append(b">" if byte == 0x3E else b" ")
            self.escape = False
            self.quoted = _Quote.NONE
            self._goto(_S.SKIP_WS, _S.TAG_ARG_VAL)
            return pos + 1
        pending = self.value_multibyte
        if pending and (byte < 0x80 or pending >= 0x10000):
            self.value_multibyte = 0
            if pending in _FULL_STOPS or (pending == 0xA1 and byte in _INVERTED_MARK_PAIRS):
                self.norm.append(0x2E)
                self._value_append(b".")
                if pending == 0xA1:
                    return pos + 1
            else:
                high, middle, low = pending >> 16, (pending >> 8) & 0xFF, pending & 0xFF
                lead = bytes([high, middle]) if high else bytes([middle]) if middle else b""
                self.norm += lead + bytes([low])
                self._value_append(lead + bytes([low]))
        if byte >= 0x80:
            self.value_multibyte = (self.value_multibyte << 8) | byte
            return pos + 1
        # Until the value is long enough to rule out "data:", go byte by byte.
        limit = pos + 1 if len(self.tag_val) < 6 else len(chunk)
        end = _run_end(_VALUE_RUN, chunk, pos, limit)
        piece = chunk[pos:end]
        self.norm += piece.lower()
        self._value_append(piece)
        return end

    def _process_tag(self, chunk: bytes, pos: int) -> int:
        tag = bytes(self.tag)
        self._goto(_S.SKIP_WS, _S.NORM)
        if tag == b"/script" or (tag == b"/style" and self.in_style):
            # "</script>" also ends a style element; "</style>" does not end a script.
            self.in_script = self.in_style = False
            if self.js is not None:
                self._feed_script(pos)
                self._end_script()
        elif tag == b"script":
            self.in_script = True
            if self.js is None:
                self.js = JsNormalizer()
                self.js_begin = pos
        elif tag == b"style":
            self.in_script = self.in_style = True
        elif tag in (b"a", b"img"):
            link = self._arg_value(b"href" if tag == b"a" else b"src")
            if link:
                self.text += link + b" "
                self.text_space = True
        self.args.clear()
        return self._skip_ws(chunk, pos)

    # -- data: URIs (their content is not kept) -------------------------------

    def _data_type(self, chunk: bytes, pos: int) -> int:
        byte = chunk[pos]
        if byte in b"'\"":
            quote = _Quote.SINGLE if byte == 0x27 else _Quote.DOUBLE
            if not self.escape and self.quoted is quote:  # the URI ends before its data
                self.tag_arg.clear()
                self._goto(_S.SKIP_WS, _S.TAG_ARG)
            pos += 1
        elif byte in _SPACE or byte == 0x3E:
            if self.quoted is _Quote.NONE:
                self.tag_arg.clear()
                self._goto(_S.SKIP_WS, _S.TAG_ARG)
            else:
                self.escape = False
                self.quoted = _Quote.NONE
                self._goto(_S.SKIP_WS, _S.DATA_TYPE)
                pos += 1
        elif byte == 0x2C:  # ','
            self.escape = False
            self._goto(_S.DATA_INIT)
            pos += 1
        else:
            pos += 1
        self.escape = pos < len(chunk) and chunk[pos] == 0x5C
        return pos

    def _data_init(self, chunk: bytes, pos: int) -> int:
        self.state = _S.DATA
        self.binary = True
        return pos

    def _data(self, chunk: bytes, pos: int) -> int:
        byte = chunk[pos]
        if byte == 0x26:  # '&': decoded into the normalised view, as on the reference
            self._goto(_S.CHAR_REF, _S.DATA)
        elif byte == 0x25:  # '%': the escape's digits are read apart
            self.escape_length = 0
            self._goto(_S.DATA_ESCAPE, _S.DATA_ESCAPED)
        elif byte in b"'\"":
            quote = _Quote.SINGLE if byte == 0x27 else _Quote.DOUBLE
            if not self.escape and self.quoted is quote:
                self.state = _S.DATA_FINISH
        elif (byte in _SPACE or byte == 0x3E) and self.quoted is _Quote.NONE:
            self.state = _S.DATA_FINISH
        pos += 1
        self.escape = pos < len(chunk) and chunk[pos] == 0x5C
        return pos

    def _data_escape(self, chunk: bytes, pos: int) -> int:
        self.escape_length += 1
        if chunk[pos] not in _HEX or self.escape_length == 2:
            self.state = self.next_state
        return pos + 1

    def _data_escaped(self, chunk: bytes, pos: int) -> int:
        self.state = _S.DATA
        return pos

    def _data_finish(self, chunk: bytes, pos: int) -> int:
        # The attribute name is not reset: what follows extends it.
        self.escape = False
        self.quoted = _Quote.NONE
        self.binary = False
        self._goto(_S.SKIP_WS, _S.TAG_ARG)
        return pos

    # -- scripts ------------------------------------------------------------

    def _feed_script(self, end: int) -> None:
        """Hand the script text of this chunk, up to ``end``, to the JavaScript normaliser."""
        assert self.js is not None
        begin = self.js_begin or 0
        if end > begin:
            self.js.feed(self.chunk[begin:end])
        self.js_begin = None

    def _end_script(self) -> None:
        assert self.js is not None
        self.scripts.append(self.js.finish(separated=bool(self.scripts)))
        self.js = None


def html_views(data: bytes) -> HtmlViews:
    """The normalised, text and JavaScript views of an HTML document."""
    return _HtmlNormalizer().run(data)
