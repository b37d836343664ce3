"""Every body-pattern syntax element, matched by the reference and by ``pattern_regex``.

All cases go to ClamAV's clamscan in one call (``-z`` lists every signature
that matches each file); each case's signatures are then compared with
``pattern_regex`` on that case's files only.  Files carry NUL padding so the
reference types them as binary data and scans their raw bytes (text would
also be normalised and scanned again), and a boundary mark that consumes
bytes never sits at the end of a file: the reference reads past the end
there, and ``(L)(L)`` at the very start of a file crashes it.
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from clamkit.engine.bodyregex import pattern_regex
from clamkit.signatures.model import SignatureError, SubsignatureModifiers
from clamkit.signatures.pattern import parse_pattern

PAD = b"\0" * 32


@dataclass(frozen=True)
class Case:
    """Signatures (hex, modifier letters) and the payloads they are tried on."""

    name: str
    signatures: tuple[tuple[str, str], ...]
    payloads: tuple[bytes, ...]
    # Payloads that must sit at the start or end of their file, unpadded there.
    edge_payloads: tuple[tuple[str, bytes], ...] = ()


def wide(text: bytes) -> bytes:
    return b"".join(bytes((value, 0)) for value in text)


def gaps(sizes: range, left: bytes = b"he", right: bytes = b"lo") -> tuple[bytes, ...]:
    return tuple(left + b"x" * size + right for size in sizes)


def plain(*hexes: str) -> tuple[tuple[str, str], ...]:
    return tuple((hex_text, "") for hex_text in hexes)


ALL_BYTES = range(256)

CASES = (
    Case(
        "literal",
        plain("68656c6c6f", "48454c4c4f"),
        (b"hello", b"HELLO", b"hellx", b"HeLlO", b"xhellox"),
    ),
    Case(
        "wildcards",
        plain("6865??6c6f", "68656?6c6f", "6865?c6c6f", "6865{1}6c6f", "{2}68656c"),
        (b"helo", b"hello", b"he`lo", b"he\x7flo", b"he\x1clo", b"he\x1dlo", b"he\0lo"),
    ),
    Case(
        "bounded gaps",
        plain(
            "6865{3}6c6f",
            "6865{-2}6c6f",
            "6865{2-}6c6f",
            "6865{1-3}6c6f",
            "6865{2-2}6c6f",
            "6865{3-1}6c6f",
            "6865{130}6c6f",
            "6865{129-131}6c6f",
        ),
        (*gaps(range(6)), *gaps(range(128, 133))),
    ),
    Case(
        "unbounded gaps",
        plain("6865*6c6f", "6865{0}6c6f", "6865{0-0}6c6f", "6865{-0}6c6f", "6865{3-0}6c6f"),
        (*gaps(range(5)), *gaps(range(200, 201)), b"lo..he", b"hel"),
    ),
    Case(
        "multi-part",
        plain(
            "6865*6c6c*776f",
            "6865{-3}6c6c*776f",
            "6865*6c6c{2-4}776f",
            "6865{2}6c6c{-2}776f72",
            "68656c{-4}6c6f{2-}776f",
        ),
        (
            b"hellwo",
            b"he ll wo",
            b"he   ll   wo",
            b"he    ll wo",
            b"wo ll he ll",
            b"he ll  wor",
            b"he..ll..wor",
            b"hellwor",
            b"hel  lo wo",
            b"hellowo",
            b"hel....lo...wo",
            b"he ll he ll  wo",
        ),
    ),
    Case(
        "alternatives",
        plain(
            "6865(6c|6d)6c6f",
            "6865(6c6c|6d6d)6f",
            "6865(6c|6d6d|)6f",
            "6865(6c??|6?)6f",
            "6865(6c{1}|6e)6f",
            "6865(6c|6c6c)6f6f",
            "(6865|6a6b)6c6c6f",
            "6865!(6c|6d)6c6f",
            "6865!(6c6c|6d6d)6f",
            "6865!(6c6c)6f",
        ),
        (
            b"hello",
            b"hemlo",
            b"henlo",
            b"hemmo",
            b"hemo",
            b"heo",
            b"helxo",
            b"he`o",
            b"hexxo",
            b"helloo",
            b"heloo",
            b"jkllo",
            b"hexlo",
        ),
    ),
    Case(
        "anchored bytes",
        plain("68656c6c6f[1-3]77", "68[1-3]6c6c6f", "68656c6c6f[0-2]??", "6?[2-4]6c6c6f[1-1]2e"),
        (
            b"hellow",
            b"hello-w",
            b"hello--w",
            b"hello---w",
            b"hello----w",
            b"hxllo",
            b"hxxxllo.",
            b"hxxxxllo",
            b"`..llo-.",
        ),
    ),
    Case(
        "word boundary tables",
        plain("(B)68656c6c6f", "68656c6c6f(B)", "7878(B)68656c6c6f", "68656c6c6f(B)7878"),
        tuple(b"xx" + bytes((value,)) + b"hello" + bytes((value,)) + b"xx" for value in ALL_BYTES),
    ),
    Case(
        "line boundaries",
        plain(
            "(L)68656c6c6f",
            "68656c6c6f(L)",
            "7878(L)68656c6c6f",
            "68656c6c6f(L)7878",
            "68656c6c6f(L)(L)7878",
            "68656c6c6f0d(L)",
        ),
        (
            *(b"xx" + bytes((value,)) + b"hello" + bytes((value,)) + b"xx" for value in b"\n\r x"),
            b"\r\nhello\r\nxx",
            b"\n\rhello\n\rxx",
            b"hello\r\rxx",
            b"hello\n\nxx",
            b"hello\r\n\r\nxx",
            b"hello\r\n",
        ),
    ),
    Case(
        "boundaries at part edges",
        plain(
            "6865*(B)6c6c6f",
            "6865(B)*6c6c6f",
            "6865{-3}(B)6c6c6f",
            "6865(B){-3}6c6c6f",
            "6865{1}(B)6c6c6f",
            "(B)(B)68656c6c6f",
            "68656c6c6f(B)(B)",
            "6865*(L)6c6c6f",
        ),
        (
            b"he-llo",
            b"he- llo",
            b"he-xllo",
            b"hexllo",
            b"he\nllo",
            b"he llo",
            b" -hello-/",
            b"x hello -",
        ),
    ),
    Case(
        "file edges",
        plain("(B)776f726c64", "776f726c64(B)", "(L)776f726c64", "776f726c64(L)"),
        (b"xworldx", b" world "),
        (("start", b"world"), ("end", b"world")),
    ),
    Case(
        "nocase",
        (
            ("68656c6c6f", "i"),
            ("48454c4c4f", "i"),
            ("6?656c6c6f", "i"),
            ("4?454c4c4f", "i"),
            ("?8656c6c6f", "i"),
            ("(48|49)656c6c6f", "i"),
            ("(4845|4946)6c6c6f", "i"),
            ("40656c6c6f", "i"),
            ("c8656c6c6f", "i"),
        ),
        (b"hello", b"HELLO", b"HeLlO", b"`ELLO", b"@ELLO", b"\xc8ello", b"\xe8ello", b"iELLO"),
    ),
    Case(
        "wide",
        (
            ("68656c6c6f", "w"),
            ("68656c6c6f", "wa"),
            ("68656c6c6f", "wi"),
            ("6865??6c6c6f", "w"),
            ("6865?86c6c6f", "w"),
            ("6865{2}6c6c6f", "w"),
            ("6865{2-4}6c6c6f", "w"),
            ("6865*6c6c6f", "w"),
            ("6865(6c|6d)6c6c6f", "w"),
            ("6865[1-2]6c", "w"),
            ("68", "w"),
        ),
        (
            wide(b"hello"),
            wide(b"HELLO"),
            b"hello",
            wide(b"hell") + b"o\x01",
            wide(b"he") + b"XX" + wide(b"llo"),
            wide(b"heX") + wide(b"llo"),
            wide(b"heXX") + wide(b"llo"),
            wide(b"he") + b"XXXXX" + wide(b"llo"),
            wide(b"helllo"),
            wide(b"hemllo"),
        ),
    ),
    Case(
        "fullword",
        (
            ("68656c6c6f", "f"),
            ("68656c6c6f", "fi"),
            ("68656c6c6f", "fw"),
            ("68656c6c6f", "fwa"),
            ("2d68656c6c6f2d", "f"),
            ("6865*6c6c6f", "f"),
        ),
        (
            *(b"-" + bytes((value,)) + b"hello-" for value in b"0aZ_ -.\x80"),
            *(b"-hello" + bytes((value,)) + b"-" for value in b"9zA_ -.\xff"),
            b"x-hello-x",
            b"hello he llo he llox",
            wide(b" hello "),
            b"x" + wide(b"hello "),
            b"x\0" + wide(b"hello "),
            wide(b" hello") + b"x\0",
        ),
    ),
)


def _modifiers(letters: str) -> SubsignatureModifiers | None:
    if not letters:
        return None
    return SubsignatureModifiers(
        nocase="i" in letters, wide="w" in letters, fullword="f" in letters, ascii="a" in letters
    )


def _files(case_index: int, case: Case) -> dict[str, bytes]:
    files = {f"c{case_index}p{index}": PAD + data + PAD for index, data in enumerate(case.payloads)}
    for edge, data in case.edge_payloads:
        files[f"c{case_index}{edge}"] = data + PAD if edge == "start" else PAD + data
    return files


@pytest.fixture(scope="module")
def reference_matches(
    reference_clamscan: str, tmp_path_factory: pytest.TempPathFactory
) -> set[tuple[str, str]]:
    """{(signature name, file name)} for every match the reference reports."""
    root = tmp_path_factory.mktemp("pattern_reference")
    (root / "files").mkdir()
    ndb, ldb = [], []
    for case_index, case in enumerate(CASES):
        for name, data in _files(case_index, case).items():
            (root / "files" / name).write_bytes(data)
        for sig_index, (hex_text, letters) in enumerate(case.signatures):
            name = f"C{case_index}S{sig_index}"
            if letters:
                ldb.append(f"{name};Target:0;0;{hex_text}::{letters}\n")
            else:
                ndb.append(f"{name}:0:*:{hex_text}\n")
    (root / "sigs.ndb").write_text("".join(ndb))
    (root / "sigs.ldb").write_text("".join(ldb))
    paths = sorted(str(path) for path in (root / "files").iterdir())
    command = [reference_clamscan, "--no-summary", "-z"]
    command += ["-d", str(root / "sigs.ndb"), "-d", str(root / "sigs.ldb"), *paths]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode in (0, 1), result.stderr
    found = set()
    for line in result.stdout.splitlines():
        match = re.fullmatch(r".*/(\S+): (\S+)\.UNOFFICIAL FOUND", line)
        if match:
            found.add((match[2], match[1]))
    return found


@pytest.mark.parametrize("case_index", range(len(CASES)), ids=[case.name for case in CASES])
def test_pattern_regex_agrees_with_reference(
    case_index: int, reference_matches: set[tuple[str, str]]
) -> None:
    case = CASES[case_index]
    disagreements = []
    for sig_index, (hex_text, letters) in enumerate(case.signatures):
        modifiers = _modifiers(letters)
        regex = pattern_regex(parse_pattern(hex_text, modifiers), modifiers)
        name = f"C{case_index}S{sig_index}"
        for file_name, data in _files(case_index, case).items():
            ours = regex.search(data) is not None
            theirs = (name, file_name) in reference_matches
            if ours != theirs:
                disagreements.append((hex_text, letters, data.strip(b"\0"), theirs))
    assert disagreements == []


def test_reference_saw_every_case(reference_matches: set[tuple[str, str]]) -> None:
    """Guards against a silent failure: every case has at least one reference match."""
    matched_cases = {name.split("S")[0] for name, _ in reference_matches}
    assert matched_cases == {f"C{index}" for index in range(len(CASES))}


# (signature line body, modifier letters): .ndb target 0 when there are no
# letters, else a logical subsignature.  Chosen where the documentation is
# silent or where the reference's answer was a surprise.
ACCEPTANCE = (
    ("68656c", ""),
    ("6865", ""),
    ("686", ""),
    ("6865??6c", ""),
    ("68??6c", ""),
    ("6865{3}", ""),
    ("{3}6865", ""),
    ("6865{3-5}", ""),
    ("6865*6f", ""),
    ("*6865", ""),
    ("6865{5-2}6c6f", ""),
    ("6865{0}6c6f", ""),
    ("68656c6c{127}6f", ""),
    ("68656c6c{128}6f", ""),
    ("6865(6c6c|)6f", ""),
    ("6865(|6c)6f", ""),
    ("6865()", ""),
    ("6865(6c{1}6f|6e)", ""),
    ("6865(6c*6f|6e)", ""),
    ("6865!(6c6c|6d)", ""),
    ("(6865|6966)6c6c", ""),
    ("(6865|6966)6c", ""),
    ("68656c6c6f[1-32]77", ""),
    ("68656c6c6f[1-33]77", ""),
    ("68656c6c6f[2]77", ""),
    ("6865[1-3]6c6c", ""),
    ("68[1-3]6c", ""),
    ("68656c6c6f[1-3]2d(B)", ""),
    ("(B)6865", ""),
    ("6865*(B)", ""),
    ("68", "w"),
    ("68", "wa"),
    ("????", "w"),
    ("6c6c!(31|32)", "f"),
)


def _reference_loads(clamscan: str, directory: Path, name: str, line: str) -> bool:
    database = directory / name
    database.write_text(line + "\n")
    sample = directory / "sample"
    command = [clamscan, "--no-summary", "-d", str(database), str(sample)]
    return subprocess.run(command, capture_output=True, check=False).returncode != 2


def test_acceptance_agrees_with_reference(reference_clamscan: str, tmp_path: Path) -> None:
    (tmp_path / "sample").write_bytes(PAD + b"hello world" + PAD)
    lines = []
    ours = []
    for index, (hex_text, letters) in enumerate(ACCEPTANCE):
        if letters:
            name, line = f"s{index}.ldb", f"T{index};Target:0;0;{hex_text}::{letters}"
        else:
            name, line = f"s{index}.ndb", f"T{index}:0:*:{hex_text}"
        lines.append((name, line))
        try:
            # Plain hex for target 0 goes to the reference's Boyer-Moore matcher.
            parse_pattern(hex_text, _modifiers(letters), min_plain_length=2 if letters else 3)
            ours.append(True)
        except SignatureError:
            ours.append(False)
    # One clamscan per line: the reference stops loading at the first bad one.
    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs = list(
            pool.map(lambda pair: _reference_loads(reference_clamscan, tmp_path, *pair), lines)
        )
    assert [text for text, a, b in zip(ACCEPTANCE, ours, theirs, strict=True) if a != b] == []
    assert True in theirs and False in theirs
