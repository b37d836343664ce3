"""PCRE subsignatures ``[Offset:]Trigger/regex/flags`` and their translation to ``re``.

Strategy: ``parse_pcre_subsignature`` splits the text the way the reference
does (the offset before a ':' outside the regex, the trigger before the first
'/', the flags after the last) and validates trigger, flags and offset.
``translate_pcre`` then rewrites the PCRE2 pattern (8-bit, non-UTF, as ClamAV
compiles it) into a Python bytes pattern with a small recursive-descent parser
that emits every construct explicitly:

- literals become ``\\xHH`` (letters and digits stay readable); character
  classes are computed as byte sets (POSIX names, ``\\h``, ``\\v`` included)
  and emitted as ranges, so Python's set syntax quirks never apply;
- ``.``, ``^``, ``$``, ``\\Z`` are emitted for the option state in force at
  that point (``s``, ``m``, ``E``), the ``x`` option is applied while reading,
  ``U`` swaps greedy and lazy quantifiers; only caseless matching is left to
  Python, as ``(?i:...)`` around the atoms it covers (or ``re.I`` when the
  whole pattern is caseless), which keeps backreferences caseless too;
- inline options ``(?i)`` last to the end of their group, as in PCRE.

Constructs Python cannot express (``\\G``, ``\\K``, ``\\p``, recursion,
callouts, backtracking verbs, branch reset, ...) and patterns that ``re``
refuses after translation give ``python_regex=None``; the loader skips such
signatures.  Text that PCRE2 itself rejects (unbalanced parentheses, unknown
escapes, bad quantifiers, out-of-order ranges) raises ``SignatureError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from clamkit.signatures.expression import parse_expression
from clamkit.signatures.model import ANY_OFFSET, PcreSubsignature, SignatureError
from clamkit.signatures.offsets import parse_offset

__all__ = ["parse_pcre_subsignature", "split_offset", "translate_pcre"]

PCRE_FLAGS = "ismxAEU"  # compile options
CLAMAV_FLAGS = "gre"  # global, rolling, encompass
MAX_QUANTIFIER = 65535  # PCRE2's limit for {n,m}


def split_offset(text: str) -> tuple[str | None, str]:
    """Split ``Offset:rest`` at the first ':' outside a ``/.../`` regex."""
    inside = False
    previous = ""
    for position, char in enumerate(text):
        if char == ":" and not inside:
            return text[:position], text[position + 1 :]
        if char == "/" and previous != "\\":
            inside = not inside
        previous = char
    return None, text


def parse_pcre_subsignature(text: str, index: int) -> PcreSubsignature:
    """Parse subsignature number ``index`` (its trigger may use only earlier ones)."""
    offset_text, body = split_offset(text)
    if offset_text is not None and split_offset(body)[0] is not None:
        raise SignatureError(f"PCRE subsignature {text!r} has more than one offset")
    first, last = body.find("/"), body.rfind("/")
    if first == last:
        raise SignatureError(f"PCRE subsignature {text!r} needs /regex/ between slashes")
    trigger_text, source, flags = body[:first], body[first + 1 : last], body[last + 1 :]
    if not trigger_text:
        raise SignatureError(f"PCRE subsignature {text!r} has no trigger before the regex")
    if not source:
        raise SignatureError(f"PCRE subsignature {text!r} has an empty regex")
    trigger = parse_expression(trigger_text, index)
    unknown = set(flags) - set(PCRE_FLAGS + CLAMAV_FLAGS)
    if unknown:
        raise SignatureError(f"PCRE subsignature {text!r} has unknown flag(s) {''.join(unknown)}")
    offset = ANY_OFFSET if offset_text is None else parse_offset(offset_text)
    python_regex, python_flags = translate_pcre(source, flags)
    return PcreSubsignature(
        trigger=trigger,
        source=source,
        flags=flags,
        offset=offset,
        python_regex=python_regex,
        python_flags=python_flags,
        rolling="r" in flags,
        encompass="e" in flags,
    )


# ---------------------------------------------------------------------------
# Translation


class _Untranslatable(Exception):
    """Valid PCRE that Python's ``re`` cannot express."""


@dataclass(frozen=True, slots=True)
class _Options:
    caseless: bool
    multiline: bool
    dotall: bool
    extended: bool
    ungreedy: bool


@dataclass(slots=True)
class _Item:
    text: str
    caseless: bool  # option state the atom was read under
    leaf: bool  # a single atom that (?i:...) may wrap; groups handle their own


def translate_pcre(source: str, flags: str = "") -> tuple[bytes | None, int]:
    """(Python bytes pattern or None if untranslatable, ``re`` flags) for a PCRE."""
    pattern = _to_bytes(source)
    options = _Options(
        caseless="i" in flags,
        multiline="m" in flags,
        dotall="s" in flags,
        extended="x" in flags,
        ungreedy="U" in flags,
    )
    translator = _Translator(pattern, options, dollar_endonly="E" in flags)
    try:
        text = translator.translate()
    except (_Untranslatable, RecursionError):
        return None, 0
    python_flags = re.IGNORECASE if options.caseless else 0
    try:
        re.compile(text.encode("ascii"), python_flags)
    except (re.error, OverflowError, RecursionError):
        return None, 0
    return text.encode("ascii"), python_flags


def _to_bytes(source: str) -> bytes:
    # ClamAV compiles the raw bytes of the database line; a line read as
    # latin-1 maps back exactly, anything wider was UTF-8 on disk, and bytes
    # that were not UTF-8 arrive as surrogate escapes.
    try:
        return source.encode("latin-1")
    except UnicodeEncodeError:
        return source.encode("utf-8", "surrogateescape")


_SPACE = frozenset(b" \t\n\v\f\r")
_DIGITS = frozenset(b"0123456789")
_OCTAL = frozenset(b"01234567")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_NAME_START = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_ALL = frozenset(range(256))
_QUANTIFIER = re.compile(rb"\{(\d+)(,(\d*))?\}")
_SIGNED_NUMBER = re.compile(rb"[+-]?\d+")
_NAMED_GROUP = re.compile(rb"\?(P?<[A-Za-z_]|')")


def _span(low: int, high: int) -> frozenset[int]:
    return frozenset(range(low, high + 1))


_LOWER = _span(0x61, 0x7A)
_UPPER = _span(0x41, 0x5A)
_DIGIT = _span(0x30, 0x39)
_SPACES = frozenset(b"\t\n\v\f\r ")
_HSPACE = frozenset(b"\t \xa0")
_VSPACE = frozenset(b"\n\v\f\r\x85")
_PUNCT = frozenset(range(0x21, 0x7F)) - _LOWER - _UPPER - _DIGIT
_POSIX = {
    b"alnum": _LOWER | _UPPER | _DIGIT,
    b"alpha": _LOWER | _UPPER,
    b"ascii": _span(0, 0x7F),
    b"blank": frozenset(b" \t"),
    b"cntrl": _span(0, 0x1F) | {0x7F},
    b"digit": _DIGIT,
    b"graph": _span(0x21, 0x7E),
    b"lower": _LOWER,
    b"print": _span(0x20, 0x7E),
    b"punct": _PUNCT,
    b"space": _SPACES,
    b"upper": _UPPER,
    b"word": _WORD,
    b"xdigit": frozenset(_HEX),
}
_CLASS_ESCAPES = {
    ord("d"): _DIGIT,
    ord("w"): _WORD,
    ord("s"): _SPACES,
    ord("h"): _HSPACE,
    ord("v"): _VSPACE,
}
_SIMPLE_ESCAPES = {
    ord("a"): 0x07,
    ord("e"): 0x1B,
    ord("f"): 0x0C,
    ord("n"): 0x0A,
    ord("r"): 0x0D,
    ord("t"): 0x09,
}


def _literal(byte: int) -> str:
    char = chr(byte)
    return char if char.isascii() and char.isalnum() else f"\\x{byte:02x}"


def _set_text(members: frozenset[int], negated: bool) -> str:
    if not members:
        return r"(?s:.)" if negated else "(?!)"
    ranges = []
    ordered = sorted(members)
    start = previous = ordered[0] if ordered else 0
    for byte in [*ordered[1:], -2]:  # -2 closes the last range
        if byte != previous + 1:
            ranges.append(
                f"\\x{start:02x}" if start == previous else f"\\x{start:02x}-\\x{previous:02x}"
            )
            start = byte
        previous = byte
    return "[" + ("^" if negated else "") + "".join(ranges) + "]"


class _Translator:
    def __init__(self, pattern: bytes, options: _Options, *, dollar_endonly: bool) -> None:
        self.pattern = pattern
        self.position = 0
        self.base = options
        self.dollar_endonly = dollar_endonly
        self.opened = 0  # capturing groups opened so far
        self.total_groups = _count_groups(pattern)

    # -- reading helpers -------------------------------------------------

    def _peek(self, offset: int = 0) -> int | None:
        index = self.position + offset
        return self.pattern[index] if index < len(self.pattern) else None

    def _startswith(self, text: bytes) -> bool:
        return self.pattern.startswith(text, self.position)

    def _error(self, message: str) -> SignatureError:
        return SignatureError(
            f"invalid PCRE {self.pattern.decode('latin-1')!r} at offset {self.position}: {message}"
        )

    def _skip_extended(self, options: _Options) -> None:
        if not options.extended:
            return
        while self.position < len(self.pattern):
            byte = self.pattern[self.position]
            if byte in _SPACE:
                self.position += 1
            elif byte == ord("#"):
                end = self.pattern.find(b"\n", self.position)
                self.position = len(self.pattern) if end < 0 else end + 1
            else:
                return

    # -- structure ---------------------------------------------------------

    def translate(self) -> str:
        text = self._alternation(self.base)
        if self.position < len(self.pattern):
            raise self._error("unmatched ')'")
        return text

    def _alternation(self, options: _Options) -> str:
        """Alternatives up to an unmatched ')' or the end; options changed inline persist."""
        branches: list[list[_Item]] = [[]]
        while True:
            self._skip_extended(options)
            byte = self._peek()
            if byte is None or byte == ord(")"):
                break
            if byte == ord("|"):
                self.position += 1
                branches.append([])
                continue
            if self._startswith(b"(?#"):
                end = self.pattern.find(b")", self.position)
                if end < 0:
                    raise self._error("missing ) after comment")
                self.position = end + 1
                continue
            changed = self._inline_options(options)
            if changed is not None:
                options = changed
                continue
            if self._startswith(b"\\Q") or self._startswith(b"\\E"):
                # Each quoted byte is an atom: a quantifier binds to the last.
                quoted = [_Item(_literal(b), options.caseless, leaf=True) for b in self._quoted()]
                branches[-1].extend(quoted[:-1])
                if not quoted:
                    continue
                item = quoted[-1]
            else:
                item = self._atom(options)
            self._quantifier(item, options)
            branches[-1].append(item)
        return "|".join(self._sequence(branch) for branch in branches)

    def _sequence(self, items: list[_Item]) -> str:
        parts: list[str] = []
        run: list[str] = []
        run_caseless = self.base.caseless
        for item in items:
            wrap = item.leaf and item.caseless != self.base.caseless
            if wrap and run and run_caseless == item.caseless:
                run.append(item.text)
                continue
            if run:
                parts.append(f"(?{'i' if run_caseless else '-i'}:{''.join(run)})")
                run = []
            if wrap:
                run, run_caseless = [item.text], item.caseless
            else:
                parts.append(item.text)
        if run:
            parts.append(f"(?{'i' if run_caseless else '-i'}:{''.join(run)})")
        return "".join(parts)

    def _inline_options(self, options: _Options) -> _Options | None:
        """Consume ``(?imsxU-imsxU)`` and return the new options, else None."""
        if not self._startswith(b"(?"):
            return None
        end = self.position + 2
        while end < len(self.pattern) and self.pattern[end] in b"imnsxUJX-^":
            end += 1
        if end >= len(self.pattern) or self.pattern[end] != ord(")"):
            return None
        letters = self.pattern[self.position + 2 : end]
        self.position = end + 1
        return self._apply_options(options, letters)

    def _apply_options(self, options: _Options, letters: bytes) -> _Options:
        if b"n" in letters or b"J" in letters or b"X" in letters:
            raise _Untranslatable
        if letters.startswith(b"^"):
            options = replace(
                options, caseless=False, multiline=False, dotall=False, extended=False
            )
            letters = letters[1:]
        if letters.count(b"-") > 1 or b"^" in letters:
            raise self._error("bad option letters")
        on, _, off = letters.partition(b"-")
        fields = {
            "i": "caseless",
            "m": "multiline",
            "s": "dotall",
            "x": "extended",
            "U": "ungreedy",
        }
        changes = {fields[chr(b)]: True for b in on}
        changes.update({fields[chr(b)]: False for b in off})
        return replace(options, **changes)

    # -- atoms -------------------------------------------------------------

    def _atom(self, options: _Options) -> _Item:
        byte = self.pattern[self.position]
        self.position += 1
        leaf = _Item("", options.caseless, leaf=True)
        if byte == ord("("):
            return _Item(self._group(options), options.caseless, leaf=False)
        if byte == ord("["):
            leaf.text = self._class()
        elif byte == ord("."):
            leaf.text = "(?s:.)" if options.dotall else "."
        elif byte == ord("^"):
            leaf.text = r"(?:\A|(?<=\n)(?!\Z))" if options.multiline else r"\A"
        elif byte == ord("$"):
            leaf.text = self._dollar(options)
        elif byte == ord("\\"):
            leaf.text = self._escape(options)
        elif byte in b"*+?" or (
            byte == ord("{") and self._quantifier_ahead(self.position - 1) is not None
        ):
            raise self._error("quantifier does not follow a repeatable item")
        else:
            leaf.text = _literal(byte)
        return leaf

    def _dollar(self, options: _Options) -> str:
        if options.multiline:
            return r"(?=\n|\Z)"
        return r"\Z" if self.dollar_endonly else r"(?=\n?\Z)"

    def _group(self, options: _Options) -> str:
        if self._peek() == ord("*"):
            raise _Untranslatable  # backtracking verbs such as (*FAIL), (*UTF)
        if self._peek() != ord("?"):
            self.opened += 1
            return "(" + self._group_body(options) + ")"
        self.position += 1
        marker = self._peek()
        for prefix, python in (
            (b":", "(?:"),
            (b">", "(?>"),
            (b"=", "(?="),
            (b"!", "(?!"),
            (b"<=", "(?<="),
            (b"<!", "(?<!"),
        ):
            if self._startswith(prefix):
                self.position += len(prefix)
                return python + self._group_body(options) + ")"
        if self._startswith(b"P<") or self._startswith(b"<") or self._startswith(b"'"):
            self.position += 2 if marker == ord("P") else 1
            name = self._name(b"'" if marker == ord("'") else b">")
            self.opened += 1
            return f"(?P<{name}>" + self._group_body(options) + ")"
        if self._startswith(b"P="):
            self.position += 2
            name = self._name(b")")
            return f"(?P={name})"
        if marker == ord("("):
            return self._conditional(options)
        letters_end = self.position
        while letters_end < len(self.pattern) and self.pattern[letters_end] in b"imnsxUJX-^":
            letters_end += 1
        if letters_end < len(self.pattern) and self.pattern[letters_end] == ord(":"):
            letters = self.pattern[self.position : letters_end]
            self.position = letters_end + 1
            return "(?:" + self._group_body(self._apply_options(options, letters)) + ")"
        if marker is not None and marker in b"|R&+-0123456789PC":
            raise _Untranslatable  # branch reset, recursion, subroutine calls, callouts
        raise self._error("unrecognized character after (?")

    def _group_body(self, options: _Options) -> str:
        text = self._alternation(options)
        if self._peek() != ord(")"):
            raise self._error("missing closing parenthesis")
        self.position += 1
        return text

    def _name(self, terminator: bytes) -> str:
        end = self.pattern.find(terminator, self.position)
        name = self.pattern[self.position : end] if end >= 0 else b""
        if not name or name[0] not in _NAME_START or any(b not in _WORD for b in name):
            raise self._error("bad group name")
        self.position = end + 1
        return name.decode("ascii")

    def _conditional(self, options: _Options) -> str:
        self.position += 1  # the '(' of the condition
        end = self.pattern.find(b")", self.position)
        if end < 0:
            raise self._error("malformed condition")
        condition = self.pattern[self.position : end]
        if condition[:1] in (b"<", b"'"):
            condition = condition[1:-1]
        if condition[:1] in (b"+", b"-") and condition[1:].isdigit():
            number = int(condition[1:])
            condition = str(
                self.opened + number if condition[:1] == b"+" else self.opened - number + 1
            ).encode()
        if (
            not condition
            or condition[:1] in (b"?", b"*")
            or condition == b"DEFINE"
            or condition.startswith(b"R")
            or any(b not in _WORD for b in condition)
        ):
            raise _Untranslatable  # assertion, recursion and DEFINE conditions
        self.position = end + 1
        return f"(?({condition.decode('ascii')})" + self._group_body(options) + ")"

    def _quantifier_ahead(self, position: int) -> tuple[int, int | None, int] | None:
        """``{n}``, ``{n,}`` or ``{n,m}`` at ``position``: (min, max, length) or None."""
        match = _QUANTIFIER.match(self.pattern, position)
        if match is None:
            return None
        low = int(match.group(1))
        high = low if match.group(2) is None else (int(match.group(3)) if match.group(3) else None)
        if low > MAX_QUANTIFIER or (high is not None and high > MAX_QUANTIFIER):
            raise self._error("number too big in {} quantifier")
        if high is not None and high < low:
            raise self._error("numbers out of order in {} quantifier")
        return low, high, match.end() - position

    def _quantifier(self, item: _Item, options: _Options) -> None:
        self._skip_extended(options)
        while self._startswith(b"\\E"):  # a lone \E is ignored, even before a quantifier
            self.position += 2
        byte = self._peek()
        if byte is None:
            return
        if byte in b"*+?":
            text = chr(byte)
            self.position += 1
        elif byte == ord("{"):
            found = self._quantifier_ahead(self.position)
            if found is None:
                return
            low, high, length = found
            text = f"{{{low}}}" if high == low else f"{{{low},{'' if high is None else high}}}"
            self.position += length
        else:
            return
        if not item.text:
            raise self._error("quantifier does not follow a repeatable item")
        lazy = possessive = False
        if self._peek() == ord("?"):
            lazy = True
            self.position += 1
        elif self._peek() == ord("+"):
            possessive = True
            self.position += 1
        if options.ungreedy and not possessive:
            lazy = not lazy
        suffix = "+" if possessive else "?" if lazy else ""
        item.text = f"(?:{item.text}){text}{suffix}"

    # -- escapes -------------------------------------------------------------

    def _escape(self, options: _Options) -> str:
        byte = self._peek()
        if byte is None:
            raise self._error("\\ at end of pattern")
        self.position += 1
        char = chr(byte)
        if char in "dDwWsS":
            return "\\" + char
        if char in "hHvV":
            return _set_text(_CLASS_ESCAPES[ord(char.lower())], negated=char.isupper())
        if char == "R":
            return r"(?>\r\n|[\n-\r\x85])"
        if char == "N":
            if self._peek() == ord("{"):
                raise _Untranslatable
            return r"[^\n]"
        if char in "bB":
            return "\\" + char
        if char == "A":
            return r"\A"
        if char == "z":
            return r"\Z"
        if char == "Z":
            return r"(?=\n?\Z)"
        if char == "C":
            return "(?s:.)"
        if char in "GKXpP":
            raise _Untranslatable
        if char in "gk":
            return self._reference(char)
        if "1" <= char <= "9":
            reference = self._numbered_reference(byte)
            if reference is not None:
                return reference
        value = self._character_escape(byte, in_class=False)
        return _literal(value)

    def _quoted(self) -> bytes:
        """Consume ``\\Q...\\E`` (or a lone ``\\E``) and return the quoted bytes."""
        self.position += 2
        if self.pattern[self.position - 1] == ord("E"):
            return b""
        end = self.pattern.find(b"\\E", self.position)
        end = len(self.pattern) if end < 0 else end
        quoted = self.pattern[self.position : end]
        self.position = min(end + 2, len(self.pattern))
        return quoted

    def _numbered_reference(self, first: int) -> str | None:
        end = self.position
        while end < len(self.pattern) and self.pattern[end] in _DIGITS:
            end += 1
        number = int(self.pattern[self.position - 1 : end])
        if number < 10 or first in b"89" or number <= self.total_groups:
            self.position = end
            return f"(?:\\{number})"
        return None  # read as octal by the caller

    def _reference(self, kind: str) -> str:
        opener = self._peek()
        closers = {ord("<"): b">", ord("'"): b"'", ord("{"): b"}"}
        if kind == "g" and opener in (ord("<"), ord("'")):
            raise _Untranslatable  # subroutine call
        if opener in closers:
            self.position += 1
            end = self.pattern.find(closers[opener], self.position)
            if end < 0:
                raise self._error("unterminated reference")
            target = self.pattern[self.position : end]
            self.position = end + 1
        elif kind == "g":
            match = _SIGNED_NUMBER.match(self.pattern, self.position)
            if match is None:
                raise self._error("\\g is not followed by a reference")
            target = match.group()
            self.position = match.end()
        else:
            raise self._error("\\k is not followed by a name")
        if _SIGNED_NUMBER.fullmatch(target):
            number = int(target)
            if target[:1] == b"+":
                number += self.opened
            elif number < 0:
                number += self.opened + 1
            if number <= 0:
                raise self._error("invalid group reference")
            return f"(?:\\{number})"
        if not target or target[0] not in _NAME_START or any(b not in _WORD for b in target):
            raise self._error("bad group name in reference")
        return f"(?P={target.decode('ascii')})"

    def _character_escape(self, byte: int, *, in_class: bool) -> int:
        """The byte a single-character escape stands for (after the backslash)."""
        if byte in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[byte]
        if byte == ord("b") and in_class:
            return 0x08
        if byte == ord("x"):
            return self._hex_escape()
        if byte == ord("o"):
            if self._peek() != ord("{"):
                raise self._error("missing { after \\o")
            end = self.pattern.find(b"}", self.position)
            digits = self.pattern[self.position + 1 : end] if end >= 0 else b""
            if not digits or any(b not in _OCTAL for b in digits):
                raise self._error("bad \\o{} escape")
            self.position = end + 1
            return self._checked(int(digits, 8))
        if byte == ord("c"):
            control = self._peek()
            if control is None or control > 0x7F:
                raise self._error("\\c must be followed by a printable ASCII character")
            self.position += 1
            return ord(chr(control).upper()) ^ 0x40
        if byte in _OCTAL:
            end = self.position
            while (
                end < len(self.pattern) and end < self.position + 2 and self.pattern[end] in _OCTAL
            ):
                end += 1
            value = int(self.pattern[self.position - 1 : end], 8)
            self.position = end
            return self._checked(value)
        if byte in b"89" and in_class:
            return byte
        if chr(byte).isascii() and chr(byte).isalnum():
            raise self._error(f"unrecognized character follows \\: {chr(byte)!r}")
        return byte

    def _hex_escape(self) -> int:
        if self._peek() == ord("{"):
            end = self.pattern.find(b"}", self.position)
            digits = self.pattern[self.position + 1 : end] if end >= 0 else b""
            if not digits or any(b not in _HEX for b in digits):
                raise self._error("bad \\x{} escape")
            self.position = end + 1
            return self._checked(int(digits, 16))
        end = self.position
        while end < len(self.pattern) and end < self.position + 2 and self.pattern[end] in _HEX:
            end += 1
        value = int(self.pattern[self.position : end], 16) if end > self.position else 0
        self.position = end
        return value

    def _checked(self, value: int) -> int:
        if value > 0xFF:
            raise self._error("character code point value is too large")
        return value

    # -- character classes -------------------------------------------------

    def _class(self) -> str:
        negated = self._peek() == ord("^")
        if negated:
            self.position += 1
        members: set[int] = set()
        first = True
        while True:
            byte = self._peek()
            if byte is None:
                raise self._error("missing terminating ] for character class")
            if byte == ord("]") and not first:
                self.position += 1
                break
            first = False
            single = self._class_member(members)
            if single is None:
                continue
            if self._peek() == ord("-") and self._peek(1) not in (None, ord("]")):
                self.position += 1
                end = self._class_member(members)
                if end is None:
                    raise self._error("invalid range in character class")
                if end < single:
                    raise self._error("range out of order in character class")
                members.update(range(single, end + 1))
            else:
                members.add(single)
        return _set_text(frozenset(members), negated)

    def _class_member(self, members: set[int]) -> int | None:
        """Read one class element: a byte (returned) or a set (added, None returned)."""
        byte = self.pattern[self.position]
        self.position += 1
        if byte == ord("[") and self._peek() in (ord(":"), ord("."), ord("=")):
            end = self.pattern.find(bytes([self.pattern[self.position]]) + b"]", self.position + 1)
            if end >= 0:
                kind = self.pattern[self.position]
                name = self.pattern[self.position + 1 : end]
                if kind != ord(":"):
                    raise self._error("POSIX collating elements are not supported")
                negate = name.startswith(b"^")
                found = _POSIX.get(name[1:] if negate else name)
                if found is None:
                    raise self._error("unknown POSIX class name")
                members.update(_ALL - found if negate else found)
                self.position = end + 2
                return None
        if byte != ord("\\"):
            return byte
        escape = self._peek()
        if escape is None:
            raise self._error("\\ at end of pattern")
        self.position += 1
        char = chr(escape)
        if char in "dDwWsShHvV":
            found = _CLASS_ESCAPES[ord(char.lower())]
            members.update(_ALL - found if char.isupper() else found)
            return None
        if char in "QE":
            self.position -= 2
            members.update(self._quoted())
            return None
        if char in "pPX":
            raise _Untranslatable
        if char in "BRNgk":
            raise self._error(f"escape \\{char} is not allowed in a character class")
        return self._character_escape(escape, in_class=True)


def _count_groups(pattern: bytes) -> int:
    """Capturing groups in the whole pattern (PCRE decides ``\\10`` against it)."""
    count = 0
    position = 0
    in_class = False
    while position < len(pattern):
        byte = pattern[position]
        if byte == ord("\\"):
            position += 2
            continue
        if in_class:
            in_class = byte != ord("]")
        elif byte == ord("["):
            in_class = True
            if pattern[position + 1 : position + 2] == b"]":
                position += 1
        elif byte == ord("(") and (
            pattern[position + 1 : position + 2] not in (b"?", b"*")
            or _NAMED_GROUP.match(pattern, position + 1)
        ):
            count += 1
        position += 1
    return count
