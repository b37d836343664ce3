"""Where clamkit finds what it uses when the command line says nothing.

Strategy: the default database is shipped with clamkit rather than looked
for in /var/lib/clamav, so a fresh install detects the standard test files
without any download.  An installed wheel carries it inside the package
(``clamkit/sigs``); a source checkout has it at the top of the repository
(``sigs/``), next to the source it is built from.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
# What marks a directory as the bundled database (see sigs/build.py).
BUNDLED_CONTAINER = "daily.cld"


class MissingDefaultsError(RuntimeError):
    """The bundled database is absent: the installation is incomplete."""


def bundled_database_dir() -> Path:
    """The directory holding the bundled database, installed or in a checkout."""
    candidates = (_PACKAGE_DIR / "sigs", _PACKAGE_DIR.parent / "sigs")
    for candidate in candidates:
        if (candidate / BUNDLED_CONTAINER).is_file():
            return candidate
    searched = " or ".join(str(c) for c in candidates)
    raise MissingDefaultsError(f"bundled database not found in {searched}")
