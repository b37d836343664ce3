"""The two prefilter backends find the same anchors, and engines built on them
give the same verdicts.

Generated anchors and data (NUL bytes, case-insensitive anchors, hits across
chunk boundaries) are checked against a brute-force search; then the real
database is compiled with each backend and both scan the same corpus:
generated inputs for its signatures, the Debian test files and random data.
"""

from __future__ import annotations

import array
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_real_signatures_reference import _write_corpus

from clamkit.database.loader import load_database
from clamkit.engine import ScanOptions, compile_engine, matching, prefilter
from clamkit.engine.prefilter import GroupedAnchor, build_prefilter
from clamkit.signatures.model import Target

BACKENDS = prefilter.available_backends()
needs_both = pytest.mark.skipif(
    len(BACKENDS) < 2, reason="hyperscan is not installed: only one prefilter backend to test"
)
ALPHABET = b"\x00aAb\xc0"


def _brute_force(
    groups: dict[Target, list[GroupedAnchor]], data: bytes, targets: frozenset[Target]
) -> list[tuple[int, int]]:
    lowered = data.lower()
    found = []
    for target, anchors in groups.items():
        if target not in targets:
            continue
        for anchor in anchors:
            text = lowered if anchor.nocase else data
            position = text.find(anchor.literal)
            while position >= 0:
                found.append((position, anchor.anchor_id))
                position = text.find(anchor.literal, position + 1)
    return sorted(found)


anchor_specs = st.lists(
    st.tuples(
        st.sampled_from([Target.ANY, Target.PE, Target.TEXT]),
        st.binary(min_size=1, max_size=6).map(lambda b: bytes(ALPHABET[x % 5] for x in b)),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None)
@given(
    specs=anchor_specs,
    data=st.binary(max_size=80).map(lambda b: bytes(ALPHABET[x % 5] for x in b)),
    targets=st.sets(st.sampled_from([Target.ANY, Target.PE, Target.TEXT]), min_size=1),
)
def test_hits_are_every_occurrence(
    backend: str,
    specs: list[tuple[Target, bytes, bool]],
    data: bytes,
    targets: set[Target],
) -> None:
    groups: dict[Target, list[GroupedAnchor]] = {}
    lengths = array.array("H")
    seen = set()
    for target, literal, nocase in specs:
        literal = literal.lower() if nocase else literal  # the compiler's contract
        if (target, literal, nocase) in seen:
            continue
        seen.add((target, literal, nocase))
        groups.setdefault(target, []).append(GroupedAnchor(len(lengths), literal, nocase))
        lengths.append(len(literal))
    built = build_prefilter(groups, lengths, backend)
    chosen = frozenset(targets)
    # Chunks of 7 bytes: anchors straddle every boundary the walk makes.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prefilter, "CHUNK_SIZE", 7)
        assert built.hits(data, chosen) == _brute_force(groups, data, chosen)


@pytest.fixture(scope="module")
def engines(shared_sigs: Path) -> dict[str, object]:
    database = load_database([shared_sigs / "real-subset", shared_sigs / "clamav-testsig"])
    return {"database": database} | {
        backend: compile_engine(database, backend) for backend in BACKENDS
    }


@needs_both
def test_backends_agree_on_the_real_database(
    engines: dict, tmp_path: Path, testfiles: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_corpus(corpus, engines["database"])
    rng = random.Random(7)
    for index in range(20):
        (corpus / f"random-{index}").write_bytes(rng.randbytes(rng.randint(1, 300_000)))
    # Unpacking and the PE verification dominate the Debian files: a few of each kind.
    debian = ["clam.exe", "clam.zip", "clam.pdf", "clam.exe.html", "clam.ole.doc", "clam.mail"]
    paths = sorted(corpus.iterdir())[::6] + [testfiles / name for name in debian]
    assert len(paths) > 600
    fast, portable = (engines[backend] for backend in BACKENDS)
    every_target = frozenset(Target)
    options = ScanOptions(allmatch=True)
    detected = 0
    for path in paths:
        data = path.read_bytes()
        assert fast.prefilter.hits(data, every_target) == portable.prefilter.hits(
            data, every_target
        ), path.name
        names = fast.scan_file(path, options).names
        assert names == portable.scan_file(path, options).names, path.name
        detected += bool(names)
    assert detected > len(paths) // 4, "the corpus should exercise matches, not only misses"


@needs_both
def test_secondary_matchers_agree_whether_searched_or_prefiltered(
    engines: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small views search secondary matchers one by one, large ones take them
    from one pass of the secondary prefilter: both ways give the same verdicts."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_corpus(corpus, engines["database"])
    paths = sorted(corpus.iterdir())[1::12]
    options = ScanOptions(allmatch=True)
    searched = {path: engines[BACKENDS[0]].scan_file(path, options).names for path in paths}
    monkeypatch.setattr(matching, "SECONDARY_PASS_SIZE", 0)
    for backend in BACKENDS:
        for path in paths:
            assert engines[backend].scan_file(path, options).names == searched[path], path.name
    assert sum(map(bool, searched.values())) > len(paths) // 4


@needs_both
def test_the_default_backend_is_the_fast_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(prefilter.BACKEND_VARIABLE, raising=False)
    assert prefilter.default_backend() == "hyperscan"
    monkeypatch.setenv(prefilter.BACKEND_VARIABLE, "ahocorasick")
    assert prefilter.default_backend() == "ahocorasick"


def test_an_unknown_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(prefilter.BACKEND_VARIABLE, "grep")
    with pytest.raises(ValueError, match="CLAMKIT_PREFILTER=grep"):
        prefilter.default_backend()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_large_mapped_file_is_walked_in_chunks(backend: str, tmp_path: Path) -> None:
    import mmap

    groups = {Target.ANY: [GroupedAnchor(0, b"\x00needle", False)]}
    built = build_prefilter(groups, array.array("H", [7]), backend)
    path = tmp_path / "big"
    size = 3 * prefilter.CHUNK_SIZE + 5
    positions = [0, prefilter.CHUNK_SIZE - 3, 2 * prefilter.CHUNK_SIZE, size - 7]
    data = bytearray(os.urandom(size).replace(b"\x00", b"\x01"))
    for position in positions:
        data[position : position + 7] = b"\x00needle"
    path.write_bytes(data)
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, prot=mmap.PROT_READ) as view:
        assert built.hits(view, frozenset({Target.ANY})) == [(p, 0) for p in positions]
