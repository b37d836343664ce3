"""Helpers for container tests: a test ``Extraction``, a payload and its engine.

Format tests call a format's ``members()`` directly with ``TestExtraction``
(limits from its ``ScanOptions``, an optional smaller member budget, a
scratch directory under the test's tmp_path), and test end to end with
``payload_engine()``: one SHA-256 signature, ``PAYLOAD_NAME``, for the
bytes ``PAYLOAD``, so any container hiding ``PAYLOAD`` must be detected.
The corpus's ClamAV test executable works the same way with
``clamav_testsig_engine()`` (skips when the shared data is missing).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from clamkit.containers.base import Alert, ContainerFormat, Member
from clamkit.database.loader import load_database
from clamkit.engine import Engine, ScanOptions, compile_engine

SHARED_TESTSIG = Path(__file__).resolve().parent.parent.parent / "shared/sigs/clamav-testsig"
TESTFILES = Path("/usr/share/clamav-testfiles")

# Binary (not text), so no normalised view changes it; the digest is what matters.
PAYLOAD = b"\x00clamkit container test payload\x00" + bytes(range(256)) * 2
PAYLOAD_NAME = "Clamkit.Test.Payload.UNOFFICIAL"
TESTSIG_NAME = "ClamAV-Test-File.UNOFFICIAL"


@dataclass
class TestExtraction:
    """An ``Extraction`` for calling a format's ``members()`` directly.

    ``budget`` caps every member (default: the options' MaxFileSize, or
    unlimited when that is 0); ``scratch`` is created on first use.
    """

    __test__ = False  # not a test class, despite the name

    options: ScanOptions = field(default_factory=ScanOptions)
    budget: int | None = None
    scratch: Path | None = None
    scratch_used: bool = False

    def member_budget(self) -> int:
        if self.budget is not None:
            return self.budget
        return self.options.max_filesize or 1 << 62

    def scratch_dir(self) -> Path:
        if self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix="clamkit-test-"))
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.scratch_used = True
        return self.scratch


def members_of(
    fmt: ContainerFormat, data: bytes, extraction: TestExtraction | None = None
) -> list[Member | Alert]:
    """Everything ``fmt`` yields for ``data`` (a scratch dir made here is removed)."""
    extraction = extraction or TestExtraction()
    made_here = extraction.scratch is None
    try:
        return list(fmt.members(data, extraction))
    finally:
        if made_here and extraction.scratch is not None:
            shutil.rmtree(extraction.scratch, ignore_errors=True)


def member_data(items: list[Member | Alert]) -> list[bytes]:
    """The bytes of the members among ``items``, in order."""
    return [bytes(item.data) for item in items if isinstance(item, Member)]


def _engine_with(lines: str) -> Engine:
    with tempfile.TemporaryDirectory(prefix="clamkit-db-") as directory:
        path = Path(directory) / "test.hdb"
        path.write_text(lines)
        return compile_engine(load_database([path]))


@cache
def payload_engine() -> Engine:
    """An engine whose only signature is PAYLOAD's SHA-256 (``PAYLOAD_NAME``)."""
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    return _engine_with(f"{digest}:{len(PAYLOAD)}:{PAYLOAD_NAME.removesuffix('.UNOFFICIAL')}\n")


@cache
def _testsig_engine() -> Engine:
    return compile_engine(load_database([SHARED_TESTSIG / "clamav.hdb"]))


def clamav_testsig_engine() -> Engine:
    """The engine of ClamAV's one test signature (finds the corpus's clam.exe)."""
    if not (SHARED_TESTSIG / "clamav.hdb").is_file():
        pytest.skip(f"shared test signature not found in {SHARED_TESTSIG}")
    return _testsig_engine()


def corpus_file(name: str) -> bytes:
    """A file of Debian's clamav-testfiles (skips when it is not installed)."""
    path = TESTFILES / name
    if not path.is_file():
        pytest.skip(f"{path} not found (Debian's clamav-testfiles)")
    return path.read_bytes()


def scan_names(data: bytes, engine: Engine | None = None, **options: object) -> tuple[str, ...]:
    """Names found in ``data`` by ``engine`` (default: ``payload_engine()``)."""
    return (engine or payload_engine()).scan_bytes(data, ScanOptions(**options)).names
