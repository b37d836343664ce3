"""--remove, --move and --copy, shared by clamscan and clamdscan: what happens
to an infected file, and the lines the reference prints about it.

Strategy: the file is named by its real path, as the reference does (and
says, ``name (real path: '...')``, when that differs from the name shown).
Nothing is trusted to stay put between the scan and the action:

- the quarantine directory is opened once, by descriptor, so a directory
  swapped for a link afterwards redirects nothing; names in it are created
  with link() or O_CREAT|O_EXCL|O_NOFOLLOW, which neither follow a link nor
  overwrite anything (a taken name gets the next ``.001`` suffix);
- the infected file is reached through its parent directory's descriptor,
  opened without following a final link, and must still be the file that was
  scanned (device and inode, when the caller knows them); before its name is
  unlinked, it is checked to name that same file again, and a link made
  from a name swapped in the meantime is taken back.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Protocol

# How many names --move/--copy try for one file (name, name.001, ...).
MAX_QUARANTINE_SUFFIX = 999

# Errors of link() that mean "copy instead": another file system, or one
# without hard links.
_CROSS_DEVICE = frozenset({errno.EXDEV, errno.EPERM})

# A file's identity: (st_dev, st_ino).
Identity = tuple[int, int]


class Reporter(Protocol):
    """Where the action's lines go (each command routes them its way)."""

    def note(self, line: str) -> None:
        """What was done (``Removed.``, ``moved to``, ``copied to``)."""

    def error(self, text: str) -> None:
        """What could not be done (printed after ``ERROR: ``)."""


class SetupError(Exception):
    """The quarantine directory is unusable; ``str()`` is the reference's line,
    an ``ERROR:`` message if ``error``, else a plain line on stdout."""

    def __init__(self, message: str, *, error: bool = False) -> None:
        super().__init__(message)
        self.error = error


def identity(info: os.stat_result) -> Identity:
    return info.st_dev, info.st_ino


class _Changed(OSError):
    """The file is no longer the one that was scanned."""


class _NoFreeName(FileExistsError):
    """Every name the file may take in the quarantine is taken."""


@dataclass(frozen=True)
class _Source:
    """An infected file held open, with its parent directory."""

    parent_fd: int
    name: str
    fd: int
    identity: Identity

    @classmethod
    def open(cls, real: str, expected: Identity | None) -> _Source:
        parent, name = os.path.split(real)
        parent_fd = os.open(parent or "/", os.O_RDONLY | os.O_DIRECTORY)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=parent_fd)
        except OSError:
            os.close(parent_fd)
            raise
        info = os.fstat(fd)
        source = cls(parent_fd, name, fd, identity(info))
        if not stat.S_ISREG(info.st_mode) or expected not in (None, source.identity):
            source.close()
            raise _Changed(errno.ESTALE, "not the file scanned")
        return source

    def still_named(self) -> bool:
        """Whether the name still stands for the open file (not a swapped-in one)."""
        try:
            info = os.stat(self.name, dir_fd=self.parent_fd, follow_symlinks=False)
        except OSError:
            return False
        return identity(info) == self.identity

    def close(self) -> None:
        os.close(self.fd)
        os.close(self.parent_fd)


@dataclass(frozen=True)
class Action:
    """What happens to an infected file: removal, or a move or copy into a
    directory opened once, where nothing is ever overwritten."""

    reporter: Reporter
    remove: bool = False
    directory: str | None = None
    directory_fd: int | None = None
    keep_original: bool = False

    @classmethod
    def create(
        cls, remove: bool, move: str | None, copy: str | None, reporter: Reporter
    ) -> Action | None:
        """The action the options ask for (--move wins over --copy, both over
        --remove), None for none; SetupError when the directory is unusable."""
        target = move if move is not None else copy
        if target is None:
            return cls(reporter, remove=True) if remove else None
        try:
            real = os.path.realpath(target, strict=True)
        except (OSError, ValueError):
            raise SetupError(f"action_setup: Failed to get realpath of {target}") from None
        try:
            fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            raise SetupError(f"'{real}' doesn't exist or is not a directory", error=True) from None
        return cls(reporter, directory=real, directory_fd=fd, keep_original=move is None)

    def close(self) -> None:
        """Let go of the directory (a command that runs in-process does)."""
        if self.directory_fd is not None:
            os.close(self.directory_fd)

    @property
    def _verb(self) -> str:
        if self.directory is None:
            return "remove"
        return "copy" if self.keep_original else "move"

    def apply(self, path: str, scanned: Identity | None = None) -> bool:
        """Act on ``path`` (which must still be the file ``scanned``, when
        given); False, after an error line, when it could not be done."""
        try:
            real = os.path.realpath(path, strict=True)
            source = _Source.open(real, scanned)
        except (OSError, ValueError):
            self.reporter.error(f"Can't {self._verb} file '{path}'")
            return False
        try:
            return self._apply(source, path, real)
        finally:
            source.close()

    def _apply(self, source: _Source, path: str, real: str) -> bool:
        also = "" if real == path else f" (real path: '{real}')"
        shown = f"{path}{also}"
        if self.directory is None:
            if not source.still_named():
                self.reporter.error(f"Can't remove file '{path}'")
                return False
            try:
                os.unlink(source.name, dir_fd=source.parent_fd)
            except OSError:
                self.reporter.error(f"Can't remove file '{path}'")
                return False
            self.reporter.note(f"{shown}: Removed.")
            return True
        try:
            name = self._place(source)
        except _NoFreeName:
            self.reporter.error(
                f"Can't {self._verb} file '{path}'{also}: "
                f"quarantine destination '{self.directory}' is unavailable"
            )
            return False
        except OSError:
            self.reporter.error(f"Can't {self._verb} file '{path}'")
            return False
        if not self.keep_original:
            if not source.still_named():
                os.unlink(name, dir_fd=self.directory_fd)
                self.reporter.error(f"Can't move file '{path}'")
                return False
            try:
                os.unlink(source.name, dir_fd=source.parent_fd)
            except OSError as error:
                self.reporter.error(f"Can't unlink '{path}' after copy: {error.strerror}")
                return False
        done = "copied" if self.keep_original else "moved"
        self.reporter.note(f"{shown}: {done} to '{self.directory.rstrip('/')}/{name}'")
        return True

    def _place(self, source: _Source) -> str:
        """Put a link or copy of the file under a free name in the directory; return the name."""
        for number in range(MAX_QUARANTINE_SUFFIX + 1):
            name = f"{source.name}.{number:03d}" if number else source.name
            try:
                if self.keep_original or not self._link(source, name):
                    self._copy(source.fd, name)
                return name
            except FileExistsError:
                continue
        raise _NoFreeName(errno.EEXIST, "no free name", source.name)

    def _link(self, source: _Source, name: str) -> bool:
        """A hard link under ``name`` (a move within one file system) to the
        open file; False across file systems."""
        try:
            os.link(
                source.name,
                name,
                src_dir_fd=source.parent_fd,
                dst_dir_fd=self.directory_fd,
                follow_symlinks=False,
            )
        except OSError as error:
            if isinstance(error, FileExistsError) or error.errno not in _CROSS_DEVICE:
                raise
            return False
        linked = os.stat(name, dir_fd=self.directory_fd, follow_symlinks=False)
        if identity(linked) != source.identity:
            # The name was swapped between the open and the link.
            os.unlink(name, dir_fd=self.directory_fd)
            raise _Changed(errno.ESTALE, "not the file scanned")
        return True

    def _copy(self, source: int, name: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        target = os.open(name, flags, 0o600, dir_fd=self.directory_fd)
        try:
            os.lseek(source, 0, os.SEEK_SET)
            while data := os.read(source, 1 << 16):
                os.write(target, data)
        except BaseException:
            os.unlink(name, dir_fd=self.directory_fd)
            raise
        finally:
            os.close(target)
