"""parse_offset: every offset form, with and without a shift, and what is refused."""

from __future__ import annotations

import pytest

from clamkit.signatures.model import ANY_OFFSET, Offset, OffsetKind, SignatureError
from clamkit.signatures.offsets import parse_offset


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*", ANY_OFFSET),
        ("0", Offset(OffsetKind.ABSOLUTE, 0)),
        ("010", Offset(OffsetKind.ABSOLUTE, 10)),
        ("5,3", Offset(OffsetKind.ABSOLUTE, 5, maxshift=3)),
        ("EOF-0", Offset(OffsetKind.EOF, 0)),
        ("EOF-5,3", Offset(OffsetKind.EOF, 5, maxshift=3)),
        ("EP+0", Offset(OffsetKind.EP, 0)),
        ("EP+12", Offset(OffsetKind.EP, 12)),
        ("EP-3", Offset(OffsetKind.EP, -3)),
        ("EP+3,5", Offset(OffsetKind.EP, 3, maxshift=5)),
        ("S0+0", Offset(OffsetKind.SECTION, 0, section=0)),
        ("S2+4,2", Offset(OffsetKind.SECTION, 4, maxshift=2, section=2)),
        ("SE1", Offset(OffsetKind.SECTION_ENTIRE, section=1)),
        ("SE1,4", Offset(OffsetKind.SECTION_ENTIRE, maxshift=4, section=1)),
        ("SL+0", Offset(OffsetKind.LAST_SECTION, 0)),
        ("SL+3,4", Offset(OffsetKind.LAST_SECTION, 3, maxshift=4)),
    ],
)
def test_forms(text: str, expected: Offset) -> None:
    assert parse_offset(text) == expected


@pytest.mark.parametrize(
    ("text", "executable"),
    [("*", False), ("7", False), ("EOF-1", False), ("EP+0", True), ("S1+0", True)],
)
def test_executable_offsets_are_flagged(text: str, executable: bool) -> None:
    assert parse_offset(text).needs_executable is executable


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("EOF+5", "expected *, n, EOF-n"),
        ("EOF", "expected *, n, EOF-n"),
        ("EOF5", "expected *, n, EOF-n"),
        ("EP", "expected *, n, EOF-n"),
        ("EP3", "expected *, n, EOF-n"),
        ("EP+-3", "expected *, n, EOF-n"),
        ("S1-4", "expected *, n, EOF-n"),
        ("S1", "expected *, n, EOF-n"),
        ("S+0", "expected *, n, EOF-n"),
        ("SE1+3", "expected *, n, EOF-n"),
        ("SL-3", "expected *, n, EOF-n"),
        ("SL", "expected *, n, EOF-n"),
        ("-5", "expected *, n, EOF-n"),
        ("+5", "expected *, n, EOF-n"),
        (" 5", "expected *, n, EOF-n"),
        ("ep+0", "expected *, n, EOF-n"),
        ("0x10", "expected *, n, EOF-n"),
        ("\uff15", "expected *, n, EOF-n"),
        ("*,5", "expected *, n, EOF-n"),
        (",5", "expected *, n, EOF-n"),
        ("", "expected *, n, EOF-n"),
        ("5,", "shift after ',' must be a number"),
        ("5,-1", "shift after ',' must be a number"),
        ("5,,3", "shift after ',' must be a number"),
        ("$1", "not supported"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(SignatureError) as caught:
        parse_offset(text)
    assert message in str(caught.value)
    assert repr(text) in str(caught.value)
