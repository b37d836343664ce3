"""Legacy (.db) lines ``Name=HexSignature``."""

from __future__ import annotations

import pytest

from clamkit.signatures.ignore import IgnoreEntry, IgnoreList, Skip
from clamkit.signatures.legacy import parse_db_line, skip_reason
from clamkit.signatures.model import ANY_OFFSET, Literal, SignatureError, Target

EICAR = "58354f2150254041505b345c505a58353428505e"


def test_valid_line() -> None:
    signature = parse_db_line(f"Eicar={EICAR}", ".UNOFFICIAL")
    assert signature.name == "Eicar.UNOFFICIAL"
    assert (signature.target, signature.offset) == (Target.ANY, ANY_OFFSET)
    assert signature.pattern.elements == (Literal(bytes.fromhex(EICAR)),)
    assert (signature.min_flevel, signature.max_flevel) == (None, None)


def test_name_may_hold_colons() -> None:
    assert parse_db_line(f"N:x={EICAR}").name == "N:x"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "Malformed pattern line"),
        ("N", "Malformed pattern line"),
        (f"={EICAR}", "Empty virus name"),
        ("N=", "empty pattern"),
        ("N=zz", "zz"),
        (f"N={EICAR}:1", ":"),
        (f"N= {EICAR}", "unexpected character"),
        # the reference's Boyer-Moore matcher wants 3 bytes from a plain pattern
        ("N=5835", "too short"),
        (f"N=={EICAR}", "starts with '='"),
    ],
)
def test_malformed_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        parse_db_line(line)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (f"N=={EICAR}", Skip.LEGACY_DOUBLE_EQUALS),
        ("Ignored=zz", Skip.IGNORED),
        ("Other=zz", None),
        ("Ignored", None),
    ],
)
def test_skip_reason(line: str, reason: Skip | None) -> None:
    assert skip_reason(line, 216, IgnoreList([IgnoreEntry("Ignored")])) is reason
