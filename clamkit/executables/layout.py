"""The parsed shape of an executable that signatures refer to.

Strategy: plain frozen records, the same for PE, ELF and Mach-O, holding
file offsets (not virtual addresses) because signature offsets are file
offsets.  ``Broken`` markers are values rather than exceptions: a broken
executable is an ordinary outcome of a scan, not an error.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExecutableKind(enum.Enum):
    PE = "PE"
    ELF = "ELF"
    MACHO = "Mach-O"


@dataclass(frozen=True, slots=True)
class Section:
    """One section as the reference sees it.

    For PE, addresses and sizes are aligned the way the reference aligns
    them (virtual ones to SectionAlignment, raw ones to FileAlignment) and
    the raw size is cut at the end of the file; ``raw_offset``/``raw_size``
    are what Sx/SEx/SL offsets and section hashes use.
    """

    name: bytes
    virtual_address: int
    virtual_size: int
    raw_offset: int
    raw_size: int


@dataclass(frozen=True, slots=True)
class ExecutableLayout:
    """``entry_point`` is a file offset, None when the format gives none (an object file).

    ``overlay`` is where data past the last section's raw data starts (None
    if there is none); ``import_directory`` is the PE import table's (RVA,
    size) and ``resource_directory`` the resource table's RVA, None
    elsewhere; RVAs below ``headers_size`` (a PE's SizeOfHeaders aligned to
    SectionAlignment) are their own file offsets.  ``malformed`` marks headers
    that the reference uses for offsets but reports as
    Heuristics.Broken.Executable.
    """

    kind: ExecutableKind
    entry_point: int | None
    sections: tuple[Section, ...]
    overlay: int | None = None
    import_directory: tuple[int, int] | None = None
    malformed: bool = False
    resource_directory: int | None = None
    headers_size: int = 0


class Broken(enum.Enum):
    """Headers that the reference refuses: the file is scanned as plain data.

    ``MALFORMED`` ones are also reported as Heuristics.Broken.Executable
    when that alert is on; ``NOT_EXECUTABLE`` ones (no header where the
    format puts it, a truncated header) are not.
    """

    NOT_EXECUTABLE = "not an executable"
    MALFORMED = "malformed"

    @property
    def alerts(self) -> bool:
        return self is Broken.MALFORMED


NOT_EXECUTABLE = Broken.NOT_EXECUTABLE
MALFORMED = Broken.MALFORMED
