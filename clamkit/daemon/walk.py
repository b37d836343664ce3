"""What a SCAN, CONTSCAN, MULTISCAN or ALLMATCHSCAN path expands into, as clamd 1.4 walks it.

Strategy: ``walk`` yields, in the reference's order, the files to scan and
the lines clamd sends about paths it will not scan.  The order and the rules
were taken from clamd 1.4.6 itself:

* In a directory, entries are first looked at in readdir order: excluded
  ones (ExcludePath, matched against the whole path) are reported
  ``Excluded``, directories on another file system (CrossFilesystems no)
  ``Excluded (another filesystem)``, entries that cannot be examined (a
  dangling symlink being followed) ``File path check failure: <error>.
  ERROR``.  Symbolic links that are not to be followed, FIFOs, sockets and
  devices are skipped without a word.
* Then the regular files are scanned, in inode-number order, and after them
  the subdirectories, also by inode number, depth first.  Directories deeper
  than MaxDirectoryRecursion (0: no limit) are skipped silently.
* The path argument itself: trailing slashes are dropped and leading ones
  collapsed to one; an unfollowed symlink yields nothing, a FIFO or device
  ``Not supported file type ERROR``, and a path that is excluded, cannot
  be examined or is a file that cannot be read ends the command
  (``Notice.final``: clamd then sends no summary line).

ExcludePath patterns are glibc POSIX extended regexes, translated to
Python's dialect by ``posix_to_python``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from clamkit.config.parser import Config

EXCLUDED = "Excluded"
OTHER_FILESYSTEM = "Excluded (another filesystem)"
NOT_SUPPORTED = "Not supported file type ERROR"
# For an unreadable argument (which ends the command); for a file found in a
# directory the daemon sends it when opening fails, and the command goes on.
ACCESS_DENIED = "Access denied. ERROR"


def path_check_failure(error: int) -> str:
    return f"File path check failure: {os.strerror(error)}. ERROR"


@dataclass(frozen=True, slots=True)
class WalkRules:
    """The clamd.conf options that shape a directory walk."""

    exclude: tuple[re.Pattern[str], ...] = ()
    follow_directory_symlinks: bool = False
    follow_file_symlinks: bool = False
    cross_filesystems: bool = True
    max_depth: int = 15

    @classmethod
    def from_config(cls, config: Config) -> WalkRules:
        return cls(
            exclude=compile_excludes(config.every("ExcludePath")),
            follow_directory_symlinks=config.flag("FollowDirectorySymlinks"),
            follow_file_symlinks=config.flag("FollowFileSymlinks"),
            cross_filesystems=config.flag("CrossFilesystems"),
            max_depth=config.number("MaxDirectoryRecursion"),
        )

    def excluded(self, path: str) -> bool:
        return any(pattern.search(path) for pattern in self.exclude)


def compile_excludes(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """ExcludePath regexes; one that does not compile excludes nothing, as in clamd."""
    compiled = []
    for pattern in patterns:
        try:
            # POSIX: "." matches a newline too.
            compiled.append(re.compile(posix_to_python(pattern), re.DOTALL))
        except re.error:
            continue
    return tuple(compiled)


# POSIX character classes, as Python set contents.
_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "xdigit": "0-9A-Fa-f",
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
}
# GNU extensions glibc's regcomp accepts after a backslash in an extended regex.
_GNU_ESCAPES = {
    "w": "\\w",
    "W": "\\W",
    "s": "\\s",
    "S": "\\S",
    "b": "\\b",
    "B": "\\B",
    "<": "\\b(?=\\w)",
    ">": "\\b(?<=\\w)",
    "`": "\\A",
    "'": "\\Z",
}


def posix_to_python(pattern: str) -> str:
    """A POSIX extended regex (glibc's dialect) as a Python one; re.error if it is not valid.

    The dialects differ where it matters for paths: ``[[:digit:]]`` classes,
    a backslash inside brackets being literal, ``\\d`` meaning ``d``, and
    ``(?`` being an error rather than an extension.
    """
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            if index + 1 == len(pattern):
                raise re.error("trailing backslash", pattern, index)
            escaped = pattern[index + 1]
            if escaped in _GNU_ESCAPES:
                out.append(_GNU_ESCAPES[escaped])
            elif escaped in "123456789":
                out.append("\\" + escaped)
            else:
                out.append(re.escape(escaped))
            index += 2
        elif char == "[":
            bracket, index = _bracket(pattern, index)
            out.append(bracket)
        elif char == "(" and pattern.startswith("(?", index):
            raise re.error("repetition operator without an operand", pattern, index + 1)
        elif char == "$":
            # Python's "$" also matches before a final newline.
            out.append("\\Z")
            index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _bracket(pattern: str, start: int) -> tuple[str, int]:
    """The Python set for the bracket expression at ``start``, and the index after it."""
    index = start + 1
    negate = pattern.startswith("^", index)
    index += negate
    members: list[str] = []
    first = True
    while True:
        if index >= len(pattern):
            raise re.error("unterminated bracket expression", pattern, start)
        char = pattern[index]
        if char == "]" and not first:
            break
        first = False
        if pattern.startswith(("[:", "[=", "[."), index):
            kind = pattern[index + 1]
            end = pattern.find(kind + "]", index + 2)
            if end < 0:
                raise re.error("unterminated character class", pattern, index)
            name = pattern[index + 2 : end]
            if kind == ":":
                if name not in _CLASSES:
                    raise re.error(f"unknown character class {name}", pattern, index)
                members.append(_CLASSES[name])
            else:
                members.append(re.escape(name))
            index = end + 2
        elif char == "-":
            members.append("-")
            index += 1
        else:
            members.append(re.escape(char))
            index += 1
    body = "".join(members)
    return ("[^" if negate else "[") + body + "]", index + 1


@dataclass(frozen=True, slots=True)
class ScanFile:
    """A regular file to scan."""

    path: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A reply line ``f"{path}: {text}"`` about a path that is not scanned.

    ``final`` notices concern the path argument itself and end the command
    without the summary line clamd otherwise sends.
    """

    path: str
    text: str
    final: bool = False


WalkItem = ScanFile | Notice


def argument_path(path: str) -> str:
    """The path argument as clamd names it in the command's summary line."""
    stripped = path.rstrip("/")
    return stripped or path[:1]


def walk(path: str, rules: WalkRules) -> Iterator[WalkItem]:
    top = argument_path(path)
    if top.startswith("//"):
        top = "/" + top.lstrip("/")
    if rules.excluded(top):
        yield Notice(top, EXCLUDED, final=True)
        return
    try:
        info = os.lstat(top)
        if stat.S_ISLNK(info.st_mode):
            if not (rules.follow_directory_symlinks or rules.follow_file_symlinks):
                return
            info = os.stat(top)
            if not _follows(info, rules):
                yield Notice(top, NOT_SUPPORTED)
                return
    except OSError as error:
        yield Notice(top, path_check_failure(error.errno or errno.EIO), final=True)
        return
    if stat.S_ISREG(info.st_mode):
        if os.access(top, os.R_OK):
            yield ScanFile(top)
        else:
            yield Notice(top, ACCESS_DENIED, final=True)
    elif stat.S_ISDIR(info.st_mode):
        yield from _directory(top, info.st_dev, rules)
    else:
        yield Notice(top, NOT_SUPPORTED)


def _follows(target: os.stat_result, rules: WalkRules) -> bool:
    """Whether a symlink to ``target`` is followed."""
    if stat.S_ISDIR(target.st_mode):
        return rules.follow_directory_symlinks
    return rules.follow_file_symlinks


def _directory(top: str, device: int, rules: WalkRules) -> Iterator[WalkItem]:
    """Depth first with an explicit stack: symlink loops cannot exhaust Python's."""
    stack: list[Iterator[tuple[str, int]]] = [iter([(top, 0)])]
    while stack:
        pending = next(stack[-1], None)
        if pending is None:
            stack.pop()
            continue
        path, depth = pending
        subdirectories: list[str] = []
        yield from _listing(path, device, rules, subdirectories)
        if not rules.max_depth or depth < rules.max_depth:
            stack.append(iter([(child, depth + 1) for child in subdirectories]))


def _listing(
    path: str, device: int, rules: WalkRules, subdirectories: list[str]
) -> Iterator[WalkItem]:
    """One directory's notices and files; its subdirectories, in order, go to ``subdirectories``."""
    try:
        if not os.access(path, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        with os.scandir(path) as listing:
            entries = list(listing)
    except OSError as error:
        yield Notice(path, path_check_failure(error.errno or errno.EIO))
        return
    files: list[tuple[int, str]] = []
    directories: list[tuple[int, str]] = []
    prefix = path if path.endswith("/") else path + "/"
    for entry in entries:
        child = prefix + entry.name
        if rules.excluded(child):
            yield Notice(child, EXCLUDED)
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                if not (rules.follow_directory_symlinks or rules.follow_file_symlinks):
                    continue
                info = os.stat(child)
                if not _follows(info, rules):
                    continue
        except OSError as error:
            yield Notice(child, path_check_failure(error.errno or errno.EIO))
            continue
        if stat.S_ISDIR(info.st_mode):
            if not rules.cross_filesystems and info.st_dev != device:
                yield Notice(child, OTHER_FILESYSTEM)
                continue
            directories.append((entry.inode(), child))
        elif stat.S_ISREG(info.st_mode):
            files.append((entry.inode(), child))
    for _, child in sorted(files):
        yield ScanFile(child)
    subdirectories.extend(child for _, child in sorted(directories))
