"""PCRE subsignatures: parsing, translation to ``re``, and matching as the reference does.

Where libpcre2-8 is installed (it comes with ClamAV), translations are also
compared with PCRE2 itself through ctypes, on constructs and on every PCRE of
the real database.
"""

from __future__ import annotations

import ctypes
import random
import re
from pathlib import Path
from typing import ClassVar

import pytest

from clamkit.engine.logic import pcre_matches
from clamkit.signatures.logical import parse_ldb_line
from clamkit.signatures.model import (
    ANY_OFFSET,
    Offset,
    OffsetKind,
    PcreSubsignature,
    SignatureError,
    SubRef,
)
from clamkit.signatures.pcre import parse_pcre_subsignature, split_offset, translate_pcre


def _search(pcre: str, flags: str, data: bytes) -> tuple[int, int] | None:
    regex, python_flags = translate_pcre(pcre, flags)
    assert regex is not None, pcre
    match = re.compile(regex, python_flags).search(data)
    return match.span() if match else None


@pytest.mark.parametrize(
    ("pcre", "flags", "data", "span"),
    [
        ("A+B", "", b"xAAB", (1, 4)),
        ("ab", "i", b"xAB", (1, 3)),
        ("(?i)ab(?-i)c", "", b"ABc ABC", (0, 3)),
        ("(a(?i)b|c)d", "", b"Cd", (0, 2)),  # (?i) lasts to the group's end, across '|'
        ("(?i:a)b", "", b"AB Ab", (3, 5)),
        ("a.c", "", b"a\nc abc", (4, 7)),
        ("a.c", "s", b"a\nc", (0, 3)),
        ("\\Aab", "", b"ab", (0, 2)),
        ("^b", "m", b"a\nb", (2, 3)),
        ("^", "m", b"a\n", (0, 0)),
        ("a$", "", b"a\n", (0, 1)),
        ("a$", "E", b"a\n", None),
        ("a$", "m", b"a\nb", (0, 1)),
        ("a\\Z", "", b"a\n", (0, 1)),
        ("a\\z", "", b"a\n", None),
        ("a b # comment", "x", b"ab", (0, 2)),
        ("[ ]", "x", b"a b", (1, 2)),
        ("a.*c", "U", b"abcbc", (0, 3)),
        ("a.*?c", "U", b"abcbc", (0, 5)),
        ("(?U)a.*c", "", b"abcbc", (0, 3)),
        ("a++b", "", b"aab", (0, 3)),
        ("(?>a+)b", "", b"aab", (0, 3)),
        ("(?<n>[xy])-\\k<n>", "", b"x-y y-y", (4, 7)),
        ("(?'n'[xy])-\\k'n'", "", b"y-y", (0, 3)),
        ("(?P<n>[xy])-(?P=n)", "", b"x-x", (0, 3)),
        ("([xy])-\\g{1}", "", b"x-x", (0, 3)),
        ("([xy])-\\g{-1}", "", b"y-y", (0, 3)),
        ("([xy])-\\g1", "", b"y-y", (0, 3)),
        ("(a)?(?(1)b|c)", "", b"c", (0, 1)),
        ("(?<q>a)?(?(<q>)b|c)", "", b"ab", (0, 2)),
        ("\\x41\\x{42}\\103\\0\\o{104}", "", b"ABC\x00D", (0, 5)),
        ("\\x4", "", b"\x04", (0, 1)),
        ("\\e\\a\\cA", "", b"\x1b\x07\x01", (0, 3)),
        ("[[:alpha:]]+", "", b"12ab3", (2, 4)),
        ("[[:^digit:]]", "", b"1a", (1, 2)),
        ("[\\d-z]+", "", b"a1-z", (1, 4)),
        ("[]a]+", "", b"x]a", (1, 3)),
        ("[^]a]", "", b"]ab", (2, 3)),
        ("[a-]", "", b"-", (0, 1)),
        ("[\\x41-\\x43]+", "", b"ABCD", (0, 3)),
        ("[^a]", "i", b"Ab", (1, 2)),
        ("[\\Q]\\E]", "", b"]", (0, 1)),
        ("\\h\\v", "", b"\xa0\x85", (0, 2)),
        ("\\H", "", b" x", (1, 2)),
        ("a\\Rb", "", b"a\r\nb", (0, 4)),
        ("\\N", "", b"\nx", (1, 2)),
        ("\\d\\w\\s", "", b"1_\x0b", (0, 3)),
        ("\\bab\\b", "", b"cab ab", (4, 6)),
        ("\\Qa.b\\E+", "", b"a.bbb", (0, 5)),
        ("a{,3}", "", b"a{,3}", (0, 5)),  # PCRE2 10.42: not a quantifier
        ("a{2}", "", b"aaa", (0, 2)),
        ("a{1,}", "", b"aaa", (0, 3)),
        ("a{", "", b"a{", (0, 2)),
        ("a{2}{", "", b"aa{", (0, 3)),
        ("a(?#comment)b", "", b"ab", (0, 2)),
        ("x\\Ey", "", b"xy", (0, 2)),
        ("a(?=b)", "", b"ab", (0, 1)),
        ("(?<!a)b", "", b"abcb", (3, 4)),
        ("\\/\\;", "", b"/;", (0, 2)),
        ("(?s:.)(?^:.)", "", b"\n\n\nx", (2, 4)),
    ],
)
def test_translation(pcre: str, flags: str, data: bytes, span: tuple[int, int] | None) -> None:
    assert _search(pcre, flags, data) == span


@pytest.mark.parametrize(
    "pcre",
    [
        "\\Ga",
        "a\\Kb",
        "\\p{L}",
        "\\X",
        "(?R)",
        "(a)(?1)",
        "(?&n)",
        "(?|a|b)",
        "(*FAIL)",
        "(?C1)",
        "(?(R)a|b)",
        "(?(DEFINE)a)",
        "(?(?=a)a|b)",
        "\\g<1>",
        "(?J)",
    ],
)
def test_constructs_re_cannot_express_are_untranslatable(pcre: str) -> None:
    assert translate_pcre(pcre) == (None, 0)


@pytest.mark.parametrize(
    ("pcre", "message"),
    [
        ("(a", "missing closing parenthesis"),
        ("a)", "unmatched ')'"),
        ("*a", "quantifier does not follow"),
        ("a**", "quantifier does not follow"),
        ("a{3,2}", "out of order"),
        ("a{70000}", "too big"),
        ("[a", "missing terminating ]"),
        ("[z-a]", "range out of order"),
        ("[a-\\d]", "invalid range"),
        ("[[:nope:]]", "unknown POSIX class"),
        ("[[.a.]]", "collating"),
        ("\\i", "unrecognized character"),
        ("a\\", "at end of pattern"),
        ("\\x{100}", "too large"),
        ("\\o{", "\\o{}"),
        ("(?<1a>x)", "bad group name"),
        ("(?~x)", "unrecognized character after (?"),
        ("[\\B]", "not allowed in a character class"),
    ],
)
def test_invalid_pcre_is_an_error(pcre: str, message: str) -> None:
    with pytest.raises(SignatureError, match=re.escape(message)):
        translate_pcre(pcre)


def test_split_offset_ignores_colons_inside_the_regex() -> None:
    assert split_offset("10,5:0/a:b/") == ("10,5", "0/a:b/")
    assert split_offset("0/a:b/") == (None, "0/a:b/")
    assert split_offset("0/a\\/:b/") == (None, "0/a\\/:b/")


def test_parse_pcre_subsignature() -> None:
    sub = parse_pcre_subsignature("EOF-32,8:0&1/ab\\x3b/gire", 2)
    assert sub.offset == Offset(OffsetKind.EOF, 32, 8)
    assert sub.source == "ab\\x3b"
    assert sub.flags == "gire"
    assert sub.rolling and sub.encompass
    assert sub.python_flags == re.IGNORECASE
    assert sub.trigger == parse_ldb_line("X;Target:0;0&1;4142;4344").expression


@pytest.mark.parametrize(
    ("text", "index", "message"),
    [
        ("0/ab", 1, "between slashes"),
        ("/ab/", 1, "no trigger"),
        ("0//", 1, "empty regex"),
        ("1/ab/", 1, "only 1 precede"),
        ("2/ab/", 1, "only 1 precede"),
        ("0/ab/G", 1, "unknown flag"),
        ("0/ab/z", 1, "unknown flag"),
        ("1:2:0/ab/", 1, "more than one offset"),
        ("0/(ab/", 1, "missing closing parenthesis"),
    ],
)
def test_malformed_pcre_subsignatures(text: str, index: int, message: str) -> None:
    with pytest.raises(SignatureError, match=re.escape(message)):
        parse_pcre_subsignature(text, index)


def _sub(pcre: str, flags: str = "", offset: Offset = ANY_OFFSET) -> PcreSubsignature:
    regex, python_flags = translate_pcre(pcre, flags)
    return PcreSubsignature(
        SubRef(0), pcre, flags, offset, regex, python_flags, "r" in flags, "e" in flags
    )


@pytest.mark.parametrize(
    ("sub", "data", "count"),
    [
        (_sub("ab"), b"xxabab", 1),
        (_sub("ab", "g"), b"xxabab", 2),
        (_sub("a+", "g"), b"aa.aaa", 2),  # a global search resumes after each match
        (_sub("ab", "", Offset(OffsetKind.ABSOLUTE, 2)), b"xxabab", 1),
        (_sub("ab", "", Offset(OffsetKind.ABSOLUTE, 3)), b"xxabab", 0),  # anchored there
        (_sub("ab", "r", Offset(OffsetKind.ABSOLUTE, 3)), b"xxabab", 1),  # rolling
        (_sub("ab", "g", Offset(OffsetKind.ABSOLUTE, 2)), b"xxabab", 2),
        (_sub("^ab", "", Offset(OffsetKind.ABSOLUTE, 2)), b"xxab", 1),  # subject starts there
        (_sub("(?<=x)ab", "", Offset(OffsetKind.ABSOLUTE, 2)), b"xxab", 0),
        (_sub("ab", "", Offset(OffsetKind.ABSOLUTE, 0, 3)), b"xxxab", 1),  # start <= shift
        (_sub("ab", "", Offset(OffsetKind.ABSOLUTE, 0, 2)), b"xxxab", 0),
        (_sub("ab", "g", Offset(OffsetKind.ABSOLUTE, 0, 3)), b"xxxabab", 1),
        (_sub("a.*b", "e", Offset(OffsetKind.ABSOLUTE, 1, 4)), b"xa..b", 1),
        (_sub("a.*b", "e", Offset(OffsetKind.ABSOLUTE, 1, 3)), b"xa..b", 0),  # window ends
        (_sub("a.*b", "", Offset(OffsetKind.ABSOLUTE, 1, 3)), b"xa..b", 1),
        (_sub("ab", "", Offset(OffsetKind.EOF, 2)), b"xxab", 1),
        (_sub("ab", "", Offset(OffsetKind.EOF, 3)), b"xxab", 0),
        (_sub("ab", "", Offset(OffsetKind.EOF, 9)), b"xxab", 0),
        (_sub("ab", "", Offset(OffsetKind.ABSOLUTE, 4)), b"xxab", 0),
        (_sub("ab", "A"), b"xab", 0),
        (_sub("ab", "A"), b"abx", 1),
        (_sub("x*", "g"), b"ab", 1),  # an empty match ends the search
        (_sub("ab", "", Offset(OffsetKind.EP, 0)), b"ab", 0),
    ],
)
def test_pcre_matches(sub: PcreSubsignature, data: bytes, count: int) -> None:
    assert pcre_matches(sub, data, True) == count


def test_pcre_needs_its_trigger_and_a_translation() -> None:
    assert pcre_matches(_sub("ab"), b"ab", False) == 0
    untranslatable = _sub("\\Gab")
    assert untranslatable.python_regex is None
    assert pcre_matches(untranslatable, b"ab", True) == 0


def test_pcre_matches_accepts_memoryview() -> None:
    assert pcre_matches(_sub("ab", "g"), memoryview(b"abab"), True) == 2


# -- comparison with PCRE2 itself ----------------------------------------------------------


class _Pcre2:
    """Just enough of libpcre2-8 through ctypes to search a subject."""

    OPTIONS: ClassVar[dict[str, int]] = {
        "i": 0x8,
        "s": 0x20,
        "m": 0x400,
        "x": 0x80,
        "E": 0x10,
        "U": 0x40000,
    }

    def __init__(self) -> None:
        library = ctypes.CDLL("libpcre2-8.so.0")
        self.compile = library.pcre2_compile_8
        self.compile.restype = ctypes.c_void_p
        self.compile.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint32,
            ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.c_void_p,
        ]
        self.match_data = library.pcre2_match_data_create_from_pattern_8
        self.match_data.restype = ctypes.c_void_p
        self.match_data.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.match = library.pcre2_match_8
        self.match.restype = ctypes.c_int
        self.match.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_size_t,
            ctypes.c_uint32,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.ovector = library.pcre2_get_ovector_pointer_8
        self.ovector.restype = ctypes.POINTER(ctypes.c_size_t)
        self.ovector.argtypes = [ctypes.c_void_p]
        self.free_code = library.pcre2_code_free_8
        self.free_code.argtypes = [ctypes.c_void_p]
        self.free_data = library.pcre2_match_data_free_8
        self.free_data.argtypes = [ctypes.c_void_p]

    def search_all(self, pattern: bytes, flags: str, subjects: list[bytes]) -> list[object]:
        options = 0
        for flag in flags:
            options |= self.OPTIONS.get(flag, 0)
        error, offset = ctypes.c_int(), ctypes.c_size_t()
        code = self.compile(pattern, len(pattern), options, error, offset, None)
        assert code, f"PCRE2 refuses {pattern!r}"
        data = self.match_data(code, None)
        spans: list[object] = []
        for subject in subjects:
            found = self.match(code, subject, len(subject), 0, 0, data, None)
            vector = self.ovector(data)
            spans.append((vector[0], vector[1]) if found > 0 else None)
        self.free_data(data)
        self.free_code(code)
        return spans


@pytest.fixture(scope="module")
def pcre2() -> _Pcre2:
    try:
        return _Pcre2()
    except OSError:
        pytest.skip("libpcre2-8 is not installed")


def _subjects(pcre: str, seed: int) -> list[bytes]:
    """Random subjects built from the pattern's own literal pieces, plus noise."""
    pieces = [
        bytes([int(match[1], 16)]) if match[1] else match[0].lstrip("\\").encode("latin-1")
        for match in re.finditer(r"\\x([0-9a-fA-F]{2})|[A-Za-z0-9]+|\\[./\-]|[ =<>\"'():;,.]", pcre)
    ] or [b"a"]
    chooser = random.Random(seed)
    subjects = []
    for _ in range(150):
        parts = []
        for _ in range(chooser.randint(1, 30)):
            roll = chooser.random()
            if roll < 0.7:
                parts.append(chooser.choice(pieces))
            elif roll < 0.8:
                parts.append(chooser.choice(pieces).upper())
            elif roll < 0.9:
                parts.append(bytes([chooser.randrange(256)]))
            else:
                parts.append(chooser.choice([b" ", b"\n", b"\r\n", b"\t", b'"', b"'"]))
        subjects.append(b"".join(parts))
    return subjects


def _python_spans(pcre: str, flags: str, subjects: list[bytes]) -> list[object]:
    regex, python_flags = translate_pcre(pcre, flags)
    assert regex is not None, pcre
    compiled = re.compile(regex, python_flags)
    return [match.span() if (match := compiled.search(s)) else None for s in subjects]


@pytest.mark.parametrize(
    ("pcre", "flags"),
    [
        ("(?i)a(b|C)+?d", ""),
        ("^\\s*(\\w+)=\\1$", "m"),
        ("a.c", "s"),
        ("[^\\x00-\\x20]{2,4}x", "U"),
        ("(?<k>[a-c])\\k<k>", "i"),
        ("(a|ab)(c|bcd)(d*)", ""),
        ("\\h+\\v", ""),
        ("[[:punct:]][[:upper:]]", "i"),
    ],
)
def test_constructs_agree_with_pcre2(pcre2: _Pcre2, pcre: str, flags: str) -> None:
    subjects = [*_subjects(pcre + "abcdABCD=; \n", 7), b"abbd", b"ab=ab", b"x = x\n"]
    assert _python_spans(pcre, flags, subjects) == pcre2.search_all(
        pcre.encode("latin-1"), flags, subjects
    )


def _real_pcres(shared_sigs: Path) -> list[PcreSubsignature]:
    pcres = []
    for line in (shared_sigs / "real-subset" / "main.ldb").read_text("latin-1").splitlines():
        if "/" in line and not line.startswith("#"):
            signature = parse_ldb_line(line)
            pcres += [s for s in signature.subsignatures if isinstance(s, PcreSubsignature)]
    return pcres


def test_every_real_pcre_translates_and_agrees_with_pcre2(shared_sigs: Path, pcre2: _Pcre2) -> None:
    pcres = _real_pcres(shared_sigs)
    assert len(pcres) >= 559
    untranslated = [sub.source for sub in pcres if sub.python_regex is None]
    assert untranslated == []
    disagreements = []
    for number, sub in enumerate(pcres[::3]):  # a third of them keeps the test fast
        flags = sub.flags.replace("g", "").replace("r", "").replace("e", "")
        subjects = _subjects(sub.source, number)
        expected = pcre2.search_all(sub.source.encode("latin-1"), flags, subjects)
        if _python_spans(sub.source, flags, subjects) != expected:
            disagreements.append(sub.source)
    assert disagreements == []
