"""Match the compiled signatures against one object: a file or a container member.

Strategy: each *view* of the object (the raw bytes, plus the normalised text
or HTML that target types 7 and 3 see) is fed to the anchor automaton in
bounded chunks decoded as latin-1, so a scan never holds a second full-size
copy of a large object.  Anchor hits name candidate matchers and start
positions; only those are verified with the matcher's verifier against the
whole view.  Hashes are computed only for sizes some signature has.
Logical signatures are evaluated once per view from the match counts of
their subsignatures.

Executables: the layout of a PE, ELF or Mach-O object (``clamkit.executables``)
is parsed at most once per layer and only when something needs it: a
matcher with an EP/section offset whose anchor fired, a logical signature
with an EntryPoint/NumberOfSections condition that is a candidate, section
or import hash tables that are not empty, or the Broken.Executable alert.
A PE or ELF file is always parsed, because whether its headers parse
decides whether EOF-n offsets apply; other files pay nothing.  A ``VI``
matcher may start only at a key of a PE's version strings
(``executables.resources``), which are read when such a matcher is first
placed.

This module knows nothing of containers: ``scanner`` walks them and hands
each object here as a ``Layer`` that says where it was found.

Result order (allmatch): body signatures by match position, then file hashes,
then logical signatures in load order; without allmatch the first of those
is reported.  The reference interleaves these in ways that depend on its scan
passes and sometimes reports a name twice; clamkit reports each name once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clamkit.engine.bodyregex import Buffer, VerifyMemo
from clamkit.engine.filetypes import (
    FileType,
    refine_file_type,
    target_types,
    utf16le_as_ascii,
)
from clamkit.engine.logic import byte_compare_matches, evaluate, pcre_matches
from clamkit.engine.normalize import html_views, normalize_text
from clamkit.engine.options import MiB, ScanOptions
from clamkit.engine.prefilter import release_pages
from clamkit.executables import (
    Broken,
    ExecutableKind,
    ExecutableLayout,
    eof_offsets_resolve,
    parse_executable,
)
from clamkit.executables.pe import import_hash_text
from clamkit.executables.resources import version_info_keys
from clamkit.signatures.model import (
    ByteCompareSubsignature,
    HashAlgorithm,
    Offset,
    OffsetKind,
    PcreSubsignature,
    Target,
    TargetDescription,
)

if TYPE_CHECKING:
    from clamkit.engine.compiler import AnchorTable, BodyMatcher, Engine, HashTable

# How much of a view the automaton sees at once: large enough that the
# per-chunk overhead vanishes, small enough to bound the decoded copy.
CHUNK_SIZE = 2 * MiB

# An anchor whose distance from the pattern start varies by at most this much
# is verified at each possible start; wider ranges fall back to one verifier
# search over the view per scan.
MAX_POSITIONS_PER_HIT = 64

# How a secondary matcher (see compiler) is found: through the secondary
# prefilter's hits, at its one position, or by a search over the view.
SECONDARY_ANCHORED, SECONDARY_POSITIONAL, SECONDARY_UNANCHORED = 1, 2, 3

# Views larger than this find secondary matchers through one pass of the
# secondary prefilter; smaller ones search each asked-for matcher directly,
# which is cheaper than collecting the many short-anchor hits executables
# give (150 -> 70 ms per Debian test file, mostly executables).
SECONDARY_PASS_SIZE = MiB

# What the reference reports for a malformed executable with AlertBrokenExecutables.
BROKEN_EXECUTABLE = "Heuristics.Broken.Executable"

_HASHERS = {
    HashAlgorithm.MD5: hashlib.md5,
    HashAlgorithm.SHA1: hashlib.sha1,
    HashAlgorithm.SHA256: hashlib.sha256,
}


@dataclass(frozen=True, slots=True)
class Layer:
    """One object to match: the scanned file itself or a member found inside it.

    ``containers`` lists the types of the containers it was found in,
    outermost first (empty at the top level): logical signatures'
    ``Container:`` is the last of them, ``Intermediates:`` the chain.
    """

    data: Buffer
    file_type: FileType
    containers: tuple[FileType, ...] = ()


class _Executable:
    """The layer's executable layout, parsed on first request."""

    __slots__ = ("_data", "_file_type", "_parsed", "_version_keys")

    def __init__(self, layer: Layer) -> None:
        self._data = layer.data
        self._file_type = layer.file_type
        self._parsed: ExecutableLayout | Broken | bool | None = False
        self._version_keys: frozenset[int] | None = None

    def parsed(self) -> ExecutableLayout | Broken | None:
        if self._parsed is False:
            self._parsed = parse_executable(self._file_type, self._data)
        return self._parsed  # type: ignore[return-value]

    def layout(self) -> ExecutableLayout | None:
        """The layout, None for a file that is no executable or a broken one."""
        parsed = self.parsed()
        return parsed if isinstance(parsed, ExecutableLayout) else None

    def eof_resolves(self) -> bool:
        return eof_offsets_resolve(self._file_type, self.parsed())

    def version_keys(self) -> frozenset[int]:
        """Where VI matches may start: the keys of a PE's version strings."""
        if self._version_keys is None:
            layout = self.layout()
            self._version_keys = (
                version_info_keys(self._data, layout)
                if layout is not None and layout.kind is ExecutableKind.PE
                else frozenset()
            )
        return self._version_keys

    def broken(self) -> bool:
        """Whether the reference reports this object as Heuristics.Broken.Executable."""
        parsed = self.parsed()
        if isinstance(parsed, ExecutableLayout):
            return parsed.malformed
        return parsed is not None and parsed.alerts


def _executable_window(offset: Offset, layout: ExecutableLayout) -> tuple[int, int] | None:
    """[low, high] for an EP, Sx, SEx or SL offset in ``layout``, before clipping."""
    sections = layout.sections
    if offset.kind is OffsetKind.EP:
        if layout.entry_point is None:
            return None
        low = layout.entry_point + offset.value
        extent = 0
    else:
        if offset.kind is OffsetKind.LAST_SECTION:
            index = len(sections) - 1
        else:
            index = offset.section if offset.section is not None else -1
        if not 0 <= index < len(sections):
            return None
        section = sections[index]
        low = section.raw_offset + offset.value
        # SEx: anywhere from the section's first byte to one past its last.
        extent = section.raw_size if offset.kind is OffsetKind.SECTION_ENTIRE else 0
    return low, low + extent + (offset.maxshift or 0)


@dataclass(frozen=True, slots=True)
class LayerVerdict:
    """Names found in one layer (allow-listed ones already removed) and bytes matched."""

    names: tuple[str, ...]
    bytes_scanned: int


class _ViewMatches:
    """Start positions found per matcher in one view, counted up to its limit."""

    __slots__ = (
        "_secondary_hits",
        "asked",
        "eof_resolves",
        "executable",
        "memo",
        "searched",
        "starts",
        "windows",
    )

    def __init__(self, executable: _Executable | None) -> None:
        # None for a derived view (normalised text), which has no layout.
        self.executable = executable
        self.eof_resolves = executable is None or executable.eof_resolves()
        # what multi-part verifiers learnt about this view
        self.memo = VerifyMemo()
        # matcher id -> start positions, in the order found
        self.starts: dict[int, dict[int, None]] = {}
        # matchers already searched over the whole view
        self.searched: set[int] = set()
        # secondary matchers already looked for
        self.asked: set[int] = set()
        # the secondary prefilter's hits by matcher: (anchor start, reference)
        self._secondary_hits: dict[int, list[tuple[int, int]]] | None = None
        # matcher id -> its window in this view: anchors of the same matcher
        # fire again and again, and executable-relative windows take a lookup
        self.windows: dict[int, tuple[int, int] | None] = {}

    def secondary_hits(
        self, engine: Engine, view: Buffer, targets: frozenset[Target]
    ) -> dict[int, list[tuple[int, int]]]:
        """The secondary prefilter's hits in this view, by matcher (one pass, on first need)."""
        if self._secondary_hits is None:
            table = engine.anchors
            first_ref, ref_matchers = table.first_ref, table.ref_matchers
            self._secondary_hits = hits = {}
            for anchor_start, anchor_id in engine.secondary_prefilter.hits(view, targets):
                for ref in range(first_ref[anchor_id], first_ref[anchor_id + 1]):
                    hits.setdefault(ref_matchers[ref], []).append((anchor_start, ref))
        return self._secondary_hits

    def record(self, matcher_id: int, start: int) -> None:
        self.starts.setdefault(matcher_id, {})[start] = None

    def done(self, matcher_id: int, matcher: BodyMatcher) -> bool:
        """Whether more matches of this matcher would change nothing."""
        found = self.starts.get(matcher_id)
        return (
            found is not None
            and matcher.count_limit is not None
            and len(found) >= matcher.count_limit
        )

    def misplaced(self, matcher: BodyMatcher, start: int) -> bool:
        """Whether a VI matcher's match starts elsewhere than at a version key."""
        return matcher.offset.kind is OffsetKind.VERSION_INFO and (
            self.executable is None or start not in self.executable.version_keys()
        )

    def window(self, matcher: BodyMatcher, size: int) -> tuple[int, int] | None:
        """Allowed start positions [low, high] for the matcher, None if nowhere."""
        offset = matcher.offset
        if offset.kind is OffsetKind.ANY:
            return 0, size
        if offset.kind is OffsetKind.ABSOLUTE:
            low = offset.value
            high = low + (offset.maxshift or 0)
        elif offset.kind is OffsetKind.EOF:
            if not self.eof_resolves:
                return None
            low = size - offset.value
            high = low + (offset.maxshift or 0)
        elif offset.kind is OffsetKind.VERSION_INFO:
            # The span of the keys; ``misplaced`` checks each start.
            keys = self.executable.version_keys() if self.executable is not None else None
            if not keys:
                return None
            low, high = min(keys), max(keys)
        else:
            layout = self.executable.layout() if self.executable is not None else None
            window = None if layout is None else _executable_window(offset, layout)
            if window is None:
                return None
            low, high = window
        if high < 0 or low > size:
            return None
        return max(low, 0), min(high, size)


def _search(
    matcher_id: int,
    matcher: BodyMatcher,
    view: Buffer,
    window: tuple[int, int],
    found: _ViewMatches,
) -> None:
    """Find matches of ``matcher`` starting anywhere in ``window``."""
    low, high = window
    position = low
    while position <= high:
        start = matcher.verifier.search(view, position, found.memo)
        if start is None or start > high:
            return
        if not found.misplaced(matcher, start):
            found.record(matcher_id, start)
            if found.done(matcher_id, matcher):
                return
        position = start + 1


def _verify_at(
    matcher_id: int,
    matcher: BodyMatcher,
    view: Buffer,
    start: int,
    size: int,
    found: _ViewMatches,
) -> None:
    windows = found.windows
    if matcher_id in windows:
        window = windows[matcher_id]
    else:
        window = windows[matcher_id] = found.window(matcher, size)
    if window is None or not window[0] <= start <= window[1]:
        return
    if found.misplaced(matcher, start):
        return
    if matcher.verifier.match(view, start, found.memo):
        found.record(matcher_id, start)


def _verify_hit(
    matcher_id: int,
    matcher: BodyMatcher,
    anchor_start: int,
    ref: int,
    table: AnchorTable,
    view: Buffer,
    size: int,
    found: _ViewMatches,
) -> None:
    """Verify the matcher where this anchor occurrence (reference ``ref``) puts it."""
    delta_min, delta_max = table.ref_delta_min[ref], table.ref_delta_max[ref]
    if delta_max == delta_min:
        _verify_at(matcher_id, matcher, view, anchor_start - delta_min, size, found)
    elif delta_max >= 0 and delta_max - delta_min <= MAX_POSITIONS_PER_HIT:
        for start in range(max(anchor_start - delta_max, 0), anchor_start - delta_min + 1):
            _verify_at(matcher_id, matcher, view, start, size, found)
    elif matcher_id not in found.searched:
        found.searched.add(matcher_id)
        _look_in_window(matcher_id, matcher, view, size, found, positional=False)


def _look_in_window(
    matcher_id: int,
    matcher: BodyMatcher,
    view: Buffer,
    size: int,
    found: _ViewMatches,
    *,
    positional: bool,
) -> None:
    """Without an anchor hit: verify the matcher at the one position its
    offset allows (``positional``), or search its whole window."""
    window = found.window(matcher, size)
    if window is None:
        return
    if positional:
        _verify_at(matcher_id, matcher, view, window[0], size, found)
    else:
        _search(matcher_id, matcher, view, window, found)


def _match_view(
    engine: Engine, view: Buffer, targets: frozenset[Target], executable: _Executable | None
) -> _ViewMatches:
    size = len(view)
    found = _ViewMatches(executable)
    matchers = engine.matchers
    table = engine.anchors
    first_ref, ref_matchers = table.first_ref, table.ref_matchers
    for anchor_start, anchor_id in engine.prefilter.hits(view, targets):
        for ref in range(first_ref[anchor_id], first_ref[anchor_id + 1]):
            matcher_id = ref_matchers[ref]
            matcher = matchers[matcher_id]
            # Every matcher of an anchor has the anchor's target group.
            if not found.done(matcher_id, matcher):
                _verify_hit(matcher_id, matcher, anchor_start, ref, table, view, size, found)
    for target in targets:
        for matcher_id in engine.positional.get(target, ()):
            matcher = matchers[matcher_id]
            _look_in_window(matcher_id, matcher, view, size, found, positional=True)
        for matcher_id in engine.unanchored.get(target, ()):
            matcher = matchers[matcher_id]
            _look_in_window(matcher_id, matcher, view, size, found, positional=False)
    return found


def _body_names(engine: Engine, found: _ViewMatches) -> list[str]:
    """Extended signatures that matched, by first match position, then load order."""
    hits = []
    for matcher_id, starts in found.starts.items():
        first = min(starts)
        hits.extend((first, index) for index in engine.matchers[matcher_id].signatures)
    return [engine.body_signatures[index].name for _, index in sorted(hits)]


def _context_holds(
    description: TargetDescription, layer: Layer, executable: _Executable | None
) -> bool:
    """Whether the target description's executable and container conditions hold."""
    if description.entry_point is not None or description.number_of_sections is not None:
        layout = executable.layout() if executable is not None else None
        if layout is None:
            return False
        if description.entry_point is not None and (
            layout.entry_point is None or layout.entry_point not in description.entry_point
        ):
            return False
        if (
            description.number_of_sections is not None
            and len(layout.sections) not in description.number_of_sections
        ):
            return False
    if description.icon_group1 is not None or description.icon_group2 is not None:
        # Icon matching is not implemented; the loader skips such signatures.
        return False
    containers = layer.containers
    if description.container is not None and (
        not containers or containers[-1].name != description.container
    ):
        return False
    intermediates = description.intermediates
    return intermediates is None or (
        len(intermediates) <= len(containers)
        and tuple(t.name for t in containers[len(containers) - len(intermediates) :])
        == intermediates
    )


def _secondary_found(
    matcher_id: int,
    view: Buffer,
    size: int,
    targets: frozenset[Target],
    found: _ViewMatches,
    engine: Engine,
) -> bool:
    """Whether the matcher matched in this view, looking for a secondary one
    (not in the first prefilter) the first time it is asked for."""
    kind = engine.secondary[matcher_id]
    if kind and matcher_id not in found.asked:
        found.asked.add(matcher_id)
        matcher = engine.matchers[matcher_id]
        if kind == SECONDARY_ANCHORED and size > SECONDARY_PASS_SIZE:
            table = engine.anchors
            hits = found.secondary_hits(engine, view, targets).get(matcher_id, ())
            for anchor_start, ref in hits:
                if found.done(matcher_id, matcher):
                    break
                _verify_hit(matcher_id, matcher, anchor_start, ref, table, view, size, found)
        else:
            positional = kind == SECONDARY_POSITIONAL
            _look_in_window(matcher_id, matcher, view, size, found, positional=positional)
    return matcher_id in found.starts


def _logical_matches(
    engine: Engine,
    view: Buffer,
    targets: frozenset[Target],
    found: _ViewMatches,
    layer: Layer,
    options: ScanOptions,
) -> list[int]:
    """Indexes of the logical signatures that hold on this view, in load order."""
    # As the reference: no PCRE runs on a layer over PCREMaxFileSize, even
    # one whose window (the ``e`` flag) is smaller.
    run_pcre = not 0 < options.pcre_max_filesize < len(layer.data)
    matchers = engine.matchers
    starts = found.starts
    candidates = set(engine.always_evaluate)
    for matcher_id in starts:
        candidates.update(matchers[matcher_id].triggers)
    matched = []
    size = len(view)
    for index in sorted(candidates):
        signature = engine.logical_signatures[index]
        description = signature.target_description
        if (description.target or Target.ANY) not in targets:
            continue
        # Required subsignatures first: the first one absent rules the
        # signature out before the others cost a search.
        required = engine.logical_required[index]
        if not all(
            _secondary_found(matcher_id, view, size, targets, found, engine)
            for matcher_id in required
        ):
            continue
        for matcher_id in engine.logical_matchers[index]:
            if matcher_id >= 0:
                _secondary_found(matcher_id, view, size, targets, found, engine)
        if description.file_size is not None and len(layer.data) not in description.file_size:
            continue
        if not _context_holds(description, layer, found.executable):
            continue
        sub_matchers = engine.logical_matchers[index]
        counts = [len(starts.get(matcher_id, ())) for matcher_id in sub_matchers]
        for sub_index, sub in enumerate(signature.subsignatures):
            if isinstance(sub, PcreSubsignature):
                counts[sub_index] = (
                    pcre_matches(
                        sub, view, evaluate(sub.trigger, counts), eof_resolves=found.eof_resolves
                    )
                    if run_pcre
                    else 0
                )
            elif isinstance(sub, ByteCompareSubsignature):
                trigger_starts = list(starts.get(sub_matchers[sub.trigger], ()))
                counts[sub_index] = int(byte_compare_matches(sub, view, trigger_starts))
        if evaluate(signature.expression, counts):
            matched.append(index)
    return matched


def _digests(data: Buffer, size: int, tables: list[HashTable]) -> dict[HashAlgorithm, bytes]:
    wanted = {
        algorithm
        for table in tables
        for algorithm, index in table.items()
        if index.wanted_for(size)
    }
    hashers = {algorithm: _HASHERS[algorithm]() for algorithm in wanted}
    if hashers:
        view = memoryview(data)
        for position in range(0, size, CHUNK_SIZE):
            piece = view[position : position + CHUNK_SIZE]
            for hasher in hashers.values():
                hasher.update(piece)
            release_pages(data, position, CHUNK_SIZE)
    return {algorithm: hasher.digest() for algorithm, hasher in hashers.items()}


def _hash_names(table: HashTable, digests: dict[HashAlgorithm, bytes], size: int) -> list[str]:
    names: list[str] = []
    for algorithm in HashAlgorithm:  # MD5, SHA1, SHA256: a stable report order
        index = table.get(algorithm)
        if index is not None and algorithm in digests:
            names.extend(index.lookup(digests[algorithm], size))
    return names


_TEXT_TYPES = frozenset(
    {
        FileType.CL_TYPE_TEXT_ASCII,
        FileType.CL_TYPE_TEXT_UTF8,
        FileType.CL_TYPE_TEXT_UTF16LE,
        FileType.CL_TYPE_TEXT_UTF16BE,
    }
)
_HTML_TARGETS = frozenset({Target.ANY, Target.HTML})
_TEXT_TARGETS = frozenset({Target.ANY, Target.TEXT})
# The reference scans the normalised scripts twice, typed HTML and typed text.
_SCRIPT_TARGETS = _HTML_TARGETS | _TEXT_TARGETS


def _html_forms(html: Buffer, options: ScanOptions) -> Iterator[tuple[Buffer, frozenset[Target]]]:
    """The normalised forms of an HTML document, each within the reference's size limits."""
    if 0 < options.max_htmlnormalize < len(html):
        return
    # Copied only once within the limit: a mapped file is not copied in vain.
    views = html_views(bytes(html))
    yield views.normalized, _HTML_TARGETS
    if not 0 < options.max_htmlnotags < len(html):
        yield views.text, _HTML_TARGETS
    if views.javascript is not None:
        yield views.javascript, _SCRIPT_TARGETS


def _views(
    data: Buffer, file_type: FileType, options: ScanOptions
) -> Iterator[tuple[Buffer, frozenset[Target]]]:
    """The forms of the object that signatures see, with the targets each serves.

    As on the reference: HTML is seen only normalised (up to three forms);
    UTF-16 HTML raw by target 0, then narrowed to bytes and normalised; text
    is seen raw by everything but target 7, then normalised by targets 0 and
    7 (up to MaxScriptNormalize), unless its whole content shows it is HTML
    or mail after all.
    """
    if file_type is FileType.CL_TYPE_HTML:
        yield from _html_forms(data, options)
        return
    if file_type is FileType.CL_TYPE_HTML_UTF16:
        yield data, target_types(file_type)
        yield from _html_forms(utf16le_as_ascii(bytes(data)), options)
        return
    if file_type not in _TEXT_TYPES:
        yield data, target_types(file_type)
        return
    refined = refine_file_type(file_type, data)
    yield data, target_types(refined) - {Target.TEXT}
    if refined is FileType.CL_TYPE_HTML:
        yield from _html_forms(data, options)
    elif refined in _TEXT_TYPES and not 0 < options.max_scriptnormalize < len(data):
        yield normalize_text(bytes(data)), _TEXT_TARGETS


def scan_layer(engine: Engine, layer: Layer, options: ScanOptions) -> LayerVerdict:
    """Match every signature that applies to ``layer``; stop at the first name unless allmatch."""
    data = layer.data
    size = len(data)
    names: list[str] = []

    def report(new: list[str]) -> bool:
        """Add names; True when the scan may stop here."""
        for name in new:
            if name not in names:
                names.append(name)
            if not options.allmatch:
                break
        return bool(names) and not options.allmatch

    scanned = 0
    stop = False
    executable = _Executable(layer)
    digests = _digests(data, size, [engine.hashes, engine.allow_list])
    for position, (view, targets) in enumerate(_views(data, layer.file_type, options)):
        if options.scan_budget_exceeded(scanned + len(view)):
            break
        scanned += len(view)
        found = _match_view(engine, view, targets, executable if view is data else None)
        if report(_body_names(engine, found)):
            stop = True
            break
        if position == 0 and report(_hash_names(engine.hashes, digests, size)):
            stop = True
            break
        logical = _logical_matches(engine, view, targets, found, layer, options)
        if report([engine.logical_signatures[index].name for index in logical]):
            stop = True
            break
    if not stop and not names:
        # Hash signatures stand even when no view was scanned.
        report(_hash_names(engine.hashes, digests, size))
    # The reference looks at the executable's structure after its raw scan,
    # and stops there when the headers are broken.
    if options.allmatch or not names:
        if options.alert_broken_executables and executable.broken():
            report([BROKEN_EXECUTABLE])
        elif layer.file_type is FileType.CL_TYPE_MSEXE:
            report(_pe_hash_names(engine, data, executable))
    if names and _hash_names(engine.allow_list, digests, size):
        names = []
    return LayerVerdict(tuple(names), scanned)


def _pe_hash_names(engine: Engine, data: Buffer, executable: _Executable) -> list[str]:
    """Names of the section hash (.mdb/.msb) and import hash (.imp) signatures that match."""
    if not (engine.section_hashes or engine.import_hashes):
        return []
    layout = executable.layout()
    if layout is None:
        return []
    names: list[str] = []
    if engine.section_hashes:
        view = memoryview(data)
        for section in layout.sections:
            start, size = section.raw_offset, section.raw_size
            if size:
                names.extend(_piece_hash_names(engine.section_hashes, view[start : start + size]))
    if engine.import_hashes:
        text = import_hash_text(data, layout)
        if text is not None:
            names.extend(_piece_hash_names(engine.import_hashes, text))
    return names


def _piece_hash_names(table: HashTable, piece: Buffer) -> list[str]:
    """Names of ``table``'s signatures for the digest and size of ``piece``."""
    size = len(piece)
    return _hash_names(table, _digests(piece, size, [table]), size)
