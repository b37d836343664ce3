"""Properties of every signature-format parser over generated text.

Any line either parses or raises ``SignatureError`` (the loader turns that
into the reference's load error), never another exception; and lines built
from valid parts parse back to those parts.  The atheris harnesses in
tests/fuzz/ drive the same parsers coverage-guided; the loader-level fuzz
(test_loader.py) covers whole files of each extension.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clamkit.signatures.hashes import parse_hash_line
from clamkit.signatures.model import HashAlgorithm, OffsetKind, SignatureError
from clamkit.signatures.offsets import parse_offset
from tests.fuzz import targets

# Characters of the formats' syntax, so that lines get past the first checks,
# and a few beyond ASCII.
ALPHABET = "0123456789abcdefABCDEFxz:;,*=-+{}()[]<>|&!?/\\$#%.^~ \tEPSLVIOFi\u00e9\u20ac"
PARSERS = sorted(set(targets.signature_names()) - {"yar"})


@pytest.mark.parametrize("name", PARSERS)
@settings(max_examples=150, deadline=None)
@given(text=st.text(ALPHABET, max_size=80))
def test_any_line_parses_or_raises_a_signature_error(name: str, text: str) -> None:
    run = targets.target("signature", name)
    run(text.encode())


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(ALPHABET + "\n\"'", max_size=200),
    prefix=st.sampled_from(["", "rule r { strings: $a = ", "rule r { condition: "]),
)
def test_any_yara_text_parses_or_raises_a_signature_error(prefix: str, text: str) -> None:
    targets.target("signature", "yar")((prefix + text).encode())


_ALGORITHMS = {16: HashAlgorithm.MD5, 20: HashAlgorithm.SHA1, 32: HashAlgorithm.SHA256}


@given(
    digest=st.sampled_from(sorted(_ALGORITHMS)).flatmap(
        lambda n: st.binary(min_size=n, max_size=n)
    ),
    # The reference refuses a size of 0.
    size=st.integers(1, 2**31),
    name=st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,30}", fullmatch=True),
)
def test_hash_lines_parse_back_to_their_parts(digest: bytes, size: int, name: str) -> None:
    signature = parse_hash_line(f"{digest.hex()}:{size}:{name}")
    assert (signature.digest, signature.size, signature.name) == (digest, size, name)
    assert signature.algorithm is _ALGORITHMS[len(digest)]


@given(value=st.integers(0, 10**6), shift=st.none() | st.integers(0, 10**6))
def test_absolute_and_entry_point_offsets_parse_back(value: int, shift: int | None) -> None:
    window = "" if shift is None else f",{shift}"
    assert parse_offset(f"{value}{window}").value == value
    entry = parse_offset(f"EP+{value}{window}")
    assert (entry.kind, entry.value, entry.maxshift) == (OffsetKind.EP, value, shift)


def test_signature_error_is_what_the_targets_let_through() -> None:
    """The targets swallow SignatureError only: anything else would be a crash."""
    with pytest.raises(SignatureError):
        parse_hash_line("not a hash")
