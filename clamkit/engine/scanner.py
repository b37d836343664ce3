"""Scan one object (a file, a buffer or a stream) with a compiled ``Engine``, containers included.

Strategy: the data is reached through a buffer (an mmap for files, so the
page cache holds it rather than our heap) and typed from its first bytes.
Every registered container format that recognises the object yields its
members one at a time; each member is typed and walked the same way, depth
first, with the chain of container types it was found in.  Then, unless a
name already ends the scan, the object's own bytes are matched
(``matching.scan_layer``): the reference names a member's signature before
its container's.  Executables and unclassified data are matched first and
opened after, as the reference unpacks them after their raw scan.

Limits, as the reference applies them (observed on ClamAV 1.4):

- MaxRecursion: the top-level object is depth 0; a member at depth
  ``MaxRecursion`` or deeper is not scanned (``...MaxRecursion``), its
  siblings still are.  A member is one level below its container, except
  where the format says otherwise (an optional ``levels`` attribute: the
  reference counts an embedded PE image two levels down).  A format may
  also impose its members' type (an optional ``member_type``: disk
  partitions are ``CL_TYPE_PART_ANY``), and such members are matched as raw
  data, never opened.  The reference scans an HTML page's normalised views
  as one child object after its other members (not at all once one of
  them was found infected), which the matcher here covers in the page's
  own layer; a format with ``normalised_views`` has that child accounted
  for (one level down, one file) without scanning it again.
- MaxFiles: the top-level object counts, and so does every member of more
  than 5 bytes; a member met when the count has reached the limit ends the
  scan (``...MaxFiles``).  ZIP adds its own first-pass check (see ``zip``).
- MaxFileSize: a top-level object or a member whose declared size is over
  it is skipped (``...MaxFileSize``); a member cut at it by its decompressor
  is scanned as far as it was extracted, with the same alert.
- MaxScanSize: the sizes of the top-level object and of every member,
  summed over the scan; a top-level object alone over it is not scanned,
  and a member that would pass it (by declared size, or cut at what
  remained) ends the scan (``...MaxScanSize``).
- MaxScanTime: checked between members; when passed the scan ends with what
  it found (``...MaxScanTime``).
- ``should_stop`` is polled between members too, and ends the scan silently.

The ``Heuristics.Limits.Exceeded.*`` names are reported only under
AlertExceedsMax, and format ``Alert``s only when their option is on.  Like
the reference, these heuristic names do not end the scan (unless
HeuristicScanPrecedence): a signature found later is reported first, and
without allmatch only that signature is.

Memory bound: one member per nesting level is held at a time, each at most
MaxFileSize, and all of them together within MaxScanSize (which counts
every member), so extracted data held at once never exceeds
``min(MaxRecursion * MaxFileSize, MaxScanSize)``: 400 MiB with the
defaults.  Add each format's decoder state (bounded per format: zlib's
32 KiB window, bzip2's 900 KiB blocks, xz under a 256 MiB memory limit) and
the top-level object, which a file scan maps rather than reads.  A format
that needs files writes them in one private directory (mode 0700) made on
first use and removed when the top-level scan ends, however it ends.
"""

from __future__ import annotations

import lzma
import mmap
import os
import shutil
import struct
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from clamkit import containers as registry
from clamkit.containers.base import (
    EXCEEDED_MAX_FILE_SIZE,
    EXCEEDED_MAX_FILES,
    EXCEEDED_MAX_RECURSION,
    EXCEEDED_MAX_SCAN_SIZE,
    EXCEEDED_MAX_SCAN_TIME,
    Alert,
    ContainerError,
    Member,
)
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType, detect_file_type
from clamkit.engine.matching import CHUNK_SIZE, Layer, scan_layer
from clamkit.engine.options import DEFAULT_OPTIONS, ScanOptions, ScanResult

if TYPE_CHECKING:
    from clamkit.engine.compiler import Engine

__all__ = [
    "scan_bytes",
    "scan_file",
    "scan_fileobj",
]

# Objects this small, top-level or members, are neither scanned nor counted
# toward MaxFiles, as on the reference.
TINY_OBJECT = 5

# How many leading bytes file type detection looks at.
TYPE_DETECTION_BYTES = 4096

# What decoders raise on corrupt input besides ContainerError; a corrupt
# container must end only itself, never the scan.
_CORRUPT_INPUT_ERRORS = (
    ContainerError,
    EOFError,
    ValueError,
    LookupError,
    OSError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
)
_UNLIMITED = 1 << 62

# clamd.conf's AlertEncrypted is AlertEncryptedArchive and AlertEncryptedDoc at once.
_ENCRYPTION_ALERTS = frozenset({"alert_encrypted_archive", "alert_encrypted_doc"})


# Types whose own bytes the reference matches before it opens them (it
# unpacks executables after their raw scan); containers are opened first.
_RAW_FIRST = frozenset(
    {
        FileType.CL_TYPE_MSEXE,
        FileType.CL_TYPE_ELF,
        FileType.CL_TYPE_MACHO,
        FileType.CL_TYPE_MACHO_UNIBIN,
        FileType.CL_TYPE_BINARY_DATA,
    }
)


class _StopScan(Exception):
    """A limit or the caller ended the whole scan; what was found stands."""


class _Walk:
    """One top-level scan: its counters, findings and scratch directory.

    It is also the ``Extraction`` the formats see.
    """

    def __init__(self, engine: Engine, options: ScanOptions, size: int) -> None:
        self.engine = engine
        self.options = options
        self.names: list[str] = []
        self.heuristics: list[str] = []
        # Toward MaxFiles: the top-level object, then every member bigger
        # than TINY_OBJECT bytes, as the reference counts them.
        self.files = 1
        # Toward MaxScanSize: the top-level object and every member, as the
        # reference counts them.
        self.counted = size
        self.bytes_scanned = 0
        self.deadline = (
            time.monotonic() + options.max_scantime_ms / 1000 if options.max_scantime_ms else None
        )
        self._scratch: Path | None = None

    # -- Extraction ---------------------------------------------------------

    def _scan_size_left(self) -> int:
        if not self.options.max_scansize:
            return _UNLIMITED
        return max(self.options.max_scansize - self.counted, 0)

    def member_budget(self) -> int:
        return min(self.options.max_filesize or _UNLIMITED, self._scan_size_left())

    def scratch_dir(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="clamkit-scan-"))
        return self._scratch

    def remove_scratch(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # -- findings -----------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether a name already settles the scan (no allmatch)."""
        return bool(self.names) and not self.options.allmatch

    def heuristic(self, name: str) -> None:
        if name not in self.heuristics:
            self.heuristics.append(name)
        if self.options.heuristic_scan_precedence and not self.options.allmatch:
            raise _StopScan

    def alert_enabled(self, option: str) -> bool:
        """Whether a format's alert is on; AlertEncrypted turns on both of its kinds."""
        if option in _ENCRYPTION_ALERTS and self.options.alert_encrypted:
            return True
        return bool(getattr(self.options, option))

    def exceeded(self, name: str, *, stop: bool) -> None:
        if self.options.alert_exceeds_max:
            self.heuristic(name)
        if stop:
            raise _StopScan

    def result_names(self) -> tuple[str, ...]:
        if self.options.allmatch:
            return (*self.names, *(h for h in self.heuristics if h not in self.names))
        return tuple(self.names[:1] or self.heuristics[:1])

    # -- the walk -----------------------------------------------------------

    def check_time(self) -> None:
        if self.options.should_stop is not None and self.options.should_stop():
            raise _StopScan
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.exceeded(EXCEEDED_MAX_SCAN_TIME, stop=True)

    def scan(
        self,
        data: Buffer,
        containers: tuple[FileType, ...],
        depth: int,
        imposed: FileType | None = None,
    ) -> None:
        """Match ``data`` as one layer, then walk whatever containers it is.

        An ``imposed`` type (a format's ``member_type``) replaces detection,
        and such a member is matched as raw data and not opened: the
        reference scans a disk partition that way.
        """
        if len(data) <= TINY_OBJECT:
            return  # the reference neither scans nor counts such scraps
        file_type = imposed or detect_file_type(bytes(data[:TYPE_DETECTION_BYTES]), len(data))
        raw_first = imposed is not None or file_type in _RAW_FIRST
        if raw_first:
            self.match(data, file_type, containers)
        if self.done or imposed is not None:
            return
        self.open_containers(data, file_type, containers, depth)
        if not raw_first and not self.done:
            self.match(data, file_type, containers)

    def match(self, data: Buffer, file_type: FileType, containers: tuple[FileType, ...]) -> None:
        verdict = scan_layer(self.engine, Layer(data, file_type, containers), self.options)
        self.bytes_scanned += verdict.bytes_scanned
        for name in verdict.names:
            if name not in self.names:
                self.names.append(name)

    def open_containers(
        self, data: Buffer, file_type: FileType, containers: tuple[FileType, ...], depth: int
    ) -> None:
        inner = (*containers, file_type)
        for container, gate in registry.FORMATS:
            if (gate is None or getattr(self.options, gate)) and container.recognise(
                file_type, data
            ):
                levels = getattr(container, "levels", 1)
                member_type = getattr(container, "member_type", None)
                found = len(self.names)
                self.walk_members(container.members(data, self), inner, depth + levels, member_type)
                if self.done:
                    return
                # The views come after the members, and not at all once a
                # member was found infected (even under allmatch).
                views = getattr(container, "normalised_views", False)
                if views and len(self.names) == found and self.admit(depth + 1):
                    self.files += 1

    def walk_members(
        self,
        items: Iterator[Member | Alert],
        inner: tuple[FileType, ...],
        depth: int,
        member_type: FileType | None,
    ) -> None:
        try:
            for item in items:
                self.check_time()
                if isinstance(item, Alert):
                    if self.alert_enabled(item.option):
                        self.heuristic(item.name)
                    continue
                self.member(item, inner, depth, member_type)
                if self.done:
                    return
        except _CORRUPT_INPUT_ERRORS:
            # The reference scans what it extracted before the damage and
            # reports nothing about the damage itself.
            pass
        finally:
            # Runs the format's own clean-up now, even when the walk stopped early.
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def admit(self, depth: int) -> bool:
        """Whether an object may be scanned at ``depth``: False past
        MaxRecursion (its siblings still are), and the scan ends at MaxFiles."""
        if self.options.max_recursion and depth >= self.options.max_recursion:
            self.exceeded(EXCEEDED_MAX_RECURSION, stop=False)
            return False
        if self.options.max_files and self.files >= self.options.max_files:
            self.exceeded(EXCEEDED_MAX_FILES, stop=True)
        return True

    def member(
        self,
        member: Member,
        inner: tuple[FileType, ...],
        depth: int,
        member_type: FileType | None,
    ) -> None:
        options = self.options
        if not self.admit(depth):
            return
        declared = member.declared_size
        if declared is not None and options.file_too_large(declared):
            self.exceeded(EXCEEDED_MAX_FILE_SIZE, stop=False)
            return
        if declared is not None and declared > self._scan_size_left():
            self.exceeded(EXCEEDED_MAX_SCAN_SIZE, stop=True)
        cut_by_scan_size = member.truncated and len(member.data) >= self._scan_size_left()
        if len(member.data) > TINY_OBJECT:
            self.files += 1
        self.counted += len(member.data)
        if member.truncated and not cut_by_scan_size:
            self.exceeded(EXCEEDED_MAX_FILE_SIZE, stop=False)
        self.scan(member.data, inner, depth, member_type)
        if cut_by_scan_size:
            self.exceeded(EXCEEDED_MAX_SCAN_SIZE, stop=True)


def _over_limits(size: int, options: ScanOptions) -> ScanResult | None:
    """The result for a top-level object the reference does not scan at all
    (over MaxFileSize, or alone over MaxScanSize), else None."""
    if options.file_too_large(size):
        name = EXCEEDED_MAX_FILE_SIZE
    elif options.scan_budget_exceeded(size):
        name = EXCEEDED_MAX_SCAN_SIZE
    else:
        return None
    return ScanResult((name,) if options.alert_exceeds_max else (), size, 0)


def scan_bytes(engine: Engine, data: Buffer, options: ScanOptions | None = None) -> ScanResult:
    options = options or DEFAULT_OPTIONS
    size = len(data)
    unscanned = _over_limits(size, options)
    if unscanned is not None:
        return unscanned
    walk = _Walk(engine, options, size)
    try:
        walk.scan(data, (), 0)
    except _StopScan:
        pass
    finally:
        walk.remove_scratch()
    return ScanResult(walk.result_names(), size, walk.bytes_scanned)


def _scan_open_file(engine: Engine, handle: BinaryIO, options: ScanOptions) -> ScanResult:
    """Scan through an mmap, so the page cache rather than our heap holds the data."""
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        return scan_bytes(engine, b"", options)
    unscanned = _over_limits(size, options)
    if unscanned is not None:
        return unscanned
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return scan_bytes(engine, mapped, options)


def scan_file(
    engine: Engine, path: str | os.PathLike[str], options: ScanOptions | None = None
) -> ScanResult:
    """Scan a regular file; raises OSError when it cannot be opened."""
    with open(path, "rb") as handle:
        return _scan_open_file(engine, handle, options or DEFAULT_OPTIONS)


def scan_fileobj(
    engine: Engine, fileobj: BinaryIO, options: ScanOptions | None = None
) -> ScanResult:
    """Scan a stream (standard input): spooled to a private temporary file first."""
    with tempfile.TemporaryFile(prefix="clamkit-") as spool:
        shutil.copyfileobj(fileobj, spool, CHUNK_SIZE)
        spool.flush()
        return _scan_open_file(engine, spool, options or DEFAULT_OPTIONS)
