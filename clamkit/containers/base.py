"""The one small interface every container format implements.

A *container* is anything the scanner looks inside: an archive, a
compression, an encoding, a document.  A format module exposes one object
satisfying ``ContainerFormat``: ``recognise`` says whether it opens an object
(from its detected type and, where needed, its bytes), and ``members``
yields what is inside, one ``Member`` at a time, so the scanner can stop
early and never holds more than one member per nesting level.

Formats never touch the file system with member names: names are for
display and debugging only.  A format that needs scratch space asks
``Extraction.scratch_dir()`` for the scan's private temporary directory,
which the scanner removes when the scan ends, however it ends.  Limits are
the format's business only through ``Extraction``: it says how many bytes a
member may still grow to, and formats stop decompressing there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # Annotations only: the engine imports the container registry, so a
    # run-time import of the engine package from here would be circular.
    from clamkit.engine.bodyregex import Buffer
    from clamkit.engine.filetypes import FileType
    from clamkit.engine.options import ScanOptions


# The names the reference gives limits that stopped extraction (reported
# under AlertExceedsMax); the scanner raises most, formats may yield them too.
EXCEEDED_MAX_FILE_SIZE = "Heuristics.Limits.Exceeded.MaxFileSize"
EXCEEDED_MAX_SCAN_SIZE = "Heuristics.Limits.Exceeded.MaxScanSize"
EXCEEDED_MAX_FILES = "Heuristics.Limits.Exceeded.MaxFiles"
EXCEEDED_MAX_RECURSION = "Heuristics.Limits.Exceeded.MaxRecursion"
EXCEEDED_MAX_SCAN_TIME = "Heuristics.Limits.Exceeded.MaxScanTime"


@dataclass(frozen=True, slots=True)
class Member:
    """One object found inside a container.

    ``truncated`` means extraction stopped at a size limit, so ``data`` is a
    prefix of the member; ``declared_size`` is the size the container claims
    (None when it does not say), which is what MaxFileSize is checked
    against before anything is decompressed.
    """

    name: str
    data: Buffer
    declared_size: int | None = None
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Alert:
    """A heuristic finding about the container itself, e.g. ``Heuristics.Encrypted.Zip``.

    The scanner reports it only when the option that governs it is on
    (``option`` names the ``ScanOptions`` field, e.g. ``alert_encrypted_archive``).
    """

    name: str
    option: str


class ContainerError(Exception):
    """The container is corrupt or truncated: the members already yielded stand,
    and the scanner carries on with the next object, as ClamAV does."""


class Extraction(Protocol):
    """What a format may ask of the scan that opened it."""

    @property
    def options(self) -> ScanOptions: ...

    def member_budget(self) -> int:
        """Bytes the next member may decompress to (0: nothing more may be extracted)."""
        ...

    def scratch_dir(self) -> Path:
        """The scan's private temporary directory (created on first use)."""
        ...


def find(data: Buffer, needle: bytes, start: int = 0) -> int:
    """``data.find(needle, start)`` for every buffer type (a memoryview has no find)."""
    if isinstance(data, memoryview):
        return bytes(data).find(needle, start)
    return data.find(needle, start)


def stored_member(
    name: str, data: Buffer, start: int, size: int, extraction: Extraction
) -> Member | None:
    """The member stored as is at ``data[start:start + size]``, cut to the
    member budget (None once nothing more may be extracted).

    A container cut short gives what it holds: only the budget marks the
    member truncated, and its declared size stays ``size``.
    """
    budget = extraction.member_budget()
    if budget <= 0:
        return None
    return Member(name, data[start : start + min(size, budget)], size, size > budget)


class ContainerFormat(Protocol):
    """A container format module's public object."""

    name: str

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        """Whether this format opens an object of this type and content."""
        ...

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        """What is inside, in container order; raises ContainerError on corrupt input."""
        ...
