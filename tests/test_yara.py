"""YARA rules: the subset that becomes logical signatures, and what is skipped or dropped.

The reference test runs one rules file and one sample through both scanners
(``-z``) and compares the names and the ``Known viruses`` count.  Regular
expression strings have their own tests (``test_yara_regex``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clamkit.database.loader import load_database
from clamkit.engine import ScanOptions, compile_engine
from clamkit.signatures.logical import SkippedSignature
from clamkit.signatures.model import (
    And,
    Count,
    LogicalSignature,
    Offset,
    OffsetKind,
    Or,
    Range,
    SignatureError,
    SubRef,
)
from clamkit.signatures.yara import YaraDropped, parse_yara_rules

SAMPLE = b"hello CLAMKIT yara world\nSecond LINE\x00\x01\x02\x03 wide: h\x00i\x00!\x00\n"

RULES = rb"""
rule text_plain { strings: $a = "CLAMKIT yara" condition: $a }
rule text_nocase { strings: $a = "clamkit YARA" nocase condition: $a }
rule text_nocase_miss { strings: $a = "clamkit YARA" condition: $a }
rule text_wide { strings: $a = "hi!" wide condition: $a }
rule text_wide_ascii { strings: $a = "world" wide ascii condition: $a }
rule text_escapes { strings: $a = "yara world\nSec" condition: $a }
rule text_hex_escape { strings: $a = "LINE\x00\x01" condition: $a }
rule hex_basic { strings: $h = { 00 01 ?? 03 } condition: $h }
rule hex_nibble { strings: $h = { 4? 4C 41 4D } condition: $h }
rule hex_jump { strings: $h = { 68 65 [2-4] 6F 20 43 } condition: $h }
rule hex_jump_miss { strings: $h = { 68 65 [0-1] 6F 20 43 } condition: $h }
rule hex_alt { strings: $h = { 4C 49 ( 4E | 4F ) 45 } condition: $h }
rule hex_any_gap { strings: $h = { 68 65 6C [-] 4C 49 4E 45 } condition: $h }
rule two_and { strings: $a = "hello" $b = "world" condition: $a and $b }
rule two_or_miss { strings: $a = "nothere" $b = "neither" condition: $a or $b }
rule any_of { strings: $a = "nothere" $b = "world" condition: any of them }
rule all_of_miss { strings: $a = "nothere" $b = "world" condition: all of them }
rule count_eq { strings: $a = "ll" condition: #a == 1 }
rule count_ge_miss { strings: $a = "CLAMKIT" condition: #a >= 2 }
rule n_of { strings: $a = "hello" $b = "world" $c = "zzz" condition: 2 of them }
rule n_of_set_miss { strings: $a = "hello" $b = "yyy" $c = "zzz" condition: 2 of ($a, $b, $c) }
rule wildcard_set { strings: $x1 = "hello" $x2 = "world" $y = "no" condition: all of ($x*) and $y }
rule filesize_r { strings: $a = "hello" condition: $a and filesize < 100 }
rule filesize_miss { strings: $a = "hello" condition: filesize > 1KB and $a }
rule at_r { strings: $a = "hello" condition: $a at 0 }
rule at_miss { strings: $a = "hello" condition: $a at 1 }
rule not_r { strings: $a = "hello" $b = "zzz" condition: $a and not $b }
rule grouped { strings: $a = "hello" $b = "zzz" $c = "LINE" condition: ($a or $b) and $c }
rule fullword_r { strings: $a = "yara" fullword condition: $a }
rule fullword_miss { strings: $a = "yar" fullword condition: $a }
private rule tagged : one two {
    meta: author = "x" version = 3
    strings: $a = "Second"
    condition: $a
}
rule regex_r { strings: $r = /CLAM[A-Z]+T/ condition: $r }
rule in_r { strings: $a = "hello" condition: $a in (0..10) }
rule in_miss { strings: $a = "world" condition: $a in (0..5) }
rule illegal_escape { strings: $a = "CLAM\qKIT" condition: $a }
rule illegal_hex_escape_miss { strings: $a = "hel\xZZlo" condition: $a }
"""
# Rules the reference refuses (each in a file of its own: after a refusal the
# reference stops matching some later rules of the same file).
REFUSED = [
    b'rule too_short { strings: $a = "l" condition: #a > 3 }',
    b"rule no_strings { condition: true }",
    b'import "pe" rule module { strings: $a = "x1" condition: $a and pe.number_of_sections == 3 }',
    b'rule none_of { strings: $a = "nothere" condition: none of them }',
    b'rule unreferenced { strings: $a = "hello" $b = "x1" condition: $a }',
    b'rule broken { strings: $a = "abc" condition: $a and }',
    b'rule nocase { strings: $a = "hello" condition: $a }',
    b"rule bad_hex { strings: $a = { 4G 41 } condition: $a }",
    b'rule twice { strings: $a = "hello" $a = "world" condition: $a }',
    b'rule undefined { strings: $a = "hello" condition: $b }',
    b'rule bad_meta { meta: x = strings: $a = "hello" condition: $a }',
    b'rule private_string { strings: $a = "hello" private condition: $a }',
]


def _rules(text: bytes) -> list[LogicalSignature | SkippedSignature | YaraDropped]:
    return parse_yara_rules(text, ".UNOFFICIAL")


def _one(text: bytes) -> LogicalSignature:
    (rule,) = _rules(text)
    assert isinstance(rule, LogicalSignature)
    return rule


def test_conditions_become_logical_expressions() -> None:
    rule = _one(
        b'rule r { strings: $a = "ab" $b = "cd" $c = "ef" condition: ($a or $b) and not $c }'
    )
    assert rule.name == "YARA.r.UNOFFICIAL"
    assert rule.expression == And((Or((SubRef(0), SubRef(1))), Count(SubRef(2), "=", 0)))
    rule = _one(b'rule r { strings: $a = "ab" $b = "cd" $c = "ef" condition: 2 of them }')
    assert rule.expression == Count(Or((SubRef(0), SubRef(1), SubRef(2))), ">", 1, 2)


def test_at_and_filesize_go_into_offsets_and_the_description() -> None:
    rule = _one(b'rule r { strings: $a = "MZ" condition: $a at 0 and filesize < 2MB }')
    assert rule.subsignatures[0].offset == Offset(OffsetKind.ABSOLUTE, 0)  # type: ignore[union-attr]
    assert rule.target_description.file_size == Range(0, 2 * 1024 * 1024 - 1)


@pytest.mark.parametrize(
    "condition",
    [b"$a or filesize < 10", b"$a at 0 or #a > 2", b"for any i in (1..#a) : (@a[i] < 10)"],
)
def test_conditions_beyond_the_subset_are_skipped(condition: bytes) -> None:
    (rule,) = _rules(b'rule r { strings: $a = "ab" condition: ' + condition + b" }")
    assert isinstance(rule, SkippedSignature)


def test_illegal_escapes_lose_two_characters() -> None:
    rule = _one(rb'rule r { strings: $a = "a\xZZb\q!\x4" condition: $a }')
    assert rule.subsignatures[0].pattern.source == b"aZZb!4".hex()  # type: ignore[union-attr]


def test_an_unreadable_file_is_refused() -> None:
    with pytest.raises(SignatureError):
        _rules(b'strings: $a = "x"')


def _judged(clamscan: str, rules: Path, sample: Path) -> tuple[set[str], set[str], str, int]:
    """(reference names, clamkit names, the reference's Known viruses line, clamkit's count)."""
    result = subprocess.run(
        [clamscan, "-z", "-d", str(rules), str(sample)], capture_output=True, text=True, check=False
    )
    reference = {
        line.rpartition(": ")[2].removesuffix(" FOUND")
        for line in result.stdout.splitlines()
        if line.endswith(" FOUND")
    }
    known = next(line for line in result.stdout.splitlines() if line.startswith("Known viruses"))
    database = load_database([rules])
    ours = set(compile_engine(database).scan_file(sample, ScanOptions(allmatch=True)).names)
    return reference, ours, known, database.signature_count


def test_rules_judged_by_the_reference(reference_clamscan: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yar"
    rules.write_bytes(RULES)
    sample = tmp_path / "sample.bin"
    sample.write_bytes(SAMPLE)
    reference, ours, known, count = _judged(reference_clamscan, rules, sample)
    assert ours == reference
    assert known == f"Known viruses: {count}"
    assert len(reference) > 20


@pytest.mark.parametrize("rule", REFUSED)
def test_refused_rules_are_dropped_as_by_the_reference(
    reference_clamscan: str, tmp_path: Path, rule: bytes
) -> None:
    rules = tmp_path / "rules.yar"
    rules.write_bytes(rule + b'\nrule fine { strings: $a = "world" condition: $a }\n')
    sample = tmp_path / "sample.bin"
    sample.write_bytes(SAMPLE)
    reference, ours, known, count = _judged(reference_clamscan, rules, sample)
    assert (reference, known) == (ours, f"Known viruses: {count}")
