"""The HTML views against the files the reference leaves behind (``--leave-temps``).

A seeded generator strings together fragments that exercise the normaliser's
states (tags, quotes, references, comments, scripts, styles, ``data:`` URIs,
bytes above 0x7F, NUL, CR) plus a few documents longer than the reference's
8191-byte reads; one ``clamscan`` call normalises them all, and each of
``nocomment.html``, ``notags.html`` and ``javascript`` must equal
:func:`html_views`.
"""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest

from clamkit.engine.normalize import html_views

HTML_FRAGMENTS = [
    *(b"<", b">", b"/", b"!", b"?", b"=", b'"', b"'", b" ", b"  ", b"\n", b"\r", b"\t"),
    *(b"\x0b", b"\x0c", b"&", b"&amp;", b"&#65;", b"&#x41", b"&lt", b"&nbsp;", b"&Lt;"),
    *(b";", b"#", b"x", b"a", b"B", b"script", b"SCRIPT", b"style", b"<script>"),
    *(b"</script>", b"<style>", b"</style>", b"<!--", b"-->", b"href", b"src"),
    *(b"<a href=", b"<img src=", b"\x00", b"\x01", b"\xe9", b"\xa1", b"C", b"\xe3\x80\x82"),
    *(b"data:", b"data:text/html,", b"%41", b"%", b"\\", b"<p ", b"<!x>", b"<?php", b"</"),
    *(b"&#", b"0", b"9"),
]
SCRIPT_FRAGMENTS = [
    *(b"var ", b"function ", b"(", b")", b"{", b"}", b"[", b"]", b",", b";", b".", b"+"),
    *(b"1", b"12.5e3", b"0x1f", b"e", b"eval(", b"unescape(", b"dF(", b'"%41%u0042"'),
    *(b"'a\\'b'", b'"x\\ty\\x4"', b"a", b"b", b"$x", b"\\u0041", b"//c\n", b"/*c*/", b"=="),
    *(b">>>=", b"<!--", b"-->", b'"', b"'", b"p", b"return", b"VAR", b"9999999999", b"1."),
]
CORPUS_SIZE = 400
LONG_DOCUMENTS = 6


def _short(rng: random.Random) -> bytes:
    fragments = HTML_FRAGMENTS if rng.random() < 0.5 else SCRIPT_FRAGMENTS + HTML_FRAGMENTS[:20]
    return b"<html>" + b"".join(rng.choice(fragments) for _ in range(rng.randint(1, 60)))


def _long(rng: random.Random) -> bytes:
    parts = [b"<html>"]
    for _ in range(rng.randint(3, 10)):
        kind = rng.random()
        if kind < 0.3:
            alphabet = b"abc<>=\"' \x00\n\r&#;"
            parts.append(bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 9000))))
        elif kind < 0.5:
            parts.append(b"x" * rng.randint(1, 9000))
        elif kind < 0.6:
            parts.append(b"\x00" * rng.randint(1, 300))
        else:
            fragments = HTML_FRAGMENTS + SCRIPT_FRAGMENTS
            parts.append(b"".join(rng.choice(fragments) for _ in range(rng.randint(1, 500))))
    return b"".join(parts)


def _reference_views(clamscan: str, corpus: Path, work: Path) -> dict[str, dict[str, bytes]]:
    database = work / "none.ldb"
    database.write_text("Clamkit.None;Engine:51-255,Target:3;0;7a7a7a7a7a7a7a7a7a7a\n")
    temps = work / "temps"
    temps.mkdir()
    subprocess.run(
        [clamscan, "--no-summary", "--leave-temps", f"--tempdir={temps}", "-d", str(database)]
        + [str(path) for path in sorted(corpus.iterdir())],
        capture_output=True,
        check=False,
    )
    views: dict[str, dict[str, bytes]] = {}
    for top in temps.iterdir():
        match = re.search(r"-(doc\d+)\.", top.name)
        if match is None:
            continue
        # The shallowest file of each name: deeper ones come from scanning
        # what the normaliser extracted (data: URIs), not from the document.
        found: dict[str, bytes] = {}
        for path in sorted(top.rglob("*"), key=lambda p: -len(p.parts)):
            if path.is_file():
                found[path.name] = path.read_bytes()
        views[match.group(1)] = found
    return views


@pytest.fixture(scope="module")
def corpus(
    reference_clamscan: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, bytes], dict[str, dict[str, bytes]]]:
    work = tmp_path_factory.mktemp("html-views")
    directory = work / "corpus"
    directory.mkdir()
    rng = random.Random(20240611)
    documents = [_short(rng) for _ in range(CORPUS_SIZE)]
    documents += [_long(rng) for _ in range(LONG_DOCUMENTS)]
    named = {f"doc{index:04d}": data for index, data in enumerate(documents)}
    for name, data in named.items():
        (directory / name).write_bytes(data)
    return named, _reference_views(reference_clamscan, directory, work)


def test_views_match_the_reference(
    corpus: tuple[dict[str, bytes], dict[str, dict[str, bytes]]],
) -> None:
    documents, reference = corpus
    compared, differences = 0, []
    for name, data in documents.items():
        theirs = reference.get(name, {})
        if "nocomment.html" not in theirs:
            continue  # too short for the reference to call it HTML
        compared += 1
        views = html_views(data)
        ours = {"nocomment.html": views.normalized, "notags.html": views.text}
        if views.javascript is not None:
            ours["javascript"] = views.javascript
        expected = {key: theirs[key] for key in ours.keys() | {"javascript"} if key in theirs}
        if ours != expected:
            differences.append(f"{name}: {data[:200]!r}")
    assert compared > CORPUS_SIZE * 0.9
    assert not differences, "\n".join(differences[:10])
