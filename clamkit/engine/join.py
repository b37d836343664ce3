"""One engine from the engines of several database files, as if compiled together.

The engine cache keeps one compiled engine per database file (see
``cache``), so a reload after an update compiles only the files that
changed, and a compile never holds more than one file's signatures; a load
joins the parts.  Joining renumbers, it does not recompile: each part's
signatures, matchers and anchors are numbered after those of the parts
before it, the parts' prefilters run side by side and their hits are merged
in order (``JoinedPrefilter``).

Strategy: the part with the most matchers (``main.ldb``, ``main.cvd``) is
numbered first, so its numbers need no shifting: its matchers are used as
they are and its tables are copied as bytes.  The others follow in load
order.  What holds no numbers is used as it is: the signature and matcher
sequences are chained (a later part's matchers are copied, with shifted
numbers, when first read), and the parts' hash indexes are searched in
turn (``HashIndexes``; for a cached part, views of its file).  The flat tables that
hold numbers (anchor references, logical signatures' matcher lists) are
copied once.  The differences from one compile of everything: a pattern
used in two files gets a matcher in each, and when signatures of two files
match one file, their names come in the parts' order (without allmatch:
the first is the one reported).
"""

from __future__ import annotations

import array
import bisect
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from clamkit.engine.compiler import (
    AnchorTable,
    BodyMatcher,
    CompileReport,
    Engine,
    FlatArray,
    HashIndex,
    HashIndexes,
    HashTable,
    IntRows,
)
from clamkit.engine.prefilter import JoinedPrefilter, Prefilter
from clamkit.signatures.model import HashAlgorithm, Target

_Item = TypeVar("_Item")


def join_engines(engines: Sequence[Engine]) -> Engine:
    """One engine that finds what each of ``engines`` finds, in their order."""
    if len(engines) == 1:
        return engines[0]
    largest = max(range(len(engines)), key=lambda number: len(engines[number].matchers))
    engines = [engines[largest], *engines[:largest], *engines[largest + 1 :]]
    matcher_bases = _starts(len(engine.matchers) for engine in engines)
    body_bases = _starts(len(engine.body_signatures) for engine in engines)
    logical_bases = _starts(len(engine.logical_signatures) for engine in engines)
    anchor_bases = _starts(len(engine.anchors.lengths) for engine in engines)
    ref_bases = _starts(len(engine.anchors.ref_matchers) for engine in engines)
    parts = list(zip(engines, matcher_bases, body_bases, logical_bases, strict=True))
    return Engine(
        signature_count=sum(engine.signature_count for engine in engines),
        hashes=_joined_indexes([engine.hashes for engine in engines]),
        allow_list=_joined_indexes([engine.allow_list for engine in engines]),
        section_hashes=_joined_indexes([engine.section_hashes for engine in engines]),
        import_hashes=_joined_indexes([engine.import_hashes for engine in engines]),
        body_signatures=ChainedItems([engine.body_signatures for engine in engines]),
        logical_signatures=ChainedItems([engine.logical_signatures for engine in engines]),
        matchers=ChainedItems(
            [engine.matchers for engine in engines],
            [
                _matcher_renumbering(body_base, logical_base) if matcher_base else None
                for _, matcher_base, body_base, logical_base in parts
            ],
        ),
        prefilter=_joined_prefilter(
            [engine.prefilter for engine in engines], engines, anchor_bases
        ),
        secondary_prefilter=_joined_prefilter(
            [engine.secondary_prefilter for engine in engines], engines, anchor_bases
        ),
        anchors=AnchorTable(
            lengths=_concatenated("H", [(e.anchors.lengths, 0) for e in engines]),
            first_ref=_joined_first_refs(engines, ref_bases),
            ref_matchers=_concatenated(
                "L",
                [
                    (e.anchors.ref_matchers, base)
                    for e, base in zip(engines, matcher_bases, strict=True)
                ],
            ),
            ref_delta_min=_concatenated("q", [(e.anchors.ref_delta_min, 0) for e in engines]),
            ref_delta_max=_concatenated("q", [(e.anchors.ref_delta_max, 0) for e in engines]),
            max_length=max(engine.anchors.max_length for engine in engines),
        ),
        positional=_joined_ids([engine.positional for engine in engines], matcher_bases),
        unanchored=_joined_ids([engine.unanchored for engine in engines], matcher_bases),
        secondary=b"".join(engine.secondary for engine in engines),
        logical_matchers=_joined_rows(
            [engine.logical_matchers for engine in engines], matcher_bases
        ),
        logical_required=_joined_rows(
            [engine.logical_required for engine in engines], matcher_bases
        ),
        always_evaluate=tuple(
            index + base
            for engine, base in zip(engines, logical_bases, strict=True)
            for index in engine.always_evaluate
        ),
        report=CompileReport(
            *(
                sum(getattr(engine.report, field.name) for engine in engines)
                for field in dataclasses.fields(CompileReport)
            )
        ),
    )


class ChainedItems(Sequence[_Item]):
    """Several sequences read as one; a part's items may be passed through a
    function (once each: the result is kept)."""

    __slots__ = ("_adjust", "_length", "_memo", "_parts", "_starts")

    def __init__(
        self,
        parts: Sequence[Sequence[_Item]],
        adjust: Sequence[Callable[[_Item], _Item] | None] | None = None,
    ) -> None:
        self._parts = list(parts)
        self._starts = _starts(len(part) for part in parts)
        self._length = self._starts[-1] + len(parts[-1]) if parts else 0
        self._adjust = list(adjust) if adjust is not None else [None] * len(self._parts)
        self._memo: dict[int, _Item] = {}

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> _Item:  # type: ignore[override]
        item = self._memo.get(index)
        if item is None:
            if not 0 <= index < self._length:
                if index < 0 and index + self._length >= 0:
                    return self[index + self._length]
                raise IndexError(index)
            number = bisect.bisect_right(self._starts, index) - 1
            item = self._parts[number][index - self._starts[number]]
            adjust = self._adjust[number]
            if adjust is not None:
                item = adjust(item)
            self._memo[index] = item
        return item

    def __iter__(self) -> Iterator[_Item]:
        return (self[index] for index in range(self._length))


def _starts(lengths: Iterable[int]) -> list[int]:
    """Where each part starts when the parts are laid end to end."""
    starts, total = [], 0
    for length in lengths:
        starts.append(total)
        total += length
    return starts


def _matcher_renumbering(body_base: int, logical_base: int) -> Callable[[BodyMatcher], BodyMatcher]:
    def renumbered(matcher: BodyMatcher) -> BodyMatcher:
        return BodyMatcher(
            matcher.pattern,
            matcher.modifiers,
            matcher.offset,
            matcher.target,
            signatures=tuple(index + body_base for index in matcher.signatures),
            triggers=tuple(index + logical_base for index in matcher.triggers),
            count_limit=matcher.count_limit,
        )

    return renumbered


def _joined_indexes(indexes: Sequence[HashTable]) -> HashTable:
    by_algorithm: dict[HashAlgorithm, list[HashIndex]] = {}
    for part in indexes:
        for algorithm, index in part.items():
            by_algorithm.setdefault(algorithm, []).extend(
                index.parts if isinstance(index, HashIndexes) else [index]
            )
    return {
        algorithm: parts[0] if len(parts) == 1 else HashIndexes(tuple(parts))
        for algorithm, parts in by_algorithm.items()
    }


def _joined_prefilter(
    prefilters: Sequence[Prefilter], engines: Sequence[Engine], anchor_bases: Sequence[int]
) -> Prefilter:
    # Parts without anchors can find nothing; skipping them saves a call per view.
    used = [
        (prefilter, base)
        for prefilter, engine, base in zip(prefilters, engines, anchor_bases, strict=True)
        if len(engine.anchors.lengths)
    ]
    if len(used) == 1 and used[0][1] == 0:
        return used[0][0]
    return JoinedPrefilter(used or [(prefilters[0], 0)])


def _concatenated(typecode: str, parts: Iterable[tuple[FlatArray, int]]) -> FlatArray:
    """The arrays end to end, each with ``shift`` added to its values; the
    array itself when it is the only one with values and needs no shift
    (a cached part's stays a view of its file)."""
    parts = [(values, shift) for values, shift in parts if len(values)]
    if len(parts) == 1 and not parts[0][1]:
        return parts[0][0]
    joined = array.array(typecode)
    for values, shift in parts:
        if shift:
            joined.extend(value + shift for value in values)
        else:
            joined.frombytes(memoryview(values).cast("B"))
    return joined


def _joined_first_refs(engines: Sequence[Engine], ref_bases: Sequence[int]) -> FlatArray:
    """Where each anchor's references start: a leading 0, then each part's
    own starts (without its leading 0) shifted past the references before it."""
    with_anchors = [
        (engine.anchors.first_ref, base)
        for engine, base in zip(engines, ref_bases, strict=True)
        if len(engine.anchors.lengths)
    ]
    if len(with_anchors) == 1 and not with_anchors[0][1]:
        return with_anchors[0][0]
    return _concatenated(
        "L", [(array.array("L", [0]), 0)] + [(starts[1:], base) for starts, base in with_anchors]
    )


def _joined_ids(
    parts: Sequence[Mapping[Target, tuple[int, ...]]], bases: Sequence[int]
) -> dict[Target, tuple[int, ...]]:
    joined: dict[Target, tuple[int, ...]] = {}
    for ids_by_target, base in zip(parts, bases, strict=True):
        for target, ids in ids_by_target.items():
            joined[target] = joined.get(target, ()) + tuple(i + base for i in ids)
    return joined


def _joined_rows(parts: Sequence[IntRows], bases: Sequence[int]) -> IntRows:
    """Rows of matcher ids, shifted (-1, "not a body subsignature", stays)."""
    ends_bases = _starts(len(rows.values) for rows in parts)
    return IntRows(
        _concatenated(
            "l",
            [
                (array.array("l", (v + base if v >= 0 else v for v in rows.values)), 0)
                if base
                else (rows.values, 0)
                for rows, base in zip(parts, bases, strict=True)
            ],
        ),
        _concatenated(
            "L", [(rows.ends, base) for rows, base in zip(parts, ends_bases, strict=True)]
        ),
    )
