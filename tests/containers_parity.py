"""Parity helper for container tests: the reference's verdicts next to clamkit's.

``verdict_pairs`` writes the generated files into a directory, scans them
all with the reference's clamscan in one call (the machine is shared) and
with clamkit's engine, and returns both verdicts per file name (a name, or
``OK``) for the test to compare; ``assert_same_verdicts`` compares them,
with one format family's switch turned off on both sides if asked.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from containers_support import SHARED_TESTSIG, scan_names

from clamkit.engine import Engine

# ScanOptions switch -> the clamscan option that turns it off.
_SWITCHES = {
    "scan_archive": "--scan-archive=no",
    "scan_mail": "--scan-mail=no",
    "scan_html": "--scan-html=no",
    "scan_pdf": "--scan-pdf=no",
    "scan_ole2": "--scan-ole2=no",
    "scan_onenote": "--scan-onenote=no",
}


def assert_same_verdicts(
    clamscan: str, directory: Path, files: dict[str, bytes], engine: Engine, off: str | None
) -> None:
    """Both give every file the same verdict, with the ScanOptions switch ``off`` turned off."""
    switches, options = ((), {}) if off is None else ((_SWITCHES[off],), {off: False})
    ours, reference = verdict_pairs(clamscan, directory, files, engine, switches, **options)
    assert ours == reference


def verdict_pairs(
    clamscan: str,
    directory: Path,
    files: dict[str, bytes],
    engine: Engine,
    reference_options: tuple[str, ...] = (),
    database: Path = SHARED_TESTSIG / "clamav.hdb",
    **options: object,
) -> tuple[dict[str, str], dict[str, str]]:
    """(clamkit's verdicts, the reference's) for ``files``, keyed by file name.

    ``reference_options`` are clamscan switches matching the ScanOptions
    fields given as ``options``; ``database`` is what the reference loads
    and must hold the signatures ``engine`` was compiled from.
    """
    for name, content in files.items():
        (directory / name).write_bytes(content)
    command = [clamscan, "--no-summary", *reference_options]
    command += ["-d", str(database)]
    command += [str(directory / name) for name in files]
    output = subprocess.run(command, capture_output=True, check=False, text=True).stdout
    reference = {}
    for line in output.splitlines():
        path, verdict = line.rsplit(": ", 1)
        reference[Path(path).name] = verdict.removesuffix(" FOUND")
    ours = {
        name: (scan_names(content, engine, **options) or ("OK",))[0]
        for name, content in files.items()
    }
    return ours, reference
