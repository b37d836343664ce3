"""Body patterns as the matcher runs them: a verification regex and prefilter anchors.

Strategy: a ``Pattern`` plus its subsignature modifiers is first *lowered*
into a flat list of units (fixed bytes, a byte from a set, a choice of byte
sequences, a gap, a zero-width boundary check, a line break), once per
variant (plain, and the ``::w`` wide form).  Widening happens during
lowering and each variant carries its ``::i``/``::f`` flags, so the
consumers share one reading of the pattern:
- ``pattern_regex`` prints the units as one Python ``bytes`` regex (DOTALL)
  for ``rx.match(data, pos)``.  Pass the whole buffer and a position, not a
  slice: boundary and fullword checks look at the bytes before ``pos``.
  It is the definition of what matches, and what the tests compare with.
- ``pattern_verifier`` decides the same, without the regex's quadratic cost
  when a scan checks many hits of a pattern with unbounded gaps (each
  ``match`` would read on to the end of the view).  It cuts a variant at
  its unbounded gaps into *stages*, matched one by one from the earliest
  end of the previous one, and a per-view ``VerifyMemo`` remembers each
  stage's last search, so increasing hits read the view about once.
  Patterns without an unbounded gap are left to the regex.
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
import mmap
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass

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
    SubsignatureModifiers,
)
from clamkit.signatures.pattern import is_part_split

__all__ = [
    "LEFT_WORD_BOUNDARY",
    "MAX_ANCHOR_EXPANSION",
    "RIGHT_WORD_BOUNDARY",
    "Anchor",
    "Buffer",
    "Verifier",
    "VerifyMemo",
    "pattern_anchors",
    "pattern_regex",
    "pattern_verifier",
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


# A compile builds one for each of 100,000 patterns.
_anchor = constructor(Anchor)


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
    before, after = _fullword_checks(variant)
    return before + b"".join(_segments(variant)) + after


def _fullword_checks(variant: _Variant) -> tuple[bytes, bytes]:
    """The zero-width regexes ``::f`` puts before and after the match."""
    if not variant.fullword:
        return b"", b""
    # The wide form's left neighbour character starts two bytes back.
    before = b"." if variant.wide else b""
    alnum = _class(_ALNUM)
    return b"(?<!" + alnum + before + b")", b"(?!" + alnum + b")"


def _segments(variant: _Variant) -> list[bytes]:
    """Regex pieces; a fixed-width stage after an unbounded gap is made atomic."""
    stages = _split_unbounded(variant.units)
    pieces = []
    for index, (gap, units) in enumerate(stages):
        source = _units_regex(units, variant.nocase)
        if index == 0:
            pieces.append(source)
            continue
        source = b".{%d,}?" % gap + source
        # What follows the last stage (the fullword check) may reject its
        # earliest occurrence, so only earlier stages can commit.
        final = index == len(stages) - 1 and variant.fullword
        if not final and all(map(_is_fixed, units)):
            source = b"(?>" + source + b")"
        pieces.append(source)
    return pieces


def _split_unbounded(units: tuple[_Unit, ...]) -> list[tuple[int, tuple[_Unit, ...]]]:
    """The units between unbounded gaps, each with the least size of the gap before it."""
    stages: list[tuple[int, list[_Unit]]] = [(0, [])]
    for unit in units:
        if not (isinstance(unit, _Skip) and unit.max is None):
            stages[-1][1].append(unit)
        elif len(stages) > 1 and not stages[-1][1]:
            # Two unbounded gaps in a row (hand-built patterns only) are one.
            stages[-1] = (stages[-1][0] + unit.min, [])
        else:
            stages.append((unit.min, []))
    return [(gap, tuple(stage)) for gap, stage in stages]


def _units_regex(units: tuple[_Unit, ...], nocase: bool) -> bytes:
    return b"".join(_unit_regex(unit, nocase) for unit in units)


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
# Verifier


class VerifyMemo:
    """What the verifiers learnt about one view; make a fresh one per view.

    For each stage after an unbounded gap: where its last search started, which
    start it found and where that match ends, and from which threshold on the
    rest of the pattern is known to fail.
    """

    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records: dict[_Chain, list[_Record]] = {}

    def _for(self, chain: _Chain, size: int) -> list[_Record]:
        records = self._records.get(chain)
        if records is None:
            records = self._records[chain] = [_Record(size) for _ in chain.stages]
        return records


class _Record:
    """For thresholds in ``low..high`` the stage's earliest match end is ``end``."""

    __slots__ = ("end", "fail_from", "high", "low")

    def __init__(self, size: int) -> None:
        self.low, self.high, self.end = 1, 0, 0
        # The stages from this one on match no start at or after this threshold.
        self.fail_from = size + 1


class Verifier:
    """Decides where a pattern matches, in time linear in the view over a whole scan.

    ``data`` is the whole view and ``pos`` a position in ``0..len(data)``;
    ``memo`` belongs to that view.  Answers equal ``pattern_regex``'s
    ``match(data, pos)`` and ``search(data, pos)``.
    """

    __slots__ = ("_chains", "_regex")

    def __init__(self, regex: re.Pattern[bytes] | None, chains: tuple[_Chain, ...]) -> None:
        # Without unbounded gaps the regex is as fast as it gets: no memo needed.
        self._regex = regex
        self._chains = chains

    def match(self, data: Buffer, pos: int, memo: VerifyMemo) -> bool:
        """Whether the pattern matches starting at ``pos``."""
        if self._regex is not None:
            return self._regex.match(data, pos) is not None
        return any(chain.match(data, pos, memo) for chain in self._chains)

    def search(self, data: Buffer, pos: int, memo: VerifyMemo) -> int | None:
        """The leftmost start at or after ``pos`` where the pattern matches."""
        if self._regex is not None:
            found = self._regex.search(data, pos)
            return None if found is None else found.start()
        starts = [chain.search(data, pos, memo) for chain in self._chains]
        return min((start for start in starts if start is not None), default=None)


def pattern_verifier(pattern: Pattern, modifiers: SubsignatureModifiers | None = None) -> Verifier:
    """A ``Verifier`` for the pattern: ``pattern_regex`` without its quadratic cases."""
    chains = tuple(_chain(variant) for variant in _variants(pattern, modifiers))
    if all(len(chain.stages) == 1 for chain in chains):
        return Verifier(pattern_regex(pattern, modifiers), ())
    return Verifier(None, chains)


# A view in memory or mapped from a file.
Buffer = bytes | bytearray | memoryview | mmap.mmap
# Sorted, disjoint, inclusive ranges of positions in a view.
_Spans = list[tuple[int, int]]

# The most bytes a trailing look reads past the end of its match (``\r\n``):
# a search cut short by ``endpos`` must see them.
_LOOKAHEAD_BYTES = 2
# A window of start positions this narrow is tried position by position.
_SCAN_WINDOW = 8


def _merge_spans(spans: _Spans) -> _Spans:
    merged: _Spans = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


@dataclass(frozen=True, slots=True, eq=False)
class _Run:
    """Units of one fixed width, matched as one regex."""

    regex: re.Pattern[bytes]
    width: int

    def starts(self, data: Buffer, low: int, high: int) -> list[int]:
        """The positions in ``low..high`` where the run matches."""
        regex = self.regex
        if high - low < _SCAN_WINDOW:
            return [start for start in range(low, high + 1) if regex.match(data, start)]
        # endpos keeps a search from running past the window, yet shows a
        # match starting in it all it looks at.
        endpos = high + self.width + _LOOKAHEAD_BYTES
        found = []
        position = low
        while position <= high:
            match = regex.search(data, position, endpos)
            if match is None or match.start() > high:
                break
            found.append(match.start())
            position = match.start() + 1
        return found

    def advance(self, data: Buffer, spans: _Spans, limit: int) -> _Spans:
        ends = []
        for low, high in spans:
            for start in self.starts(data, low, min(high, limit - self.width)):
                ends.append((start + self.width, start + self.width))
        return _merge_spans(ends)


@dataclass(frozen=True, slots=True, eq=False)
class _Union:
    """Runs of different widths, any of which may match: options, ``\\r?\\n``."""

    runs: tuple[_Run, ...]

    def advance(self, data: Buffer, spans: _Spans, limit: int) -> _Spans:
        return _merge_spans([span for run in self.runs for span in run.advance(data, spans, limit)])


@dataclass(frozen=True, slots=True, eq=False)
class _Range:
    """A gap of ``min..max`` bytes (``min > max`` never matches)."""

    min: int
    max: int

    def advance(self, data: Buffer, spans: _Spans, limit: int) -> _Spans:
        if self.min > self.max:
            return []
        moved = [(low + self.min, min(high + self.max, limit)) for low, high in spans]
        return _merge_spans([(low, high) for low, high in moved if low <= limit])


_Step = _Run | _Union | _Range


@dataclass(frozen=True, slots=True, eq=False)
class _Stage:
    """The units between two unbounded gaps, ``gap`` the least size of the gap before.

    ``regex`` finds where the stage matches; ``width`` is None when its
    matches vary in length, and then ``steps`` enumerate the ends of the
    matches at one start.
    """

    regex: re.Pattern[bytes]
    gap: int
    width: int | None
    min_width: int
    steps: tuple[_Step, ...]

    def least_end(self, data: Buffer, start: int) -> int:
        """The earliest end of the matches at ``start``, where ``regex`` matches."""
        return self._ends(data, start, len(data))[0][0]

    def earliest_end(self, data: Buffer, threshold: int, exact: bool) -> tuple[int, int] | None:
        """(start, end) of the match starting at or after ``threshold`` that ends first.

        Without ``exact`` any match from the leftmost start will do.
        """
        match = self.regex.search(data, threshold)
        if match is None or self.width is not None or not exact:
            return None if match is None else match.span()
        start = match.start()
        best = (start, self.least_end(data, start))
        # A later start may still end earlier: try those that could.
        while True:
            endpos = min(len(data), best[1] - 1 + _LOOKAHEAD_BYTES)
            match = self.regex.search(data, start + 1, endpos)
            if match is None or match.start() + self.min_width >= best[1]:
                return best
            start = match.start()
            ends = self._ends(data, start, best[1] - 1)
            if ends:
                best = (start, ends[0][0])

    def _ends(self, data: Buffer, start: int, limit: int) -> _Spans:
        """The ends, at most ``limit``, of the stage's matches starting at ``start``."""
        spans = [(start, start)]
        for step in self.steps:
            spans = step.advance(data, spans, limit)
            if not spans:
                break
        return spans


@dataclass(frozen=True, slots=True, eq=False)
class _Chain:
    """One variant as stages separated by unbounded gaps, matched stage by stage.

    After an unbounded gap only the earliest end of what came before matters
    (anything later in the view is reachable from it), so each stage is
    searched for its earliest-ending match from a threshold.  That answer is
    the same for every threshold up to the start it found, and a failure
    holds for every higher threshold: the memo keeps both, so a scan that
    verifies hits in increasing order reads the view about once per stage.
    """

    stages: tuple[_Stage, ...]

    def match(self, data: Buffer, pos: int, memo: VerifyMemo) -> bool:
        first = self.stages[0]
        found = first.regex.match(data, pos)
        if found is None:
            return False
        if self._rest(data, found.end(), memo):
            return True
        # An earlier end of the first stage may still do, if even its
        # shortest conceivable match would: only then enumerate its ends.
        if first.width is not None or not self._rest(data, pos + first.min_width, memo):
            return False
        return self._rest(data, first.least_end(data, pos), memo)

    def search(self, data: Buffer, pos: int, memo: VerifyMemo) -> int | None:
        while pos <= len(data):
            found = self.stages[0].regex.search(data, pos)
            if found is None:
                return None
            if self.match(data, found.start(), memo):
                return found.start()
            pos = found.start() + 1
        return None

    def _rest(self, data: Buffer, end: int, memo: VerifyMemo) -> bool:
        """Whether the stages after the first match somewhere after ``end``."""
        records = memo._for(self, len(data))
        last = len(self.stages) - 1
        path = []
        for index in range(1, last + 1):
            stage, record = self.stages[index], records[index]
            threshold = end + stage.gap
            if threshold >= record.fail_from:
                break
            path.append((record, threshold))
            if not record.low <= threshold <= record.high:
                # Only whether the last stage matches counts, not where it ends.
                found = stage.earliest_end(data, threshold, exact=index < last)
                if found is None:
                    break
                record.low, record.high = threshold, found[0]
                record.end = found[1]
            end = record.end
        else:
            return True
        # Every stage on the way was reached at its threshold: the rest fails from there.
        for record, threshold in path:
            record.fail_from = min(record.fail_from, threshold)
        return False


def _chain(variant: _Variant) -> _Chain:
    before, after = _fullword_checks(variant)
    split = _split_unbounded(variant.units)
    stages = []
    for index, (gap, units) in enumerate(split):
        # The fullword checks look just outside the whole match.
        head = before if index == 0 else b""
        tail = after if index == len(split) - 1 else b""
        stages.append(_stage(units, gap, variant.nocase, head, tail))
    return _Chain(tuple(stages))


def _stage(units: tuple[_Unit, ...], gap: int, nocase: bool, head: bytes, tail: bytes) -> _Stage:
    widths = [_width(unit) for unit in units]
    low = sum(width[0] for width in widths)
    fixed = all(width[0] == width[1] for width in widths)
    regex = re.compile(head + _units_regex(units, nocase) + tail, re.DOTALL)
    steps: list[_Step] = []
    pending = [head]
    pending_width = 0
    for unit, (least, most) in zip(units, widths, strict=True):
        if least == most:
            pending.append(_unit_regex(unit, nocase))
            pending_width += least
            continue
        _flush(steps, pending, pending_width)
        pending, pending_width = [], 0
        if isinstance(unit, _Choice):
            runs = [
                _run(_units_regex(option, nocase), sum(_width(item)[0] for item in option))
                for option in unit.options
            ]
            steps.append(_Union(tuple(runs)))
        elif isinstance(unit, _Skip) and unit.max is not None:
            steps.append(_Range(unit.min, unit.max))
        else:
            steps.append(_Union((_run(b"\\n", 1), _run(b"\\r\\n", 2))))
    pending.append(tail)
    _flush(steps, pending, pending_width)
    return _Stage(regex, gap, low if fixed else None, low, tuple(steps))


def _flush(steps: list[_Step], pending: list[bytes], width: int) -> None:
    """End a run of fixed-width units; one that neither consumes nor looks is left out."""
    if any(pending):
        steps.append(_run(b"".join(pending), width))


def _run(source: bytes, width: int) -> _Run:
    return _Run(re.compile(source, re.DOTALL), width)


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
    elements = pattern.elements
    if len(elements) == 1 and isinstance(elements[0], Literal):
        # Nine real patterns in ten are one literal: the same window, chosen
        # without lowering the pattern into blocks.
        return _literal_anchors(elements[0].data, modifiers, max_length)
    return _window_anchors(pattern, modifiers, max_length)


def _window_anchors(
    pattern: Pattern, modifiers: SubsignatureModifiers | None, max_length: int | None
) -> tuple[Anchor, ...]:
    """The best window of each variant's blocks, for any pattern."""
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
        # Every byte whose lowercase form is in the set: the set's own bytes
        # lowered, plus the uppercase letter of each lowercase one.
        lowered = {_lower_byte(value) for value in values}
        values = frozenset(lowered | {value - 0x20 for value in lowered if 0x61 <= value <= 0x7A})
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
    prefix = _bit_prefix(key, nocase)
    return _Block(len(key), (key,), prefix[-1], prefix)


def _bit_prefix(key: bytes, nocase: bool) -> tuple[float, ...]:
    """Running bit totals of a (lowercased) literal, one more than its bytes.

    Built with C-level maps: the real database has millions of literal bytes.
    """
    bits: Iterable[float] = map(_TEXT_BITS[nocase].__getitem__, key)
    # XOR-ing the literal with itself shifted by one byte leaves a zero byte
    # wherever a byte repeats its predecessor: a repeat, not chance.
    shifted = (int.from_bytes(key[1:]) ^ int.from_bytes(key[:-1])).to_bytes(max(len(key) - 1, 0))
    if 0 in shifted:
        bits = list(bits)
        position = shifted.find(0)
        while position >= 0:
            bits[position + 1] = _REPEAT_BITS
            position = shifted.find(0, position + 1)
    return tuple(itertools.accumulate(bits, initial=0.0))


def _literal_anchors(
    data: bytes, modifiers: SubsignatureModifiers | None, max_length: int | None
) -> tuple[Anchor, ...]:
    """``_window_anchors`` of a one-literal pattern: the whole literal, or under
    a length cap its best stretch, as ``_best_in_run`` picks it for one block."""
    if modifiers is None or not (modifiers.nocase or modifiers.wide):
        anchor = _literal_anchor(data, False, max_length)
        return () if anchor is None else (anchor,)
    nocase = modifiers.nocase
    anchors: list[Anchor] = []
    for wide in (True, False) if modifiers.wide and modifiers.ascii else (modifiers.wide,):
        key = data.decode("latin-1").encode("utf-16-le") if wide else data
        anchor = _literal_anchor(key.lower() if nocase else key, nocase, max_length)
        if anchor is None:
            return ()
        anchors.append(anchor)
    return tuple(dict.fromkeys(anchors))


def _literal_anchor(key: bytes, nocase: bool, max_length: int | None) -> Anchor | None:
    if len(key) < 2:
        return None
    if max_length is None or len(key) <= max_length:
        return _anchor(key, nocase, 0, 0)
    skip = _best_stretch(_bit_prefix(key, nocase), max_length)[1]
    return _anchor(key[skip : skip + max_length], nocase, skip, skip)


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
        return [_anchor(literal, nocase, self.delta_min, self.delta_max) for literal in literals]


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
    """The most informative ``length`` bytes of a literal: (bits, where the first
    such stretch starts)."""
    stretches = list(map(operator.sub, prefix[length:], prefix))
    bits = max(stretches)
    return bits, stretches.index(bits)


def _distance_cost(low: int, high: int | None) -> float:
    if high is None or high - low >= _MAX_POSITIONS_PER_HIT:
        return _UNBOUNDED_COST_BITS
    return math.log2(high - low + 1)
