"""Shared fixtures: where the shared data lives and whether the reference is here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"
SHARED_SIGS = SHARED / "sigs"
TESTFILES = Path("/usr/share/clamav-testfiles")


@pytest.fixture(scope="session")
def shared_sigs() -> Path:
    if not SHARED_SIGS.is_dir():
        pytest.skip(f"shared signature data not found at {SHARED_SIGS}")
    return SHARED_SIGS


@pytest.fixture(scope="session")
def reference_clamscan() -> str:
    """Path of ClamAV's own clamscan; tests comparing against it skip without it."""
    path = shutil.which("clamscan", path="/usr/bin:/usr/local/bin")
    if path is None:
        pytest.skip("reference ClamAV clamscan is not installed (apt-get install clamav)")
    return path


@pytest.fixture(scope="session")
def testfiles() -> Path:
    if not TESTFILES.is_dir():
        pytest.skip("Debian's clamav-testfiles is not installed")
    return TESTFILES
