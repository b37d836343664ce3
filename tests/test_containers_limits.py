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
from containers_support import SHARED_TESTSIG, TESTFILES, clamav_testsig_engine

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
