"""The daemon's process life: detaching, the pid file, the User switch, the database age.

Strategy: ``detach`` forks once and the parent stays until the daemon
says how its start-up ended, over a pipe: ``ReadyNotice.ready()`` lets the
parent exit 0, ``ReadyNotice.failed(message)`` makes it print the message
and exit 1, and a daemon that dies before either (the pipe closes empty)
fails it too.  So ``clamd`` returns only once the daemon answers, and
errors met after the fork (a socket that cannot be bound, a database that
does not load) still reach the terminal that started it, where the
reference, which forks late, would print them.

The pid file is written as the reference writes it (``PID\\n``, mode 0644)
but never through a symbolic link, and must be a regular file: a link
planted where the pid file goes would otherwise let whoever planted it
have root overwrite any file.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import sys
import time
from pathlib import Path

from clamkit.daemon.log import DaemonLog, open_own_file

PID_FILE_MODE = 0o644
# What travels over the start-up pipe: one byte, then the failure's text.
_READY = b"R"
_FAILED = b"F"
# When the daemon dies without a word (killed, or a bug) during start-up.
DIED_DURING_STARTUP = "clamd exited during start-up"
_DATABASE_CONTAINERS = ("*.cvd", "*.cld")
_DAY = 86400


class LifecycleError(Exception):
    """A step of the daemon's life failed; ``str`` is the reference's message."""


class ReadyNotice:
    """How the detached daemon tells the waiting parent how start-up ended.

    Both calls are harmless when repeated, and do nothing in the foreground
    (``ReadyNotice()``, with no pipe).
    """

    def __init__(self, fd: int | None = None) -> None:
        self._fd = fd

    def ready(self) -> None:
        self._send(_READY)

    def failed(self, message: str, status: int = 1) -> None:
        """Start-up failed: the parent prints ``ERROR: message`` and exits ``status``."""
        self._send(_FAILED + bytes([status]) + message.encode("utf-8", "surrogateescape"))

    def _send(self, data: bytes) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # The parent gone (killed by the user) is no reason to fail.
        with contextlib.suppress(OSError):
            os.write(fd, data)
        os.close(fd)


def detach(*, foreground: bool = False) -> ReadyNotice:
    """Become a daemon (unless ``foreground``): fork, start a new session and
    leave the terminal; the parent waits on the notice and then exits.

    Only the child returns.  Its standard streams are /dev/null afterwards
    and its working directory is /, so it holds no mount point busy.
    """
    if foreground:
        return ReadyNotice()
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    if os.fork() != 0:
        os.close(write_end)
        os._exit(_wait_for_daemon(read_end))
    os.close(read_end)
    os.setsid()
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    return ReadyNotice(write_end)


def _wait_for_daemon(read_end: int) -> int:
    """In the parent: the exit status once the daemon has reported."""
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    report = b"".join(chunks)
    if report.startswith(_READY):
        return 0
    # A failure report is _FAILED, the exit status byte, the message.
    failed = report.startswith(_FAILED) and len(report) >= 2
    status = report[1] if failed and report[1] else 1
    message = (report[2:].decode("utf-8", "surrogateescape") if failed else "") or (
        DIED_DURING_STARTUP
    )
    sys.stderr.write(f"ERROR: {message.rstrip()}\n")
    sys.stderr.flush()
    return status


def write_pid_file(path: str | Path) -> None:
    """Write this process's pid to ``path`` as ``PID\\n``, mode 0644.

    Raises ``LifecycleError`` with the reference's message when it cannot,
    including when ``path`` is a symbolic link, not a regular file or a
    hard link to another name (``open_own_file``).
    """
    try:
        fd = open_own_file(path, 0, PID_FILE_MODE)
    except OSError as error:
        raise LifecycleError(f"Can't save PID to file {path}: {error.strerror}") from None
    try:
        os.ftruncate(fd, 0)
        os.fchmod(fd, PID_FILE_MODE)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as error:
        raise LifecycleError(f"Can't save PID to file {path}: {error.strerror}") from None
    finally:
        os.close(fd)


def remove_pid_file(path: str | Path) -> bool:
    """Remove the pid file if it still names this process; whether it did.

    A pid file another daemon has taken over since is left alone.
    """
    try:
        with open(path, "rb") as handle:
            owner = handle.read(64).strip()
    except OSError:
        return False
    if owner != str(os.getpid()).encode():
        return False
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


def drop_privileges(user: str, log: DaemonLog | None = None) -> None:
    """Run as ``user`` from now on (clamd.conf's User): its groups, its gid, its uid.

    As the reference, this applies only to a daemon started as root;
    otherwise the option is ignored.  The log file, opened as root, is
    handed to the user first so that rotation and SIGHUP still work.
    """
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise LifecycleError(f"Can't get information about user {user}.") from None
    if log is not None:
        try:
            log.give_to(account.pw_uid, account.pw_gid)
        except OSError as error:
            raise LifecycleError(
                f"Can't give the log file {log.path} to user {user}: {error.strerror}"
            ) from None
    steps = (
        (lambda: os.initgroups(user, account.pw_gid), "initgroups() failed."),
        (lambda: os.setgid(account.pw_gid), f"setgid({account.pw_gid}) failed."),
        (lambda: os.setuid(account.pw_uid), f"setuid({account.pw_uid}) failed."),
    )
    for step, message in steps:
        try:
            step()
        except OSError:
            raise LifecycleError(message) from None


def database_age_error(database_dir: str | Path, days: int) -> str | None:
    """The reference's refusal when the newest container (``*.cvd``, ``*.cld``)
    in ``database_dir`` was built more than ``days`` days ago; None when it is
    recent enough, when ``days`` is 0 (no check) or when there is none to date.
    """
    if days <= 0:
        return None
    from clamkit.database.cvd import HEADER_SIZE, CvdError, parse_header

    built = []
    for pattern in _DATABASE_CONTAINERS:
        for container in Path(database_dir).glob(pattern):
            try:
                with open(container, "rb") as handle:
                    header = parse_header(handle.read(HEADER_SIZE))
            except (OSError, CvdError):
                continue
            if header.build_time_seconds is not None:
                built.append(header.build_time_seconds)
    if built and time.time() - max(built) > days * _DAY:
        return f"Virus database is older than {days} days!"
    return None
