"""Hash lines (.hdb .hsb .fp ...): values, every refusal, and the reference's silent drops."""

from __future__ import annotations

import pytest

from clamkit.signatures.hashes import (
    MalformedHashError,
    allow_list_entry,
    c_atoi,
    excludes,
    parse_hash_line,
    skip_reason,
)
from clamkit.signatures.ignore import IgnoreEntry, IgnoreList, Skip
from clamkit.signatures.model import AllowListEntry, HashAlgorithm, SignatureError

MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA1 = "3395856ce81f2b7382dee72602f798b642f14140"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
LEVEL = 216
NOTHING_IGNORED = IgnoreList()


@pytest.mark.parametrize(
    ("digest", "algorithm"),
    [(MD5, HashAlgorithm.MD5), (SHA1, HashAlgorithm.SHA1), (SHA256, HashAlgorithm.SHA256)],
)
def test_algorithm_follows_digest_length(digest: str, algorithm: HashAlgorithm) -> None:
    signature = parse_hash_line(f"{digest}:68:Eicar")
    assert signature.algorithm is algorithm
    assert signature.digest == bytes.fromhex(digest)
    assert (signature.name, signature.size) == ("Eicar", 68)
    assert (signature.min_flevel, signature.max_flevel) == (None, None)


def test_upper_case_digest_and_name_suffix() -> None:
    signature = parse_hash_line(f"{MD5.upper()}:68:Eicar", ".UNOFFICIAL")
    assert signature.digest == bytes.fromhex(MD5)
    assert signature.name == "Eicar.UNOFFICIAL"


def test_name_keeps_spaces_and_tabs() -> None:
    # The reference reports "A .UNOFFICIAL" for a name written "A ".
    assert parse_hash_line(f"{MD5}:68:A \tB").name == "A \tB"


@pytest.mark.parametrize(
    ("line", "size", "low", "high"),
    [
        (f"{MD5}:*:A:73", None, 73, None),
        (f"{SHA256}:*:A:73:80", None, 73, 80),
        (f"{MD5}:68:A:1:300", 68, 1, 300),
        (f"{MD5}:68:A:", 68, 0, None),  # empty MinFL reads as 0
        (f"{MD5}:68:A::", 68, 0, 0),  # and so does an empty MaxFL
        (f"{MD5}:68:A:x", 68, 0, None),
        (f"{MD5}:68:A:-1", 68, 0xFFFFFFFF, None),
        (f"{MD5}:+68:A", 68, None, None),
        (f"{MD5}: 68:A", 68, None, None),
        (f"{MD5}:068:A", 68, None, None),
        (f"{MD5}:4294967294:A", 4294967294, None, None),
    ],
)
def test_sizes_and_flevels_read_like_the_reference(
    line: str, size: int | None, low: int | None, high: int | None
) -> None:
    signature = parse_hash_line(line)
    assert (signature.size, signature.min_flevel, signature.max_flevel) == (size, low, high)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "got 1 field"),
        (f"{MD5}:68", "got 2 field"),
        (f"{MD5}:68:A:1:2:3", "got 6 field"),
        (f"{MD5}::A", "Invalid value for the size field"),
        (f"{MD5}:0:A", "Invalid value for the size field"),
        (f"{MD5}:-1:A", "Invalid value for the size field"),
        (f"{MD5}:x:A", "Invalid value for the size field"),
        (f"{MD5}:0x44:A", "Invalid value for the size field"),
        (f"{MD5}:68x:A", "Invalid value for the size field"),
        (f"{MD5}:68 :A", "Invalid value for the size field"),
        (f"{MD5}:1_000:A", "Invalid value for the size field"),
        (f"{MD5}:4294967295:A", "Invalid value for the size field"),
        (f"{MD5}:99999999999999999999:A", "Invalid value for the size field"),
        (f"{MD5}:**:A:73", "Invalid value for the size field"),
        (f"{MD5}:*:A", "at least 73 for wildcard size"),
        (f"{MD5}:*:A:72", "at least 73 for wildcard size"),
        (f"{MD5}:68:", "Empty virus name"),
    ],
)
def test_malformed_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        parse_hash_line(line)


@pytest.mark.parametrize(
    "digest",
    [MD5 + "0", MD5[1:], "zz" + MD5[2:], " " + MD5[1:], MD5[:2] + " " + MD5[2:31], ""],
)
def test_malformed_digests_are_their_own_error(digest: str) -> None:
    with pytest.raises(MalformedHashError, match="Malformed hash string"):
        parse_hash_line(f"{digest}:68:A")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("216", 216),
        ("", 0),
        ("x", 0),
        ("73x", 73),
        ("  +200", 200),
        ("0x10", 0),
        ("-5", 2**32 - 5),
        ("4294967296", 0),
        ("4294967369", 73),
        ("99999999999", 99999999999 % 2**32),
        ("99999999999999999999999", 0xFFFFFFFF),  # strtol saturates, int narrows to -1
        ("-99999999999999999999999", 0),
    ],
)
def test_c_atoi(text: str, value: int) -> None:
    assert c_atoi(text) == value


@pytest.mark.parametrize(
    ("low", "high", "excluded"),
    [
        (None, None, False),
        (216, 216, False),
        (217, None, True),
        (1, 215, True),
        (None, 216, False),
        (0, 0, True),
    ],
)
def test_excludes(low: int | None, high: int | None, excluded: bool) -> None:
    assert excludes(low, high, LEVEL) is excluded


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # The FLEVEL range is checked before the size, the wildcard rule and the hash.
        ("zz:68:A:300", Skip.FLEVEL),
        (f"{MD5}:x:A:300", Skip.FLEVEL),
        (f"{MD5}:*:A:1:2", Skip.FLEVEL),
        (f"{MD5}:68::300", Skip.FLEVEL),
        # The ignore list comes after the size but before the name and the hash.
        ("zz:68:Ignored", Skip.IGNORED),
        (f"{MD5}:x:Ignored", None),
        (f"{MD5}:*:Ignored", None),
        ("zz:68:Other", None),
        (f"{MD5}:68:A:1:2:3", None),
    ],
)
def test_skip_reason_replays_the_reference_order(line: str, reason: Skip | None) -> None:
    ignored = IgnoreList([IgnoreEntry("Ignored")])
    assert skip_reason(line, LEVEL, ignored) is reason


def test_allow_list_entry_keeps_the_hash() -> None:
    signature = parse_hash_line(f"{SHA1}:*:Clean:73", ".UNOFFICIAL")
    assert allow_list_entry(signature) == AllowListEntry(
        "Clean.UNOFFICIAL", HashAlgorithm.SHA1, bytes.fromhex(SHA1), None
    )


def test_real_subset_main_hdb_parses(shared_sigs) -> None:
    lines = (shared_sigs / "real-subset" / "main.hdb").read_text().splitlines()
    signatures = [parse_hash_line(line) for line in lines]
    assert len(signatures) == 82211
    assert {s.algorithm for s in signatures} == {HashAlgorithm.MD5}
    assert skip_reason(lines[0], LEVEL, NOTHING_IGNORED) is None
