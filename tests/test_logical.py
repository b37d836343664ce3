"""Logical signature lines: fields, target description, subsignature kinds, skips, errors."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from clamkit.signatures.logical import SkippedSignature, parse_ldb_line
from clamkit.signatures.model import (
    ANY_OFFSET,
    And,
    BodySubsignature,
    ByteCompareSubsignature,
    Offset,
    OffsetKind,
    PcreSubsignature,
    Range,
    SignatureError,
    SubRef,
    SubsignatureModifiers,
    Target,
)


def test_whole_line() -> None:
    line = "Sig.A;Engine:51-255,Target:1,FileSize:10-2000;0&1;EP+0:4142;S1+2:434445::wi\r\n"
    signature = parse_ldb_line(line)
    assert signature.name == "Sig.A"
    assert signature.source == line.rstrip()
    assert signature.expression == And((SubRef(0), SubRef(1)))
    description = signature.target_description
    assert description.target is Target.PE
    assert description.engine == Range(51, 255)
    assert description.file_size == Range(10, 2000)
    first, second = signature.subsignatures
    assert isinstance(first, BodySubsignature) and isinstance(second, BodySubsignature)
    assert first.offset == Offset(OffsetKind.EP, 0)
    assert second.offset == Offset(OffsetKind.SECTION, 2, section=1)
    assert second.modifiers == SubsignatureModifiers(nocase=True, wide=True)


def test_name_suffix_ends_the_name_only() -> None:
    line = "Sig.A;Engine:51-255,Target:0;0;41424344"
    signature = parse_ldb_line(line, ".UNOFFICIAL")
    assert signature.name == "Sig.A.UNOFFICIAL"
    assert signature.source == line
    assert signature.subsignatures == parse_ldb_line(line).subsignatures


def test_every_description_key() -> None:
    signature = parse_ldb_line(
        "S;Engine:81-255,Target:1,EntryPoint:0-100,NumberOfSections:2-3,Container:CL_TYPE_ZIP,"
        "Intermediates:CL_TYPE_ZIP>CL_TYPE_ANY,IconGroup1:A,IconGroup2:B,"
        "HandlerType:CL_TYPE_MSEXE,FileSize:-9;0;41424344"
    )
    description = signature.target_description
    assert description.entry_point == Range(0, 100)
    assert description.number_of_sections == Range(2, 3)
    assert description.container == "CL_TYPE_ZIP"
    assert description.intermediates == ("CL_TYPE_ZIP", "CL_TYPE_ANY")
    assert (description.icon_group1, description.icon_group2) == ("A", "B")
    assert description.handler_type == "CL_TYPE_MSEXE"
    assert description.file_size == Range(0, 9)  # an empty side reads as 0, as in the reference


NONE = SubsignatureModifiers()


@pytest.mark.parametrize(
    ("text", "offset", "modifiers"),
    [
        ("41424344", ANY_OFFSET, NONE),
        ("10:41424344", Offset(OffsetKind.ABSOLUTE, 10), NONE),
        ("41424344::fa", ANY_OFFSET, SubsignatureModifiers(fullword=True, ascii=True)),
        ("41424344:ignored:i", ANY_OFFSET, SubsignatureModifiers(nocase=True)),
        ("EOF-4:41424344::w", Offset(OffsetKind.EOF, 4), SubsignatureModifiers(wide=True)),
        # Five ':' fields: the reference keeps only the first, as a plain pattern.
        ("41424344::i*45464748::i", ANY_OFFSET, NONE),
    ],
)
def test_body_subsignature_fields(
    text: str, offset: Offset, modifiers: SubsignatureModifiers
) -> None:
    (sub,) = parse_ldb_line(f"S;Target:0;0;{text}").subsignatures
    assert isinstance(sub, BodySubsignature)
    assert (sub.offset, sub.modifiers, sub.pattern.source) == (offset, modifiers, "41424344")


def test_subsignature_kinds() -> None:
    signature = parse_ldb_line("S;Target:0;0&1&2;41424344;0/a;b\\/c/i;0(>>4#ib2#=5)")
    body, pcre, compare = signature.subsignatures
    assert isinstance(body, BodySubsignature)
    assert isinstance(pcre, PcreSubsignature) and pcre.source == "a;b\\/c"  # ';' inside /.../
    assert isinstance(compare, ByteCompareSubsignature) and compare.trigger == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("S;Engine:51-255,Target:0,Foo:1;0;zz", "unknown attribute"),
        ("S; Target:0;0;41424344", "unknown attribute"),
        ("S;Engine:51-255,Target:0,Container:CL_TYPE_FOO;0;41424344", "unknown file type"),
        ("S;Engine:51-255,Target:0,Container:CL_TYPE_ERROR;0;41424344", "unknown file type"),
        ("S;Engine:51-255,Target:0,Intermediates:CL_TYPE_ZIP>X;0;zz", "unknown file type"),
        ("S;Engine:51-255,Target:15;0;41424344", "unsupported target"),
        ("S;Engine:300-400,Target:0;0;zz", "functionality level"),
        ("S;Engine:51-99,Target:0;0;zz", "functionality level"),
        ("S;Target:0;0;${6-7}12$", "macro subsignature"),
        ("S;Target:0;0;fuzzy_img#af2ad01ed42993c7", "fuzzy image hash"),
    ],
)
def test_lines_the_reference_skips(line: str, reason: str) -> None:
    with pytest.raises(SkippedSignature) as raised:
        parse_ldb_line(line, functionality_level=216)
    assert raised.value.reason == reason


def test_engine_range_is_only_checked_with_a_level() -> None:
    signature = parse_ldb_line("S;Engine:300-400,Target:0;0;41424344")
    assert signature.target_description.engine == Range(300, 400)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("S;Target:0;0", "needs Name;TargetDescription"),
        (";Target:0;0;41424344", "empty signature name"),
        ("S;Target:0;0&1;41424344;41424345;41424346", "3 subsignatures given"),
        ("S;Target:0;0&3;41424344;41424345", "refers to subsignature 3"),
        ("S;Target:0;0&;41424344", "no right operand"),
        (
            "S;Target:0;" + "|".join(map(str, range(65))) + ";" + ";".join(["4142"] * 65),
            "more than 64",
        ),
        ("S;Engine:51-255;0;41424344", "has no Target"),
        ("S;Target:0,Engine:51-255;0;41424344", "Engine attribute must come first"),
        ("S;Target:0 ;0;41424344", "invalid number"),
        ("S;Engine:x-255,Target:0;0;41424344", "invalid number"),
        ("S;Engine:51-255,Target:0,FileSize:100;0;41424344", "needs a range"),
        ("S;Engine:51-255,Target:0,Foo;0;41424344", "has no ':'"),
        ("S;Target:0,FileSize:0-100;0;41424344", "need Engine:51"),
        ("S;Engine:50-255,Target:0,FileSize:0-100;0;41424344", "need Engine:51"),
        ("S;Engine:51-255,Target:0,IconGroup1:X;0;41424344", "IconGroup"),
        ("S;Engine:51-255,Target:7,EntryPoint:0-9;0;41424344", "EntryPoint/NumberOfSections"),
        ("S;Target:0;0;EP+0:41424344", "subsignature 0: offset EP needs target"),
        ("S;Target:0;0&1;4142;EP+0:0/a/", "subsignature 1: offset EP needs target"),
        ("S;Target:0;0;41424344::z", "subsignature 0 (41424344::z): unknown subsignature modifier"),
        ("S;Target:0;0;41", "subsignature 0"),
        ("S;Target:0;0;$1$", "invalid macro"),
        ("S;Target:0;0&1;4142;1/a/", "subsignature 1"),
        ("S;Target:0;0&1;4142;0(>>4#dl4#=1)", "subsignature 1"),
    ],
)
def test_malformed_lines(line: str, message: str) -> None:
    with pytest.raises(SignatureError, match=re.escape(message)) as raised:
        parse_ldb_line(line)
    assert not isinstance(raised.value, SkippedSignature)


def test_expression_errors_come_before_description_skips() -> None:
    # The reference checks the expression first, so this is an error, not a skip.
    with pytest.raises(SignatureError) as raised:
        parse_ldb_line("S;Engine:51-255,Target:0,Foo:1;0&;41424344")
    assert not isinstance(raised.value, SkippedSignature)


def test_description_skips_come_before_subsignature_errors() -> None:
    with pytest.raises(SkippedSignature):
        parse_ldb_line("S;Engine:51-255,Target:0,Foo:1;0;zz", functionality_level=216)


def test_the_real_database_parses_quickly(shared_sigs: Path) -> None:
    lines = (shared_sigs / "real-subset" / "main.ldb").read_text("latin-1").splitlines()
    signatures = []
    skipped: Counter[str] = Counter()
    started = time.perf_counter()
    for line in lines:
        if line.startswith("#"):
            continue
        try:
            signatures.append(parse_ldb_line(line, functionality_level=216))
        except SkippedSignature as skip:
            skipped[skip.reason] += 1
    elapsed = time.perf_counter() - started
    assert len(signatures) + sum(skipped.values()) == 38_889
    assert not skipped
    # Generous: most of the time is the hex-pattern parser, measured in its own tests.
    assert elapsed < 60, elapsed
