"""Extended body signatures: .ndb .ndu (and .sdb, which ClamAV reads the same way).

Strategy: a line is ``Name:Target:Offset:HexSignature[:MinFL[:MaxFL]]``.
This module checks the fields around the pattern and hands the offset and
the hex text to ``parse_offset`` and ``parse_pattern``, which own those
syntaxes.  Observed in ClamAV 1.4.6 (the reference):
- Target and the FLEVEL fields must be plain digits; an empty field reads as
  0; a target above the last known type (14) drops the line silently.
- EP, Sx, SEx, SL and VI offsets are refused unless the target is PE, ELF or
  Mach-O (``Offset.needs_executable``).
- A pattern made only of hex bytes needs 3 of them where the reference hands
  it to its Boyer-Moore matcher: target 0, or target 1 with a fixed offset.
- ``$n`` (macro group) offsets are loaded by the reference but have no
  ``model.OffsetKind``: such a line, once otherwise checked, raises
  ``UnsupportedFeature`` so the loader can count it instead of failing.
- The FLEVEL range, then the target, then the ignore list are checked before
  the name, offset and pattern, so a line dropped for one of those reasons
  may be malformed further on; ``skip_reason`` replays that order.
"""

from __future__ import annotations

import re

from clamkit.signatures.hashes import c_atoi, excludes
from clamkit.signatures.ignore import IgnoreList, Skip
from clamkit.signatures.model import (
    ANY_OFFSET,
    EXECUTABLE_TARGETS,
    BodySignature,
    Offset,
    SignatureError,
    Target,
    is_decimal,
)
from clamkit.signatures.offsets import parse_offset
from clamkit.signatures.pattern import parse_pattern

_LAST_TARGET = max(Target)
# Offsets the reference loads that clamkit cannot represent: (form, feature, executable only).
_UNREPRESENTED_OFFSETS = ((re.compile(r"\$\d+"), "macro group offset ($n)", False),)


class UnsupportedFeature(SignatureError):
    """A line the reference loads but clamkit cannot represent; the message names the feature."""


def _number(text: str, what: str) -> int:
    # The reference accepts digits only, and an empty field as 0.
    if text and not is_decimal(text):
        raise SignatureError(f"{what} must be a decimal number, got {text!r}")
    return c_atoi(text)


def _fields(line: str) -> tuple[list[str], int | None, int | None]:
    fields = line.split(":")
    if not 4 <= len(fields) <= 6:
        raise SignatureError(
            f"expected Name:Target:Offset:HexSignature[:MinFL[:MaxFL]], got {len(fields)} field(s)"
        )
    low = _number(fields[4], "MinFL") if len(fields) > 4 else None
    high = _number(fields[5], "MaxFL") if len(fields) > 5 else None
    return fields, low, high


def parse_ndb_line(line: str, name_suffix: str = "") -> BodySignature:
    """One .ndb line; ``name_suffix`` (the loader's ``.UNOFFICIAL``) ends the name."""
    fields, low, high = _fields(line)
    number = _number(fields[1], "Target")
    if number > _LAST_TARGET:
        raise SignatureError(f"unknown target type {number}")
    target = Target(number)
    name = fields[0]
    if not name:
        raise SignatureError("Empty virus name")
    text = fields[2]
    offset, unsupported, executable_only = _offset(text)
    if executable_only and target not in EXECUTABLE_TARGETS:
        raise SignatureError(f"Invalid offset type {text!r} for target {number}")
    # The reference's Boyer-Moore matcher takes target-0 patterns and target-1
    # ones at a fixed offset, and wants 3 bytes from a plain one.
    boyer_moore = target is Target.ANY or (target is Target.PE and text != "*" and "," not in text)
    pattern = parse_pattern(fields[3], min_plain_length=3 if boyer_moore else 2)
    if unsupported:
        raise UnsupportedFeature(unsupported)
    return BodySignature(name + name_suffix, target, offset, pattern, low, high)


def _offset(text: str) -> tuple[Offset, str | None, bool]:
    """(offset, unsupported feature or None, whether the target must be an executable)."""
    try:
        offset = parse_offset(text)
    except SignatureError:
        for form, feature, executable_only in _UNREPRESENTED_OFFSETS:
            if form.fullmatch(text):
                return ANY_OFFSET, feature, executable_only
        raise
    return offset, None, offset.needs_executable


def skip_reason(line: str, level: int, ignored: IgnoreList) -> Skip | None:
    """Why the reference drops this line silently, or None if it refuses it."""
    try:
        fields, low, high = _fields(line)
        if excludes(low, high, level):
            return Skip.FLEVEL
        if _number(fields[1], "Target") > _LAST_TARGET:
            return Skip.TARGET
    except SignatureError:
        return None
    return Skip.IGNORED if fields[0] in ignored else None
