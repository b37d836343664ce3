"""PE section hash lines: .mdb .msb .mdu .msu -> ``model.HashSignature``.

Strategy: a line is ``SIZE:HASH:Name[:MinFL[:MaxFL]]``, the whole-file hash
line (``clamkit.signatures.hashes``) with its first two fields swapped, and
it follows the same rules (digest length picks the algorithm, ``*`` sizes
need MinFL >= 73, the same drops); so it is swapped and handed to that
parser rather than parsed twice.  ``size`` is then the section's raw size
and ``digest`` the hash of its raw data.  Import hash lines (.imp) are
``HASH:SIZE:Name`` like whole-file hashes and need no module of their own.
"""

from __future__ import annotations

from clamkit.signatures.hashes import parse_hash_line, skip_reason
from clamkit.signatures.ignore import IgnoreList, Skip
from clamkit.signatures.model import HashSignature

__all__ = ["parse_section_hash_line", "section_skip_reason"]


def _swapped(line: str) -> str:
    size, colon, rest = line.partition(":")
    digest, colon2, tail = rest.partition(":")
    return f"{digest}{colon}{size}{colon2}{tail}" if colon else line


def parse_section_hash_line(line: str, name_suffix: str = "") -> HashSignature:
    """One section hash line; ``name_suffix`` (the loader's ``.UNOFFICIAL``) ends the name."""
    return parse_hash_line(_swapped(line), name_suffix)


def section_skip_reason(line: str, level: int, ignored: IgnoreList) -> Skip | None:
    """Why the reference drops this line silently, or None if it refuses it."""
    return skip_reason(_swapped(line), level, ignored)
