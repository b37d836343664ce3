"""Turn a loaded ``Database`` into an immutable ``Engine``: the only place that
knows how signatures become search structures.

Strategy:
- Whole-file hashes go into dicts keyed by (digest, size), one per algorithm,
  plus the sets of sizes that have signatures, so a scan only computes a
  digest when some signature of that size (or of any size) could match.
  PE section hashes (.mdb/.msb) and import hashes (.imp) get the same kind
  of index, keyed by section size and by the length of the import text.
- Every distinct body pattern (of ``.ndb``/``.db`` signatures and logical
  subsignatures) becomes one ``BodyMatcher``.  The literal anchors of all matchers go into
  the prefilter (``prefilter``), grouped by the matchers' target type; the
  scanner only verifies matchers whose anchors fired.  Matchers pinned to one
  position (``n`` or ``EOF-n`` without a shift) skip the automaton and are
  checked at that position; matchers with no usable anchor are searched
  directly and counted in ``CompileReport.unanchored``.
- Three in four matchers serve logical signatures only, and none of those
  signatures waits for them (each waits for its rarest required
  subsignature).  They are *secondary*: their anchors go into a second
  prefilter, which runs over a view only once a signature using them has
  become a candidate; their short anchors were most of the first
  prefilter's hits on ordinary data.
- Verifiers are compiled on first use (see ``BodyMatcher.verifier``):
  compiling 150,000 of them up front would dominate start-up, and most never
  fire on a given host.
"""

from __future__ import annotations

import array
import bisect
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from clamkit.database.loader import Database, collector_paused
from clamkit.engine import scanner
from clamkit.engine.bodyregex import Buffer, Verifier, pattern_anchors, pattern_verifier
from clamkit.engine.logic import count_limit, required_subsignatures, true_without_matches
from clamkit.engine.matching import (
    SECONDARY_ANCHORED,
    SECONDARY_POSITIONAL,
    SECONDARY_UNANCHORED,
)
from clamkit.engine.options import ScanOptions, ScanResult
from clamkit.engine.prefilter import GroupedAnchor, Prefilter, build_prefilter
from clamkit.signatures.expression import expression_indexes
from clamkit.signatures.model import (
    ANY_OFFSET,
    AllowListEntry,
    BodySignature,
    BodySubsignature,
    ByteCompareSubsignature,
    Expression,
    HashAlgorithm,
    HashSignature,
    Literal,
    LogicalSignature,
    Offset,
    OffsetKind,
    Pattern,
    PcreSubsignature,
    SubsignatureModifiers,
    Target,
)

# Anchors are at most this long: the trie stays small and builds fast (1.2 s
# -> 0.2 s for the real database) at no cost in speed, and the verifier
# checks the rest of the pattern anyway.
MAX_ANCHOR_BYTES = 8


@dataclass(slots=True, eq=False)
class BodyMatcher:
    """One distinct body pattern, where it may match, and who uses it.

    Identical patterns (the same text, modifiers, offset and target) share a
    matcher, so ``4d5a`` at offset 0, used by thousands of logical signatures,
    is verified once per scan.  ``signatures`` are the indexes of the extended
    signatures it stands for; ``triggers`` the logical signatures to evaluate
    when it matches; ``count_limit`` how many matches are worth counting
    (None: all, for byte compares that read at the last one).  The compiled
    verifier is a memo filled on first use; everything else is fixed.
    """

    pattern: Pattern
    modifiers: SubsignatureModifiers | None
    offset: Offset
    target: Target
    signatures: tuple[int, ...] = ()
    triggers: tuple[int, ...] = ()
    count_limit: int | None = 1
    _verifier: Verifier | None = field(default=None, repr=False)

    @property
    def verifier(self) -> Verifier:
        if self._verifier is None:
            self._verifier = pattern_verifier(self.pattern, self.modifiers)
        return self._verifier


# The size field of a ``*`` (any size) entry: no real object is this large.
_ANY_SIZE = (1 << 64) - 1


# A flat array of numbers as compiled (``array.array``), or as read in place
# from a cached engine's mapped file (a ``memoryview`` cast to the same type):
# both index, slice, iterate and bisect alike.
FlatArray = array.array | memoryview


def _hash_key(digest: bytes, size: int | None) -> bytes:
    return digest + (_ANY_SIZE if size is None else size).to_bytes(8, "big")


class _Keys(Sequence[bytes]):
    """A sorted run of fixed-width keys in one flat array, for ``bisect``."""

    __slots__ = ("_blob", "_width")

    def __init__(self, blob: FlatArray, width: int) -> None:
        self._blob, self._width = blob, width

    def __len__(self) -> int:
        return len(self._blob) // self._width if self._width else 0

    def __getitem__(self, index: int) -> bytes:  # type: ignore[override]
        return bytes(self._blob[index * self._width : (index + 1) * self._width])


@dataclass(frozen=True, slots=True, eq=False)
class HashIndex:
    """Names by digest and size for one algorithm; size None is the ``*`` wildcard.

    Entries are (digest, size) keys sorted in one bytes object, searched by
    bisection, with their names in another: 82,000 official MD5 signatures
    take 5 MB this way, against 17 MB as a dict of objects.  A key listed
    several times has several names.
    """

    keys: FlatArray  # bytes ("B")
    width: int
    names: FlatArray  # bytes ("B"): UTF-8, NUL-separated, in key order
    name_ends: FlatArray
    sizes: FlatArray  # sorted distinct sizes that have entries
    any_size: bool

    @classmethod
    def of(cls, entries: Iterable[tuple[bytes, int | None, str]]) -> HashIndex:
        rows = sorted((_hash_key(digest, size), name) for digest, size, name in entries)
        names, ends = bytearray(), array.array("L")
        for _, name in rows:
            names += name.encode() + b"\0"
            ends.append(len(names))
        sizes = sorted({size for digest, size, _ in entries if size is not None})
        return cls(
            keys=array.array("B", b"".join(key for key, _ in rows)),
            width=len(rows[0][0]) if rows else 0,
            names=array.array("B", names),
            name_ends=ends,
            sizes=array.array("Q", sizes),
            any_size=any(size is None for _, size, _ in entries),
        )

    def wanted_for(self, size: int) -> bool:
        if self.any_size:
            return True
        at = bisect.bisect_left(self.sizes, size)
        return at < len(self.sizes) and self.sizes[at] == size

    def lookup(self, digest: bytes, size: int) -> tuple[str, ...]:
        return tuple(name for key in _lookup_keys(digest, size) for name in self.names_for(key))

    def names_for(self, key: bytes) -> list[str]:
        """The names listed under ``key``, in name order."""
        keys = _Keys(self.keys, self.width)
        found: list[str] = []
        index = bisect.bisect_left(keys, key)
        while index < len(keys) and keys[index] == key:
            start = self.name_ends[index - 1] if index else 0
            found.append(bytes(self.names[start : self.name_ends[index] - 1]).decode())
            index += 1
        return found


def _lookup_keys(digest: bytes, size: int) -> tuple[bytes, bytes]:
    """The keys a file's digest is looked up under: its size, then any size."""
    return _hash_key(digest, size), _hash_key(digest, None)


@dataclass(frozen=True, slots=True, eq=False)
class HashIndexes:
    """Several ``HashIndex``es of one algorithm read as one (``engine.join``):
    the same answers as one index of all their entries, without building it."""

    parts: tuple[HashIndex, ...]

    def wanted_for(self, size: int) -> bool:
        return any(part.wanted_for(size) for part in self.parts)

    def lookup(self, digest: bytes, size: int) -> tuple[str, ...]:
        return tuple(
            name
            for key in _lookup_keys(digest, size)
            for name in sorted(name for part in self.parts for name in part.names_for(key))
        )


# The hash signatures of one kind, by algorithm.
HashTable = dict[HashAlgorithm, HashIndex | HashIndexes]


@dataclass(frozen=True, slots=True, eq=False)
class AnchorTable:
    """What each anchor id stands for, in flat arrays.

    Anchor ``a`` is ``lengths[a]`` bytes long and refers to the matchers
    ``ref_matchers[r]`` for ``r`` in ``range(first_ref[a], first_ref[a + 1])``,
    each of which starts between ``ref_delta_min[r]`` and ``ref_delta_max[r]``
    bytes (-1: unbounded) before the anchor.  Flat arrays rather than a tuple
    per anchor: they hold the same facts in a tenth of the memory.
    """

    lengths: FlatArray
    first_ref: FlatArray
    ref_matchers: FlatArray
    ref_delta_min: FlatArray
    ref_delta_max: FlatArray
    max_length: int


class _AnchorTableBuilder:
    def __init__(self) -> None:
        self.lengths = array.array("H")
        self.first_ref = array.array("L", [0])
        self.ref_matchers = array.array("L")
        self.ref_delta_min = array.array("q")
        self.ref_delta_max = array.array("q")
        # prefilter keys by target: of primary matchers, of secondary ones
        self.groups: dict[Target, list[GroupedAnchor]] = defaultdict(list)
        self.secondary_groups: dict[Target, list[GroupedAnchor]] = defaultdict(list)

    def add(
        self,
        groups: dict[Target, list[GroupedAnchor]],
        target: Target,
        nocase: bool,
        refs: dict[bytes, list[tuple[int, int, int]]],
    ) -> None:
        """Register ``refs``' anchors as keys of ``groups``' ``target`` group."""
        for literal, values in refs.items():
            anchor_id = len(self.lengths)
            groups[target].append(GroupedAnchor(anchor_id, literal, nocase))
            self.lengths.append(len(literal))
            for matcher_id, delta_min, delta_max in values:
                self.ref_matchers.append(matcher_id)
                self.ref_delta_min.append(delta_min)
                self.ref_delta_max.append(delta_max)
            self.first_ref.append(len(self.ref_matchers))

    def frozen(self) -> AnchorTable:
        return AnchorTable(
            self.lengths,
            self.first_ref,
            self.ref_matchers,
            self.ref_delta_min,
            self.ref_delta_max,
            max(self.lengths, default=1),
        )


@dataclass(frozen=True, slots=True, eq=False)
class IntRows:
    """Rows of integers in two flat arrays: row ``i`` is
    ``values[ends[i - 1]:ends[i]]``.  As a tuple per row, the matcher lists of
    the 38,000 official logical signatures took 15 MB (an int object per
    entry); this way they take 1 MB."""

    values: FlatArray
    ends: FlatArray

    @classmethod
    def of(cls, rows: Iterable[Iterable[int]]) -> IntRows:
        values, ends = array.array("l"), array.array("L")
        for row in rows:
            values.extend(row)
            ends.append(len(values))
        return cls(values, ends)

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, index: int) -> FlatArray:
        return self.values[self.ends[index - 1] if index else 0 : self.ends[index]]


@dataclass(frozen=True, slots=True)
class CompileReport:
    matchers: int
    anchors: int
    unanchored: int  # matchers searched directly, without an anchor
    secondary: int  # matchers searched only for a candidate logical signature
    needs_executable: int  # matchers whose offsets need PE/ELF/Mach-O parsing


@dataclass(frozen=True, slots=True, eq=False)
class Engine:
    """Everything a scan needs; built once, never changed, shared by all scans."""

    signature_count: int
    hashes: HashTable
    allow_list: HashTable
    section_hashes: HashTable
    import_hashes: HashTable
    body_signatures: tuple[BodySignature, ...]
    logical_signatures: tuple[LogicalSignature, ...]
    matchers: tuple[BodyMatcher, ...]
    # The prefilters give anchor ids; ``anchors`` says what each means.  The
    # secondary one runs only when a candidate needs a secondary matcher.
    prefilter: Prefilter
    secondary_prefilter: Prefilter
    anchors: AnchorTable
    # By target: matcher ids checked at one fixed position, and those
    # searched without an anchor.
    positional: dict[Target, tuple[int, ...]]
    unanchored: dict[Target, tuple[int, ...]]
    # For each matcher that neither reports a name nor triggers a logical
    # signature, how it is found once a signature that uses it is a candidate
    # (a SECONDARY_* value); 0 for the others.
    secondary: bytes
    # Per logical signature: the matcher of each subsignature (-1 for PCRE
    # and byte compares) and the matchers that must all have matched.
    logical_matchers: IntRows
    logical_required: IntRows
    # Logical signatures that can be true although no subsignature matched.
    always_evaluate: tuple[int, ...]
    report: CompileReport

    def scan_file(
        self, path: str | os.PathLike[str], options: ScanOptions | None = None
    ) -> ScanResult:
        return scanner.scan_file(self, path, options)

    def scan_bytes(self, data: Buffer, options: ScanOptions | None = None) -> ScanResult:
        return scanner.scan_bytes(self, data, options)

    def scan_fileobj(self, fileobj: BinaryIO, options: ScanOptions | None = None) -> ScanResult:
        return scanner.scan_fileobj(self, fileobj, options)


def _hash_indexes(entries: Iterable[HashSignature | AllowListEntry]) -> HashTable:
    by_algorithm: dict[HashAlgorithm, list[tuple[bytes, int | None, str]]] = defaultdict(list)
    for entry in entries:
        by_algorithm[entry.algorithm].append((entry.digest, entry.size, entry.name))
    return {algorithm: HashIndex.of(rows) for algorithm, rows in by_algorithm.items()}


def _is_positional(offset: Offset) -> bool:
    return offset.maxshift is None and offset.kind in (OffsetKind.ABSOLUTE, OffsetKind.EOF)


class _MatcherTable:
    """Collects distinct matchers and who uses each, before they are frozen."""

    def __init__(self) -> None:
        self.ids: dict[tuple, int] = {}
        self.matchers: list[BodyMatcher] = []
        self.signatures: list[list[int]] = []
        self.triggers: list[list[int]] = []
        self.limits: list[int | None] = []
        # Length of each matcher's longest literal: how rare its matches are.
        self.rarity: list[int] = []

    def add(
        self,
        pattern: Pattern,
        modifiers: SubsignatureModifiers | None,
        offset: Offset,
        target: Target,
    ) -> int:
        if offset is ANY_OFFSET and (
            modifiers is None
            or not (modifiers.nocase or modifiers.wide or modifiers.fullword or modifiers.ascii)
        ):
            # Most subsignatures: skip hashing the offset and modifier objects.
            key: tuple = (pattern.source, target)
        else:
            key = (pattern.source, modifiers, offset, target)
        matcher_id = self.ids.setdefault(key, len(self.matchers))
        if matcher_id == len(self.matchers):
            self.matchers.append(BodyMatcher(pattern, modifiers, offset, target))
            self.signatures.append([])
            self.triggers.append([])
            self.limits.append(1)
            elements = pattern.elements
            self.rarity.append(
                len(elements[0].data)
                if len(elements) == 1 and type(elements[0]) is Literal
                else max((len(e.data) for e in elements if type(e) is Literal), default=0)
            )
        return matcher_id

    def raise_limit(self, matcher_id: int, limit: int | None) -> None:
        current = self.limits[matcher_id]
        if current is not None:
            self.limits[matcher_id] = None if limit is None else max(current, limit)

    def frozen(self) -> tuple[BodyMatcher, ...]:
        for matcher, signatures, triggers, limit in zip(
            self.matchers, self.signatures, self.triggers, self.limits, strict=True
        ):
            matcher.signatures = tuple(signatures)
            matcher.triggers = tuple(triggers)
            matcher.count_limit = limit
        return tuple(self.matchers)


def _add_logical(
    table: _MatcherTable, index: int, signature: LogicalSignature, facts: _Facts
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Register a logical signature's body subsignatures; returns its matcher ids
    and the ids of the matchers that must all match."""
    target = signature.target_description.target or Target.ANY
    limit, required_indexes, _ = facts.of(signature.expression)
    read_at_last = {
        sub.trigger for sub in signature.subsignatures if isinstance(sub, ByteCompareSubsignature)
    }
    ids = []
    for sub_index, sub in enumerate(signature.subsignatures):
        if not isinstance(sub, BodySubsignature):
            ids.append(-1)
            continue
        matcher_id = table.add(sub.pattern, sub.modifiers, sub.offset, target)
        table.raise_limit(matcher_id, None if sub_index in read_at_last else limit)
        ids.append(matcher_id)
    required = [ids[i] for i in required_indexes if ids[i] >= 0]
    # Evaluate only once the rarest required pattern matched (the one with the
    # longest literal); with none required, any body subsignature may decide.
    if required:
        keys = [max(required, key=table.rarity.__getitem__)]
    else:
        keys = [matcher_id for matcher_id in ids if matcher_id >= 0]
    for matcher_id in set(keys):
        table.triggers[matcher_id].append(index)
    return tuple(ids), tuple(sorted(set(required)))


class _Facts:
    """What the compiler needs of each expression, worked out once per expression
    object: the parser shares one object among the signatures with the same text."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[Expression, tuple[int, tuple[int, ...], bool]]] = {}

    def of(self, expression: Expression) -> tuple[int, tuple[int, ...], bool]:
        known = self._known.get(id(expression))
        if known is None:
            facts = (
                count_limit(expression),
                tuple(sorted(required_subsignatures(expression))),
                true_without_matches(expression),
            )
            # The expression is kept so that its id stays unique.
            known = self._known[id(expression)] = (expression, facts)
        return known[1]


def compile_engine(database: Database, prefilter_backend: str | None = None) -> Engine:
    """The engine for ``database``; the prefilter backend defaults to the
    fastest installed (see ``prefilter.default_backend``)."""
    # A million objects are built: see collector_paused.
    with collector_paused():
        return _compile(database, prefilter_backend)


def _compile(database: Database, prefilter_backend: str | None) -> Engine:
    table = _MatcherTable()
    facts = _Facts()
    for index, signature in enumerate(database.body_signatures):
        matcher_id = table.add(signature.pattern, None, signature.offset, signature.target)
        table.signatures[matcher_id].append(index)
    logical_matchers, logical_required, always_evaluate = [], [], []
    for index, signature in enumerate(database.logical_signatures):
        ids, required = _add_logical(table, index, signature, facts)
        logical_matchers.append(ids)
        logical_required.append(required)
        # A PCRE without a trigger (a YARA regex string) runs on every object.
        if facts.of(signature.expression)[2] or any(
            isinstance(sub, PcreSubsignature) and not expression_indexes(sub.trigger)
            for sub in signature.subsignatures
        ):
            always_evaluate.append(index)
    matchers = table.frozen()

    # (secondary, target, nocase) -> literal -> (matcher, delta_min, delta_max) for each use
    anchor_refs: dict[tuple[bool, Target, bool], dict[bytes, list[tuple[int, int, int]]]] = (
        defaultdict(lambda: defaultdict(list))
    )
    positional: dict[Target, list[int]] = defaultdict(list)
    unanchored: dict[Target, list[int]] = defaultdict(list)
    needs_executable = 0
    secondary = bytearray(len(matchers))
    for matcher_id, matcher in enumerate(matchers):
        if matcher.offset.needs_executable:
            needs_executable += 1
        # Only counted once a logical signature is a candidate: looked at then.
        is_secondary = not matcher.signatures and not matcher.triggers
        if _is_positional(matcher.offset):
            if is_secondary:
                secondary[matcher_id] = SECONDARY_POSITIONAL
            else:
                positional[matcher.target].append(matcher_id)
            continue
        anchors = pattern_anchors(matcher.pattern, matcher.modifiers, max_length=MAX_ANCHOR_BYTES)
        if not anchors:
            if is_secondary:
                secondary[matcher_id] = SECONDARY_UNANCHORED
            else:
                unanchored[matcher.target].append(matcher_id)
            continue
        if is_secondary:
            secondary[matcher_id] = SECONDARY_ANCHORED
        for anchor in anchors:
            delta_max = -1 if anchor.delta_max is None else anchor.delta_max
            anchor_refs[is_secondary, matcher.target, anchor.nocase][anchor.literal].append(
                (matcher_id, anchor.delta_min, delta_max)
            )
    anchors = _AnchorTableBuilder()
    for (is_secondary, target, nocase), refs in sorted(
        anchor_refs.items(), key=lambda item: item[0]
    ):
        groups = anchors.secondary_groups if is_secondary else anchors.groups
        anchors.add(groups, target, nocase, refs)

    return Engine(
        signature_count=database.signature_count,
        hashes=_hash_indexes(database.hash_signatures),
        allow_list=_hash_indexes(database.allow_list),
        section_hashes=_hash_indexes(database.section_hashes),
        import_hashes=_hash_indexes(database.import_hashes),
        body_signatures=database.body_signatures,
        logical_signatures=database.logical_signatures,
        matchers=matchers,
        prefilter=build_prefilter(anchors.groups, anchors.lengths, prefilter_backend),
        secondary_prefilter=build_prefilter(
            anchors.secondary_groups, anchors.lengths, prefilter_backend, deferred=True
        ),
        anchors=anchors.frozen(),
        positional={target: tuple(ids) for target, ids in positional.items()},
        unanchored={target: tuple(ids) for target, ids in unanchored.items()},
        secondary=bytes(secondary),
        logical_matchers=IntRows.of(logical_matchers),
        logical_required=IntRows.of(logical_required),
        always_evaluate=tuple(always_evaluate),
        report=CompileReport(
            matchers=len(matchers),
            anchors=len(anchors.lengths),
            unanchored=sum(map(len, unanchored.values())),
            secondary=len(secondary) - secondary.count(0),
            needs_executable=needs_executable,
        ),
    )
