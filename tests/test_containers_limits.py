"""MaxRecursion and MaxFiles at their edges against the reference, where formats count their way.

OLE2 walks its storage tree at most MaxRecursion deep and extracts at most
MaxFiles streams, PowerPoint objects first; PDF scans a page's text and
some stream-less objects as objects of their own; an HTML page's
normalised views are one child object.  Each corpus or generated file is
scanned at every limit from 1 up to where the payload is found, by the
reference (``-z``, one call per limit, its cache off so that one file's
clean members do not shorten another's scan) and by clamkit; the sets of
names must be equal.
"""

from __future__ import annotations

import subprocess
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from containers_support import (
    SHARED_TESTSIG,
    TESTFILES,
    TestExtraction,
    clamav_testsig_engine,
    members_of,
)

from clamkit.containers import ole2, pdf
from clamkit.containers.base import EXCEEDED_MAX_FILES, EXCEEDED_MAX_RECURSION, Alert, Member
from clamkit.containers.pdf import page_text
from clamkit.engine import ScanOptions

CORPUS = ("clam.ole.doc", "clam.ppt", "clam.pdf", "clam.exe.html", "clam.chm", "clam.mail")
PAGE = b"<html><body><p>Hello</p><script>var x = 1;</script></body></html>\n"

# name -> (clamscan arguments, the same as ScanOptions fields)
LIMITS: dict[str, tuple[tuple[str, ...], dict[str, int]]] = {
    **{
        f"max-recursion-{n}": ((f"--max-recursion={n}",), {"max_recursion": n}) for n in range(1, 5)
    },
    **{f"max-files-{n}": ((f"--max-files={n}",), {"max_files": n}) for n in range(1, 8)},
}

# (file, limit) -> why clamkit differs from the reference there.
DIFFERENCES = {
    ("clam.mail", "max-files-3"): (
        "the reference scans a third object, 30 bytes it decodes from the mail (its debug "
        "log shows the 7bit text part going through its base64 decoder); clamkit yields two"
    ),
}


def _zipped(name: str, data: bytes) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not all((TESTFILES / name).is_file() for name in CORPUS):
        pytest.skip("Debian's clamav-testfiles is not installed")
    directory = tmp_path_factory.mktemp("limits")
    generated = {
        "page.html": PAGE,
        "page.zip": _zipped("page.html", PAGE),
        "doc.zip": _zipped("clam.ole.doc", (TESTFILES / "clam.ole.doc").read_bytes()),
    }
    for name, data in generated.items():
        (directory / name).write_bytes(data)
    return {
        **{name: TESTFILES / name for name in CORPUS},
        **{name: directory / name for name in generated},
    }


@pytest.fixture(scope="module")
def reference_names(
    reference_clamscan: str, files: dict[str, Path]
) -> dict[str, dict[str, set[str]]]:
    """limit -> file -> the names the reference reports."""
    results: dict[str, dict[str, set[str]]] = {}
    for limit, (arguments, _) in LIMITS.items():
        command = [reference_clamscan, "--no-summary", "-z", "--disable-cache"]
        command += ["--alert-exceeds-max=yes", *arguments, "-d", str(SHARED_TESTSIG / "clamav.hdb")]
        output = subprocess.run(
            [*command, *map(str, files.values())], capture_output=True, text=True, check=False
        ).stdout
        found: dict[str, set[str]] = {name: set() for name in files}
        for line in output.splitlines():
            path, verdict = line.rsplit(": ", 1)
            if verdict != "OK":
                found[Path(path).name].add(verdict.removesuffix(" FOUND"))
        results[limit] = found
    return results


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        pytest.param(
            name,
            limit,
            marks=[pytest.mark.xfail(strict=True, reason=DIFFERENCES[name, limit])]
            if (name, limit) in DIFFERENCES
            else [],
        )
        for name in (*CORPUS, "page.html", "page.zip", "doc.zip")
        for limit in LIMITS
    ],
)
def test_limit_edges_like_the_reference(
    name: str,
    limit: str,
    files: dict[str, Path],
    reference_names: dict[str, dict[str, set[str]]],
) -> None:
    options = ScanOptions(alert_exceeds_max=True, allmatch=True, **LIMITS[limit][1])
    ours = clamav_testsig_engine().scan_bytes(files[name].read_bytes(), options).names
    assert set(ours) == reference_names[limit][name]


# -- the same accounting without the reference -------------------------------------------


def test_ole2_streams_in_the_reference_walk_order(files: dict[str, Path]) -> None:
    items = members_of(ole2.FORMAT, files["clam.ppt"].read_bytes())
    names = [item.name for item in items if isinstance(item, Member)]
    # The embedded PowerPoint object first, then the streams as the tree is walked.
    assert names[0].startswith("ppt") and names[0].endswith(".doc")
    assert names[1:5] == [
        "\x05SummaryInformation",
        "PowerPoint Document",
        "\x05DocumentSummaryInformation",
        "Pictures",
    ]
    limited = members_of(ole2.FORMAT, files["clam.ole.doc"].read_bytes(), _extraction(max_files=2))
    assert limited[0] == Alert(EXCEEDED_MAX_FILES, "alert_exceeds_max")
    assert len([item for item in limited if isinstance(item, Member)]) == 2


def test_ole2_storage_depth_is_limited(files: dict[str, Path]) -> None:
    shallow = members_of(
        ole2.FORMAT, files["clam.ole.doc"].read_bytes(), _extraction(max_recursion=2)
    )
    assert Alert(EXCEEDED_MAX_RECURSION, "alert_exceeds_max") in shallow
    assert not any(isinstance(item, Member) and "Ole10Native" in item.name for item in shallow)


def test_pdf_page_text_and_contents_objects() -> None:
    content = b"BT /F1 12 Tf [(Hello)-250(\\(W\\)orld)]TJ 0 -14 Td (Two\\f  Lines) Tj ET"
    assert page_text(content) == b"hello(w)orldtwo lines"
    document = (
        b"%%PDF-1.4\n1 0 obj\n<< /Type /Page /Contents 2 0 R /Annots [3 0 R] >>\nendobj\n"
        b"2 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n"
        b"3 0 obj\n<< /Type /Annot /Contents (a note) >>\nendobj\n%%%%EOF\n"
    ) % (len(content), content)
    items = members_of(pdf.FORMAT, document)
    assert [item.name for item in items] == ["pdf obj 2 0", "pdf obj 2 0 contents", "pdf obj 3 0"]


def test_html_views_are_one_file_one_level_down() -> None:
    engine = clamav_testsig_engine()
    assert engine.scan_bytes(PAGE, ScanOptions(max_files=1, alert_exceeds_max=True)).names == (
        EXCEEDED_MAX_FILES,
    )
    assert engine.scan_bytes(PAGE, ScanOptions(max_recursion=1, alert_exceeds_max=True)).names == (
        EXCEEDED_MAX_RECURSION,
    )
    assert engine.scan_bytes(PAGE, ScanOptions(max_files=2, max_recursion=2)).names == ()


def _extraction(**options: int) -> TestExtraction:
    return TestExtraction(options=ScanOptions(**options))
