"""What clamscan prints and where: ClamAV 1.4's message texts, the stream each
kind of line goes to, and the summary block.

Strategy: the scan walker only says what happened (a result, a notice about a
path, a warning, an error); ``Output`` alone decides, the way the reference
does, whether the line goes to stdout or stderr, whether ``--infected`` hides
it and whether ``--stdout`` moves it.  The texts are named constants so the
tests compare against the same strings.  Every line is flushed at once so
that stdout and stderr interleave in the reference's order when both go to
one terminal or file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from clamkit import __version__

if TYPE_CHECKING:
    from clamkit.database.loader import LoadReport
    from clamkit.engine.compiler import CompileReport

# Texts after "path: " (or "stdin: ") on a result or notice line.
OK = "OK"
FOUND = "FOUND"
ERROR_SUFFIX = "ERROR"
EMPTY_FILE = "Empty file"
SYMBOLIC_LINK = "Symbolic link"
ACCESS_DENIED = "Access denied"
EXCLUDED_PROC = "Excluded (/proc)"
CANNOT_OPEN_DIRECTORY = "Can't open directory."
# The reference's wording for a read failure in the middle of a scan.
CANNOT_READ_FILE = "Can't read file"
STDIN_NAME = "stdin"

# Warning texts (printed after "WARNING: ").
CANNOT_ACCESS_FILE = "Can't access file"
NOT_SUPPORTED_FILE_TYPE = "Not supported file type"
CANNOT_OPEN_FILE = "Can't open file"

# Error texts (printed after "ERROR: ").
UNKNOWN_OPTION = "Unknown option passed"
MISSING_ARGUMENT = "Incomplete option passed (missing argument)"
CANNOT_PARSE_OPTIONS = "Can't parse command line options"

SUMMARY_TITLE = "----------- SCAN SUMMARY -----------"
DATE_FORMAT = "%Y:%m:%d %H:%M:%S"

# ClamAV counts data in blocks of this size, rounding down per file, and
# prints the totals in MiB.
BLOCK_SIZE = 4096
BLOCKS_PER_MB = 1024 * 1024 // BLOCK_SIZE


@dataclass(slots=True)
class ScanStats:
    """The counters of the summary block, plus whether anything went wrong.

    ``errors`` is what the summary shows as "Total errors"; ``trouble`` is
    set as well by problems the reference does not count there (a missing
    path, a FIFO on the command line) but that still make the exit code 2.
    """

    directories: int = 0
    files: int = 0
    infected: int = 0
    errors: int = 0
    trouble: bool = False
    blocks_scanned: int = 0
    blocks_read: int = 0

    def add_data(self, bytes_read: int, bytes_scanned: int) -> None:
        self.blocks_read += bytes_read // BLOCK_SIZE
        self.blocks_scanned += bytes_scanned // BLOCK_SIZE

    @property
    def exit_code(self) -> int:
        """1 when anything was found (even with errors), 2 after trouble, else 0."""
        if self.infected:
            return 1
        return 2 if self.errors or self.trouble else 0


@dataclass(frozen=True, slots=True)
class Timing:
    """When the run started and ended (wall clock) and how long it took."""

    started: float
    ended: float
    elapsed: float


def format_summary(
    stats: ScanStats, known_viruses: int, engine_version: str, timing: Timing
) -> list[str]:
    """The summary block's lines, starting with the blank line before the title."""
    scanned_mb = stats.blocks_scanned / BLOCKS_PER_MB
    read_mb = stats.blocks_read / BLOCKS_PER_MB
    ratio = stats.blocks_scanned / stats.blocks_read if stats.blocks_read else 0.0
    lines = [
        "",
        SUMMARY_TITLE,
        f"Known viruses: {known_viruses}",
        f"Engine version: {engine_version}",
        f"Scanned directories: {stats.directories}",
        f"Scanned files: {stats.files}",
        f"Infected files: {stats.infected}",
    ]
    if stats.errors:
        lines.append(f"Total errors: {stats.errors}")
    lines += [
        f"Data scanned: {scanned_mb:.2f} MB",
        f"Data read: {read_mb:.2f} MB (ratio {ratio:.2f}:1)",
    ]
    return lines + timing_lines(timing)


def timing_lines(timing: Timing) -> list[str]:
    """The summary's last three lines (Time, Start Date, End Date), shared with clamdscan."""
    whole_seconds = int(timing.elapsed)
    return [
        f"Time: {timing.elapsed:.3f} sec ({whole_seconds // 60} m {whole_seconds % 60} s)",
        f"Start Date: {time.strftime(DATE_FORMAT, time.localtime(timing.started))}",
        f"End Date:   {time.strftime(DATE_FORMAT, time.localtime(timing.ended))}",
    ]


class Output:
    """Routes each kind of line as the reference does.

    - results and notices about a path go to stdout; ``--infected`` keeps
      only FOUND lines;
    - ``WARNING:`` and ``ERROR:`` lines go to stderr, or stdout with
      ``--stdout``;
    - a system error about a path (``path: No such file or directory``)
      and the database loader's diagnostics, framed as the reference frames
      its library's (``LibClamAV Error: ...``), always go to stderr, even
      with ``--stdout``.
    """

    def __init__(
        self, stdout: TextIO, stderr: TextIO, *, infected_only: bool, to_stdout: bool
    ) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self._infected_only = infected_only
        self._messages = stdout if to_stdout else stderr

    @staticmethod
    def _write(stream: TextIO, line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    def found(self, path: str, name: str) -> None:
        self._write(self._stdout, f"{path}: {name} {FOUND}")

    def notice(self, path: str, text: str) -> None:
        """``path: OK`` and the like: information that ``--infected`` hides."""
        if not self._infected_only:
            self._write(self._stdout, f"{path}: {text}")

    def scan_error(self, path: str, text: str) -> None:
        self.notice(path, f"{text} {ERROR_SUFFIX}")

    def system_error(self, path: str, strerror: str) -> None:
        self._write(self._stderr, f"{path}: {strerror}")

    def library_error(self, text: str) -> None:
        self._write(self._stderr, f"LibClamAV Error: {text}")

    def library_debug(self, text: str) -> None:
        self._write(self._stderr, f"LibClamAV debug: {text}")

    def library_warning(self, text: str) -> None:
        self._write(self._stderr, f"LibClamAV Warning: {text}")

    def warning(self, text: str) -> None:
        self._write(self._messages, f"WARNING: {text}")

    def error(self, text: str) -> None:
        self._write(self._messages, f"ERROR: {text}")

    def summary(self, lines: list[str]) -> None:
        for line in lines:
            self._write(self._stdout, line)


def load_report_lines(report: LoadReport, compiled: CompileReport) -> list[str]:
    """What ``--debug`` says about a database load, one line per fact."""
    lines = [
        f"{loaded.path}{f' ({loaded.member})' if loaded.member else ''} loaded: "
        f"{loaded.signatures} signatures ({loaded.format})"
        for loaded in report.files
    ]
    for header in report.cvd_headers:
        lines.append(
            f"container version {header.version}, built {header.build_time}, "
            f"{header.signatures} signatures, FLEVEL {header.functionality_level}"
        )
    used = ", ".join(f"{fmt} {count}" for fmt, count in sorted(report.counts.items()))
    lines.append(f"signatures in use: {sum(report.counts.values())} ({used})")
    skipped = sum(report.skipped.values())
    lines.append(f"signatures skipped: {skipped}")
    lines.extend(f"  skipped {count}: {reason}" for reason, count in sorted(report.skipped.items()))
    lines.append(
        f"engine: {compiled.matchers} distinct body patterns ({compiled.secondary} searched "
        f"only for a candidate logical signature), {compiled.anchors} anchors, "
        f"{compiled.needs_executable} needing executable parsing"
    )
    return lines


def version_line(databases: Sequence[str]) -> str:
    """``clamkit VERSION``, plus ``/DB_VERSION/DB_DATE`` as the reference adds
    them when the database directory holds a daily container."""
    from clamkit.database.cvd import HEADER_SIZE, CvdError, parse_header
    from clamkit.defaults import MissingDefaultsError, bundled_database_dir

    line = f"clamkit {__version__}"
    try:
        directory = Path(databases[0]) if databases else bundled_database_dir()
    except MissingDefaultsError:
        return line
    headers = []
    for name in ("daily.cvd", "daily.cld"):
        try:
            with open(directory / name, "rb") as container:
                headers.append(parse_header(container.read(HEADER_SIZE)))
        except (OSError, CvdError):
            continue
    dated = [header for header in headers if header.build_time_seconds is not None]
    if not dated:
        return line
    newest = max(dated, key=lambda header: header.version)
    return f"{line}/{newest.version}/{time.ctime(newest.build_time_seconds)}"
