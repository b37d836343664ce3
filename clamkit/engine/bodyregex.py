"""Body patterns as the matcher runs them: a verification regex and prefilter anchors.

Strategy: a ``Pattern`` plus its subsignature modifiers is first *lowered*
into a flat list of units (fixed bytes, a byte from a set, a choice of byte
sequences, a gap, a zero-width boundary check, a line break), once per
variant (plain, and the ``::w`` wide form).  Widening happens during
lowering and each variant carries its ``::i``/``::f`` flags, so the two
consumers share one reading of the pattern:
- ``pattern_regex`` prints the units as one Python ``bytes`` regex (DOTALL)
  for ``rx.match(data, pos)``.  Pass the whole buffer and a position, not a
  slice: boundary and fullword checks look at the bytes before ``pos``.
- ``pattern_anchors`` picks, per variant, the run of fixed-width units whose
  literal expansion is least likely to occur by chance, and returns it as
  ``Anchor`` literals with their distance from the match start.

Semantics observed on ClamAV 1.4.6 (the reference):
- ``*`` and ``{n-}`` are lazy here so ``match`` ends at the shortest match.
  A part between unbounded gaps that has a fixed width is matched atomically
  (its earliest occurrence is as good as any later one), which keeps chains
  like ``a*b*c*d`` from backtracking quadratically.
- ``(B)``/``(L)`` first in a part look at the byte before it, last in a part
  at the byte after it; anywhere else they consume one byte (``(B)``) or a
  ``\\n``/``\\r\\n`` (``(L)``).  File edges count as boundaries.  The word
  boundary sets differ by side (``LEFT_WORD_BOUNDARY``, ``RIGHT_WORD_BOUNDARY``);
  a line boundary is ``\\n`` before, ``\\n`` or ``\\r\\n`` after.
- ``::i`` folds ASCII letters of literal bytes and alternatives; nibbles and
  ``??`` compare raw bytes.  ``::w`` puts 00 after every byte, ``??`` and
  alternative byte but not into gaps (``{n}``, ``*``, ``[x-y]`` count raw
  bytes).  ``::a`` with ``::w`` accepts either form.
- ``::f`` needs a non-alphanumeric byte (or the file edge) just outside the
  match; for the wide form the left check looks two bytes back.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from dataclasses import dataclass

from clamkit.signatures.model import (
    Alternatives,
    Boundary,
    BoundaryMark,
    Gap,
    Literal,
    Masked,
    Pattern,
    PatternElement,
    SubsignatureModifiers,
)
from clamkit.signatures.pattern import is_part_split

__all__ = [
    "LEFT_WORD_BOUNDARY",
    "MAX_ANCHOR_EXPANSION",
    "RIGHT_WORD_BOUNDARY",
    "Anchor",
    "pattern_anchors",
    "pattern_regex",
]

# Bytes that may precede a leading (B) and follow a trailing (B), measured on
# the reference one byte value at a time (it treats the two sides differently).
LEFT_WORD_BOUNDARY = frozenset(b" -./<@_")
RIGHT_WORD_BOUNDARY = frozenset(b"\n\r \"'-/=>_")
# A (B) inside a part consumes one byte from either set.
_MIDDLE_WORD_BOUNDARY = LEFT_WORD_BOUNDARY | RIGHT_WORD_BOUNDARY

_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ALL_BYTES = frozenset(range(256))

# How many literals one ambiguous run (alternatives, nibbles) may expand into:
# more would bloat the automaton for little gain in selectivity.
MAX_ANCHOR_EXPANSION = 16

# Anchor choice weighs how often a literal occurs by chance against how much
# work each hit costs.  A hit at an unbounded distance (after ``*``) costs the
# scanner one regex search over the whole view instead of one ``match``; in
# information terms that is worth about this many bits of literal.
_UNBOUNDED_COST_BITS = 12.0
# The scanner verifies at most this many start positions per hit; wider
# ranges cost like an unbounded one.
_MAX_POSITIONS_PER_HIT = 64


@dataclass(frozen=True, slots=True)
class Anchor:
    """A literal every match contains, ``delta_min..delta_max`` bytes after its start.

    ``delta_max`` None means unbounded.  A ``nocase`` literal is lowercase and
    must be searched in lowercased data.
    """

    literal: bytes
    nocase: bool
    delta_min: int
    delta_max: int | None


# ---------------------------------------------------------------------------
# Lowering


@dataclass(frozen=True, slots=True)
class _Text:
    """Fixed bytes (already widened); ``::i`` folds their letters when used."""

    data: bytes


@dataclass(frozen=True, slots=True)
class _Byte:
    """One byte from a set, compared raw: a nibble, ``??`` or an inner (B)."""

    values: frozenset[int]


_Fixed = _Text | _Byte


@dataclass(frozen=True, slots=True)
class _Choice:
    """One of the options, or (negated) one run of their length that is none of them."""

    options: tuple[tuple[_Fixed, ...], ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class _Skip:
    min: int
    max: int | None


@dataclass(frozen=True, slots=True)
class _Look:
    """A zero-width check of the byte before (``ahead`` False) or after the position."""

    kind: Boundary
    ahead: bool


@dataclass(frozen=True, slots=True)
class _LineBreak:
    """``\\n`` or ``\\r\\n``: what a (L) inside a part consumes."""


_Unit = _Text | _Byte | _Choice | _Skip | _Look | _LineBreak


@dataclass(frozen=True, slots=True)
class _Variant:
    units: tuple[_Unit, ...]
    wide: bool
    nocase: bool
    fullword: bool


def _variants(pattern: Pattern, modifiers: SubsignatureModifiers | None) -> list[_Variant]:
    modifiers = modifiers or SubsignatureModifiers()
    forms = [True, False] if modifiers.wide and modifiers.ascii else [modifiers.wide]
    return [
        _Variant(_lower(pattern.elements, wide), wide, modifiers.nocase, modifiers.fullword)
        for wide in forms
    ]


@functools.cache
def _masked_values(value: int, mask: int) -> frozenset[int]:
    return frozenset(v for v in range(256) if v & mask == value)


def _add_text(units: list[_Unit] | list[_Fixed], data: bytes) -> None:
    if units and isinstance(units[-1], _Text):
        units[-1] = _Text(units[-1].data + data)
    else:
        units.append(_Text(data))


def _add_bytes(units: list[_Unit] | list[_Fixed], element: Literal | Masked, wide: bool) -> None:
    if isinstance(element, Literal):
        # Latin-1 then UTF-16-LE puts a 00 after every byte.
        data = element.data
        _add_text(units, data.decode("latin-1").encode("utf-16-le") if wide else data)
        return
    units.append(_Byte(_masked_values(element.value, element.mask)))
    if wide:
        _add_text(units, b"\0")


def _lower(elements: tuple[PatternElement, ...], wide: bool) -> tuple[_Unit, ...]:
    units: list[_Unit] = []
    last = len(elements) - 1
    for index, element in enumerate(elements):
        if isinstance(element, Literal | Masked):
            _add_bytes(units, element, wide)
        elif isinstance(element, Gap):
            units.append(_Skip(element.min, element.max))
        elif isinstance(element, Alternatives):
            options = []
            for option in element.options:
                option_units: list[_Fixed] = []
                for item in option:
                    _add_bytes(option_units, item, wide)
                options.append(tuple(option_units))
            units.append(_Choice(tuple(options), element.negated))
        else:
            units.append(_boundary(element, index, last, elements))
    return tuple(units)


def _boundary(
    mark: BoundaryMark, index: int, last: int, elements: tuple[PatternElement, ...]
) -> _Unit:
    if index == 0 or is_part_split(elements[index - 1]):
        return _Look(mark.kind, ahead=False)
    if index == last or is_part_split(elements[index + 1]):
        return _Look(mark.kind, ahead=True)
    if mark.kind is Boundary.WORD:
        return _Byte(_MIDDLE_WORD_BOUNDARY)
    return _LineBreak()


def _width(unit: _Unit) -> tuple[int, int | None]:
    """The least and greatest number of bytes a unit consumes (None: unbounded)."""
    if isinstance(unit, _Text):
        return len(unit.data), len(unit.data)
    if isinstance(unit, _Byte):
        return 1, 1
    if isinstance(unit, _Choice):
        lengths = [sum(_width(item)[0] for item in option) for option in unit.options]
        return min(lengths), max(lengths)
    if isinstance(unit, _Skip):
        return unit.min, unit.max
    if isinstance(unit, _Look):
        return 0, 0
    return 1, 2


# ---------------------------------------------------------------------------
# Regex


def pattern_regex(
    pattern: Pattern, modifiers: SubsignatureModifiers | None = None
) -> re.Pattern[bytes]:
    """A regex whose ``match(data, pos)`` succeeds exactly where the pattern matches at pos."""
    variants = [_variant_regex(variant) for variant in _variants(pattern, modifiers)]
    source = variants[0] if len(variants) == 1 else b"(?:" + b"|".join(variants) + b")"
    return re.compile(source, re.DOTALL)


def _variant_regex(variant: _Variant) -> bytes:
    body = b"".join(_segments(variant))
    if not variant.fullword:
        return body
    # The wide form's left neighbour character starts two bytes back.
    before = b"." if variant.wide else b""
    alnum = _class(_ALNUM)
    return b"(?<!" + alnum + before + b")" + body + b"(?!" + alnum + b")"


def _segments(variant: _Variant) -> list[bytes]:
    """Regex pieces; a fixed-width segment after an unbounded gap is made atomic."""
    units = variant.units
    pieces: list[bytes] = []
    start = 0
    for end in range(1, len(units) + 1):
        if end < len(units) and not _is_unbounded(units[end]):
            continue
        segment = units[start:end]
        source = b"".join(_unit_regex(unit, variant.nocase) for unit in segment)
        # What follows the last segment (the fullword check) may reject its
        # earliest occurrence, so only earlier segments can commit.
        final = end == len(units) and variant.fullword
        if not final and _is_unbounded(segment[0]) and all(map(_is_fixed, segment[1:])):
            source = b"(?>" + source + b")"
        pieces.append(source)
        start = end
    return pieces


def _is_unbounded(unit: _Unit) -> bool:
    return isinstance(unit, _Skip) and unit.max is None


def _is_fixed(unit: _Unit) -> bool:
    low, high = _width(unit)
    return low == high


def _byte_regex(value: int, nocase: bool) -> bytes:
    if nocase and 0x61 <= value | 0x20 <= 0x7A:
        return b"[\\x%02x\\x%02x]" % (value & ~0x20, value | 0x20)
    return b"\\x%02x" % value


_TEXT_REGEX = {nocase: [_byte_regex(value, nocase) for value in range(256)] for nocase in (0, 1)}


def _unit_regex(unit: _Unit, nocase: bool) -> bytes:
    if isinstance(unit, _Text):
        table = _TEXT_REGEX[nocase]
        return b"".join([table[value] for value in unit.data])
    if isinstance(unit, _Byte):
        return _class(unit.values)
    if isinstance(unit, _Choice):
        return _choice_regex(unit, nocase)
    if isinstance(unit, _Skip):
        return _skip_regex(unit)
    if isinstance(unit, _Look):
        return _look_regex(unit)
    return rb"\r?\n"


def _choice_regex(choice: _Choice, nocase: bool) -> bytes:
    options = [b"".join(_unit_regex(item, nocase) for item in option) for option in choice.options]
    if not choice.negated:
        return b"(?:" + b"|".join(options) + b")"
    # The parser allows negation only for plain bytes of one length, unmodified.
    texts = [
        b"".join(item.data for item in option if isinstance(item, _Text))
        for option in choice.options
    ]
    if len(texts[0]) == 1:
        return _class(_ALL_BYTES - frozenset(text[0] for text in texts))
    return b"(?!" + b"|".join(options) + b")" + b".{%d}" % len(texts[0])


def _skip_regex(skip: _Skip) -> bytes:
    if skip.max is None:
        return b".{%d,}?" % skip.min
    if skip.min > skip.max:
        # {n-m} with n > m is accepted by the reference and never matches.
        return b"(?!)"
    if skip.min == skip.max:
        return b".{%d}" % skip.min
    return b".{%d,%d}?" % (skip.min, skip.max)


def _look_regex(look: _Look) -> bytes:
    if look.kind is Boundary.LINE:
        return rb"(?=\r?\n|\Z)" if look.ahead else rb"(?<![^\n])"
    if look.ahead:
        return b"(?!" + _class(_ALL_BYTES - RIGHT_WORD_BOUNDARY) + b")"
    return b"(?<!" + _class(_ALL_BYTES - LEFT_WORD_BOUNDARY) + b")"


def _class(values: frozenset[int]) -> bytes:
    """A regex matching one byte from ``values``."""
    if len(values) == 256:
        return b"."
    if not values:
        return b"(?!)"
    if len(values) == 1:
        return b"\\x%02x" % next(iter(values))
    negate = len(values) > 128
    members = sorted(_ALL_BYTES - values if negate else values)
    ranges = []
    for _, run in itertools.groupby(enumerate(members), lambda pair: pair[1] - pair[0]):
        values_in_run = [value for _, value in run]
        first, last = values_in_run[0], values_in_run[-1]
        ranges.append(b"\\x%02x" % first if first == last else b"\\x%02x-\\x%02x" % (first, last))
    return b"[" + (b"^" if negate else b"") + b"".join(ranges) + b"]"


# ---------------------------------------------------------------------------
# Anchors


def pattern_anchors(
    pattern: Pattern,
    modifiers: SubsignatureModifiers | None = None,
    *,
    max_length: int | None = None,
) -> tuple[Anchor, ...]:
    """Literals a prefilter can search for: every match contains one of them.

    ``max_length`` bounds the literal size (an automaton may want short keys);
    the most selective stretch of at most that many bytes is chosen.  Returns
    () only when no stretch of two fixed bytes exists; the reference refuses
    such patterns at load time, so only hand-built patterns get there.
    """
    if max_length is not None and max_length < 2:
        raise ValueError("anchors are at least 2 bytes long")
    anchors: list[Anchor] = []
    for variant in _variants(pattern, modifiers):
        best = _best_window(_blocks(variant), max_length)
        if best is None:
            return ()
        anchors.extend(best.anchors(variant.nocase))
    return tuple(dict.fromkeys(anchors))


def _byte_bits(value: int) -> float:
    """A rough information content of one byte of scanned data (binaries and text).

    NUL dominates executables, 0xFF pads them; alphanumerics and space fill
    text; the remaining byte values share what is left (the four classes sum
    to a probability of about 1).
    """
    if value == 0:
        return 3.0
    if value == 0xFF:
        return 5.0
    if value in _ALNUM or value == 0x20:
        return 7.0
    return 9.1


_PROBABILITY = tuple(2.0 ** -_byte_bits(value) for value in range(256))
# Runs of one byte value (padding, fills) are far more common than chance.
_REPEAT_BITS = 2.0


def _lower_byte(value: int) -> int:
    return value | 0x20 if 0x41 <= value <= 0x5A else value


@functools.cache
def _effective_bits(values: frozenset[int], nocase: bool) -> float:
    """Bits of a byte set, counting what a lowercased search lets through."""
    if nocase:
        lowered = {_lower_byte(value) for value in values}
        values = frozenset(value for value in range(256) if _lower_byte(value) in lowered)
    return -math.log2(min(1.0, sum(_PROBABILITY[value] for value in values)))


# Bits per byte of a lowercased literal: a letter stands for both cases.
_TEXT_BITS = {
    nocase: [_effective_bits(frozenset((value,)), nocase) for value in range(256)]
    for nocase in (0, 1)
}


@dataclass(frozen=True, slots=True)
class _Block:
    """A fixed-width stretch and the strings it may hold (None: too many to list).

    ``prefix`` (literal blocks only) holds the running bit totals per byte,
    so a part of the literal can be scored when a length cap cuts it.
    """

    width: int
    strings: tuple[bytes, ...] | None
    bits: float
    prefix: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Breaker:
    """A stretch of variable width: the distance to what follows is a range."""

    min: int
    max: int | None


def _blocks(variant: _Variant) -> list[_Block | _Breaker]:
    """The variant's units as fixed blocks (with their strings) and variable breakers."""
    items: list[_Block | _Breaker] = []
    for unit in variant.units:
        if isinstance(unit, _Text | _Byte):
            items.append(_fixed_block(unit, variant.nocase))
        elif isinstance(unit, _Look):
            continue
        else:
            low, high = _width(unit)
            if low != high:
                items.append(_Breaker(low, high))
            elif isinstance(unit, _Choice) and not unit.negated:
                items.append(_choice_block(unit, variant.nocase))
            else:
                # A negated group or a gap of one size: nothing to search for.
                items.append(_Block(low, None, 0.0))
    return items


def _fixed_block(unit: _Fixed, nocase: bool) -> _Block:
    if isinstance(unit, _Text):
        return _text_block(unit.data, nocase)
    return _byte_block(unit.values, nocase)


def _text_block(data: bytes, nocase: bool) -> _Block:
    key = data.lower() if nocase else data
    table = _TEXT_BITS[nocase]
    bits = [
        _REPEAT_BITS if value == previous else table[value]
        for previous, value in zip(itertools.chain((-1,), key), key, strict=False)
    ]
    prefix = tuple(itertools.accumulate(bits, initial=0.0))
    return _Block(len(key), (key,), prefix[-1], prefix)


@functools.cache
def _byte_block(values: frozenset[int], nocase: bool) -> _Block:
    keys = sorted({_lower_byte(value) for value in values} if nocase else values)
    strings = tuple(bytes((key,)) for key in keys)
    listed = strings if len(strings) <= MAX_ANCHOR_EXPANSION else None
    return _Block(1, listed, _effective_bits(values, nocase))


def _choice_block(choice: _Choice, nocase: bool) -> _Block:
    strings: set[bytes] = set()
    probability = 0.0
    for option in choice.options:
        blocks = [_fixed_block(item, nocase) for item in option]
        probability += 2.0 ** -sum(block.bits for block in blocks)
        expansion = [b""]
        for block in blocks:
            choices = block.strings or ()
            if len(expansion) * len(choices) + len(strings) > MAX_ANCHOR_EXPANSION:
                expansion = []
                break
            expansion = [head + tail for head in expansion for tail in choices]
        strings.update(expansion)
        if not expansion:
            strings = set()
            break
    bits = -math.log2(min(1.0, probability))
    width = _width(choice)[0]
    return _Block(width, tuple(sorted(strings)) if strings else None, bits)


@dataclass(frozen=True, slots=True)
class _Window:
    parts: tuple[tuple[bytes, ...], ...]
    delta_min: int
    delta_max: int | None
    score: float

    def anchors(self, nocase: bool) -> list[Anchor]:
        literals = [b""]
        for strings in self.parts:
            literals = [literal + string for literal in literals for string in strings]
        return [Anchor(literal, nocase, self.delta_min, self.delta_max) for literal in literals]


def _best_window(items: list[_Block | _Breaker], max_length: int | None) -> _Window | None:
    best: _Window | None = None
    delta_min, delta_max = 0, 0
    run: list[_Block] = []
    for item in [*items, _Breaker(0, 0)]:
        if isinstance(item, _Block):
            run.append(item)
            continue
        if run:
            window = _best_in_run(run, delta_min, delta_max, max_length)
            if window is not None and (best is None or window.score > best.score):
                best = window
        run_width = sum(block.width for block in run)
        delta_min += run_width + item.min
        if delta_max is not None:
            delta_max = None if item.max is None else delta_max + run_width + item.max
        run = []
    return best


def _best_in_run(
    run: list[_Block], delta_min: int, delta_max: int | None, max_length: int | None
) -> _Window | None:
    """The best window of a run of fixed blocks.

    Bits only grow with a window's size and the distance cost is the same
    for every window of a run, so for each first block only the longest
    window within the expansion and length caps counts, and a window that
    ends where its left neighbour's ends is never better: two pointers
    suffice.  Under a length cap, a literal longer than the cap is also
    searched for its best stretch on its own.
    """
    limit = max_length if max_length is not None else math.inf
    offsets = list(itertools.accumulate((block.width for block in run), initial=0))
    totals = list(itertools.accumulate((block.bits for block in run), initial=0.0))
    best_bits = -1.0
    best: tuple[int, tuple[tuple[bytes, ...], ...]] = (0, ())
    end, count = 0, 1
    for start, first in enumerate(run):
        grew = end <= start
        if grew:
            end, count = start, 1
        while end < len(run):
            strings = run[end].strings
            if strings is None or count * len(strings) > MAX_ANCHOR_EXPANSION:
                break
            if offsets[end + 1] - offsets[start] > limit:
                break
            count *= len(strings)
            end += 1
            grew = True
        bits = totals[end] - totals[start]
        if grew and offsets[end] - offsets[start] >= 2 and bits > best_bits:
            parts = tuple(block.strings or () for block in run[start:end])
            best_bits, best = bits, (offsets[start], parts)
        if end > start:
            count //= len(first.strings or ())
        if first.prefix is not None and first.width > limit:
            bits, skip = _best_stretch(first.prefix, int(limit))
            if bits > best_bits:
                literal = (first.strings or (b"",))[0][skip : skip + int(limit)]
                best_bits, best = bits, (offsets[start] + skip, ((literal,),))
    if best_bits < 0:
        return None
    offset, parts = best
    low = delta_min + offset
    high = None if delta_max is None else delta_max + offset
    return _Window(parts, low, high, best_bits - _distance_cost(low, high))


def _best_stretch(prefix: tuple[float, ...], length: int) -> tuple[float, int]:
    """The most informative ``length`` bytes of a literal: (bits, where they start)."""
    starts = range(len(prefix) - length)
    skip = max(starts, key=lambda start: prefix[start + length] - prefix[start])
    return prefix[skip + length] - prefix[skip], skip


def _distance_cost(low: int, high: int | None) -> float:
    if high is None or high - low >= _MAX_POSITIONS_PER_HIT:
        return _UNBOUNDED_COST_BITS
    return math.log2(high - low + 1)
