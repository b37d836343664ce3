"""The normalised JavaScript of ``<script>`` elements (ClamAV's ``javascript`` view).

Strategy: a small incremental tokenizer fed the raw slices of script text the
HTML normaliser hands over (a token may span two slices), a parser that only
tracks what renaming needs (``var`` declarations, function names and
parameters, block nesting), then, once the script ends, the same clean-ups as
the reference: unterminated strings and parentheses closed, ``"a"+"b"``
joined, ``unescape("..")`` decoded, ``eval("..")``, ``dF("..")`` and the
``p,a,c,k,e,r`` packer expanded in place, and the tokens written out.

Rules, as ClamAV 1.4.6 applies them (checked against its ``javascript`` file):
  * output is lower-cased, every whitespace byte becomes a space; a space
    separates two tokens only when both touching bytes are letters or digits;
  * declared identifiers become ``n000``, ``n001`` ... (one counter per
    script, in declaration order; a re-declaration takes a new number, and
    every use prints the final one); names after ``.`` and undeclared names
    are kept; a function's own name is declared inside its body's scope;
  * strings are re-quoted with ``"``, their escapes decoded (``\\xHH``,
    ``\\uHHHH`` to UTF-8, NUL to 0x01) and nothing in them escaped again;
  * integers print as C's ``atoi`` reads them, decimals with ``%g``; a
    number or name still open when the script ends is lost;
  * comments disappear; bytes 0x80-0xFF outside strings are dropped; a
    regular expression literal is just operators and names.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["JsNormalizer", "js_unescape"]


class _Kind(enum.IntEnum):
    """Token kinds that the parser or the decoders treat specially; the rest is OTHER."""

    OTHER = enum.auto()
    IDENTIFIER = enum.auto()
    MEMBER = enum.auto()  # an identifier right after '.', never renamed
    STRING = enum.auto()
    INTEGER = enum.auto()
    DECIMAL = enum.auto()
    VAR = enum.auto()
    FUNCTION = enum.auto()
    PLUS = enum.auto()
    BRACKET_OPEN = enum.auto()
    BRACKET_CLOSE = enum.auto()
    COMMA = enum.auto()
    CURLY_OPEN = enum.auto()
    CURLY_CLOSE = enum.auto()
    PAR_OPEN = enum.auto()
    PAR_CLOSE = enum.auto()
    DOT = enum.auto()
    SEMICOLON = enum.auto()


_KEYWORDS = frozenset(
    b"break case catch continue default delete do else finally for function if in "
    b"instanceof new return switch this throw try typeof var void while with "
    b"abstract boolean byte char class const debugger double enum export extends final "
    b"float goto implements import int interface long native package private protected "
    b"public short static super synchronized throws transient volatile null true false".split()
)
_OPERATORS = frozenset(
    b"= + === >>> !== << <= == >= >> || -- != && ++ *= /= %= += -= <<= >>= >>>= &= ^= |= "
    b"& : / ! > < - * | % ? ~ ^".split()
)
_PUNCTUATION = {
    ord("["): _Kind.BRACKET_OPEN,
    ord("]"): _Kind.BRACKET_CLOSE,
    ord(","): _Kind.COMMA,
    ord("{"): _Kind.CURLY_OPEN,
    ord("}"): _Kind.CURLY_CLOSE,
    ord("("): _Kind.PAR_OPEN,
    ord(")"): _Kind.PAR_CLOSE,
    ord("."): _Kind.DOT,
    ord(";"): _Kind.SEMICOLON,
}
_OPERATOR_START = frozenset(b"!%&*+-:<=>?^|~")
_NAME_START = frozenset(b"$\\_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = re.compile(rb"[$0-9A-Z_a-z]+")
_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset(b"0123456789")
_INTEGER_PREFIX = re.compile(rb"[0-9]*")
_DECIMAL_PREFIX = re.compile(rb"[0-9]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?")
_SPACE_TO_BLANK = bytes.maketrans(b"\t\n\x0b\x0c\r", b"     ")
_INT_MAX = 2**63 - 1
_PACKER_PARAMETERS = ([b"p", b"a", b"c", b"k", b"e", b"r"], [b"p", b"a", b"c", b"k", b"e", b"d"])
_NUMERIC_OR_FUNCTION = (_Kind.INTEGER, _Kind.DECIMAL, _Kind.FUNCTION)
_UNESCAPE = frozenset({b"unescape"})
# Names one of the decoders starts from (the packer's first parameter is "p").
_DECODER_NAMES = frozenset({b"eval", b"dF", b"p"})
# The reference writes the script file through a buffer of this size and only
# sees the tail of the current buffer when deciding to append "</script>".
_OUTPUT_BUFFER = 65536


class _State(enum.Enum):
    """Where the tokenizer stands between two slices."""

    INITIAL = enum.auto()
    BLOCK_COMMENT = enum.auto()
    LINE_COMMENT = enum.auto()
    NUMBER = enum.auto()
    DOUBLE_QUOTED = enum.auto()
    SINGLE_QUOTED = enum.auto()
    NAME = enum.auto()


class _Fsm(enum.Enum):
    """What the parser expects next within a scope."""

    BASE = enum.auto()
    INSIDE_VAR = enum.auto()
    INSIDE_INITIALIZER = enum.auto()
    WAIT_FUNCTION_NAME = enum.auto()
    WAIT_PARAMETER_LIST = enum.auto()
    INSIDE_FUNCTION_DECL = enum.auto()


@dataclass(eq=False, slots=True)
class _Scope:
    parent: _Scope | None
    names: dict[bytes, int] = field(default_factory=dict)  # -1: used, not declared
    fsm: _Fsm = _Fsm.BASE
    last_kind: _Kind | None = None
    brackets: int = 0
    blocks: int = 0

    def lookup(self, name: bytes) -> int:
        scope: _Scope | None = self
        while scope is not None:
            number = scope.names.get(name, -1)
            if number != -1:
                return number
            scope = scope.parent
        return -1


@dataclass(eq=False, slots=True)
class _Token:
    kind: _Kind
    text: bytes | None = None  # string content, name, or the token as written
    number: int | float = 0
    scope: _Scope | None = None  # FUNCTION: the body's scope; None marks a function's end


def _hex_digit(byte: int) -> int:
    if 0x30 <= byte <= 0x39:
        return byte - 0x30
    if 0x61 <= byte <= 0x66 or 0x41 <= byte <= 0x46:
        return (byte | 0x20) - 0x61 + 10
    return -1


def _utf8(code: int) -> bytes:
    """A UTF-16 unit as UTF-8, NUL replaced by 0x01 as the reference does."""
    if code == 0:
        return b"\x01"
    return chr(code).encode("utf-8", "surrogatepass")


def _hex_pair(high: int, low: int) -> int:
    # An invalid low digit (-1) sets every bit, as in the reference's arithmetic.
    return ((max(_hex_digit(high), 0) << 4) | _hex_digit(low)) & 0xFF


def _hex_quad(digits: bytes) -> int:
    return (
        (max(_hex_digit(digits[0]), 0) << 12)
        | (max(_hex_digit(digits[1]), 0) << 8)
        | (max(_hex_digit(digits[2]), 0) << 4)
        | _hex_digit(digits[3])
    ) & 0xFFFF


def _unescape_string(raw: bytes) -> bytes:
    """Backslash escapes of a string literal piece, decoded."""
    if b"\\" not in raw and b"\0" not in raw:
        return raw
    out = bytearray()
    i, size = 0, len(raw)
    simple = {0x30: 0, 0x62: 8, 0x74: 9, 0x6E: 10, 0x76: 11, 0x66: 12, 0x72: 13}
    while i < size:
        byte = raw[i]
        if byte == 0x5C and i + 1 < size:
            i += 1
            escape = raw[i]
            if escape in simple:
                byte = simple[escape]
            elif escape == 0x78:  # \xHH
                if i + 2 < size:
                    byte = _hex_pair(raw[i + 1], raw[i + 2])
                i += 2
            elif escape == 0x75:  # \uHHHH
                if i + 4 < size:
                    out += _utf8(_hex_quad(raw[i + 1 : i + 5]))
                    i += 5
                    continue
            else:
                byte = escape
        out.append(byte or 1)
        i += 1
    return bytes(out)


def js_unescape(text: bytes) -> bytes:
    """JavaScript's ``unescape()``: ``%uHHHH`` to UTF-8, ``%HH`` to a byte, NUL to 0x01."""
    out = bytearray()
    k, size = 0, len(text)
    while k < size:
        byte = text[k]
        if byte == 0x25:  # '%'
            quad = text[k + 2 : k + 6]
            if k + 5 < size and text[k + 1] == 0x75 and all(_hex_digit(d) >= 0 for d in quad):
                out += _utf8(_hex_quad(quad))
                k += 6
                continue
            if k + 2 < size and _hex_digit(text[k + 1]) >= 0 and _hex_digit(text[k + 2]) >= 0:
                byte = _hex_pair(text[k + 1], text[k + 2])
                k += 2
        out.append(byte or 1)
        k += 1
    return bytes(out)


def _c_atoi(digits: bytes) -> int:
    """``atoi``: ``strtol`` saturated to 64 bits, then cut to a 32-bit int."""
    prefix = _INTEGER_PREFIX.match(digits)
    value = min(int(prefix.group(0) or b"0") if prefix else 0, _INT_MAX)
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _c_atof(text: bytes) -> float:
    prefix = _DECIMAL_PREFIX.match(text)
    try:
        return float(prefix.group(0)) if prefix and prefix.group(0) else 0.0
    except ValueError:
        return 0.0


# Tokens wholly inside a slice and free of escapes, read in one step; anything
# else (comments, escapes, decimals, a token touching the slice's end) takes
# the byte-by-byte path below, which is the reference's tokenizer.
_QUICK_TOKEN = re.compile(
    rb"(?P<skip>[\x00-\x20#@`\x7f-\xff]+)"
    rb"|(?P<name>[$A-Z_a-z][$0-9A-Z_a-z]*)(?=[^$0-9A-Z_a-z\\])"
    rb"|(?P<integer>[0-9]+)(?=[^0-9.])"
    rb"|(?P<punctuation>[\[\],{}().;])"
    rb"|(?P<string>\"[^\"\\\x00]*\"|'[^'\\\x00]*')"
    rb"|(?P<operator>>>>=|===|!==|>>>|<<=|>>=|<<|<=|==|>=|>>|\|\||--|!=|&&|\+\+"
    rb"|\*=|%=|\+=|-=|&=|\^=|\|=|[-=+&:!><*|%?~^])"
)


def _name_token(name: bytes) -> _Token:
    if name in _KEYWORDS:
        kind = {b"var": _Kind.VAR, b"function": _Kind.FUNCTION}.get(name, _Kind.OTHER)
        return _Token(kind, name)
    return _Token(_Kind.IDENTIFIER, name)


def _quick_token(match: re.Match[bytes]) -> _Token:
    group = match.lastgroup
    text = match.group(0)
    if group == "name":
        return _name_token(text)
    if group == "integer":
        return _Token(_Kind.INTEGER, number=_c_atoi(text))
    if group == "punctuation":
        return _Token(_PUNCTUATION[text[0]], text)
    if group == "string":
        return _Token(_Kind.STRING, text[1:-1])
    return _Token(_Kind.PLUS if text == b"+" else _Kind.OTHER, text)


class _Tokenizer:
    """Splits slices of script text into tokens; state carries over between slices."""

    def __init__(self) -> None:
        self.state = _State.INITIAL
        self.buffer = bytearray()

    def tokens(self, data: bytes) -> Iterator[_Token]:
        pos, size = 0, len(data)
        last_pos, last_state = -1, None
        while True:
            if pos == last_pos and last_state is self.state:
                pos += 1  # the reference's guard against a scanner stuck in place
            last_pos, last_state = pos, self.state
            token, pos = self._next(data, pos, size)
            if token is None:
                return
            yield token

    def _next(self, data: bytes, pos: int, size: int) -> tuple[_Token | None, int]:
        while pos < size:
            state = self.state
            if state is _State.INITIAL:
                quick = _QUICK_TOKEN.match(data, pos)
                if quick is not None:
                    if quick.lastgroup == "skip":
                        pos = quick.end()
                        continue
                    return _quick_token(quick), quick.end()
                self.buffer.clear()
                byte = data[pos]
                pos += 1
                if byte == 0x2F and pos < size and data[pos] in b"*/":  # '/'
                    self.state = _State.BLOCK_COMMENT if data[pos] == 0x2A else _State.LINE_COMMENT
                    pos += 1
                    continue
                if byte in _OPERATOR_START or byte == 0x2F:
                    return self._operator(data, pos - 1, size)
                if byte == 0x22:
                    return self._string(data, pos, size, 0x22, _State.DOUBLE_QUOTED)
                if byte == 0x27:
                    return self._string(data, pos, size, 0x27, _State.SINGLE_QUOTED)
                if byte in _DIGITS:
                    return self._number(data, pos - 1, size)
                if byte in _NAME_START:
                    return self._name(data, pos - 1, size)
                kind = _PUNCTUATION.get(byte)
                if kind is not None:
                    return _Token(kind, bytes([byte])), pos
                continue  # whitespace and any other byte is skipped
            if state is _State.DOUBLE_QUOTED:
                return self._string(data, pos, size, 0x22, state)
            if state is _State.SINGLE_QUOTED:
                return self._string(data, pos, size, 0x27, state)
            if state is _State.NAME:
                return self._name(data, pos, size)
            if state is _State.NUMBER:
                return self._number(data, pos, size)
            if state is _State.BLOCK_COMMENT:
                close = data.find(b"*/", pos)
                if close >= 0:
                    self.state = _State.INITIAL
                    pos = close + 2
                else:
                    pos = max(size, pos + 1)
            else:  # a line comment ends at a newline or, as HTML turned it, a space
                end = next((i for i in range(pos, size) if data[i] in b"\n "), size)
                pos = end
                self.state = _State.INITIAL
        return None, pos

    def _operator(self, data: bytes, pos: int, size: int) -> tuple[_Token, int]:
        """The longest operator at ``pos``; every operator byte is one by itself."""
        length = next(
            (n for n in range(min(5, size - pos), 1, -1) if data[pos : pos + n] in _OPERATORS), 1
        )
        text = data[pos : pos + length]
        return _Token(_Kind.PLUS if text == b"+" else _Kind.OTHER, text), pos + length

    def _string(
        self, data: bytes, pos: int, size: int, quote: int, state: _State
    ) -> tuple[_Token | None, int]:
        end = data.find(quote, pos)
        while end > pos and data[end - 1] == 0x5C:
            end = data.find(quote, end + 1)
        stop = end if end >= 0 else size
        self.buffer += _unescape_string(data[pos:stop])
        if end < 0:
            self.state = state
            return None, size
        self.state = _State.INITIAL
        return _Token(_Kind.STRING, bytes(self.buffer)), end + 1

    def _number(self, data: bytes, pos: int, size: int) -> tuple[_Token | None, int]:
        buffer = self.buffer
        decimal = False  # per slice, as in the reference: "1." then "5" reads as an integer
        while pos < size:
            byte = data[pos]
            pos += 1
            if byte in _DIGITS:
                buffer.append(byte)
                continue
            if byte == 0x2E and not decimal:
                decimal = True
                buffer.append(byte)
                continue
            if byte in b"eE" and decimal:
                buffer.append(byte)
                if pos < size:
                    byte = data[pos]
                    pos += 1
                    if byte in b"+-" or byte in _DIGITS:
                        buffer.append(byte)
                        continue
            self.state = _State.INITIAL
            pos -= 1
            if decimal:
                return _Token(_Kind.DECIMAL, number=_c_atof(bytes(buffer))), pos
            return _Token(_Kind.INTEGER, number=_c_atoi(bytes(buffer))), pos
        self.state = _State.NUMBER
        return None, pos

    def _name(self, data: bytes, pos: int, size: int) -> tuple[_Token | None, int]:
        buffer = self.buffer
        self.state = _State.INITIAL
        while pos < size:
            run = _NAME_CHARS.match(data, pos)
            if run is not None:
                buffer += run.group(0)
                pos = run.end()
                continue
            byte = data[pos]
            pos += 1
            if byte == 0x5C:  # backslash-u continues a name (the 'u' is dropped)
                if pos < size:
                    pos += 1
                    if data[pos - 1] == 0x75:
                        buffer.append(0x5C)
                        continue
                if pos == size:
                    pos += 1
            pos -= 1
            return _name_token(bytes(buffer)), pos
        self.state = _State.NAME
        return None, pos


class JsNormalizer:
    """One script's normaliser: :meth:`feed` slices of its text, then :meth:`finish`."""

    def __init__(self) -> None:
        self._tokenizer = _Tokenizer()
        self._global = _Scope(None)
        self._current = self._global
        self._next_number = 0
        self._tokens: list[_Token] = []

    def feed(self, data: bytes) -> None:
        """Tokenize and parse the next slice of the script."""
        tokens = self._tokens
        for token in self._tokenizer.tokens(data):
            if token.kind is _Kind.STRING and self._join_string(token):
                continue
            tokens.append(token)
            if self._parse(token):
                tokens.append(_Token(_Kind.FUNCTION))  # marks where the function ended
            self._current.last_kind = token.kind

    def finish(self, separated: bool = False) -> bytes:
        """The normalised script, wrapped in ``<script>`` ... ``</script>``.

        ``separated``: the script follows another one in the same file, so the
        reference writes a newline first (which counts for its buffer).
        """
        tokenizer = self._tokenizer
        if tokenizer.state is _State.DOUBLE_QUOTED:
            self.feed(b'"')
        elif tokenizer.state is _State.SINGLE_QUOTED:
            self.feed(b"'")
        balance = 0
        for token in self._tokens:
            if token.kind is _Kind.PAR_OPEN:
                balance += 1
            elif token.kind is _Kind.PAR_CLOSE and balance > 0:
                balance -= 1
        self._tokens.extend(_Token(_Kind.PAR_CLOSE, b")") for _ in range(balance))
        self._fold_unescape()
        self._run_decoders()
        text = b"\n" * separated + b"<script>" + self._render()
        if text.endswith(b"</script>") and len(text) % _OUTPUT_BUFFER >= 9:
            return text[separated:]
        return text[separated:] + b"</script>"

    # -- parsing ------------------------------------------------------------

    def _join_string(self, token: _Token) -> bool:
        """``"a" + "b"`` becomes one string as soon as the second one is read."""
        tokens = self._tokens
        if len(tokens) >= 2 and tokens[-1].kind is _Kind.PLUS:
            previous = tokens[-2]
            if previous.kind is _Kind.STRING:
                tokens.pop()
                previous.text = (previous.text or b"") + (token.text or b"")
                return True
        return False

    def _declare(self, name: bytes) -> None:
        self._current.names[name] = self._next_number
        self._next_number += 1

    def _parse(self, token: _Token) -> bool:
        """Update declarations and nesting; True when ``token`` closed a function body."""
        scope = self._current
        kind = token.kind
        fsm = scope.fsm
        if kind is _Kind.VAR:
            scope.fsm = _Fsm.INSIDE_VAR
        elif kind is _Kind.IDENTIFIER:
            if scope.last_kind is _Kind.DOT:
                token.kind = _Kind.MEMBER
            elif fsm in (_Fsm.INSIDE_VAR, _Fsm.INSIDE_FUNCTION_DECL):
                self._declare(token.text or b"")
                scope.fsm = _Fsm.INSIDE_INITIALIZER
                scope.brackets = 0
            elif fsm is _Fsm.WAIT_FUNCTION_NAME:
                self._declare(token.text or b"")
                scope.fsm = _Fsm.WAIT_PARAMETER_LIST
            else:
                scope.names.setdefault(token.text or b"", -1)
        elif kind is _Kind.PAR_OPEN:
            if fsm in (_Fsm.WAIT_FUNCTION_NAME, _Fsm.WAIT_PARAMETER_LIST):
                scope.fsm = _Fsm.INSIDE_FUNCTION_DECL
        elif kind is _Kind.PAR_CLOSE:
            if fsm is _Fsm.WAIT_PARAMETER_LIST:
                scope.fsm = _Fsm.BASE
        elif kind is _Kind.CURLY_OPEN:
            if fsm in (
                _Fsm.WAIT_FUNCTION_NAME,
                _Fsm.WAIT_PARAMETER_LIST,
                _Fsm.INSIDE_FUNCTION_DECL,
            ):
                scope.fsm = _Fsm.BASE
            scope.blocks += 1
        elif kind is _Kind.CURLY_CLOSE:
            scope.blocks = max(scope.blocks - 1, 0)
            if scope.blocks == 0 and scope.parent is not None:
                self._current = scope.parent
                return True
        elif kind is _Kind.BRACKET_OPEN:
            scope.brackets += 1
        elif kind is _Kind.BRACKET_CLOSE:
            scope.brackets = max(scope.brackets - 1, 0)
        elif kind is _Kind.COMMA:
            if fsm is _Fsm.INSIDE_INITIALIZER and scope.brackets == 0 and scope.blocks == 0:
                scope.fsm = _Fsm.INSIDE_VAR
        elif kind is _Kind.SEMICOLON:
            if scope.brackets == 0 and scope.blocks == 0:
                scope.fsm = _Fsm.BASE
        elif kind is _Kind.FUNCTION:
            body = _Scope(scope, fsm=_Fsm.WAIT_FUNCTION_NAME)
            token.scope = body
            self._current = body
        return False

    def _enter(self, token: _Token) -> bool:
        """Follow function boundaries while walking tokens; False for an end marker."""
        if token.kind is _Kind.FUNCTION:
            if token.scope is not None:
                self._current = token.scope
            else:
                if self._current.parent is not None:
                    self._current = self._current.parent
                return False
        return True

    # -- clean-ups ------------------------------------------------------------

    def _is_call(self, index: int, name: bytes) -> bool:
        tokens = self._tokens
        return (
            index + 2 < len(tokens)
            and tokens[index].kind is _Kind.IDENTIFIER
            and tokens[index].text == name
            and tokens[index + 1].kind is _Kind.PAR_OPEN
        )

    def _mentions(self, names: frozenset[bytes]) -> bool:
        return any(t.kind is _Kind.IDENTIFIER and t.text in names for t in self._tokens)

    def _fold_unescape(self) -> None:
        tokens = self._tokens
        if not self._mentions(_UNESCAPE):
            return
        for index in range(len(tokens)):
            if index >= len(tokens) or not self._is_call(index, b"unescape"):
                continue
            argument = tokens[index + 2]
            if argument.kind is _Kind.STRING and index + 4 <= len(tokens):
                tokens[index : index + 4] = [
                    _Token(_Kind.STRING, js_unescape(argument.text or b""))
                ]

    def _run_decoders(self) -> None:
        if not self._mentions(_DECODER_NAMES):
            return  # nothing to decode: walking the tokens would change nothing
        index = 0
        while index < len(self._tokens):
            tokens = self._tokens
            token = tokens[index]
            decoded: tuple[int, int, bytes, bool] | None = None
            if token.kind is _Kind.FUNCTION and index + 13 < len(tokens):
                index += 1
                name = None
                if tokens[index].kind is _Kind.IDENTIFIER:
                    name = tokens[index].text
                    index += 1
                if self._packer_parameters(index):
                    decoded = self._unpack(index, name)
            elif self._is_call(index, b"dF"):
                decoded = self._decode_df(index + 2)
            elif self._is_call(index, b"eval"):
                decoded = self._decode_eval(index + 2)
            if decoded is not None:
                self._replace(*decoded)
            if index < len(self._tokens):
                self._enter(self._tokens[index])
            index += 1

    def _replace(self, begin: int, end: int, source: bytes, append: bool) -> None:
        """Tokens [begin, end) (and a following ';') give way to those of ``source``."""
        outer = self._tokens
        if end < len(outer) and outer[end].kind is _Kind.SEMICOLON:
            end += 1
        self._tokens = []
        self.feed(source)
        inner = self._tokens
        self._tokens = outer
        in_range = begin < len(outer) and end <= len(outer)
        if append:
            if in_range:
                del outer[begin:end]
            outer.extend(inner)
        elif in_range:
            outer[begin:end] = inner

    def _decode_eval(self, start: int) -> tuple[int, int, bytes, bool] | None:
        tokens = self._tokens
        argument = tokens[start]
        if (
            argument.kind in (_Kind.STRING, _Kind.MEMBER)
            and argument.text is not None
            and start + 1 < len(tokens)
            and tokens[start + 1].kind is _Kind.PAR_CLOSE
        ):
            source = argument.text
            argument.text = None
            return start - 2, start + 2, source, False
        return None

    def _decode_df(self, start: int) -> tuple[int, int, bytes, bool] | None:
        """scriptasylum's encoder: unescape, shift every byte by the last digit, unescape."""
        argument = self._tokens[start]
        if argument.kind is not _Kind.STRING or not argument.text:
            return None
        text = argument.text
        shift = (text[-1] - 0x30) & 0xFF
        argument.text = text[:-1]
        shifted = bytes((byte - shift) & 0xFF for byte in js_unescape(text[:-1]))
        return start - 2, start + 2, js_unescape(shifted.split(b"\0", 1)[0]), True

    def _packer_parameters(self, index: int) -> bool:
        """Whether tokens from ``index`` read ``(p,a,c,k,e,r)`` or ``(p,a,c,k,e,d)``."""
        tokens = self._tokens
        names = tokens[index + 1 : index + 12 : 2]
        separators = tokens[index + 2 : index + 13 : 2]
        return (
            index < len(tokens)
            and tokens[index].kind is _Kind.PAR_OPEN
            and len(separators) == 6
            and all(token.kind is _Kind.IDENTIFIER for token in names)
            and [token.text for token in names] in _PACKER_PARAMETERS
            and all(token.kind is _Kind.COMMA for token in separators[:5])
            and separators[5].kind is _Kind.PAR_CLOSE
        )

    def _unpack(self, start: int, name: bytes | None) -> tuple[int, int, bytes, bool] | None:
        """Dean Edwards' packer: the payload's words replaced from its dictionary."""
        tokens = self._tokens
        nesting, i = 1, start
        while i < len(tokens):
            if tokens[i].kind is _Kind.FUNCTION:
                nesting += 1 if tokens[i].scope is not None else -1
                if nesting == 0:
                    break
            i += 1
        if nesting:
            return None
        parameters: list[int | None] = [None] * 6
        source = b""

        def read_arguments(i: int) -> int:
            nonlocal source
            count = 0
            while count < 6 and i < len(tokens):
                parameters[count] = i
                i += 1
                closing = _Kind.PAR_CLOSE if count == 5 else _Kind.COMMA
                while i < len(tokens) and tokens[i].kind is not closing:
                    i += 1
                i += 1
                count += 1
            if count == 6:
                source = _expand_packed(tokens, parameters)
            return i

        if name is not None:
            while i + 2 < len(tokens):
                if (
                    tokens[i].kind is _Kind.IDENTIFIER
                    and tokens[i].text == name
                    and tokens[i + 1].kind is _Kind.PAR_OPEN
                ):
                    i = read_arguments(i + 2)
                i += 1
        else:
            while i < len(tokens) and tokens[i].kind is not _Kind.PAR_OPEN:
                i += 1
            i += 1
            if i >= len(tokens):
                return None
            read_arguments(i)
        first, last = parameters[0], parameters[5]
        if first is None or last is None:
            return None
        end = last + 1
        kinds = [t.kind for t in tokens[end : end + 3]]
        end += 3 if kinds == [_Kind.BRACKET_OPEN, _Kind.BRACKET_CLOSE, _Kind.PAR_CLOSE] else 1
        return first, end, source, False

    # -- output -------------------------------------------------------------

    def _render(self) -> bytes:
        out = bytearray()
        last = 0
        self._current = self._global
        for token in self._tokens:
            if not self._enter(token):
                continue
            text, first, final = self._token_text(token)
            if last in _ALNUM and first in _ALNUM:
                out.append(0x20)
            out += text.translate(_SPACE_TO_BLANK).lower()
            last = final
        return bytes(out)

    def _token_text(self, token: _Token) -> tuple[bytes, int, int]:
        """The token as written, and the byte classes it starts and ends with."""
        kind = token.kind
        if kind is _Kind.STRING:
            return b'"' + (token.text or b"") + b'"', 0x22, 0x22
        if kind is _Kind.INTEGER:
            return b"%d" % token.number, 0x30, 0x30
        if kind is _Kind.DECIMAL:
            return b"%g" % token.number, 0x30, 0x30
        if kind is _Kind.FUNCTION:
            return b"function", 0x61, 0x61
        if kind is _Kind.IDENTIFIER:
            name = token.text or b""
            number = self._current.lookup(name)
            return (name if number == -1 else b"n%03d" % number), 0x61, 0x61
        text = token.text or b""
        return text, text[:1][0] if text else 0, text[-1] if text else 0


def _expand_packed(tokens: list[_Token], parameters: list[int | None]) -> bytes:
    """The packer's payload with each base-``a`` word replaced by its dictionary entry."""
    payload_token = tokens[parameters[0]] if parameters[0] is not None else None
    radix_token = tokens[parameters[1]] if parameters[1] is not None else None
    words_token = tokens[parameters[3]] if parameters[3] is not None else None
    if payload_token is None or words_token is None:
        return b""
    payload = payload_token.text if payload_token.kind not in _NUMERIC_OR_FUNCTION else None
    words_text = words_token.text if words_token.kind in (_Kind.STRING, _Kind.MEMBER) else None
    if payload is None or words_text is None:
        return b""
    radix = int(radix_token.number) if radix_token and radix_token.kind is _Kind.INTEGER else -1
    words = words_text.split(b"|")
    words_token.text = words[0]
    out = bytearray()
    pos, size = 0, len(payload)
    while pos < size:
        byte = payload[pos]
        if byte not in _ALNUM:
            if byte == 0x5C and pos + 1 < size and payload[pos + 1] in b"'\"":
                pos += 1
            else:
                out.append(byte)
                pos += 1
            continue
        start = pos
        value = 0
        while pos < size and payload[pos] in _ALNUM:
            digit = payload[pos]
            if digit >= 0x61:
                digit = 10 + digit - 0x61
            elif digit >= 0x41:
                digit = 36 + digit - 0x41
            else:
                digit -= 0x30
            value = (value * radix + digit) & 0xFFFFFFFF
            pos += 1
        if value < len(words) and words[value]:
            out += words[value]
        else:
            out += payload[start:pos]
    return bytes(out)
