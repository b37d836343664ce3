"""YARA regular expression strings: PCRE subsignatures that always run, as on the reference.

One rules file holds regex rules of every kind seen on the reference (flags
and modifiers that it ignores, anchors, escapes, counts, ``at``/``in``,
regexes mixed with text strings, near misses); a few samples are scanned
with the reference (``-z``, one call) and with clamkit, and the names must
agree file by file, as must the ``Known viruses`` count.  A ``wide``
regex, refused by the reference, comes last: the reference misattributes
the regex results of rules loaded after such a refusal.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from test_executable_signatures_reference import _reference_findings

from clamkit.database.loader import load_database
from clamkit.engine import ScanOptions, compile_engine
from clamkit.signatures.model import PcreSubsignature
from clamkit.signatures.yara import ALWAYS, YaraDropped, parse_yara_rules

SAMPLES = {
    "text.txt": b"hello World abc123xyz\nfoo BAR baz\nline2 abc\n",
    "binary.bin": b"\x00\x01hello World abc\x00foo BAR\nnext\x00abcabc\xff\xfe\x00\x00",
    "other.bin": b"\x7f\x00\x00\x02 abcXYZ wor1d \x00\x00\x03" * 3,
}

RULES = rb"""
rule plain { strings: $a = /abc[0-9]+xyz/ condition: $a }
rule plain_miss { strings: $a = /abc[0-9]+zzz/ condition: $a }
rule flag_i { strings: $a = /foo bar/i condition: $a }
rule flag_s { strings: $a = /BAR.next/s condition: $a }
rule mod_nocase { strings: $a = /WORLD/ nocase condition: $a }
rule mod_fullword { strings: $a = /abc/ fullword condition: $a }
rule mod_ascii { strings: $a = /abcXYZ/ ascii condition: $a }
rule start_hit { strings: $a = /^\x00\x01hello/ condition: $a }
rule start_miss { strings: $a = /^hello/ condition: $a }
rule end_hit { strings: $a = /\xfe\x00\x00$/ condition: $a }
rule slash { strings: $a = /hel\/lo|World/ condition: $a }
rule klass { strings: $a = /[a-c]{3}\xff/ condition: $a }
rule one_char { strings: $a = /Z/ condition: $a }
rule count_one { strings: $a = /abc/ condition: #a == 1 }
rule count_two { strings: $a = /abc/ condition: #a == 2 }
rule at_hit { strings: $a = /World/ condition: $a at 8 }
rule at_text { strings: $a = /World/ condition: $a at 6 }
rule at_miss { strings: $a = /World/ condition: $a at 7 }
rule in_hit { strings: $a = /World/ condition: $a in (0..10) }
rule in_miss { strings: $a = /World/ condition: $a in (0..5) }
rule with_text { strings: $a = /abc/ $b = "hello" condition: $a and $b }
rule not_regex { strings: $a = /zzz/ $b = "hello" condition: $b and not $a }
rule or_text { strings: $a = /wor.d/ $b = "nothere" condition: $a or $b }
rule two_regexes { strings: $a = /Wor.d/ $b = /fo+/ condition: all of them }
rule any_of { strings: $a = /nothere/ $b = /abcXYZ/ condition: any of them }
rule wide_regex { strings: $a = /abc/ wide condition: $a }
"""


def test_regex_strings_are_always_run_pcre_subsignatures() -> None:
    (rule,) = parse_yara_rules(rb"rule r { strings: $a = /a\/b/is nocase condition: $a }")
    (sub,) = rule.subsignatures  # type: ignore[union-attr]
    assert isinstance(sub, PcreSubsignature)
    assert (sub.trigger, sub.source, sub.flags) == (ALWAYS, "a/b", "")


def test_refused_strings_are_warned_about_as_by_the_reference() -> None:
    rules = parse_yara_rules(
        b'rule a { strings: $a = "l" $b = /y/ wide $c = "m" $d = /z/ wide condition: any of them }'
        b'rule b { strings: $a = /y/ wide $b = "l" condition: any of them }'
        b'rule c { strings: $a = "hello" $b = "l" condition: any of them }'
    )
    assert [rule.warnings for rule in rules if isinstance(rule, YaraDropped)] == [
        (
            "load_oneyara: string is too short YARA.a",
            "load_oneyara[verify]: wide modifier [w] is not supported for regex subsigs",
            "load_oneyara: clamav cannot support 2 input strings, skipping YARA.a",
        ),
        (
            "load_oneyara[verify]: wide modifier [w] is not supported for regex subsigs",
            "load_oneyara: clamav cannot support 1 input strings, skipping YARA.b",
        ),
        (
            "load_oneyara: string is too short YARA.c",
            "load_oneyara: clamav cannot support 1 input strings, skipping YARA.c",
        ),
    ]


def test_regex_rules_judged_by_the_reference(reference_clamscan: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yar"
    rules.write_bytes(RULES)
    paths = []
    for name, data in SAMPLES.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    reference = _reference_findings(reference_clamscan, rules, paths)
    database = load_database([rules])
    engine = compile_engine(database)
    options = ScanOptions(allmatch=True)
    ours = {str(path): set(engine.scan_file(path, options).names) for path in paths}
    assert ours == reference
    assert sum(len(names) for names in reference.values()) > 20
    summary = subprocess.run(
        [reference_clamscan, "-d", str(rules), str(paths[0])],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert f"Known viruses: {database.signature_count}" in summary
