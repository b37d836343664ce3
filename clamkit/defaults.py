"""Where clamkit finds what it uses when the command line says nothing.

Strategy: the default database is shipped with clamkit rather than looked
for in /var/lib/clamav, so a fresh install detects the standard test files
without any download.  An installed wheel carries it inside the package
(``clamkit/sigs``); a source checkout has it at the top of the repository
(``sigs/``), next to the source it is built from.

``clamd`` started without any configuration file listens on a Unix socket
private to the user who runs it: in ``$XDG_RUNTIME_DIR`` when the session
has one, else in a directory of /tmp that must be the user's own (anyone
can create names in /tmp, so a directory planted there first is refused).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
# What marks a directory as the bundled database (see sigs/build.py).
BUNDLED_CONTAINER = "daily.cld"
# Where the built-in socket goes (see default_local_socket).
SOCKET_NAME = "clamd.sock"
PRIVATE_DIRECTORY_MODE = 0o700
# Where the socket's directory goes when the session has no runtime directory.
FALLBACK_RUNTIME_ROOT = Path("/tmp")


class MissingDefaultsError(RuntimeError):
    """The bundled database is absent: the installation is incomplete."""


class UnsafeDefaultsError(RuntimeError):
    """The directory for the built-in socket exists but is not the user's own."""


def bundled_database_dir() -> Path:
    """The directory holding the bundled database, installed or in a checkout."""
    candidates = (_PACKAGE_DIR / "sigs", _PACKAGE_DIR.parent / "sigs")
    for candidate in candidates:
        if (candidate / BUNDLED_CONTAINER).is_file():
            return candidate
    searched = " or ".join(str(c) for c in candidates)
    raise MissingDefaultsError(f"bundled database not found in {searched}")


def default_local_socket() -> Path:
    """The socket ``clamd`` listens on when there is no configuration file:
    ``$XDG_RUNTIME_DIR/clamkit/clamd.sock``, else ``/tmp/clamkit-UID/clamd.sock``.

    The directory is created with mode 0700; an existing one must be a real
    directory owned by this user (``UnsafeDefaultsError`` otherwise) and is
    made private again.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    uid = os.getuid()
    fallback = FALLBACK_RUNTIME_ROOT / f"clamkit-{uid}"
    directory = Path(runtime) / "clamkit" if runtime else fallback
    try:
        directory.mkdir(mode=PRIVATE_DIRECTORY_MODE)
    except FileExistsError:
        pass
    except OSError as error:
        raise UnsafeDefaultsError(f"cannot create {directory}: {error.strerror}") from None
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
        raise UnsafeDefaultsError(
            f"refusing to put the socket in {directory}: not a directory owned by user {uid}"
        )
    if stat.S_IMODE(info.st_mode) != PRIVATE_DIRECTORY_MODE:
        directory.chmod(PRIVATE_DIRECTORY_MODE)
    return directory / SOCKET_NAME
