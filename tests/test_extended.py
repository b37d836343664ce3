"""Extended (.ndb) lines: the fields around the pattern, refusals and silent drops."""

from __future__ import annotations

import pytest

from clamkit.signatures.extended import UnsupportedFeature, parse_ndb_line, skip_reason
from clamkit.signatures.ignore import IgnoreEntry, IgnoreList, Skip
from clamkit.signatures.model import (
    ANY_OFFSET,
    BodySignature,
    Literal,
    Offset,
    OffsetKind,
    SignatureError,
    Target,
)

EICAR = "58354f2150254041505b345c505a58353428505e"
LEVEL = 216


def test_valid_line() -> None:
    signature = parse_ndb_line(f"Eicar:0:*:{EICAR}", ".UNOFFICIAL")
    assert signature == BodySignature(
        name="Eicar.UNOFFICIAL",
        target=Target.ANY,
        offset=ANY_OFFSET,
        pattern=signature.pattern,
        min_flevel=None,
        max_flevel=None,
    )
    assert signature.pattern.elements == (Literal(bytes.fromhex(EICAR)),)
    assert signature.pattern.source == EICAR


@pytest.mark.parametrize(
    ("line", "target", "low", "high"),
    [
        (f"N:1:*:{EICAR}:1", Target.PE, 1, None),
        (f"N:14:*:{EICAR}:1:2", Target.INTERNAL_14, 1, 2),
        (f"N::*:{EICAR}", Target.ANY, None, None),  # empty target reads as 0
        (f"N:0:*:{EICAR}:", Target.ANY, 0, None),  # empty MinFL too
        (f"N:0:*:{EICAR}::", Target.ANY, 0, 0),
        (f"N:4294967296:*:{EICAR}", Target.ANY, None, None),  # wraps like C's atoi
    ],
)
def test_target_and_flevel_fields(
    line: str, target: Target, low: int | None, high: int | None
) -> None:
    signature = parse_ndb_line(line)
    assert (signature.target, signature.min_flevel, signature.max_flevel) == (target, low, high)


@pytest.mark.parametrize(
    ("target", "offset", "expected"),
    [
        (1, "EP+0", Offset(OffsetKind.EP, 0)),
        (6, "S1+4,8", Offset(OffsetKind.SECTION, 4, 8, 1)),
        (9, "SE1", Offset(OffsetKind.SECTION_ENTIRE, section=1)),
        (1, "SL+0", Offset(OffsetKind.LAST_SECTION, 0)),
        (0, "EOF-10", Offset(OffsetKind.EOF, 10)),
        (2, "10,5", Offset(OffsetKind.ABSOLUTE, 10, 5)),
    ],
)
def test_offsets(target: int, offset: str, expected: Offset) -> None:
    assert parse_ndb_line(f"N:{target}:{offset}:{EICAR}").offset == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("N:0:*", "got 3 field"),
        (f"N:0:*:{EICAR}:1:2:3", "got 7 field"),
        (f"N:0:*:{EICAR}:x", "MinFL must be a decimal number"),
        (f"N:0:*:{EICAR}:  216", "MinFL must be a decimal number"),
        (f"N:0:*:{EICAR}:1:x", "MaxFL must be a decimal number"),
        (f"N:x:*:{EICAR}", "Target must be a decimal number"),
        (f"N:-1:*:{EICAR}", "Target must be a decimal number"),
        (f"N:+1:*:{EICAR}", "Target must be a decimal number"),
        (f"N: 1:*:{EICAR}", "Target must be a decimal number"),
        (f"N:15:*:{EICAR}", "unknown target type 15"),
        (f":0:*:{EICAR}", "Empty virus name"),
        (f"N:0:EP+0:{EICAR}", "Invalid offset type 'EP\\+0' for target 0"),
        (f"N:2:SE1:{EICAR}", "Invalid offset type 'SE1' for target 2"),
        (f"N:0:VI:{EICAR}", "Invalid offset type 'VI' for target 0"),
        (f"N:0:x:{EICAR}", "offset"),
        ("N:0:*:zz", "zz"),
        # target 0 goes to the reference's Boyer-Moore matcher: 3 bytes at least
        ("N:0:*:5835", "too short"),
        ("N:1:0:5835", "too short"),
    ],
)
def test_malformed_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        parse_ndb_line(line)


@pytest.mark.parametrize("line", ["N:1:*:5835", "N:1:0,5:5835", "N:2:0:5835", "N:6:0:5835"])
def test_two_byte_patterns_outside_boyer_moore(line: str) -> None:
    assert parse_ndb_line(line).pattern.elements == (Literal(b"X5"),)


@pytest.mark.parametrize(
    ("line", "feature"),
    [
        (f"N:0:$1:{EICAR}", "macro group offset"),
    ],
)
def test_offsets_without_an_offset_kind_are_unsupported(line: str, feature: str) -> None:
    with pytest.raises(UnsupportedFeature, match=feature):
        parse_ndb_line(line)


def test_unsupported_offset_still_needs_a_valid_pattern() -> None:
    with pytest.raises(SignatureError) as refused:
        parse_ndb_line("N:0:$1:zz")
    assert not isinstance(refused.value, UnsupportedFeature)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # FLEVEL, then target, then the ignore list, before anything else.
        ("N:0:*:zz:300", Skip.FLEVEL),
        ("N:0:*:zz:1:2", Skip.FLEVEL),
        ("N:15:*:zz", Skip.TARGET),
        (":15:x:zz", Skip.TARGET),
        ("N:999:*:zz:300", Skip.FLEVEL),
        ("Ignored:0:x:zz", Skip.IGNORED),
        ("Ignored:x:*:zz", None),
        ("N:15:*:zz:x", None),
        ("N:0:*:zz", None),
        ("N:0:*", None),
    ],
)
def test_skip_reason_replays_the_reference_order(line: str, reason: Skip | None) -> None:
    assert skip_reason(line, LEVEL, IgnoreList([IgnoreEntry("Ignored")])) is reason


def test_real_subset_daily_ndb_parses(shared_sigs) -> None:
    lines = (shared_sigs / "real-subset" / "daily.ndb").read_text().splitlines()
    signatures = [parse_ndb_line(line) for line in lines]
    assert len(signatures) == 258
