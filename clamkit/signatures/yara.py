"""YARA rules (.yar/.yara) -> ``model.LogicalSignature``, as ClamAV turns them into its own.

Strategy: a small lexer and recursive-descent parser for the part of YARA
that maps onto logical signatures.  Each string becomes a subsignature:
text strings as literal bytes, hex strings translated to ClamAV's hex
syntax, the ``nocase``/``wide``/``ascii``/``fullword`` modifiers as
``::i``/``::w``/``::a``/``::f``; regular expressions become PCRE
subsignatures that always run (``ALWAYS``), without their flags and
modifiers, which the reference drops.  The condition becomes a logical
expression: ``$a``, ``and``, ``or``, ``not $a``, ``#a`` compared with a
number, ``any``/``all``/``N of them`` or of a set; ``$a at N`` and ``$a in
(A..B)`` become the subsignature's offset, and a ``filesize`` comparison
joined by ``and`` the FileSize range.  The signature is named
``YARA.<rule>`` and applies to every file type (target 0), as on the
reference.

Outcomes per rule, as measured on the reference:
- beyond the subset (``for`` loops, integer functions such as ``uint16``,
  ``entrypoint``, ``filesize`` under ``or``): ``SkippedSignature``, which
  the loader counts (the reference loads such rules) but does not use;
- refused by the reference (a syntax error, any ``pe.`` identifier: ClamAV
  1.4's YARA has no modules, so ``import "pe"`` is read but ``pe`` stays
  undefined; ``none of``, a string the condition does not use, no strings,
  a text string shorter than two bytes, a ``wide`` regular expression):
  ``YaraDropped``, not counted, with the reference's warnings; the rest of
  the file still loads;
- private rules, and every rule after a refused one (but ``_Isolated``
  refusals: errors before the condition, an undefined string, ``none of``): the
  reference counts them and never reports them, so they are skipped too.
Only a file whose rules cannot be told apart (no ``rule`` keyword where
one must be) raises ``SignatureError``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass

from clamkit.signatures.construct import constructor
from clamkit.signatures.logical import SkippedSignature
from clamkit.signatures.model import (
    ANY_OFFSET,
    And,
    BodySubsignature,
    Count,
    Expression,
    LogicalSignature,
    Offset,
    OffsetKind,
    Or,
    PcreSubsignature,
    Range,
    SignatureError,
    SubRef,
    SubsignatureModifiers,
    TargetDescription,
    is_decimal,
)
from clamkit.signatures.pattern import parse_pattern
from clamkit.signatures.pcre import translate_pcre

__all__ = ["YaraDropped", "parse_yara_rules"]

NAME_PREFIX = "YARA."
MIN_STRING_BYTES = 2
_MODIFIERS = frozenset({"nocase", "wide", "ascii", "fullword"})
# Words the reference's grammar reserves: no rule may be named so.
_KEYWORDS = _MODIFIERS | {
    *("private", "all", "and", "any", "at", "condition", "contains", "entrypoint", "false"),
    *("filesize", "for", "global", "import", "in", "matches", "meta", "not", "of"),
    *("or", "rule", "strings", "them", "true", "int8", "int16", "int32"),
    *("uint8", "uint16", "uint32"),
}
_logical_signature = constructor(LogicalSignature)
# The trigger of a regex string: none, the regex always runs (an empty
# conjunction is true).
ALWAYS = And(())
YaraString = BodySubsignature | PcreSubsignature

_TOKEN = re.compile(
    rb"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<text>"(?:[^"\\\n]|\\.)*")
  | (?P<number>0x[0-9a-fA-F]+|\d+(?:KB|MB)?)
  | (?P<string_ref>[$#@!][A-Za-z0-9_]*\*?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<operator>==|!=|<=|>=|\.\.|[{}()\[\]:=,<>|~&^+\-*\\%/])
    """,
    re.VERBOSE | re.DOTALL,
)
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b'"': b'"', b"\\": b"\\"}


@dataclass(frozen=True, slots=True)
class YaraDropped:
    """A rule the reference drops without counting it; ``warnings`` are its messages."""

    name: str
    warnings: tuple[str, ...]


class _Isolated(SignatureError):
    """Refused by the reference, but unlike other refusals it leaves the file's
    later rules working: an error found before the condition (a reserved word
    as a rule's name, a bad meta or string definition), an undefined string,
    ``none of``."""


class _Unsupported(Exception):
    """The rule uses YARA beyond what maps onto a logical signature."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: bytes
    at: int


def _tokens(data: bytes) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(data):
        match = _TOKEN.match(data, position)
        if match is None:
            line = data.count(b"\n", 0, position) + 1
            raise SignatureError(f"YARA syntax error at line {line}: unexpected character")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    return tokens


class _Reader:
    """The token stream of one file; raw spans (hex and regex strings) are cut from ``data``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.tokens = _tokens(_blank_raw_spans(data))
        self.index = 0

    def peek(self, offset: int = 0) -> _Token | None:
        position = self.index + offset
        return self.tokens[position] if position < len(self.tokens) else None

    def at(self, text: bytes) -> bool:
        """Whether the next token is ``text``."""
        token = self.peek()
        return token is not None and token.text == text

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise SignatureError("YARA syntax error: unexpected end of file")
        self.index += 1
        return token

    def expect(self, text: bytes) -> _Token:
        token = self.next()
        if token.text != text:
            line = self.data.count(b"\n", 0, token.at) + 1
            raise SignatureError(
                f"YARA syntax error at line {line}: expected {text.decode()!r}, "
                f"got {token.text.decode(errors='replace')!r}"
            )
        return token


_RAW_SPAN = re.compile(rb"(=\s*)(\{[^}]*\}|/(?:[^/\\\n]|\\.)+/[a-z]*)")


def _blank_raw_spans(data: bytes) -> bytes:
    """Hex strings and regular expressions as single ``text``-like tokens.

    Their bodies are replaced by a quoted placeholder of the same length that
    keeps the original's position, so the lexer needs no modes; the parser
    reads the original bytes back from that position.
    """

    def blank(match: re.Match[bytes]) -> bytes:
        body = match[2]
        marker = b"H" if body.startswith(b"{") else b"R"
        return match[1] + b'"' + marker + b" " * (len(body) - 3) + b'"'

    return _RAW_SPAN.sub(blank, data)


def parse_yara_rules(
    data: bytes, name_suffix: str = ""
) -> list[LogicalSignature | SkippedSignature | YaraDropped]:
    """Every rule of a .yar file, in order; raises ``SignatureError`` for a malformed file."""
    reader = _Reader(data)
    results: list[LogicalSignature | SkippedSignature | YaraDropped] = []
    after_error = False
    while reader.peek() is not None:
        token = reader.next()
        if token.text == b"import" or token.text == b"include":
            reader.next()  # the module or file name
            continue
        private = False
        while token.text in (b"private", b"global"):
            private = private or token.text == b"private"
            token = reader.next()
        if token.text != b"rule":
            raise SignatureError(f"YARA syntax error: expected 'rule', got {token.text!r}")
        name = reader.peek().text.decode(errors="replace") if reader.peek() else ""
        try:
            rule = _rule_checked(reader, name_suffix)
        except SignatureError as exc:
            # The reference drops a rule it cannot parse and loads the others,
            # but none of the later ones ever matches.
            results.append(YaraDropped(name, (f"YARA rule {name} dropped: {exc}",)))
            _skip_to_next_rule(reader)
            after_error = after_error or not isinstance(exc, _Isolated)
            continue
        if isinstance(rule, LogicalSignature) and (private or after_error):
            # Loaded and counted by the reference, never reported.
            why = "private rules" if private else "rules after a refused one"
            rule = SkippedSignature(f"YARA rule {name}: {why}", f"YARA {why}")
        results.append(rule)
    return results


def _rule_checked(
    reader: _Reader, suffix: str
) -> LogicalSignature | SkippedSignature | YaraDropped:
    """``_rule``, with text that is not UTF-8 a syntax error and features beyond the
    subset met outside the rule's own check (in a hex string) a skipped rule."""
    name = reader.peek().text.decode(errors="replace") if reader.peek() else ""
    try:
        return _rule(reader, suffix)
    except UnicodeDecodeError as exc:
        raise SignatureError(f"YARA syntax error: text that is not UTF-8 ({exc.reason})") from exc
    except _Unsupported as exc:
        _skip_to_next_rule(reader)
        return SkippedSignature(f"YARA rule {name}: {exc}", f"YARA {exc}")


def _skip_to_next_rule(reader: _Reader) -> None:
    previous = None
    while (token := reader.peek()) is not None:
        if token.text in (b"rule", b"private", b"global") and previous in (None, b"}"):
            return
        previous = reader.next().text


def _rule(reader: _Reader, suffix: str) -> LogicalSignature | SkippedSignature | YaraDropped:
    name = reader.next().text.decode()
    if name in _KEYWORDS:
        raise _Isolated(f"YARA syntax error: unexpected {name!r}, expecting an identifier")
    if reader.at(b":"):  # tags
        while not reader.at(b"{"):
            reader.next()
    start = reader.expect(b"{").at
    strings: dict[str, YaraString | _Refusal] = {}
    section = None
    condition: list[_Token] = []
    depth = 0
    while True:
        token = reader.next()
        if depth == 0 and token.text == b"}":
            break
        if depth == 0 and token.text in (b"meta", b"strings", b"condition") and reader.at(b":"):
            section = token.text
            reader.next()
            continue
        if section in (b"meta", b"strings"):
            if section == b"strings" and token.text.decode() in strings:
                # The reference's words for a string defined twice.
                raise SignatureError(f'unreferenced string "{token.text.decode()}"')
            try:
                _definition(reader, token, section, strings)
            except SignatureError as exc:
                # The reference's parser recovers from errors found before
                # the condition: the file's later rules still work.
                raise _Isolated(str(exc)) from None
        elif section == b"condition":
            depth += token.text == b"("
            depth -= token.text == b")"
            condition.append(token)
        else:
            raise SignatureError(f"YARA syntax error in rule {name}: expected a section")
    source = reader.data[start : token.at + 1].decode(errors="replace")
    full_name = NAME_PREFIX + name + suffix
    if not strings:
        return YaraDropped(
            name,
            (
                "load_oneyara: yara rule contains no supported strings, "
                f"skipping {NAME_PREFIX}{name}",
            ),
        )
    values = list(strings.values())
    subsignatures = [string for string in values if not isinstance(string, _Refusal)]
    if len(subsignatures) < len(values):
        return YaraDropped(name, _refusal_warnings(name, values))
    order = list(strings)
    try:
        reading = _Condition(condition, order)
        expression, file_size = reading.parse()
        unreferenced = [order[index] for index in range(len(order)) if index not in reading.uses]
        if unreferenced:
            raise SignatureError(f'unreferenced string "{unreferenced[0]}"')
    except _Unsupported as exc:
        return SkippedSignature(f"YARA rule {name}: {exc}", f"YARA {exc}")
    for index, offset in reading.positions.items():
        subsignatures[index] = dataclasses.replace(subsignatures[index], offset=offset)
    return _logical_signature(
        full_name,
        TargetDescription(file_size=file_size),
        expression,
        tuple(subsignatures),
        source,
    )


def _definition(
    reader: _Reader, token: _Token, section: bytes, strings: dict[str, YaraString | _Refusal]
) -> None:
    """One ``meta`` or ``strings`` entry, ``token`` its identifier."""
    reader.expect(b"=")
    if section == b"meta":
        reader.next()  # the value: clamkit has no use for metadata
        return
    strings[token.text.decode()] = _string(reader)


class _Refusal(enum.Enum):
    """Why the reference refuses one string, which drops the whole rule."""

    TOO_SHORT = "too short"
    WIDE_REGEX = "wide regular expression"


def _string(reader: _Reader) -> YaraString | _Refusal:
    """One string definition as a subsignature, or why the reference refuses it."""
    token = reader.next()
    if token.kind != "text":
        raise SignatureError(f"YARA syntax error: a string value, got {token.text!r}")
    modifiers = set()
    while (following := reader.peek()) is not None and following.text.decode() in _MODIFIERS:
        modifiers.add(reader.next().text.decode())
    original = reader.data[token.at : token.at + len(token.text)]
    if original.startswith(b"/"):
        return _regex_string(original, modifiers)
    if original.startswith(b"{"):
        if modifiers:
            raise SignatureError("YARA syntax error: hex strings take no modifiers")
        hex_text = _hex_string(original[1:-1].decode())
        return BodySubsignature(ANY_OFFSET, parse_pattern(hex_text))
    literal = _unescape(original[1:-1])
    if len(literal) < MIN_STRING_BYTES:
        return _Refusal.TOO_SHORT
    wide = "wide" in modifiers
    flags = SubsignatureModifiers(
        nocase="nocase" in modifiers,
        wide=wide,
        fullword="fullword" in modifiers,
        ascii=wide and "ascii" in modifiers,
    )
    return BodySubsignature(ANY_OFFSET, parse_pattern(literal.hex(), flags), flags)


def _regex_string(original: bytes, modifiers: set[str]) -> PcreSubsignature | _Refusal:
    """``/regex/flags``: a PCRE subsignature that always runs, as on the reference.

    The reference hands the regex to PCRE without its flags (``i``, ``s``)
    or modifiers (``nocase``, ``fullword``, ``ascii``): all are ignored;
    ``wide`` refuses the rule.  YARA's ``\\/`` is a plain ``/`` there.
    """
    if "wide" in modifiers:
        return _Refusal.WIDE_REGEX
    source = original[1 : original.rindex(b"/")].replace(b"\\/", b"/").decode()
    python_regex, python_flags = translate_pcre(source)
    return PcreSubsignature(
        trigger=ALWAYS,
        source=source,
        flags="",
        offset=ANY_OFFSET,
        python_regex=python_regex,
        python_flags=python_flags,
    )


def _refusal_warnings(name: str, strings: list[YaraString | _Refusal]) -> tuple[str, ...]:
    """The reference's warnings for a rule with refused strings, in its order.

    Every string too short is reported; the first wide regex is reported
    and ends the check.  The closing line counts the strings reported.
    """
    warnings = []
    for string in strings:
        if string is _Refusal.TOO_SHORT:
            warnings.append(f"load_oneyara: string is too short {NAME_PREFIX}{name}")
        elif string is _Refusal.WIDE_REGEX:
            warnings.append(
                "load_oneyara[verify]: wide modifier [w] is not supported for regex subsigs"
            )
            break
    warnings.append(
        f"load_oneyara: clamav cannot support {len(warnings)} input strings, "
        f"skipping {NAME_PREFIX}{name}"
    )
    return tuple(warnings)


def _unescape(text: bytes) -> bytes:
    """A text string's bytes.  As on the reference, an illegal escape (``\\q``,
    ``\\x`` without two hex digits) loses its two characters and the rule
    still loads."""
    out = bytearray()
    position = 0
    while position < len(text):
        char = text[position : position + 1]
        if char != b"\\":
            out += char
            position += 1
            continue
        escaped = text[position + 1 : position + 2]
        digits = text[position + 2 : position + 4]
        if escaped == b"x" and len(digits) == 2 and all(d in _HEX_DIGITS for d in digits):
            out.append(int(digits, 16))
            position += 4
        else:
            out += _ESCAPES.get(escaped, b"")
            position += 2
    return bytes(out)


_HEX_TOKEN = re.compile(
    r"\s*(?:(?P<byte>[0-9a-fA-F?]{2})|(?P<jump>\[\s*(\d*)\s*(?:-\s*(\d*)\s*)?\])|(?P<punct>[(|)]))"
)


def _hex_string(text: str) -> str:
    """YARA hex syntax to ClamAV's: ``[n-m]`` jumps become ``{n-m}``, ``[-]`` becomes ``*``."""
    out = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _HEX_TOKEN.match(text, position)
        if match is None:
            if text[position:].strip().startswith("~"):
                raise _Unsupported("negated hex bytes")
            raise SignatureError(f"YARA syntax error in hex string {{{text}}}")
        if match["byte"]:
            out.append(match["byte"].lower())
        elif match["jump"]:
            low, high = match[3], match[4]
            has_range = "-" in match["jump"]
            if not has_range:
                out.append(f"{{{low}}}")
            elif not low and not high:
                out.append("*")
            else:
                out.append(f"{{{low or 0}-{high}}}")
        else:
            out.append(match["punct"])
        position = match.end()
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _FileSize:
    """A ``filesize`` comparison: allowed only as a conjunct of the whole condition."""

    range: Range


_SIZE_UNITS = {"KB": 1024, "MB": 1024 * 1024}


class _Condition:
    """Recursive descent over a condition's tokens; raises ``_Unsupported`` beyond the subset.

    ``$a at N`` places string ``a`` at offset N, ``$a in (A..B)`` anywhere
    from A to B (when ``a`` is used nowhere else); ``filesize`` comparisons
    joined to the rest by ``and`` become the target description's FileSize
    range.
    """

    def __init__(self, tokens: list[_Token], order: list[str]) -> None:
        self.tokens = tokens
        self.position = 0
        self.order = order
        self.positions: dict[int, Offset] = {}
        self.uses: dict[int, int] = {}

    def parse(self) -> tuple[Expression, Range | None]:
        if not self.tokens:
            raise SignatureError("YARA syntax error: empty condition")
        expression = self._or()
        if self.position != len(self.tokens):
            raise _Unsupported(f"condition syntax {self._peek_text()!r}")
        if any(self.uses[index] > 1 for index in self.positions):
            raise _Unsupported("'at' or 'in' with a string used elsewhere too")
        operands = expression.operands if isinstance(expression, And) else (expression,)
        sizes = [operand.range for operand in operands if isinstance(operand, _FileSize)]
        rest = tuple(operand for operand in operands if not isinstance(operand, _FileSize))
        if not rest or any(_has_file_size(operand) for operand in rest):
            raise _Unsupported("'filesize' other than joined to the condition by 'and'")
        low = max(size.low for size in sizes) if sizes else 0
        highs = [size.high for size in sizes if size.high is not None]
        file_size = Range(low, min(highs) if highs else None) if sizes else None
        return (rest[0] if len(rest) == 1 else And(rest)), file_size

    def _peek_text(self) -> str:
        if self.position < len(self.tokens):
            return self.tokens[self.position].text.decode(errors="replace")
        return ""

    def _take(self, text: str) -> bool:
        if self._peek_text() == text:
            self.position += 1
            return True
        return False

    def _or(self) -> Expression:
        operands = [self._and()]
        while self._take("or"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Expression:
        operands = [self._not()]
        while self._take("and"):
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _not(self) -> Expression:
        if self._take("not"):
            operand = self._not()
            if not isinstance(operand, SubRef):
                raise _Unsupported("'not' of anything but a string")
            return Count(operand, "=", 0)
        return self._primary()

    def _index(self, identifier: str) -> int:
        if identifier not in self.order:
            raise _Isolated(f'undefined string "{identifier}"')
        index = self.order.index(identifier)
        self.uses[index] = self.uses.get(index, 0) + 1
        return index

    def _span(self) -> Offset:
        """``(a..b)``: a start anywhere from a to b, ClamAV's ``a,b-a`` offset."""
        if not self._take("("):
            raise _Unsupported(f"'in' followed by {self._peek_text()!r}")
        low = self._number()
        if not self._take(".."):
            raise _Unsupported("'in' range syntax")
        high = self._number()
        if not self._take(")") or high < low:
            raise _Unsupported("'in' range syntax")
        return Offset(OffsetKind.ABSOLUTE, low, high - low)

    def _size_range(self) -> Range:
        operator = self._peek_text()
        self.position += 1
        text = self._peek_text()
        self.position += 1
        unit = _SIZE_UNITS.get(text[-2:], 1)
        digits = text[:-2] if unit > 1 else text
        if not is_decimal(digits):
            raise _Unsupported(f"filesize compared with {text!r}")
        value = int(digits) * unit
        ranges = {
            "<": Range(0, value - 1),
            "<=": Range(0, value),
            ">": Range(value + 1, None),
            ">=": Range(value, None),
            "==": Range(value, value),
        }
        if operator not in ranges or (value == 0 and operator == "<"):
            raise _Unsupported(f"filesize comparison {operator!r}")
        return ranges[operator]

    def _primary(self) -> Expression:
        text = self._peek_text()
        if not text:
            raise SignatureError("YARA syntax error: incomplete condition")
        if text == "(":
            self.position += 1
            expression = self._or()
            if not self._take(")"):
                raise SignatureError("YARA syntax error: ')' expected")
            return expression
        if text.startswith("$") and not text.endswith("*"):
            self.position += 1
            index = self._index(text)
            if self._take("at"):
                self.positions[index] = Offset(OffsetKind.ABSOLUTE, self._number())
            elif self._take("in"):
                self.positions[index] = self._span()
            return SubRef(index)
        if text == "filesize":
            self.position += 1
            return _FileSize(self._size_range())  # type: ignore[return-value]
        if text.startswith("#"):
            self.position += 1
            return self._count(SubRef(self._index("$" + text[1:])))
        if text in ("any", "all") or is_decimal(text):
            self.position += 1
            return self._of(text)
        if text == "none":
            raise _Isolated('undefined identifier "none"')
        if "." in text:
            # ClamAV's YARA has no modules: the reference refuses the rule.
            raise SignatureError(f'undefined identifier "{text.split(".")[0]}"')
        raise _Unsupported(f"condition term {text!r}")

    def _count(self, operand: SubRef) -> Expression:
        operator = self._peek_text()
        self.position += 1
        number = self._number()
        if operator in ("==", "<", ">"):
            return Count(operand, "=" if operator == "==" else operator, number)
        if operator == ">=" and number > 0:
            return Count(operand, ">", number - 1)
        if operator == "<=":
            return Count(operand, "<", number + 1)
        raise _Unsupported(f"string count comparison {operator!r}")

    def _number(self) -> int:
        text = self._peek_text()
        self.position += 1
        if is_decimal(text):
            return int(text)
        if text.startswith("0x"):
            return int(text, 16)
        raise _Unsupported(f"number {text!r}")

    def _of(self, quantifier: str) -> Expression:
        if not self._take("of"):
            raise _Unsupported(f"condition term {quantifier!r}")
        members = self._set()
        refs = tuple(SubRef(index) for index in members)
        if quantifier == "all":
            return refs[0] if len(refs) == 1 else And(refs)
        needed = 1 if quantifier == "any" else int(quantifier)
        if needed > len(refs):
            raise _Unsupported(f"{needed} of {len(refs)} strings")
        if needed == 1:
            return refs[0] if len(refs) == 1 else Or(refs)
        return Count(Or(refs), ">", needed - 1, needed)

    def _set(self) -> list[int]:
        if self._take("them"):
            return [self._index(name) for name in self.order]
        if not self._take("("):
            raise _Unsupported(f"string set {self._peek_text()!r}")
        members: list[int] = []
        while True:
            text = self._peek_text()
            self.position += 1
            if text.endswith("*"):
                members += [self._index(name) for name in self.order if name.startswith(text[:-1])]
            else:
                members.append(self._index(text))
            if self._take(")"):
                return sorted(set(members))
            if not self._take(","):
                raise SignatureError("YARA syntax error in a string set")


def _has_file_size(expression: object) -> bool:
    if isinstance(expression, _FileSize):
        return True
    return any(_has_file_size(operand) for operand in getattr(expression, "operands", ()))
