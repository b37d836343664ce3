"""The literal prefilter: where in a view do any of the engine's anchors occur.

The compiler hands over the anchors grouped by the target type of the
matchers that use them; a scan asks only the groups its object's type can
match, so random data never pays for the thousands of short PE, OLE2 or
HTML anchors.  Two interchangeable backends answer the same question with
the same list of hits, ``(anchor start, anchor id)`` sorted:

- ``hyperscan`` (Intel's SIMD multi-pattern matcher, used where the package
  is installed): one block-mode database per group, anchors compiled as
  escaped-byte expressions (the binding's pure-literal mode measures lengths
  with ``strlen`` and truncates at NUL bytes), case-insensitive ones with
  the caseless flag.  Databases pickle as their serialised form.
- ``ahocorasick`` (pyahocorasick, portable, the reference backend): two
  automata per group, one over lowered text for case-insensitive anchors.

Both walk a view in bounded chunks with an overlap of the longest anchor,
so a mapped file is never copied whole and its pages are handed back as the
pass moves on.  tests/test_prefilter.py proves the backends agree.
"""

from __future__ import annotations

import array
import mmap
import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import ahocorasick

from clamkit.engine.bodyregex import Buffer
from clamkit.engine.options import MiB
from clamkit.signatures.model import Target

try:
    import hyperscan
except ImportError:  # the portable backend serves where the wheel is missing
    hyperscan = None

# How much of a view one prefilter call sees: large enough that per-call
# overhead vanishes, small enough to bound a decoded copy and resident pages.
CHUNK_SIZE = 2 * MiB

# Set to "ahocorasick" or "hyperscan" to choose the backend (tests, comparisons).
BACKEND_VARIABLE = "CLAMKIT_PREFILTER"


@dataclass(frozen=True, slots=True)
class GroupedAnchor:
    anchor_id: int
    literal: bytes
    nocase: bool


Hit = tuple[int, int]  # (start of the anchor in the view, anchor id)
Groups = Mapping[Target, Sequence[GroupedAnchor]]  # anchors by their matchers' target


class Prefilter(Protocol):
    backend: str

    def hits(self, view: Buffer, targets: frozenset[Target]) -> list[Hit]:
        """Every occurrence of an anchor of the groups in ``targets``, sorted."""
        ...


def available_backends() -> tuple[str, ...]:
    return ("hyperscan", "ahocorasick") if hyperscan is not None else ("ahocorasick",)


def default_backend() -> str:
    chosen = os.environ.get(BACKEND_VARIABLE)
    if chosen:
        if chosen not in available_backends():
            raise ValueError(
                f"{BACKEND_VARIABLE}={chosen}: not one of {', '.join(available_backends())}"
            )
        return chosen
    return available_backends()[0]


def build_prefilter(
    groups: Groups, lengths: array.array, backend: str | None = None, *, deferred: bool = False
) -> Prefilter:
    """A prefilter over ``groups``; ``lengths[anchor_id]`` is each anchor's length.
    ``deferred``: built on first use (``DeferredPrefilter``)."""
    backend = backend or default_backend()
    if deferred:
        return DeferredPrefilter(groups, lengths, backend)
    if backend == "hyperscan":
        return HyperscanPrefilter(groups, lengths)
    if backend == "ahocorasick":
        return AhoCorasickPrefilter(groups, lengths)
    raise ValueError(f"unknown prefilter backend {backend!r}")


class DeferredPrefilter:
    """A prefilter built when first asked for hits, or when pickled.

    The secondary prefilter (see ``compiler``) is needed only for large
    views, and compiling its 80,000 anchors takes hyperscan seconds: a
    one-off ``clamscan`` of small files should not wait for it.  A cached
    engine holds it built.
    """

    def __init__(self, groups: Groups, lengths: array.array, backend: str) -> None:
        self.backend = backend
        self._arguments: tuple[Groups, array.array, str] | None = (groups, lengths, backend)
        self._built: Prefilter | None = None

    def built(self) -> Prefilter:
        if self._built is None:
            assert self._arguments is not None
            self._built = build_prefilter(*self._arguments)
            self._arguments = None
        return self._built

    def hits(self, view: Buffer, targets: frozenset[Target]) -> list[Hit]:
        return self.built().hits(view, targets)

    def __reduce__(self) -> tuple:
        # Unpickled, it is the built prefilter itself.
        return _itself, (self.built(),)


def _itself(prefilter: Prefilter) -> Prefilter:
    return prefilter


class JoinedPrefilter:
    """The prefilters of several engines joined into one (``engine.join``):
    each part's anchor ids are shifted by the part's base, the hits merged."""

    def __init__(self, parts: Sequence[tuple[Prefilter, int]]) -> None:
        self.backend = parts[0][0].backend
        self._parts = tuple(parts)

    def hits(self, view: Buffer, targets: frozenset[Target]) -> list[Hit]:
        found: list[Hit] = []
        for prefilter, base in self._parts:
            hits = prefilter.hits(view, targets)
            found.extend(hits if not base else [(start, i + base) for start, i in hits])
        found.sort()
        return found


def _chunks(view: Buffer, overlap: int, step: int) -> Iterable[tuple[int, Buffer, bool]]:
    """(start, piece, last) over the view, ``step`` bytes apart; each piece
    overlaps the next by ``overlap``."""
    size = len(view)
    whole = memoryview(view) if not isinstance(view, memoryview) else view
    for start in range(0, max(size, 1), step):
        last = start + step >= size
        yield start, whole[start : start + step + overlap], last
        release_pages(view, start, step)


def release_pages(view: Buffer, start: int, length: int) -> None:
    """Give back the pages of a mapped file once a pass is past them.

    They stay in the page cache; the process's memory stops growing with the
    file, and a later look back (a verifier, a container reader) maps them
    again.  Other buffers are left alone.
    """
    if isinstance(view, mmap.mmap):
        view.madvise(mmap.MADV_DONTNEED, start, max(min(length, len(view) - start), 0))


def _keep(start: int, last: bool, step: int) -> bool:
    # A hit starting in the overlap is found again, whole, in the next chunk.
    return start < step or last


class HyperscanPrefilter:
    backend = "hyperscan"

    def __init__(self, groups: Groups, lengths: array.array) -> None:
        self._lengths = lengths
        self._overlap = max(lengths, default=1) - 1
        self._databases = {}
        for target, anchors in groups.items():
            if not anchors:
                continue
            database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            database.compile(
                expressions=[
                    "".join(f"\\x{byte:02x}" for byte in anchor.literal).encode("ascii")
                    for anchor in anchors
                ],
                ids=[anchor.anchor_id for anchor in anchors],
                elements=len(anchors),
                flags=[hyperscan.HS_FLAG_CASELESS if a.nocase else 0 for a in anchors],
            )
            self._databases[target] = database

    # Pickled as the serialised databases, out of band (read back from the
    # engine cache they are views of its mapping, not copies, until loaded).
    def __getstate__(self) -> tuple[array.array, dict[Target, pickle.PickleBuffer]]:
        return self._lengths, {
            target: pickle.PickleBuffer(hyperscan.dumpb(database))
            for target, database in self._databases.items()
        }

    def __setstate__(self, state: tuple[array.array, dict[Target, Buffer]]) -> None:
        self._lengths, serialised = state
        self._overlap = max(self._lengths, default=1) - 1
        self._databases = {}
        for target, data in serialised.items():
            database = hyperscan.loadb(bytes(data), hyperscan.HS_MODE_BLOCK)
            database.scratch = hyperscan.Scratch(database)
            self._databases[target] = database

    def hits(self, view: Buffer, targets: frozenset[Target]) -> list[Hit]:
        databases = [self._databases[t] for t in targets if t in self._databases]
        found: list[Hit] = []
        if not databases or not len(view):
            return found
        lengths = self._lengths
        ends: list[tuple[int, int]] = []

        def on_match(anchor_id: int, _from: int, end: int, _flags: int, _context: None) -> None:
            ends.append((end, anchor_id))

        step = CHUNK_SIZE
        for chunk_start, piece, last in _chunks(view, self._overlap, step):
            for database in databases:
                database.scan(piece, match_event_handler=on_match)
            for end, anchor_id in ends:
                start = end - lengths[anchor_id]
                if _keep(start, last, step):
                    found.append((chunk_start + start, anchor_id))
            ends.clear()
        found.sort()
        return found


class AhoCorasickPrefilter:
    backend = "ahocorasick"

    def __init__(self, groups: Groups, lengths: array.array) -> None:
        self._lengths = lengths
        self._overlap = max(lengths, default=1) - 1
        # per target: (automaton over the text, automaton over the lowered text)
        self._automata: dict[Target, tuple[ahocorasick.Automaton | None, ...]] = {
            target: (
                _automaton(a for a in anchors if not a.nocase),
                _automaton(a for a in anchors if a.nocase),
            )
            for target, anchors in groups.items()
        }

    def hits(self, view: Buffer, targets: frozenset[Target]) -> list[Hit]:
        pairs = [self._automata[t] for t in targets if t in self._automata]
        found: list[Hit] = []
        if not pairs or not len(view):
            return found
        lengths = self._lengths
        # pyahocorasick matches str: each chunk is copied up to four times
        # (bytes, text, lowered bytes and text), so chunks are smaller here.
        step = max(CHUNK_SIZE // 4, 1)
        for chunk_start, piece, last in _chunks(view, self._overlap, step):
            chunk = bytes(piece)
            text = chunk.decode("latin-1")
            lowered = None
            for exact, nocase in pairs:
                for automaton, lower in ((exact, False), (nocase, True)):
                    if automaton is None:
                        continue
                    if lower and lowered is None:
                        # bytes.lower folds ASCII only, as the anchors were folded
                        lowered = chunk.lower().decode("latin-1")
                    for end, anchor_id in automaton.iter(lowered if lower else text):
                        start = end - lengths[anchor_id] + 1
                        if _keep(start, last, step):
                            found.append((chunk_start + start, anchor_id))
        found.sort()
        return found


def _automaton(anchors: Iterable[GroupedAnchor]) -> ahocorasick.Automaton | None:
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for anchor in anchors:
        automaton.add_word(anchor.literal.decode("latin-1"), anchor.anchor_id)
    if not len(automaton):
        return None
    automaton.make_automaton()
    return automaton
