"""ClamAV's hex body-pattern language: text in, ``model.Pattern`` out.

Strategy: a single left-to-right pass turns the text into tokens (a byte, a
gap, a boundary mark, an alternative group), then the tokens are checked
against the rules ClamAV 1.4.6 (the reference) enforces when it loads a
database, and finally adjacent literal bytes are merged into one ``Literal``.
The checks need to know where the reference cuts a pattern into separately
matched *parts*: at ``*`` and at every ``{...}`` gap except ``{n}`` with
0 < n < 128, which the reference rewrites into n ``??`` before anything else.

Rules observed on the reference, where its documentation is silent or differs:
- ``{0}``, ``{-0}`` and ``{n-0}`` are unbounded (a maximum of 0 means "none"),
  so ``{0}`` behaves like ``*``; ``{n-m}`` with n > m is accepted and never
  matches.  ``{n}`` with n >= 128 is a gap between parts, like ``{n-n}``.
- Every part needs two consecutive fixed bytes (after ``::w`` widening, which
  turns each byte into a fixed byte plus 00); a part that is a bare gap,
  ``*6865``, ``6865*`` and ``**`` are refused.
- A pattern made only of hex digits needs 3 bytes where the reference hands it
  to its Boyer-Moore matcher (.db, and .ndb targets 0 and 1 with a fixed
  offset): the caller passes ``min_plain_length=3`` there.
- ``[x-y]`` (also ``[n]`` and ``[n-]``, meaning ``[n-n]``) needs x <= y <= 32
  and one single byte (hex, nibble or ``??``) on one side, at the very start
  or end of its part; the other side is the HEXSIG.
- Alternatives may mix lengths, ``??`` and nibbles ("generic") and may hold
  ``{n}`` (n < 128) but no unbounded gap; an empty option matches no bytes,
  except that the first option may not be empty.  Negation is refused for
  generic groups and for any group in a subsignature with modifiers.
- ``(B)`` and ``(L)`` (upper case only) may stand anywhere; what they mean
  depends on their place in the part (see ``clamkit.engine.bodyregex``).
Deliberate differences: the reference also takes ``{}``/``{-}`` (as ``*``),
``{ 3}``, ``{+3}`` and nested ``((aa|bb))``; those are refused here.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from clamkit.signatures.construct import constructor
from clamkit.signatures.model import (
    Alternatives,
    Boundary,
    BoundaryMark,
    Gap,
    Literal,
    Masked,
    Pattern,
    PatternElement,
    SignatureError,
    SubsignatureModifiers,
    is_decimal,
)

__all__ = ["INLINE_GAP_LIMIT", "MAX_ANCHORED_GAP", "is_part_split", "parse_pattern"]

# ``{n}`` below this is rewritten by the reference into n ``??`` inside a part.
INLINE_GAP_LIMIT = 128

# The widest ``[x-y]`` the reference accepts.
MAX_ANCHORED_GAP = 32

# The reference reads gap bounds as C ints and wraps larger values; they are refused here.
_MAX_GAP = 2**31 - 1

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# Most of a real database is long runs of plain hex: those are read in one go.
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2})+")

OptionElement = Literal | Masked
_literal = constructor(Literal)
_pattern = constructor(Pattern)


def is_part_split(element: PatternElement) -> bool:
    """True for a gap at which the reference cuts the pattern into parts."""
    if not isinstance(element, Gap) or element.anchored:
        return False
    return not (element.min == element.max and 0 < element.min < INLINE_GAP_LIMIT)


def parse_pattern(
    text: str,
    modifiers: SubsignatureModifiers | None = None,
    *,
    min_plain_length: int = 2,
) -> Pattern:
    """Parse one hex pattern; raise ``SignatureError`` saying what and where.

    ``modifiers`` are those of a logical subsignature (they change what the
    reference accepts: ``::w`` widens bytes, any modifier forbids negation).
    ``min_plain_length`` is the minimum size of a pattern made only of hex
    digits: 3 where the reference uses Boyer-Moore for it (.db, .ndb target 0,
    .ndb target 1 with an offset other than ``*`` and without a shift).
    """
    wide = modifiers is not None and modifiers.wide
    # ::wa adds the wide form to the plain one; both must pass.
    variants = (True, False) if wide and modifiers and modifiers.ascii else (wide,)
    plain = _plain_hex(text)
    if plain is not None:
        # The common case, plain hex: only its length can be wrong.
        size = len(plain) * (1 if False in variants else 2)
        needed = max(min_plain_length, 2)
        if size < needed:
            raise SignatureError(
                f"pattern {_shorten(text)} is too short: plain hex needs {needed} bytes here"
                + (" after ::w widening" if wide else "")
            )
        return _pattern((_literal(plain),), text)
    parser = _Parser(text)
    tokens = parser.tokens()
    if not tokens:
        raise SignatureError("empty pattern")
    if modifiers is not None and _any_modifier(modifiers):
        for token in tokens:
            if isinstance(token.element, Alternatives) and token.element.negated:
                raise parser.error(
                    "negated alternatives are not allowed with ::i, ::w, ::f or ::a", token.start
                )
    parts = _parts(tokens, parser)
    for variant_wide in variants:
        for number, part in enumerate(parts, 1):
            _check_part(part, number, len(parts), variant_wide, parser)
    return Pattern(tuple(_merge([token.element for token in tokens])), text)


def _plain_hex(text: str) -> bytes | None:
    """The bytes of a pattern made only of hex digit pairs, else None."""
    try:
        data = bytes.fromhex(text)
    except ValueError:
        return None
    # fromhex skips whitespace between pairs: the length shows it.
    return data if data and len(data) * 2 == len(text) else None


class _Token(NamedTuple):
    """One parsed element and where it came from (for messages and part rules)."""

    element: PatternElement
    start: int
    end: int
    # Written as a range, {n-n} splits parts although it equals an inline {n}.
    split: bool


class _Parser:
    def __init__(self, text: str, origin: int = 0, whole: str | None = None) -> None:
        self.text = text
        self.pos = 0
        # Options are parsed by a sub-parser; messages still point into the pattern.
        self.origin = origin
        self.whole = text if whole is None else whole

    def error(self, message: str, at: int | None = None) -> SignatureError:
        where = self.origin + (self.pos if at is None else at)
        return SignatureError(f"{message} at column {where + 1} of pattern {_shorten(self.whole)}")

    def tokens(self) -> list[_Token]:
        tokens = []
        while self.pos < len(self.text):
            start = self.pos
            element, split = self._element()
            tokens.append(_Token(element, start, self.pos, split))
        return tokens

    def _element(self) -> tuple[PatternElement, bool]:
        run = _HEX_RUN.match(self.text, self.pos)
        if run:
            self.pos = run.end()
            return Literal(bytes.fromhex(run[0])), False
        char = self.text[self.pos]
        if char in _HEX_DIGITS or char == "?":
            return self._byte(), False
        if char == "*":
            self.pos += 1
            return Gap(0, None), True
        if char == "{":
            return self._braces()
        if char == "[":
            return self._anchored_gap(), False
        if self.text.startswith(("(B)", "(L)"), self.pos):
            self.pos += 3
            return BoundaryMark(Boundary(self.text[self.pos - 2])), False
        if char == "(":
            return self._alternatives(negated=False), False
        if char == "!":
            if not self.text.startswith("(", self.pos + 1):
                raise self.error("'!' must be followed by an alternative group")
            self.pos += 1
            return self._alternatives(negated=True), False
        raise self.error(f"unexpected character {char!r}")

    def _byte(self) -> Literal | Masked:
        pair = self.text[self.pos : self.pos + 2]
        if len(pair) < 2 or not all(c in _HEX_DIGITS or c == "?" for c in pair):
            raise self.error("incomplete byte (hex digits come in pairs)")
        self.pos += 2
        high, low = pair
        if high != "?" and low != "?":
            return Literal(bytes([int(pair, 16)]))
        if high == "?" and low == "?":
            return Masked(0, 0)
        if low == "?":
            return Masked(int(high, 16) << 4, 0xF0)
        return Masked(int(low, 16), 0x0F)

    def _closing(self, closer: str, what: str) -> str:
        end = self.text.find(closer, self.pos)
        if end < 0:
            raise self.error(f"{what} is not closed with {closer!r}")
        body = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return body

    def _number(self, digits: str, at: int) -> int:
        if not is_decimal(digits):
            raise self.error(f"expected a decimal number, got {digits!r}", at)
        value = int(digits)
        if value > _MAX_GAP:
            raise self.error(f"gap size {value} is too large", at)
        return value

    def _braces(self) -> tuple[Gap, bool]:
        """A ``{...}`` gap and whether it splits parts."""
        at = self.pos
        body = self._closing("}", "gap '{'")
        if "-" not in body:
            size = self._number(body, at)
            # A maximum of 0 means "no maximum" to the reference, so {0} is '*'.
            gap = Gap(size, size if size else None)
            return gap, is_part_split(gap)
        low_text, _, high_text = body.partition("-")
        if not low_text and not high_text:
            raise self.error("gap '{-}' has no bounds", at)
        low = self._number(low_text, at) if low_text else 0
        high = self._number(high_text, at) if high_text else 0
        return Gap(low, high or None), True

    def _anchored_gap(self) -> Gap:
        at = self.pos
        body = self._closing("]", "range '['")
        low_text, dash, high_text = body.partition("-")
        low = self._number(low_text, at)
        # [n] and [n-] are read as [n-n] by the reference.
        high = self._number(high_text, at) if dash and high_text else low
        if low > high:
            raise self.error(f"range [{body}] has its minimum above its maximum", at)
        if high > MAX_ANCHORED_GAP:
            raise self.error(f"range [{body}] is wider than {MAX_ANCHORED_GAP}", at)
        return Gap(low, high, anchored=True)

    def _alternatives(self, negated: bool) -> Alternatives:
        at = self.pos
        body = self._closing(")", "alternative group '('")
        if "(" in body:
            raise self.error("an alternative group cannot hold '(': no nesting, no (B)/(L)", at)
        if not body:
            raise self.error("empty alternative group", at)
        options = []
        offset = at + 1
        for text in body.split("|"):
            options.append(_Parser(text, self.origin + offset, self.whole).option())
            offset += len(text) + 1
        if not options[0]:
            raise self.error("the first option of an alternative group is empty", at)
        group = Alternatives(tuple(options), negated)
        if negated and not _negatable(group):
            raise self.error("negation needs options of one length made of plain hex bytes", at)
        return group

    def option(self) -> tuple[OptionElement, ...]:
        """The text of one option: bytes, nibbles, ``??`` and short ``{n}``."""
        elements: list[OptionElement] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in _HEX_DIGITS or char == "?":
                elements.append(self._byte())
                continue
            at = self.pos
            if char == "*":
                raise self.error("an alternative cannot hold the unbounded gap '*'")
            if char != "{":
                raise self.error(f"unexpected character {char!r} in an alternative")
            gap, split = self._braces()
            if split or gap.max is None:
                raise self.error(
                    f"an alternative can only hold {{n}} gaps with 0 < n < {INLINE_GAP_LIMIT}", at
                )
            elements.extend([Masked(0, 0)] * gap.min)
        return tuple(_merge(elements))


def _any_modifier(modifiers: SubsignatureModifiers) -> bool:
    return modifiers.nocase or modifiers.wide or modifiers.fullword or modifiers.ascii


def _shorten(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _negatable(group: Alternatives) -> bool:
    """Options all of one length and made of fixed bytes only."""
    lengths = set()
    for option in group.options:
        if not all(isinstance(element, Literal) for element in option):
            return False
        lengths.add(sum(len(element.data) for element in option if isinstance(element, Literal)))
    return len(lengths) == 1 and 0 not in lengths


def _merge(elements: list[PatternElement]) -> list[PatternElement]:
    merged: list[PatternElement] = []
    for element in elements:
        last = merged[-1] if merged else None
        if isinstance(element, Literal) and isinstance(last, Literal):
            merged[-1] = Literal(last.data + element.data)
        else:
            merged.append(element)
    return merged


def _parts(tokens: list[_Token], parser: _Parser) -> list[list[_Token]]:
    """The tokens between part-splitting gaps; empty parts are refused."""
    parts: list[list[_Token]] = [[]]
    for token in tokens:
        if token.split:
            if not parts[-1]:
                raise parser.error("a gap cannot start the pattern or follow a gap", token.start)
            parts.append([])
        else:
            parts[-1].append(token)
    if not parts[-1]:
        raise parser.error("a gap cannot end the pattern", tokens[-1].start)
    return parts


def _is_single_byte(token: _Token) -> bool:
    element = token.element
    return isinstance(element, Masked) or (isinstance(element, Literal) and len(element.data) == 1)


def _check_part(part: list[_Token], number: int, count: int, wide: bool, parser: _Parser) -> None:
    """Apply the reference's [x-y] placement and two-fixed-bytes rules to a part."""
    start, end = 0, len(part)
    for index, token in enumerate(part):
        if not (isinstance(token.element, Gap) and token.element.anchored):
            continue
        if index == 1 and _is_single_byte(part[0]):
            start = 2
        elif index == len(part) - 2 and _is_single_byte(part[-1]):
            end = len(part) - 2
        else:
            raise parser.error(
                "a [x-y] range needs one single byte on one side, at the start or end of its part",
                token.start,
            )
    # The longest run of consecutive fixed bytes, as the reference counts them.
    fixed = longest = 0
    for token in part[start:end]:
        element = token.element
        if isinstance(element, Literal):
            fixed += len(element.data) * (2 if wide else 1)
        elif isinstance(element, Masked):
            # Widening puts a fixed 00 after the wildcard.
            fixed = 1 if wide else 0
        elif isinstance(element, BoundaryMark) and token in (part[0], part[-1]):
            # A boundary mark at a part's edge only looks; inside it consumes a byte.
            continue
        else:
            fixed = 0
        longest = max(longest, fixed)
    if longest < 2:
        where = "the pattern" if count == 1 else f"part {number} of the pattern"
        text = parser.text[part[0].start : part[-1].end]
        raise SignatureError(
            f"{where} ({_shorten(text)}) needs two consecutive fixed bytes"
            + (" after ::w widening" if wide else "")
        )
