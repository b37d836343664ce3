"""The daemon's log: LogFile, syslog and the terminal, in the reference's line format.

Strategy: one ``DaemonLog`` per daemon, opened from the configuration, with
a method per level.  A message is one line, written with one ``write`` to a
descriptor opened with ``O_APPEND``, so lines from several writers never
interleave.  What the reference writes is reproduced exactly:

* in the file, ``LogTime`` puts ``Tue Nov 24 19:00:00 2026 -> `` before the
  text, and warnings and errors carry ``WARNING: `` / ``ERROR: `` after it;
* on the terminal, errors and warnings go to stderr with the level before
  the time (``ERROR: Tue Nov 24 ... -> text``), ordinary messages to stdout,
  except the ones the reference keeps for the log only (``terminal=False``:
  start-up notes such as ``+++ Started at``); once detached, the terminal
  streams are /dev/null and the echo costs nothing;
* the log file is locked unless ``LogFileUnlock`` (``flock``, not the
  reference's ``fcntl`` lock: an ``flock`` belongs to the open file, so the
  daemon detached by ``fork`` keeps it after its parent exits), and is
  rotated when it has passed ``LogFileMaxSize``: renamed to
  ``NAME-YYYYmmdd_HHMMSS.log`` beside it; without ``LogRotate`` the
  reference first notes in the full file that it rotates anyway, and so do we.

The file is opened without following a symbolic link and must be a regular
file with no other hard link (CVE-2024-20506: a link planted where the log goes must not make the
daemon write elsewhere).  ``/dev/stdout`` and ``/dev/stderr``, which are
links, are recognised by name and mean the process's descriptors 1 and 2:
ClamAV's own fix refused them, which broke containers that log to stdout.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
import syslog
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clamkit.config.parser import Config

# LogFile names that stand for the process's own output streams.
STANDARD_STREAMS = {"/dev/stdout": 1, "/dev/stderr": 2}
# What the reference reports as the limit when LogFileMaxSize is 0 (none).
UNLIMITED_SIZE = 2**63 - 1
# Mode of a log file we create (the reference's).
LOG_FILE_MODE = 0o640
# Identity of our syslog messages: the reference's, so filters keep working.
SYSLOG_IDENT = "clamd"
# Facility names LogFacility accepts (case matters, as in the reference), by
# their standard codes: Python's syslog module lacks some (LOG_FTP).
SYSLOG_FACILITIES = {
    f"LOG_{name}": code << 3
    for code, name in enumerate(
        [
            "KERN",
            "USER",
            "MAIL",
            "DAEMON",
            "AUTH",
            "SYSLOG",
            "LPR",
            "NEWS",
            "UUCP",
            "CRON",
            "AUTHPRIV",
            "FTP",
        ]
    )
} | {f"LOG_LOCAL{n}": (16 + n) << 3 for n in range(8)}
# The reference's notes when the limit is met without LogRotate.
FORCED_ROTATION = (
    "WARNING: Log size limit met but log file rotation turned off. "
    "Forcing log file rotation anyways."
)
# The second line the reference prints when the log cannot be opened.
LOGGER_FAILED = "Can't initialize the internal logger"


class LogError(Exception):
    """The log could not be set up; ``str`` is the reference's message.

    ``logger_failed`` marks the failures the reference reports in two parts:
    the reason on stdout, then ``LOGGER_FAILED`` on stderr.
    """

    def __init__(self, message: str, *, logger_failed: bool = False) -> None:
        super().__init__(message)
        self.logger_failed = logger_failed


class DaemonLog:
    """Where the daemon's messages go, and in which shape."""

    def __init__(
        self,
        path: str | None = None,
        *,
        lock: bool = True,
        max_size: int = 0,
        rotate: bool = False,
        timestamps: bool = False,
        verbose: bool = False,
        debug: bool = False,
        syslog_facility: int | None = None,
    ) -> None:
        if path is not None and path not in STANDARD_STREAMS and not path.startswith("/"):
            raise LogError("LogFile requires full path.")
        self.path = path
        self.max_size = max_size or UNLIMITED_SIZE
        self.verbose_enabled = verbose
        self.debug_enabled = debug
        self._lock_file = lock
        self._rotate = rotate
        self._timestamps = timestamps
        self._syslog = syslog_facility is not None
        self._fd: int | None = None
        self._mutex = threading.Lock()
        if syslog_facility is not None:
            syslog.openlog(SYSLOG_IDENT, syslog.LOG_PID, syslog_facility)
        if path is not None:
            self._open()

    @classmethod
    def from_config(cls, config: Config) -> DaemonLog:
        """The log the configuration asks for (LogFile, LogSyslog and the Log* switches)."""
        facility = None
        if config.flag("LogSyslog"):
            name = config.text("LogFacility") or ""
            if name not in SYSLOG_FACILITIES:
                raise LogError(f"LogFacility: {name}: No such facility.")
            facility = SYSLOG_FACILITIES[name]
        return cls(
            config.text("LogFile") or None,
            lock=not config.flag("LogFileUnlock"),
            max_size=config.number("LogFileMaxSize"),
            rotate=config.flag("LogRotate"),
            timestamps=config.flag("LogTime"),
            verbose=config.flag("LogVerbose"),
            debug=config.flag("Debug"),
            syslog_facility=facility,
        )

    # -- the levels -------------------------------------------------------

    def info(self, message: str, *, terminal: bool = True) -> None:
        """An ordinary message; ``terminal=False`` keeps it out of stdout, as
        the reference does for its start-up notes."""
        self._emit(message, "", syslog.LOG_INFO, terminal=terminal)

    def warning(self, message: str) -> None:
        self._emit(message, "WARNING: ", syslog.LOG_WARNING, terminal=True)

    def error(self, message: str) -> None:
        self._emit(message, "ERROR: ", syslog.LOG_ERR, terminal=True)

    def verbose(self, message: str) -> None:
        """A message for ``LogVerbose`` only."""
        if self.verbose_enabled:
            self._emit(message, "", syslog.LOG_INFO, terminal=True)

    def debug(self, message: str) -> None:
        """A message for ``Debug`` (or ``--debug``) only."""
        if self.debug_enabled:
            self._emit(message, "", syslog.LOG_DEBUG, terminal=True)

    # -- life cycle -------------------------------------------------------

    def reopen(self) -> None:
        """Close and open the log file again (SIGHUP: an outside rotation moved it).

        Never raises: if the file cannot be opened any more, the reason goes
        to syslog and the terminal, and the file stays closed until the next
        ``reopen``.
        """
        with self._mutex:
            failure = self._reopen_file()
        if failure is not None:
            self._emit(failure, "ERROR: ", syslog.LOG_ERR, terminal=True)

    def close(self) -> None:
        with self._mutex:
            self._close_file()
        if self._syslog:
            syslog.closelog()
            self._syslog = False

    def give_to(self, uid: int, gid: int) -> None:
        """Make the log file the user's, so that it can still be rotated and
        reopened after the daemon has dropped its privileges."""
        if self._fd is not None and self.path not in STANDARD_STREAMS:
            os.fchown(self._fd, uid, gid)

    # -- internals --------------------------------------------------------

    def _open(self) -> None:
        assert self.path is not None
        if self.path in STANDARD_STREAMS:
            return
        try:
            fd = open_own_file(self.path, os.O_APPEND, LOG_FILE_MODE)
        except OSError as error:
            reason = error.strerror or str(error)
            raise LogError(
                f"Failed to open log file {self.path}: {reason}", logger_failed=True
            ) from None
        try:
            if self._lock_file:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as error:
                    raise LogError(
                        f"Failed to lock the log file {self.path}: {error.strerror}",
                        logger_failed=True,
                    ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _reopen_file(self) -> str | None:
        """Open the file anew; the reason it failed, if it did."""
        self._close_file()
        if self.path is None:
            return None
        try:
            self._open()
        except LogError as error:
            return str(error)
        return None

    def _close_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _emit(self, message: str, level: str, priority: int, *, terminal: bool) -> None:
        stamp = f"{time.ctime()} -> " if self._timestamps else ""
        with self._mutex:
            failure = None
            if self.path is not None:
                failure = self._write_file(f"{stamp}{level}{message}\n")
            if self._syslog:
                syslog.syslog(priority, level + message)
        if terminal:
            self._echo(f"{level}{stamp}{message}\n", to_stderr=bool(level))
        if failure is not None:
            self._echo(f"ERROR: {stamp}{failure}\n", to_stderr=True)

    def _echo(self, line: str, *, to_stderr: bool) -> None:
        # A log that already is this stream would show every line twice.
        if self.path in STANDARD_STREAMS and STANDARD_STREAMS[self.path] == (2 if to_stderr else 1):
            return
        stream = sys.stderr if to_stderr else sys.stdout
        if stream is None:
            return
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):
            # A terminal that went away must not take the daemon with it.
            return

    def _write_file(self, line: str) -> str | None:
        """Append one line; why the file could not be (re)opened, if it could not."""
        assert self.path is not None
        data = line.encode("utf-8", "surrogateescape")
        if self.path in STANDARD_STREAMS:
            _write_quietly(STANDARD_STREAMS[self.path], data)
            return None
        failure = None
        if self._fd is not None and os.fstat(self._fd).st_size > self.max_size:
            failure = self._rotate_file()
        if self._fd is not None:
            _write_quietly(self._fd, data)
        return failure

    def _rotate_file(self) -> str | None:
        assert self._fd is not None and self.path is not None
        if not self._rotate:
            size = os.fstat(self._fd).st_size
            notice = f"Log size = {size}, max = {self.max_size}\n{FORCED_ROTATION}\n"
            _write_quietly(self._fd, notice.encode())
            self._rotate = True
        # Someone may have moved the file already: then carry on in a fresh one.
        with contextlib.suppress(OSError):
            os.rename(self.path, rotated_name(self.path, time.time()))
        return self._reopen_file()


def open_own_file(path: str | Path, flags: int, mode: int) -> int:
    """Open (creating it with ``mode``) a file root writes to on the
    configuration's word, for writing: refused unless it is a regular file
    reached without a symbolic link and with no other hard link, so that a
    name planted there cannot make the daemon write to another file.

    Non-blocking while it opens, so that a FIFO planted at the path cannot
    hang the daemon; blocking afterwards.
    """
    base = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(path, base | flags, mode)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "Not a regular file")
        if info.st_nlink != 1:
            raise OSError(errno.EMLINK, "Has other hard links")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def rotated_name(path: str, when: float) -> str:
    """Where a full log file goes: ``/var/log/clamd.log`` ->
    ``/var/log/clamd-20261124_190000.log`` (local time, as the reference).

    The reference drops the whole name of a log file without an extension
    (``/var/log/clamd`` -> ``/var/log/-2026....log``); we keep it.
    """
    location = Path(path)
    stem = location.stem if location.suffix else location.name
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(when))
    return str(location.with_name(f"{stem}-{stamp}.log"))


def _write_quietly(fd: int, data: bytes) -> None:
    """Write a whole line; a full disk or closed stream loses the line, not the daemon."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        return
