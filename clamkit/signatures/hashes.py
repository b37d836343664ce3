"""Whole-file hash lines: .hdb .hsb .hdu .hsu (signatures) and .fp .sfp (allow list).

Strategy: one line is ``HASH:SIZE:Name[:MinFL[:MaxFL]]``; the digest length
tells MD5, SHA-1 and SHA-256 apart, whatever the file extension.  Parsing is
a split and ``bytes.fromhex`` (no regex): the official databases hold
hundreds of thousands of these lines.  Numbers are read the way ClamAV 1.4.6
(the reference) reads them, observed by feeding it edge cases:
- SIZE is a whole C ``strtol`` token from 1 to 4294967294, or ``*``, which
  needs MinFL >= 73 (the first level that knew wildcard sizes);
- MinFL/MaxFL are C ``atoi`` values taken as unsigned 32-bit numbers, so a
  non-number reads as 0 and ``-1`` as 4294967295.
The reference checks a line in the order FLEVEL range, size, wildcard, ignore
list, name, hash; ``skip_reason`` replays that order for lines ``parse_hash_line``
refuses, so a line the reference drops silently is dropped here too.
"""

from __future__ import annotations

from clamkit.signatures.construct import constructor
from clamkit.signatures.ignore import IgnoreList, Skip
from clamkit.signatures.model import (
    AllowListEntry,
    HashAlgorithm,
    HashSignature,
    SignatureError,
    is_decimal,
)

# The reference accepts wildcard sizes only from signatures declaring at least
# this functionality level.
WILDCARD_SIZE_MIN_FLEVEL = 73
_MAX_SIZE = 0xFFFFFFFE  # 0xFFFFFFFF is the reference's own "any size" marker
_C_SPACE = " \t\n\v\f\r"
_DIGITS = "0123456789"
_ALGORITHMS = {alg.value * 2: alg for alg in HashAlgorithm}
_hash_signature = constructor(HashSignature)


class MalformedHashError(SignatureError):
    """The digest is not 32, 40 or 64 hex digits (the reference's summary differs)."""


def c_atoi(text: str) -> int:
    """C ``atoi`` as the reference applies it to FLEVEL fields: unsigned 32-bit."""
    if len(text) < 10 and is_decimal(text):
        return int(text)
    rest = text.lstrip(_C_SPACE)
    negative = rest[:1] == "-"
    if rest[:1] in ("+", "-"):
        rest = rest[1:]
    digits = rest[: len(rest) - len(rest.lstrip(_DIGITS))]
    value = int(digits) if digits else 0
    # strtol saturates at the long range before atoi narrows it to int.
    value = min(value, 2**63) if negative else min(value, 2**63 - 1)
    return (-value if negative else value) & 0xFFFFFFFF


def _flevel_range(fields: list[str]) -> tuple[int | None, int | None]:
    """(MinFL, MaxFL) from fields 4 and 5, None when absent."""
    count = len(fields)
    return (c_atoi(fields[3]) if count > 3 else None, c_atoi(fields[4]) if count > 4 else None)


def excludes(low: int | None, high: int | None, level: int) -> bool:
    """True when an engine of functionality ``level`` must skip this range."""
    return (low is not None and low > level) or (high is not None and high < level)


def _fields(line: str) -> list[str]:
    fields = line.split(":")
    if not 3 <= len(fields) <= 5:
        raise SignatureError(f"expected HASH:SIZE:Name[:MinFL[:MaxFL]], got {len(fields)} field(s)")
    return fields


def _size(text: str, min_flevel: int | None) -> int | None:
    if text == "*":
        if min_flevel is None or min_flevel < WILDCARD_SIZE_MIN_FLEVEL:
            raise SignatureError(
                "Minimum FLEVEL field must be at least "
                f"{WILDCARD_SIZE_MIN_FLEVEL} for wildcard size hash signatures"
            )
        return None
    if is_decimal(text):
        value = int(text)
    else:
        rest = text.lstrip(_C_SPACE)
        sign = -1 if rest[:1] == "-" else 1
        if rest[:1] in ("+", "-"):
            rest = rest[1:]
        if not is_decimal(rest):
            raise SignatureError(f"Invalid value for the size field: {text!r}")
        value = sign * int(rest)
    if not 1 <= value <= _MAX_SIZE:
        raise SignatureError(f"Invalid value for the size field: {text!r}")
    return value


def parse_hash_line(line: str, name_suffix: str = "") -> HashSignature:
    """One hash line; ``name_suffix`` (the loader's ``.UNOFFICIAL``) ends the name."""
    fields = _fields(line)
    # Nearly every real line is HASH:SIZE:Name; only longer ones carry FLEVELs.
    min_flevel, max_flevel = _flevel_range(fields) if len(fields) > 3 else (None, None)
    size = _size(fields[1], min_flevel)
    text, _, name = fields[:3]
    if not name:
        raise SignatureError("Empty virus name")
    algorithm = _ALGORITHMS.get(len(text))
    try:
        digest = bytes.fromhex(text)
    except ValueError:
        digest = b""
    # fromhex skips whitespace between bytes: the length check catches it.
    if algorithm is None or len(digest) != algorithm.value:
        raise MalformedHashError(f"Malformed hash string {text!r}")
    return _hash_signature(name + name_suffix, algorithm, digest, size, min_flevel, max_flevel)


def allow_list_entry(signature: HashSignature) -> AllowListEntry:
    """The .fp/.sfp reading of a parsed hash line (its FLEVEL already applied)."""
    return AllowListEntry(signature.name, signature.algorithm, signature.digest, signature.size)


def skip_reason(line: str, level: int, ignored: IgnoreList) -> Skip | None:
    """Why the reference drops this line silently, or None if it refuses it."""
    try:
        fields = _fields(line)
        min_flevel, max_flevel = _flevel_range(fields)
        if excludes(min_flevel, max_flevel, level):
            return Skip.FLEVEL
        _size(fields[1], min_flevel)
    except SignatureError:
        return None
    return Skip.IGNORED if fields[2] in ignored else None
