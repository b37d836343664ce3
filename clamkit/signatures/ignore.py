"""Ignore lists (.ign, .ign2) and the reasons a load drops a line silently.

Strategy: an ignore line names a signature; the loader collects the names in
an ``IgnoreList`` and drops every later signature so named (ClamAV applies an
ignore list only to what it loads afterwards, which is why a directory's
.ign/.ign2 files are loaded first).  ``Skip`` lists the other reasons ClamAV
drops a well-formed line without an error; the format modules report them and
the loader counts them.

Observed in ClamAV 1.4.6 (the reference), which this module follows where its
documentation differs:
- .ign and .ign2 are read alike: ``Name``, or the old ``db:line:Name`` whose
  first two fields are not checked.
- ``Name:md5`` is documented but refused for every md5 ("Malformed MD5
  string"); it is refused here too.
- Names are compared exactly, except that trailing spaces on either side do
  not count.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from clamkit.signatures.model import IgnoreEntry, SignatureError


class Skip(enum.Enum):
    """Why a database line was dropped without an error, as ClamAV drops it."""

    FLEVEL = "FLEVEL"
    IGNORED = "ignored by .ign/.ign2"
    TARGET = "unknown target type"
    LEGACY_DOUBLE_EQUALS = "legacy .db line with '=='"
    UNKNOWN_ATTRIBUTE = "unknown target description attribute"
    UNKNOWN_FILE_TYPE = "unknown file type"


def parse_ignore_line(line: str) -> IgnoreEntry:
    """One .ign/.ign2 line (comments and blank lines are the caller's business)."""
    fields = line.split(":")
    if len(fields) > 3:
        raise SignatureError(f"expected Name or db:line:Name, got {len(fields)} fields")
    # Name:md5 puts the name first, the other forms last.
    name = fields[0] if len(fields) == 2 else fields[-1]
    if not name:
        raise SignatureError("No signature name provided")
    if len(fields) == 2:
        raise SignatureError("Malformed MD5 string (the Name:md5 form is not accepted)")
    return IgnoreEntry(name.rstrip(" "))


class IgnoreList:
    """The signature names to drop; grows as ignore files are loaded."""

    __slots__ = ("_names",)

    def __init__(self, entries: Iterable[IgnoreEntry] = ()) -> None:
        self._names: set[str] = set()
        self.extend(entries)

    def extend(self, entries: Iterable[IgnoreEntry]) -> None:
        self._names.update(entry.name.rstrip(" ") for entry in entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.rstrip(" ") in self._names

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._names)

    def __bool__(self) -> bool:
        return bool(self._names)

    def __len__(self) -> int:
        return len(self._names)
