"""PE section hash lines (.mdb .msb) and import hash lines (.imp): parsing and counting."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clamkit.database.loader import DatabaseError, load_database
from clamkit.signatures.ignore import IgnoreList, Skip
from clamkit.signatures.model import HashAlgorithm, SignatureError
from clamkit.signatures.sectionhashes import parse_section_hash_line, section_skip_reason

MD5 = "1931e3808e2374839e1cb81790d14c14"
SHA256 = "73757fdfd15f2e63995a547e86cc4568a9137bfb2f64a588ad9e6f45ddd5e367"


def test_size_comes_first() -> None:
    signature = parse_section_hash_line(f"34304:{MD5}:Text.Section", ".UNOFFICIAL")
    assert signature.name == "Text.Section.UNOFFICIAL"
    assert signature.size == 34304
    assert signature.algorithm is HashAlgorithm.MD5
    assert signature.digest == bytes.fromhex(MD5)


def test_wildcard_size_needs_flevel_73() -> None:
    assert parse_section_hash_line(f"*:{SHA256}:Any:73").size is None
    with pytest.raises(SignatureError, match="at least 73"):
        parse_section_hash_line(f"*:{SHA256}:Any")


@pytest.mark.parametrize("line", [f"{MD5}:34304:Swapped", "34304:abc:Short", f"0:{MD5}:Zero", "x"])
def test_malformed_lines_are_refused(line: str) -> None:
    with pytest.raises(SignatureError):
        parse_section_hash_line(line)


def test_skip_reasons_follow_the_whole_file_rules() -> None:
    assert section_skip_reason(f"512:{MD5}:Future:999", 200, IgnoreList()) is Skip.FLEVEL
    assert section_skip_reason(f"512:{MD5}:Fine", 200, IgnoreList()) is None


def test_pe_allmatch_alert_sigs_count_as_on_the_reference(
    shared_sigs: Path, reference_clamscan: str, tmp_path: Path
) -> None:
    directory = shared_sigs / "pe_allmatch" / "alert-sigs"
    database = load_database([directory])
    assert len(database.section_hashes) == 42
    assert len(database.import_hashes) == 6
    assert database.report.skipped["unsupported feature: IconGroup"] == 2
    sample = tmp_path / "sample.txt"
    sample.write_text("nothing\n")
    result = subprocess.run(
        [reference_clamscan, "-d", str(directory), str(sample)],
        capture_output=True,
        text=True,
        check=False,
    )
    known = next(line for line in result.stdout.splitlines() if line.startswith("Known viruses:"))
    assert known == f"Known viruses: {database.signature_count}"


def test_a_bad_line_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.imp").write_text(f"{MD5}:0:Zero\n")
    with pytest.raises(DatabaseError, match=r"bad\.imp: line 1"):
        load_database([tmp_path])
