"""pattern_regex, pattern_anchors and pattern_verifier on generated data.

The reference's behaviour for the same elements is checked file by file in
test_pattern_reference.py; here every byte value and gap size is tried, and
property tests check the promises the scanner relies on: every match holds
one of the anchors at an allowed distance from its start, and the verifier
decides exactly what the regex decides, while reading a view about once.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from clamkit.engine import bodyregex
from clamkit.engine.bodyregex import (
    LEFT_WORD_BOUNDARY,
    MAX_ANCHOR_EXPANSION,
    RIGHT_WORD_BOUNDARY,
    Anchor,
    Verifier,
    VerifyMemo,
    pattern_anchors,
    pattern_regex,
    pattern_verifier,
)
from clamkit.signatures.model import (
    Alternatives,
    BoundaryMark,
    Gap,
    Literal,
    Masked,
    Pattern,
    SignatureError,
    SubsignatureModifiers,
)
from clamkit.signatures.pattern import parse_pattern

NOCASE = SubsignatureModifiers(nocase=True)
WIDE = SubsignatureModifiers(wide=True)
ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def found(text: str, data: bytes, modifiers: SubsignatureModifiers | None = None) -> bool:
    """Whether the pattern occurs in data; the verifier must find the same start."""
    pattern = parse_pattern(text, modifiers)
    match = pattern_regex(pattern, modifiers).search(data)
    start = pattern_verifier(pattern, modifiers).search(data, 0, VerifyMemo())
    assert start == (None if match is None else match.start()), (text, data)
    return match is not None


def anchors(
    text: str, modifiers: SubsignatureModifiers | None = None, max_length: int | None = None
) -> tuple[Anchor, ...]:
    return pattern_anchors(parse_pattern(text, modifiers), modifiers, max_length=max_length)


def wide(text: bytes) -> bytes:
    return b"".join(bytes((value, 0)) for value in text)


# ---------------------------------------------------------------------------
# Regex: one syntax element at a time


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("6865??6c6f", range(256)),
        ("6865a?6c6f", range(0xA0, 0xB0)),
        ("6865?a6c6f", range(0x0A, 0x100, 0x10)),
        ("6865(6c|6d)6c6f", b"lm"),
        ("6865!(6c|6d)6c6f", set(range(256)) - set(b"lm")),
    ],
)
def test_one_byte_elements_over_every_byte_value(text: str, accepted: object) -> None:
    for value in range(256):
        assert found(text, b"he" + bytes((value,)) + b"lo") is (value in accepted), value


@pytest.mark.parametrize(
    ("gap", "sizes"),
    [
        ("{3}", {3}),
        ("{-2}", {0, 1, 2}),
        ("{2-}", set(range(2, 10))),
        ("{1-3}", {1, 2, 3}),
        ("{2-2}", {2}),
        ("{5-2}", set()),
        ("*", set(range(10))),
        ("{0}", set(range(10))),
        ("{4-0}", set(range(4, 10))),
    ],
)
def test_gap_sizes(gap: str, sizes: set[int]) -> None:
    for size in range(10):
        data = b"hello" + b"-" * size + b"ww"
        assert found(f"68656c6c6f{gap}7777", data) is (size in sizes), size


def test_large_fixed_gap_is_exact() -> None:
    assert found("6865{200}6c6f", b"he" + b"." * 200 + b"lo")
    assert not found("6865{200}6c6f", b"he" + b"." * 199 + b"lo")


def test_unbounded_gap_is_lazy() -> None:
    match = pattern_regex(parse_pattern("6865*6c6f")).match(b"he lo lo")
    assert match is not None and match.end() == 5


def test_parts_are_found_in_order_after_earlier_occurrences() -> None:
    assert found("6865*6c6c*776f", b"wo ll he wo ll ll wo")
    assert not found("6865*6c6c*776f", b"wo ll he wo")
    assert found("6865*6c6c{-1}6f6f", b"he llxx ll.oo")


def test_fullword_does_not_stop_at_the_first_occurrence_of_the_last_part() -> None:
    fullword = SubsignatureModifiers(fullword=True)
    assert found("6865*6c6c6f", b"he llox llo ", fullword)


@pytest.mark.parametrize(
    ("text", "matching", "other"),
    [
        ("6865(6c6c|6d6d)6f", [b"hello", b"hemmo"], [b"helmo", b"heo"]),
        ("6865(6c|6c6c)6f6f", [b"heloo", b"helloo"], [b"hellloo"]),
        ("6865(6c|6d6d|)6f", [b"helo", b"hemmo", b"heo"], [b"hemo"]),
        ("6865(6c??|6?)6f", [b"helxo", b"he`o"], [b"hexo"]),
        ("6865!(6c6c|6d6d)6f", [b"helmo", b"hexxo"], [b"hello", b"hemmo"]),
    ],
)
def test_alternatives(text: str, matching: list[bytes], other: list[bytes]) -> None:
    for data in matching:
        assert found(text, data), data
    for data in other:
        assert not found(text, data), data


def test_anchored_single_byte_before_the_signature() -> None:
    for size in range(6):
        data = b"h" + b"-" * size + b"llo"
        assert found("68[1-3]6c6c6f", data) is (1 <= size <= 3), size


@pytest.mark.parametrize(
    ("text", "before", "after"),
    [
        ("(B)68656c6c6f", LEFT_WORD_BOUNDARY, None),
        ("68656c6c6f(B)", None, RIGHT_WORD_BOUNDARY),
    ],
)
def test_word_boundary_tables(
    text: str, before: frozenset[int] | None, after: frozenset[int] | None
) -> None:
    for value in range(256):
        expected = value in (before or after or ())
        assert found(text, b"x" + bytes((value,)) + b"hello" + bytes((value,)) + b"x") is expected


def test_word_boundary_inside_a_part_consumes_a_byte_from_either_table() -> None:
    either = LEFT_WORD_BOUNDARY | RIGHT_WORD_BOUNDARY
    for value in range(256):
        assert found("6865(B)6c6c6f", b"he" + bytes((value,)) + b"llo") is (value in either)
    assert not found("6865(B)6c6c6f", b"hello")


def test_word_boundary_at_file_edges() -> None:
    assert found("(B)68656c6c6f", b"hello!")
    assert found("68656c6c6f(B)", b"!hello")
    assert not found("(B)(B)68656c6c6f", b"hello")
    assert found("(B)(B)68656c6c6f", b" hello")


def test_boundary_next_to_a_part_split_looks_instead_of_consuming() -> None:
    assert found("6865*(B)6c6c6f", b"he-llo")
    assert not found("6865*(B)6c6c6f", b"he-xllo")
    assert found("6865(B)*6c6c6f", b"he-xllo")
    assert found("6865{1}(B)6c6c6f", b"he- llo")
    assert not found("6865{1}(B)6c6c6f", b"he-llo")


@pytest.mark.parametrize(
    ("text", "matching", "other"),
    [
        ("(L)68656c6c6f", [b"hello", b"x\nhello"], [b"x\rhello", b"x hello"]),
        ("68656c6c6f(L)", [b"hello", b"hello\n", b"hello\r\n"], [b"hello\r", b"hello\rx"]),
        ("68656c6c6f(L)7878", [b"hello\nxx", b"hello\r\nxx"], [b"hello\rxx", b"hello\n\rxx"]),
    ],
)
def test_line_boundaries(text: str, matching: list[bytes], other: list[bytes]) -> None:
    for data in matching:
        assert found(text, data), data
    for data in other:
        assert not found(text, data), data


def test_boundaries_see_outside_the_match_window() -> None:
    regex = pattern_regex(parse_pattern("(B)68656c6c6f(L)"))
    assert regex.match(b"xhello\n", 1) is None
    assert regex.match(b" hello\n", 1) is not None
    # endpos ends the data for the scanner's windows: (L) sees the edge there.
    assert regex.match(b" hellox", 1, 6) is not None


def test_nocase_folds_ascii_letters_only() -> None:
    assert found("68656c6c6f", b"HeLlO", NOCASE)
    assert found("48454c4c4f", b"hello", NOCASE)
    assert found("(48|49)656c6c6f", b"iello", NOCASE)
    assert not found("40656c6c6f", b"`ello", NOCASE)
    assert not found("c8656c6c6f", b"\xe8ello", NOCASE)


def test_nocase_nibbles_compare_raw_bytes() -> None:
    assert found("6?656c6c6f", b"hello", NOCASE)
    assert not found("6?656c6c6f", b"Hello", NOCASE)
    assert found("4?656c6c6f", b"Hello", NOCASE)


def test_wide_puts_a_nul_after_every_byte_but_not_into_gaps() -> None:
    assert found("68656c6c6f", wide(b"hello"), WIDE)
    assert not found("68656c6c6f", b"hello", WIDE)
    assert not found("68656c6c6f", wide(b"hell") + b"o\x01", WIDE)
    assert found("6865??6c6c6f", wide(b"heXllo"), WIDE)
    assert not found("6865??6c6c6f", wide(b"he") + b"XX" + wide(b"llo"), WIDE)
    assert found("6865{2}6c6c6f", wide(b"he") + b"XX" + wide(b"llo"), WIDE)
    assert found("6865(6c|6d)6c6c6f", wide(b"hemllo"), WIDE)


def test_wide_and_ascii_accept_either_form() -> None:
    both = SubsignatureModifiers(wide=True, ascii=True)
    assert found("68656c6c6f", b"hello", both)
    assert found("68656c6c6f", wide(b"hello"), both)


def test_fullword_neighbours() -> None:
    fullword = SubsignatureModifiers(fullword=True)
    for value in range(256):
        expected = value not in ALNUM
        assert found("68656c6c6f", bytes((value,)) + b"hello-", fullword) is expected
        assert found("68656c6c6f", b"-hello" + bytes((value,)), fullword) is expected
    assert found("68656c6c6f", b"hello", fullword)
    assert not found("2d68656c6c6f2d", b"x-hello-x", fullword)


def test_wide_fullword_looks_two_bytes_back_and_one_ahead() -> None:
    fullword = SubsignatureModifiers(fullword=True, wide=True)
    assert found("68656c6c6f", b"x" + wide(b"hello"), fullword)
    assert found("68656c6c6f", b"-x" + wide(b"hello"), fullword)
    assert not found("68656c6c6f", b"x\0" + wide(b"hello"), fullword)
    assert found("68656c6c6f", wide(b"hello") + b"\0x", fullword)
    assert not found("68656c6c6f", wide(b"hello") + b"x", fullword)


# ---------------------------------------------------------------------------
# Anchors


def test_a_plain_literal_is_its_own_anchor() -> None:
    assert anchors("68656c6c6f") == (Anchor(b"hello", False, 0, 0),)


def test_distances_follow_gaps() -> None:
    assert anchors("6865{-3}776f726c6421") == (Anchor(b"world!", False, 2, 5),)
    assert anchors("6865??????776f726c6421") == (Anchor(b"world!", False, 5, 5),)
    assert anchors("6865{2-}776f726c642121") == (Anchor(b"world!!", False, 4, None),)


def test_a_fixed_distance_is_worth_some_length() -> None:
    assert anchors("68656c6c6f*776f726c64") == (Anchor(b"hello", False, 0, 0),)
    assert anchors("68656c6c6f*776f726c6421") == (Anchor(b"world!", False, 5, None),)


def test_runs_of_one_byte_give_way_to_a_better_literal() -> None:
    assert anchors("0000000000000000*8b4c24048b") == (Anchor(b"\x8bL$\x04\x8b", False, 8, None),)
    assert anchors("ffffffffffff??8b") == (Anchor(b"\xff" * 6, False, 0, 0),)
    assert anchors("ffffffffffff??8b4c") == (Anchor(b"\x8bL", False, 7, 7),)


def test_short_alternatives_and_nibbles_extend_a_short_literal() -> None:
    assert anchors("??(61|62)6364") == (
        Anchor(b"acd", False, 1, 1),
        Anchor(b"bcd", False, 1, 1),
    )
    expanded = anchors("6?6364")
    assert len(expanded) == 16
    literals = {anchor.literal for anchor in expanded}
    assert literals == {bytes((v, 0x63, 0x64)) for v in range(0x60, 0x70)}


def test_expansion_is_capped() -> None:
    result = anchors("(61|62|63|64|65)(61|62|63|64)6364")
    assert 1 < len(result) <= MAX_ANCHOR_EXPANSION
    assert all(len(anchor.literal) == 3 for anchor in result)


def test_nocase_anchors_are_lowercase() -> None:
    assert anchors("48454c4c4f", NOCASE) == (Anchor(b"hello", True, 0, 0),)


def test_wide_and_ascii_anchor_each_form() -> None:
    both = SubsignatureModifiers(wide=True, ascii=True)
    assert set(anchors("68656c6c6f", both)) == {
        Anchor(wide(b"hello"), False, 0, 0),
        Anchor(b"hello", False, 0, 0),
    }


def test_length_cap_keeps_the_most_informative_stretch() -> None:
    result = anchors("000000000000008b4c2404ff", max_length=4)
    assert result == (Anchor(b"\x8bL$\x04", False, 7, 7),)


def test_no_anchor_without_two_fixed_bytes() -> None:
    built = Pattern((Literal(b"a"), Masked(0, 0), Literal(b"b")), "61??62")
    assert pattern_anchors(built) == ()
    with pytest.raises(ValueError, match="at least 2"):
        anchors("68656c6c6f", max_length=1)


# Literal bytes with many repeats and every bit class (NUL, FF, text, other).
_LITERAL_BYTES = b"\x00\x00\xffAa a1\x8b\x90\x90"


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(_LITERAL_BYTES), max_size=40).map(bytes),
    st.sampled_from(
        [
            None,
            SubsignatureModifiers(),
            NOCASE,
            WIDE,
            SubsignatureModifiers(wide=True, ascii=True),
            SubsignatureModifiers(nocase=True, wide=True, ascii=True),
        ]
    ),
    st.sampled_from([None, 2, 3, 5, 8]),
)
def test_a_literal_pattern_gets_the_window_of_the_general_path(
    data: bytes, modifiers: SubsignatureModifiers | None, max_length: int | None
) -> None:
    pattern = Pattern((Literal(data),), data.hex())
    expected = bodyregex._window_anchors(pattern, modifiers, max_length)
    assert pattern_anchors(pattern, modifiers, max_length=max_length) == expected


@given(st.lists(st.sampled_from(_LITERAL_BYTES), max_size=40).map(bytes), st.booleans())
def test_a_byte_repeating_its_predecessor_scores_repeat_bits(data: bytes, nocase: bool) -> None:
    table = bodyregex._TEXT_BITS[nocase]
    bits = [
        bodyregex._REPEAT_BITS if index and data[index - 1] == value else table[value]
        for index, value in enumerate(data)
    ]
    expected = tuple(itertools.accumulate(bits, initial=0.0))
    assert bodyregex._bit_prefix(data, nocase) == expected


def test_equally_informative_stretches_go_to_the_first() -> None:
    # Every 3-byte stretch of "ABABAB" scores 21 bits, exactly.
    assert anchors("414241424142", max_length=3) == (Anchor(b"ABA", False, 0, 0),)


# ---------------------------------------------------------------------------
# Property: every match holds an anchor


_HEX_BYTES = ["61", "62", "41", "00", "0a", "20", "2d"]
_TOKENS = [
    "??",
    "6?",
    "?1",
    "{1}",
    "{2}",
    "(61|62)",
    "(6162|63)",
    "(61|)",
    "!(61|62)",
    "!(6162|0a20)",
    "(B)",
    "(L)",
    "(61??|4?)",
]
_SPLITS = ["*", "{-2}", "{1-3}", "{2-}", "{0}", "{130}"]
_ALPHABET = b"aAb\0\n\r -x1"


@st.composite
def patterns(draw: st.DrawFn, min_parts: int = 1) -> str:
    parts = []
    for _ in range(draw(st.integers(min_parts, 3))):
        core = "".join(draw(st.lists(st.sampled_from(_HEX_BYTES), min_size=2, max_size=4)))
        before = "".join(draw(st.lists(st.sampled_from(_TOKENS + _HEX_BYTES), max_size=3)))
        after = "".join(draw(st.lists(st.sampled_from(_TOKENS + _HEX_BYTES), max_size=3)))
        parts.append(before + core + after)
    splits = [draw(st.sampled_from(_SPLITS)) for _ in parts[1:]]
    text = parts[0]
    for split, part in zip(splits, parts[1:], strict=True):
        text += split + part
    if draw(st.booleans()):
        text = draw(st.sampled_from(["61[0-2]", "6?[1-3]"])) + text
    return text


modifier_sets = (
    st.builds(
        SubsignatureModifiers,
        nocase=st.booleans(),
        wide=st.booleans(),
        fullword=st.booleans(),
        ascii=st.booleans(),
    )
    | st.none()
)


def _witness(pattern: Pattern, modifiers: SubsignatureModifiers | None, seed: int) -> bytes:
    """Data shaped like a match of the pattern (boundaries and fullword may still fail)."""
    chooser = random.Random(seed)
    out = bytearray()

    def emit(element: Literal | Masked) -> None:
        if isinstance(element, Literal):
            out.extend(element.data)
        else:
            out.append(chooser.choice([v for v in range(256) if v & element.mask == element.value]))

    for element in pattern.elements:
        if isinstance(element, Literal | Masked):
            emit(element)
        elif isinstance(element, Gap):
            high = element.min + 3 if element.max is None else element.max
            out.extend(chooser.choices(_ALPHABET, k=chooser.randint(element.min, max(high, 0))))
        elif isinstance(element, Alternatives):
            for item in chooser.choice(element.options):
                emit(item)
        elif isinstance(element, BoundaryMark):
            out.append(chooser.choice(b" \n-"))
    data = bytes(out)
    if modifiers is not None and modifiers.wide and chooser.random() < 0.5:
        data = wide(data)
    if modifiers is not None and modifiers.nocase:
        letters = ALNUM - set(b"0123456789")
        data = bytes(v ^ 0x20 if v in letters and chooser.random() < 0.5 else v for v in data)
    return data


noises = st.binary(max_size=12).map(lambda raw: bytes(_ALPHABET[v % len(_ALPHABET)] for v in raw))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(patterns(), modifier_sets, noises, st.integers(0, 2**16), st.sampled_from([None, 2, 3, 8]))
def test_every_match_contains_an_anchor(
    text: str,
    modifiers: SubsignatureModifiers | None,
    noise: bytes,
    seed: int,
    max_length: int | None,
) -> None:
    try:
        pattern = parse_pattern(text, modifiers)
    except SignatureError:
        reject()
    data = noise + _witness(pattern, modifiers, seed) + noise[::-1]
    regex = pattern_regex(pattern, modifiers)
    found_anchors = pattern_anchors(pattern, modifiers, max_length=max_length)
    assert found_anchors
    assert all(len(anchor.literal) <= (max_length or len(text)) for anchor in found_anchors)
    lowered = data.lower()
    for start in range(len(data) + 1):
        if regex.match(data, start) is None:
            continue
        assert any(
            _anchor_at(anchor, lowered if anchor.nocase else data, start)
            for anchor in found_anchors
        ), (text, modifiers, data, start, found_anchors)


def _anchor_at(anchor: Anchor, data: bytes, start: int) -> bool:
    last = len(data) if anchor.delta_max is None else start + anchor.delta_max
    position = data.find(anchor.literal, start + anchor.delta_min)
    return position != -1 and position <= last


# ---------------------------------------------------------------------------
# Verifier


def verifier(text: str, modifiers: SubsignatureModifiers | None = None) -> Verifier:
    return pattern_verifier(parse_pattern(text, modifiers), modifiers)


def test_a_later_start_may_end_earlier_than_the_leftmost_one() -> None:
    text = "7878*(61????62|63)??6565*6564"
    # From 2, "a??b" "?" "ee" ends at 9; from 4, "c" "?" "ee" ends at 8, the
    # least a start there can give, and only from 8 is "ed" found.
    data = b"xxaxcbeeed"
    assert verifier(text).match(data, 0, VerifyMemo())
    assert pattern_regex(parse_pattern(text)).match(data)
    assert not verifier(text).match(data[:4] + b"-" + data[5:], 0, VerifyMemo())


def test_a_first_part_of_several_lengths_ends_where_the_rest_can_follow() -> None:
    # The regex tries "aa" first; only "a" leaves the "ab" that follows.
    assert verifier("7878(6161|61)*6162").match(b"xxaab", 0, VerifyMemo())


def test_a_part_after_a_bounded_gap_may_be_a_later_occurrence() -> None:
    text = "7878*6162{-2}6364*6565"
    assert verifier(text).match(b"xx ab__ab_cd ee", 0, VerifyMemo())
    assert not verifier(text).match(b"xx ab__ab___cd ee", 0, VerifyMemo())


@pytest.mark.parametrize(("after", "expected"), [(b"\r\n", True), (b"\n", True), (b"xx", False)])
def test_a_line_boundary_at_the_far_edge_of_a_gap(after: bytes, expected: bool) -> None:
    # "cd" may start anywhere in 4..24; at 24 its (L) looks at the bytes 26 and 27.
    data = b"xxab" + b"-" * 20 + b"cd" + after + b"ee"
    assert found("7878*6162{-20}6364(L)*6565", data) is expected


def test_the_memo_answers_only_for_thresholds_up_to_what_it_found() -> None:
    # From 0, "ab" is searched from 5 and found at 5; from 1 it must be searched from 6.
    check = verifier("7878{3-}6162")
    memo = VerifyMemo()
    assert [check.match(b"xxx--ab", hit, memo) for hit in (0, 1)] == [True, False]


def test_wide_and_ascii_forms_with_parts() -> None:
    both = SubsignatureModifiers(wide=True, ascii=True)
    # The wide form matches from 2; the ascii "he" at 6 has no ascii "llo" after it.
    assert found("6865*6c6c6f", b"xx" + wide(b"he") + b"he" + wide(b"llo"), both)
    assert not found("6865*6c6c6f", wide(b"he") + b"llo", both)


def test_a_gap_may_not_run_past_the_end_of_the_view() -> None:
    # Hand-built: the parser refuses a trailing gap.
    pattern = Pattern((Literal(b"he"), Gap(0, None), Literal(b"llo"), Gap(2, None)), "")
    check, regex = pattern_verifier(pattern), pattern_regex(pattern)
    for data in (b"hello..", b"hello."):
        assert check.match(data, 0, VerifyMemo()) is bool(regex.match(data))
        assert check.search(data, 0, VerifyMemo()) == (0 if regex.search(data) else None)
    assert not check.match(b"hello.", 0, VerifyMemo())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(patterns(min_parts=2), modifier_sets, noises, st.integers(0, 2**16))
def test_verifier_decides_like_the_regex(
    text: str, modifiers: SubsignatureModifiers | None, noise: bytes, seed: int
) -> None:
    try:
        pattern = parse_pattern(text, modifiers)
    except SignatureError:
        reject()
    # Several witnesses make hits whose later parts overlap: what the memo is for.
    witnesses = [_witness(pattern, modifiers, seed + number) for number in range(3)]
    data = noise + noise[:2].join(witnesses) + noise[::-1]
    regex = pattern_regex(pattern, modifiers)
    check = pattern_verifier(pattern, modifiers)
    positions = list(range(len(data) + 1))
    expected = {position: regex.match(data, position) is not None for position in positions}
    shuffled = random.Random(seed).sample(positions, len(positions))
    # The scanner's order (increasing) and any other, one memo per view.
    for order in (positions, shuffled):
        memo = VerifyMemo()
        assert {position: check.match(data, position, memo) for position in order} == expected
    memo = VerifyMemo()
    for position in shuffled:
        leftmost = regex.search(data, position)
        assert check.search(data, position, memo) == (leftmost and leftmost.start())


PHP_HITS = 1024
PHP_VIEW = 1 << 20


def _php_view(tail: bytes) -> tuple[bytes, list[int]]:
    """1 MB of text with a ``<?php`` every KiB, and ``tail`` at the end."""
    chooser = random.Random(7)
    data = bytearray(chooser.choices(b"abcdefgh \n", k=PHP_VIEW - len(tail)))
    hits = list(range(0, len(data), len(data) // PHP_HITS))
    for hit in hits:
        data[hit : hit + 5] = b"<?php"
    return bytes(data + tail), hits


@pytest.mark.parametrize("tail", [b"", b"include"])
def test_verifying_every_hit_reads_the_view_about_once(
    monkeypatch: pytest.MonkeyPatch, tail: bytes
) -> None:
    """Each hit alone would make the regex read to the end: 1,024 times the view."""
    data, hits = _php_view(tail)
    check = verifier("3c3f706870*696e636c756465")
    read = []
    search = bodyregex._Stage.earliest_end

    def counted(
        stage: bodyregex._Stage, view: bytes, threshold: int, exact: bool
    ) -> tuple[int, int] | None:
        found = search(stage, view, threshold, exact)
        # A search reads from its threshold to what it found, or to the end.
        read.append((len(view) if found is None else found[1]) - threshold)
        return found

    monkeypatch.setattr(bodyregex._Stage, "earliest_end", counted)
    memo = VerifyMemo()
    assert [check.match(data, hit, memo) for hit in hits] == [bool(tail)] * len(hits)
    assert check.search(data, 0, memo) == (hits[0] if tail else None)
    assert len(read) == 1 and read[0] <= len(data)


def test_verifying_every_hit_costs_less_than_a_few_regex_reads() -> None:
    data, hits = _php_view(b"")
    pattern = parse_pattern("3c3f706870*696e636c756465")
    regex, check = pattern_regex(pattern), pattern_verifier(pattern)

    def verify_every_hit() -> None:
        memo = VerifyMemo()
        for hit in hits:
            check.match(data, hit, memo)

    def cost(run: Callable[[], object]) -> float:
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            run()
            timings.append(time.perf_counter() - began)
        return min(timings)

    # The regex at the first hit reads the whole view once: the unit of cost.
    # Verifying each hit with the regex costs hundreds of those.
    assert cost(verify_every_hit) < 20 * cost(lambda: regex.match(data, hits[0]))
