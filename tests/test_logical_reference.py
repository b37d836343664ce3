"""Logical signatures judged by the reference: parse + evaluate must agree with clamscan.

Generated .ldb signatures cover counts (``=``, ``>``, ``<`` on one subsignature
and on groups, with ``,Y``), nesting and mixed operators without parentheses,
the ``::i ::w ::a ::f`` modifiers, PCRE subsignatures (flags, offsets, triggers)
and byte compares.  Every file is scanned by the reference in one
``clamscan -z`` call; for each file the set of signatures it reports must
equal what clamkit concludes from ``parse_ldb_line`` and ``clamkit.engine.logic``,
with subsignature matches counted by ``pattern_regex`` at every start position
(the generated patterns are single-part, so that is how the reference counts).
Files start with NUL bytes so the reference types them as binary data and
matches the raw bytes only.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from clamkit.engine.bodyregex import pattern_regex
from clamkit.engine.logic import byte_compare_matches, evaluate, pcre_matches
from clamkit.signatures.logical import parse_ldb_line
from clamkit.signatures.model import (
    BodySubsignature,
    ByteCompareSubsignature,
    LogicalSignature,
    OffsetKind,
    PcreSubsignature,
)

PREFIX = b"\x00" * 8
TOKENS = [b"#T0#", b"#T1#", b"#T2#"]
HEX = [token.hex() for token in TOKENS]

COUNT_EXPRESSIONS = [
    "0",
    "0&1",
    "0|1",
    "0&1|2",
    "0|1&2",
    "(0&1|2)",
    "(0|1&2)",
    "0=2",
    "0>1",
    "0<2",
    "0=0",
    "0=0&1",
    "0>0,2",
    "(0|1)=2",
    "(0|1)>2",
    "(0|1)<3",
    "(0&1)=2",
    "(0&1)>2",
    "(0&1)=0",
    "(0|1)>1,2",
    "(0|1|2)>2,3",
    "(0|1|2)=3,2",
    "((0|1)>1)&2",
    "((0|1)=2|2)=3",
    "((0|1|2)>3,2)&(2|1)",
    "(0=1|1=1)>1,2",
    "(0=0|1)>0,2",
    "((0|1)>0|2)>0,1",
    "0&(1|2)=1",
    "(0|2)&1<2",
]


def _count_signatures() -> list[str]:
    lines = []
    for number, expression in enumerate(COUNT_EXPRESSIONS):
        # Indexes are the numbers that do not follow a count operator.
        highest = max(int(index) for index in re.findall(r"(?<![=<>,\d])\d+", expression))
        subsignatures = ";".join(HEX[: highest + 1])
        lines.append(f"Count.{number};Target:0;{expression};{subsignatures}")
    return lines


def _count_files() -> dict[str, bytes]:
    files = {}
    for counts in itertools.product(range(4), repeat=3):
        body = b"..".join(TOKENS[i] for i, n in enumerate(counts) for _ in range(n))
        files["count_" + "".join(map(str, counts))] = PREFIX + body + b"...."
    return files


MODIFIER_SIGNATURES = [
    "Mod.nocase;Engine:81-255,Target:0;0;68656c6c6f::i",
    "Mod.wide;Engine:81-255,Target:0;0;68656c6c6f::w",
    "Mod.wideascii;Engine:81-255,Target:0;0;68656c6c6f::wa",
    "Mod.fullword;Engine:81-255,Target:0;0;68656c6c6f::f",
    "Mod.fullnocase;Engine:81-255,Target:0;0;68656c6c6f::fi",
    "Mod.widenocase;Engine:81-255,Target:0;0&1;68656c6c6f::wi;776f726c64",
    "Mod.offset;Target:0;0;10:68656c6c6f",
    "Mod.shift;Target:0;0;8,4:68656c6c6f",
    "Mod.eof;Target:0;0;EOF-9:68656c6c6f",
]

MODIFIER_FILES = {
    "mod_plain": b"hello world",
    "mod_upper": b"HeLLo World",
    "mod_wide": "hello".encode("utf-16-le") + b"!!",
    "mod_wide_upper": "HELLO".encode("utf-16-le") + b" world",
    "mod_inword": b"xhelloy world",
    "mod_word_end": b"say hello",
    "mod_at_10": b"..hello.....",
    "mod_at_12": b"....hello...",
    "mod_tail": b"........hello....",
}

PCRE_SIGNATURES = [
    "Pcre.basic;Engine:81-255,Target:0;0&1;4142;0/AB+C/",
    "Pcre.nocase;Engine:81-255,Target:0;0&1;4142;0/ab+c/i",
    "Pcre.global;Engine:81-255,Target:0;1>1;4142;0/AB+C/g",
    "Pcre.first;Engine:81-255,Target:0;1=1;4142;0/AB+C/",
    "Pcre.trigger;Engine:81-255,Target:0;2;4142;5858;0&1/AB+C/",
    "Pcre.anchored;Engine:81-255,Target:0;0&1;4142;8:0/ABC/",
    "Pcre.rolling;Engine:81-255,Target:0;0&1;4142;8:0/ABC/r",
    "Pcre.window;Engine:81-255,Target:0;0&1;4142;8,4:0/ABC/",
    "Pcre.encompass;Engine:81-255,Target:0;0&1;4142;8,6:0/AB.*C/e",
    "Pcre.dollar;Engine:81-255,Target:0;0&1;4142;0/ABC$/",
    "Pcre.dollarend;Engine:81-255,Target:0;0&1;4142;0/ABC$/E",
    "Pcre.multiline;Engine:81-255,Target:0;0&1;4142;0/^ABC$/m",
    "Pcre.dotall;Engine:81-255,Target:0;0&1;4142;0/A.C/s",
    "Pcre.dot;Engine:81-255,Target:0;0&1;4142;0/A.C/",
    "Pcre.extended;Engine:81-255,Target:0;0&1;4142;0/A B  C # comment/x",
    "Pcre.ungreedy;Engine:81-255,Target:0;1=2;4142;0/A.*C/gsU",
    "Pcre.greedy;Engine:81-255,Target:0;1=1;4142;0/A.*C/gs",
    "Pcre.named;Engine:81-255,Target:0;0&1;4142;0/(?<q>[xy])AB\\k<q>/",
    "Pcre.backref;Engine:81-255,Target:0;0&1;4142;0/([xy])ABC\\1/",
    "Pcre.hex;Engine:81-255,Target:0;0&1;4142;0/\\x41\\x42[\\x43-\\x44]{1,2}\\x3b/",
    "Pcre.eof;Engine:81-255,Target:0;0&1;4142;EOF-5:0/ABC/",
    "Pcre.startanchor;Engine:81-255,Target:0;0&1;4142;8:0/ABC/Ar",
]

PCRE_FILES = {
    "pcre_none": b"nothing here at all",
    "pcre_abc": b"ABC",
    "pcre_abbc": b"ABBC and more ABC;",
    "pcre_lower": b"abbc",
    "pcre_xx": b"XX then ABC",
    "pcre_at8": b"ABC.............",
    "pcre_at10": b"..ABC...........",
    "pcre_at13": b".....ABC........",
    "pcre_spread": b"AB....C..C",
    "pcre_end": b"...ABC",
    "pcre_endnl": b"...ABC\n",
    "pcre_line": b"xx\nABC\nyy",
    "pcre_newline": b"A\nC AB",
    "pcre_named": b"..xABx..yABCy..",
    "pcre_semicolon": b"ABDD;",
    "pcre_twice": b"AXC...AYC",
    "pcre_eof": b"....ABC..",
}

BYTE_COMPARE_SIGNATURES = [
    "Cmp.hexbig;Target:0;0&1;41424344;0(>>4#hb4#=4660)",
    "Cmp.hexlittle;Target:0;0&1;41424344;0(>>4#hl4#=13330)",
    "Cmp.decimal;Target:0;0&1;41424344;0(>>4#d4#=1234)",
    "Cmp.decexact;Target:0;0&1;41424344;0(>>4#de4#=1234)",
    "Cmp.binbig;Target:0;0&1;41424344;0(>>4#ib2#=12594)",
    "Cmp.binlittle;Target:0;0&1;41424344;0(>>4#il2#=12849)",
    "Cmp.auto;Target:0;0&1;41424344;0(>>4#ab6#=4660)",
    "Cmp.range;Target:0;0&1;41424344;0(>>4#d4#>1000,<2000)",
    "Cmp.rangemiss;Target:0;0&1;41424344;0(>>4#d4#>1000,<1200)",
    "Cmp.before;Target:0;0&1;41424344;0(<<2#ib1#=0)",
    "Cmp.last;Target:0;0&1;41424344;0(>>4#d2#=99)",
    "Cmp.noendian;Target:0;0&1;41424344;0(>>4#h4#=4660)",
    "Cmp.count;Target:0;1=1;41424344;0(>>4#d2#>0)",
]

BYTE_COMPARE_FILES = {
    "cmp_1234": b"....ABCD1234....",
    "cmp_hex": b"....ABCD0x1234..",
    "cmp_two": b"ABCD12..ABCD99..",
    "cmp_space": b"....ABCD  12....",
    "cmp_none": b"....ABCE1234....",
    "cmp_1100": b"....ABCD1100....",
    "cmp_nul_before": b"\x00.ABCD1234",
}


def _all_signatures() -> list[str]:
    return _count_signatures() + MODIFIER_SIGNATURES + PCRE_SIGNATURES + BYTE_COMPARE_SIGNATURES


def _all_files() -> dict[str, bytes]:
    files = _count_files()
    for group in (MODIFIER_FILES, PCRE_FILES, BYTE_COMPARE_FILES):
        files.update({name: PREFIX + data for name, data in group.items()})
    return files


def _starts(sub: BodySubsignature, data: bytes) -> list[int]:
    regex = pattern_regex(sub.pattern, sub.modifiers)
    offset = sub.offset
    if offset.kind is OffsetKind.ANY:
        candidates: Sequence[int] = range(len(data))
    else:
        base = offset.value if offset.kind is OffsetKind.ABSOLUTE else len(data) - offset.value
        candidates = range(base, base + (offset.maxshift or 0) + 1)
    return [start for start in candidates if regex.match(data, start)]


def _holds(signature: LogicalSignature, data: bytes) -> bool:
    counts = [0] * len(signature.subsignatures)
    starts: dict[int, list[int]] = {}
    for index, sub in enumerate(signature.subsignatures):
        if isinstance(sub, BodySubsignature):
            starts[index] = _starts(sub, data)
            counts[index] = len(starts[index])
    for index, sub in enumerate(signature.subsignatures):
        if isinstance(sub, ByteCompareSubsignature):
            trigger = starts.get(sub.trigger, [])
            counts[index] = int(byte_compare_matches(sub, data, trigger))
        elif isinstance(sub, PcreSubsignature):
            counts[index] = pcre_matches(sub, data, evaluate(sub.trigger, counts))
    return evaluate(signature.expression, counts)


def _reference_findings(clamscan: str, database: Path, directory: Path) -> dict[str, set[str]]:
    result = subprocess.run(
        [clamscan, "--no-summary", "-z", "-d", str(database), str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    findings: dict[str, set[str]] = {}
    for line in result.stdout.splitlines():
        path, _, verdict = line.rpartition(": ")
        names = findings.setdefault(Path(path).name, set())
        if verdict.endswith(" FOUND"):
            names.add(verdict.removesuffix(" FOUND").removesuffix(".UNOFFICIAL"))
    return findings


def test_generated_signatures_match_the_reference(reference_clamscan: str, tmp_path: Path) -> None:
    lines = _all_signatures()
    database = tmp_path / "generated.ldb"
    database.write_text("\n".join(lines) + "\n")
    files = _all_files()
    directory = tmp_path / "files"
    directory.mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)

    reference = _reference_findings(reference_clamscan, database, directory)
    signatures = [parse_ldb_line(line) for line in lines]
    differences = []
    for name, data in sorted(files.items()):
        ours = {signature.name for signature in signatures if _holds(signature, data)}
        theirs = reference.get(name, set())
        if ours != theirs:
            differences.append(
                f"{name}: reference only {theirs - ours}, clamkit only {ours - theirs}"
            )
    assert not differences, "\n".join(differences)


# Loaded by the reference but unable ever to match (hex without endianness).
NEVER_MATCHING = {"Cmp.noendian"}


def test_every_generated_signature_is_exercised() -> None:
    """Each signature matches some file and misses another, so the comparison can fail."""
    signatures = [parse_ldb_line(line) for line in _all_signatures()]
    files = _all_files()
    for signature in signatures:
        outcomes = {_holds(signature, data) for data in files.values()}
        expected = {False} if signature.name in NEVER_MATCHING else {True, False}
        assert outcomes == expected, signature.name


@pytest.mark.parametrize(
    "line",
    [
        "Bad.syntax;Target:0;0&&1;4142;4344",
        "Bad.count;Target:0;0&1;4142;4344;4546",
        "Bad.unused;Target:0;0;4142;4344",
        "Bad.parens;Target:0;(0|1;4142;4344",
        "Bad.modifier;Target:0;0;41414141::z",
        "Bad.target;Engine:51-255;0;41414141",
        "Bad.engine;Target:0,Engine:51-255;0;41414141",
        "Bad.range;Engine:51-255,Target:0,FileSize:100;0;41414141",
        "Bad.newkey;Target:0,FileSize:0-100;0;41414141",
        "Bad.icon;Engine:51-255,Target:0,IconGroup1:X;0;41414141",
        "Bad.ep;Target:0;0;EP+0:41414141",
        "Bad.trigger;Target:0;0&1;41414141;1/A+B/",
        "Bad.flag;Target:0;0&1;41414141;0/A+B/z",
        "Bad.regex;Target:0;0&1;41414141;0/A+(B/",
        "Bad.delimiter;Target:0;0&1;41414141;0/A+B",
        "Bad.compare;Target:0;0&1;41414141;0(>>4#dl4#=1)",
        ";Target:0;0;41414141",
    ],
)
def test_malformed_lines_are_refused_by_both(
    reference_clamscan: str, tmp_path: Path, line: str
) -> None:
    database = tmp_path / "bad.ldb"
    database.write_text(line + "\n")
    sample = tmp_path / "sample"
    sample.write_bytes(PREFIX + b"sample data")
    result = subprocess.run(
        [reference_clamscan, "--no-summary", "-d", str(database), str(sample)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stdout
    with pytest.raises(ValueError):
        parse_ldb_line(line)
