"""parse_pattern: every syntax element, the reference's acceptance rules, error messages."""

from __future__ import annotations

import pytest

from clamkit.signatures.model import (
    Alternatives,
    Boundary,
    BoundaryMark,
    Gap,
    Literal,
    Masked,
    SignatureError,
    SubsignatureModifiers,
)
from clamkit.signatures.pattern import is_part_split, parse_pattern

ANY = Masked(0, 0)
WIDE = SubsignatureModifiers(wide=True)
WIDE_ASCII = SubsignatureModifiers(wide=True, ascii=True)
NOCASE = SubsignatureModifiers(nocase=True)


def elements(text: str, modifiers: SubsignatureModifiers | None = None) -> tuple:
    return parse_pattern(text, modifiers).elements


def test_adjacent_bytes_merge_into_one_literal_in_either_case() -> None:
    assert elements("68656C6c6F") == (Literal(b"hello"),)


def test_source_is_kept() -> None:
    assert parse_pattern("6865??6c").source == "6865??6c"


@pytest.mark.parametrize(
    ("text", "masked"),
    [("6865??6c", ANY), ("6865a?6c", Masked(0xA0, 0xF0)), ("6865?b6c", Masked(0x0B, 0x0F))],
)
def test_wildcard_and_nibbles(text: str, masked: Masked) -> None:
    assert elements(text) == (Literal(b"he"), masked, Literal(b"l"))


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        ("*", Gap(0, None)),
        ("{5}", Gap(5, 5)),
        ("{127}", Gap(127, 127)),
        ("{200}", Gap(200, 200)),
        ("{-5}", Gap(0, 5)),
        ("{5-}", Gap(5, None)),
        ("{2-7}", Gap(2, 7)),
        # A maximum of 0 means "no maximum" to the reference.
        ("{0}", Gap(0, None)),
        ("{0-0}", Gap(0, None)),
        ("{-0}", Gap(0, None)),
        ("{4-0}", Gap(4, None)),
        # Accepted by the reference; it never matches.
        ("{5-2}", Gap(5, 2)),
    ],
)
def test_gaps(gap: str, expected: Gap) -> None:
    assert elements(f"6865{gap}6c6f") == (Literal(b"he"), expected, Literal(b"lo"))


def test_short_fixed_gaps_stay_inside_a_part() -> None:
    """{n} with 0 < n < 128 needs no fixed bytes of its own, unlike a part split."""
    assert elements("{3}6865") == (Gap(3, 3), Literal(b"he"))
    assert elements("6865{3}") == (Literal(b"he"), Gap(3, 3))
    assert elements("6865{1}6f") == (Literal(b"he"), Gap(1, 1), Literal(b"o"))


@pytest.mark.parametrize(
    ("gap", "split"),
    [
        (Gap(0, None), True),
        (Gap(5, 5), False),
        (Gap(127, 127), False),
        (Gap(128, 128), True),
        (Gap(2, 3), True),
        (Gap(1, 3, anchored=True), False),
    ],
)
def test_is_part_split(gap: Gap, split: bool) -> None:
    assert is_part_split(gap) is split


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("68656c6c6f[1-3]77", (Literal(b"hello"), Gap(1, 3, anchored=True), Literal(b"w"))),
        ("77[0-32]68656c6c6f", (Literal(b"w"), Gap(0, 32, anchored=True), Literal(b"hello"))),
        ("68656c6c6f[2]77", (Literal(b"hello"), Gap(2, 2, anchored=True), Literal(b"w"))),
        ("68656c6c6f[2-]77", (Literal(b"hello"), Gap(2, 2, anchored=True), Literal(b"w"))),
        ("68656c6c6f[1-3]??", (Literal(b"hello"), Gap(1, 3, anchored=True), ANY)),
        (
            "6?[1-2]68656c[3-4]6f",
            (
                Masked(0x60, 0xF0),
                Gap(1, 2, anchored=True),
                Literal(b"hel"),
                Gap(3, 4, anchored=True),
                Literal(b"o"),
            ),
        ),
    ],
)
def test_anchored_bytes(text: str, expected: tuple) -> None:
    assert elements(text) == expected


def test_alternatives_of_single_bytes() -> None:
    group = Alternatives(((Literal(b"l"),), (Literal(b"m"),)))
    assert elements("6865(6c|6d)6f") == (Literal(b"he"), group, Literal(b"o"))


def test_multi_byte_and_generic_alternatives() -> None:
    (_, group, _) = elements("6865(6c6c|6d??|6?|)6f")
    assert group == Alternatives(
        ((Literal(b"ll"),), (Literal(b"m"), ANY), (Masked(0x60, 0xF0),), ()), negated=False
    )


def test_short_gap_inside_an_option_becomes_wildcards() -> None:
    (_, group, _) = elements("6865(6c{2}6f|6e)6f")
    assert group.options[0] == (Literal(b"l"), ANY, ANY, Literal(b"o"))


def test_negated_alternatives() -> None:
    assert elements("6865!(6c|6d)6f")[1] == Alternatives(
        ((Literal(b"l"),), (Literal(b"m"),)), negated=True
    )
    assert elements("6865!(6c6c|6d6d)6f")[1].negated


@pytest.mark.parametrize(("mark", "kind"), [("B", Boundary.WORD), ("L", Boundary.LINE)])
def test_boundary_marks(mark: str, kind: Boundary) -> None:
    assert elements(f"({mark})6865({mark})6c6c") == (
        BoundaryMark(kind),
        Literal(b"he"),
        BoundaryMark(kind),
        Literal(b"ll"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty pattern"),
        ("686", "incomplete byte"),
        ("68656c6c|6f", "unexpected character '|'"),
        ("6865 6c6c", "unexpected character ' '"),
        ("68656c6c6f::i", "unexpected character ':'"),
        ("(b)68656c", "incomplete byte"),
        ("6865{3", "not closed"),
        ("6865{a}6c6f", "expected a decimal number"),
        ("6865{3-1-2}6c6f", "expected a decimal number"),
        ("6865{}6c6f", "expected a decimal number"),
        ("6865{-}6c6f", "no bounds"),
        ("6865{99999999999}6c6f", "too large"),
        ("*6865", "cannot start"),
        ("6865**6c6f", "follow a gap"),
        ("6865*", "cannot end"),
        ("6865{3-5}", "cannot end"),
        ("68??", "two consecutive fixed bytes"),
        ("686?6c", "two consecutive fixed bytes"),
        ("(68|69)65", "two consecutive fixed bytes"),
        ("(6865|6966)6c", "two consecutive fixed bytes"),
        ("6865*6f", "part 2 of the pattern ('6f')"),
        ("68656c{0}6c", "part 2"),
        ("6865{128}6f", "part 2"),
        ("{3}", "two consecutive fixed bytes"),
        ("(B)", "two consecutive fixed bytes"),
        ("(B)*6865", "part 1"),
        ("6865()", "empty alternative group"),
        ("6865(|6c)", "first option"),
        ("6865(6c|6d", "not closed"),
        ("6865((6c|6d))", "cannot hold '('"),
        ("6865(6c(B)|6d)", "cannot hold '('"),
        ("6865(6c*|6d)", "unbounded gap"),
        ("6865(6c{200}|6d)", "n < 128"),
        ("6865(6c|6)", "incomplete byte"),
        ("6865!6c", "must be followed by"),
        ("6865!(6c6c|6d)", "negation needs"),
        ("6865!(6c|6?)", "negation needs"),
        ("6865!(6c|)6f", "negation needs"),
        ("68656c6c6f[1-33]77", "wider than 32"),
        ("68656c6c6f[3-1]77", "minimum above its maximum"),
        ("68656c6c6f[-1]77", "expected a decimal number"),
        ("68656c6c6f[]77", "expected a decimal number"),
        ("6865[1-3]6c6c", "[x-y] range needs one single byte"),
        ("68656c6c6f[1-3]7777", "[x-y] range needs one single byte"),
        ("[1-3]6c6c6f", "[x-y] range needs one single byte"),
        ("(68|69)[1-4]6c6c6f", "[x-y] range needs one single byte"),
        ("(B)68[1-3]656c", "[x-y] range needs one single byte"),
        ("68656c6c6f[1-3]77{1}6c", "[x-y] range needs one single byte"),
        ("68[1-3]6c", "two consecutive fixed bytes"),
        ("??6c[1-3]77", "two consecutive fixed bytes"),
    ],
)
def test_refused_like_the_reference(text: str, message: str) -> None:
    with pytest.raises(SignatureError) as caught:
        parse_pattern(text)
    assert message in str(caught.value)


def test_errors_say_where() -> None:
    with pytest.raises(SignatureError, match=r"at column 5 of pattern '6865 6c6c'"):
        parse_pattern("6865 6c6c")
    with pytest.raises(SignatureError, match=r"at column 12 of pattern '6865\(6c\|6d\|6\)'"):
        parse_pattern("6865(6c|6d|6)")


def test_long_patterns_are_shortened_in_messages() -> None:
    with pytest.raises(SignatureError) as caught:
        parse_pattern("68" * 100 + "x")
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize(
    ("text", "modifiers", "accepted"),
    [
        ("68", None, False),
        ("68", WIDE, True),
        ("68", WIDE_ASCII, False),
        ("68??", WIDE, True),
        ("??68", WIDE, True),
        ("????", WIDE, False),
        ("(68|69)??", WIDE, False),
        ("6865*6c", WIDE, True),
        ("6865*6c", NOCASE, False),
        ("6c6c!(31|32)", None, True),
        ("6c6c!(31|32)", NOCASE, False),
        ("6c6c!(31|32)", SubsignatureModifiers(fullword=True), False),
        ("6c6c!(31|32)", SubsignatureModifiers(ascii=True), False),
        ("6c6c!(31|32)", SubsignatureModifiers(), True),
    ],
)
def test_modifiers_change_what_is_accepted(
    text: str, modifiers: SubsignatureModifiers | None, accepted: bool
) -> None:
    if accepted:
        parse_pattern(text, modifiers)
    else:
        with pytest.raises(SignatureError):
            parse_pattern(text, modifiers)


def test_plain_minimum_length_applies_only_to_pure_hex() -> None:
    with pytest.raises(SignatureError, match="needs 3 bytes"):
        parse_pattern("6865", min_plain_length=3)
    parse_pattern("68656c", min_plain_length=3)
    parse_pattern("6865??", min_plain_length=3)
    parse_pattern("(B)6865", min_plain_length=3)
