"""Legacy body signatures: .db lines ``Name=HexSignature``.

Strategy: the first ``=`` splits name from pattern (a name may hold ``:``);
the pattern goes to ``parse_pattern`` and matches anywhere in any file.
Observed in ClamAV 1.4.6 (the reference): a line whose pattern starts with
another ``=`` (``Name==...``) is dropped without an error, and the ignore list
is consulted before the pattern is read; ``skip_reason`` replays both.
"""

from __future__ import annotations

from clamkit.signatures.ignore import IgnoreList, Skip
from clamkit.signatures.model import ANY_OFFSET, BodySignature, SignatureError, Target
from clamkit.signatures.pattern import parse_pattern


def parse_db_line(line: str, name_suffix: str = "") -> BodySignature:
    """One .db line; ``name_suffix`` (the loader's ``.UNOFFICIAL``) ends the name."""
    name, separator, hex_signature = line.partition("=")
    if not separator:
        raise SignatureError("Malformed pattern line: expected Name=HexSignature")
    if not name:
        raise SignatureError("Empty virus name")
    if hex_signature.startswith("="):
        raise SignatureError("the signature starts with '='")
    # The reference's Boyer-Moore matcher takes these and wants 3 bytes from a plain pattern.
    pattern = parse_pattern(hex_signature, min_plain_length=3)
    return BodySignature(name + name_suffix, Target.ANY, ANY_OFFSET, pattern)


def skip_reason(line: str, level: int, ignored: IgnoreList) -> Skip | None:
    """Why the reference drops this line silently, or None if it refuses it.

    ``level`` is unused (.db lines carry no FLEVEL) but keeps the signature
    the loader calls for every format.
    """
    name, separator, hex_signature = line.partition("=")
    if not separator:
        return None
    if name in ignored:
        return Skip.IGNORED
    return Skip.LEGACY_DOUBLE_EQUALS if hex_signature.startswith("=") else None
