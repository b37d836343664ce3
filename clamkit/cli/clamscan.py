"""The ``clamscan`` command: load a database, scan files, directories and stdin,
print what ClamAV 1.4's clamscan prints, and exit 0 (clean), 1 (found) or 2 (trouble).

Strategy: typer declares the options once; everything else about them is
derived from that declaration: the ClamAV-style ``--help`` text, and the
getopt/ClamAV syntax that typer does not speak (``--switch=yes|no|true|false|1|0``,
unique prefixes of long options, options after paths), which
``clamkit.cli.getopt`` parses and turns into tokens typer reads unambiguously.
Usage errors are therefore reported with getopt's and ClamAV's wording, and
typer never prints its own.  The walker (``_Walker``) mirrors the
reference's traversal: command-line symlinks are followed, symlinks inside
directories are reported and skipped, directories are read in on-disk order,
at most ``MAX_DIR_RECURSION`` levels deep.  The engine and the loader are
imported only when a scan really starts, so ``-V`` and ``-h`` stay fast.
"""

from __future__ import annotations

import io
import os
import signal
import stat
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from clamkit import __version__
from clamkit.cli.getopt import (
    SIZE_METAVAR,
    OptionSpec,
    UsageError,
    option_specs,
    run_command,
)
from clamkit.cli.output import (
    ACCESS_DENIED,
    CANNOT_ACCESS_FILE,
    CANNOT_OPEN_DIRECTORY,
    CANNOT_OPEN_FILE,
    CANNOT_PARSE_OPTIONS,
    CANNOT_READ_FILE,
    EMPTY_FILE,
    EXCLUDED_PROC,
    NOT_SUPPORTED_FILE_TYPE,
    OK,
    STDIN_NAME,
    SYMBOLIC_LINK,
    Output,
    ScanStats,
    Timing,
    format_summary,
    load_report_lines,
    version_line,
)

if TYPE_CHECKING:
    from clamkit.engine import Engine, ScanOptions, ScanResult

# The reference descends at most this many directory levels below a
# command-line directory (its --max-dir-recursion default).
MAX_DIR_RECURSION = 15

_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# A size limit of 0 lifts the limit.
_NO_LIMIT = sys.maxsize


_BANNER = f"""
                       clamkit: Scanner {__version__}
           A ClamAV-compatible scanner written in Python

    clamscan [options] [file/directory/-]
"""

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": []},
)


@app.command()
def clamscan(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(show_default=False)] = None,
    help_: Annotated[bool, typer.Option("--help", "-h", help="Print this help")] = False,
    version: Annotated[
        bool, typer.Option("--version", "-V", help="Print the version and exit")
    ] = False,
    database: Annotated[
        list[str] | None,
        typer.Option(
            "--database",
            "-d",
            metavar="FILE/DIR",
            help="Load signatures from FILE, or every database file in DIR (repeatable)",
        ),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Descend into subdirectories")
    ] = False,
    infected: Annotated[
        bool,
        typer.Option("--infected", "-i", help="Print only the files where something was found"),
    ] = False,
    allmatch: Annotated[
        bool, typer.Option("--allmatch", "-z", help="Report every signature that matches a file")
    ] = False,
    no_summary: Annotated[
        bool, typer.Option("--no-summary", help="Leave out the summary at the end")
    ] = False,
    to_stdout: Annotated[
        bool, typer.Option("--stdout", help="Print warnings and errors to stdout, not stderr")
    ] = False,
    detect_pua: Annotated[
        bool, typer.Option("--detect-pua", help="Load PUA.* signatures (potentially unwanted apps)")
    ] = False,
    max_filesize: Annotated[
        str | None,
        typer.Option(
            "--max-filesize",
            metavar=SIZE_METAVAR,
            help="Pass over (as clean) files larger than this; K, M, G suffixes; 0: no limit",
        ),
    ] = None,
    max_scansize: Annotated[
        str | None,
        typer.Option(
            "--max-scansize",
            metavar=SIZE_METAVAR,
            help="Scan at most this much data per file; K, M, G suffixes; 0: no limit",
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Print what the database load did: files, signatures per format, "
            "skipped signatures and why",
        ),
    ] = False,
) -> int:
    """Scan files and directories (the current directory when none is given)."""
    limits = {
        field: _parse_size(option, value)
        for field, option, value in (
            ("max_filesize", "--max-filesize", max_filesize),
            ("max_scansize", "--max-scansize", max_scansize),
        )
        if value is not None
    }
    if help_:
        sys.stdout.write(_help_text(option_specs(ctx.command)))
        return 0
    databases = database or []
    if version:
        print(version_line(databases))
        return 0
    output = Output(sys.stdout, sys.stderr, infected_only=infected, to_stdout=to_stdout)
    return _run(
        paths or [],
        databases,
        output,
        recursive=recursive,
        allmatch=allmatch,
        detect_pua=detect_pua,
        summary=not no_summary,
        limits=limits,
        debug=debug,
    )


def _run(
    paths: Sequence[str],
    databases: Sequence[str],
    output: Output,
    *,
    recursive: bool,
    allmatch: bool,
    detect_pua: bool,
    summary: bool,
    limits: dict[str, int],
    debug: bool = False,
) -> int:
    started, clock = time.time(), time.perf_counter()
    stats = ScanStats()
    known_viruses = 0
    engine = _load_engine(databases, detect_pua, output, debug)
    if engine is None:
        stats.trouble = True
    else:
        known_viruses = engine.signature_count
        from clamkit.engine import ScanOptions

        options = ScanOptions(allmatch=allmatch, **limits)
        walker = _Walker(engine, options, output, stats, recursive)
        if paths:
            for path in paths:
                walker.scan_argument(path)
        else:
            walker.scan_argument(os.getcwd())
    if summary:
        timing = Timing(started, time.time(), time.perf_counter() - clock)
        output.summary(format_summary(stats, known_viruses, __version__, timing))
    return stats.exit_code


def _load_engine(
    databases: Sequence[str], detect_pua: bool, output: Output, debug: bool = False
) -> Engine | None:
    """The compiled engine, or None after printing why the database did not load."""
    from clamkit.database.loader import DatabaseError, LoadOptions, load_database
    from clamkit.defaults import MissingDefaultsError, bundled_database_dir
    from clamkit.engine import compile_engine

    try:
        paths = list(databases) or [bundled_database_dir()]
        database = load_database(paths, LoadOptions(detect_pua=detect_pua))
    except MissingDefaultsError as error:
        output.error(str(error))
        return None
    except DatabaseError as error:
        for detail in error.details:
            output.library_error(detail)
        output.error(error.summary)
        return None
    for warning in database.report.warnings:
        output.library_warning(warning)
    engine = compile_engine(database)
    if debug:
        for line in load_report_lines(database.report, engine.report):
            output.library_debug(line)
    return engine


class _Walker:
    """Visits command-line arguments the way the reference's clamscan does."""

    def __init__(
        self,
        engine: Engine,
        options: ScanOptions,
        output: Output,
        stats: ScanStats,
        recursive: bool,
    ) -> None:
        self._engine = engine
        self._options = options
        self._output = output
        self._stats = stats
        self._recursive = recursive
        self._proc_device = _device_of("/proc")

    def scan_argument(self, argument: str) -> None:
        if argument == "-":
            self._scan_stdin()
            return
        try:
            info = os.lstat(argument)
        except OSError as error:
            self._output.system_error(argument, error.strerror or str(error))
            self._output.warning(f"{argument}: {CANNOT_ACCESS_FILE}")
            self._stats.trouble = True
            return
        is_link = stat.S_ISLNK(info.st_mode)
        if is_link:
            try:
                info = os.stat(argument)
            except OSError:
                # The reference passes over a dangling symlink without a word.
                return
        if stat.S_ISDIR(info.st_mode):
            self._scan_directory(argument.rstrip("/") or "/", 0)
        elif stat.S_ISREG(info.st_mode):
            self._scan_file(argument, info)
        elif is_link:
            # Command-line symlinks are followed to files and directories only.
            self._output.notice(argument, SYMBOLIC_LINK)
        else:
            self._output.warning(f"{argument}: {NOT_SUPPORTED_FILE_TYPE}")
            self._stats.trouble = True

    def _scan_directory(self, path: str, depth: int) -> None:
        try:
            entries = os.scandir(path)
        except OSError:
            self._output.notice(path, CANNOT_OPEN_DIRECTORY)
            self._stats.errors += 1
            return
        self._stats.directories += 1
        prefix = path if path.endswith("/") else path + "/"
        with entries:
            for entry in entries:
                child = prefix + entry.name
                try:
                    if entry.is_symlink():
                        self._output.notice(child, SYMBOLIC_LINK)
                    elif entry.is_dir(follow_symlinks=False):
                        if self._recursive and depth + 1 < MAX_DIR_RECURSION:
                            self._scan_directory(child, depth + 1)
                    elif entry.is_file(follow_symlinks=False):
                        self._scan_file(child, entry.stat(follow_symlinks=False))
                except OSError:
                    # Vanished while we looked: the reference skips it too.
                    continue

    def _scan_file(self, path: str, info: os.stat_result) -> None:
        if info.st_dev == self._proc_device:
            self._output.notice(path, EXCLUDED_PROC)
            return
        if info.st_size == 0:
            self._output.notice(path, EMPTY_FILE)
            return
        if not os.access(path, os.R_OK):
            self._output.notice(path, ACCESS_DENIED)
            self._stats.errors += 1
            return
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below, after the scan
        except OSError as error:
            self._output.warning(f"{CANNOT_OPEN_FILE} {path}: {error.strerror}")
            self._stats.errors += 1
            return
        with handle:
            try:
                result = self._engine.scan_file(path, self._options)
            except OSError:
                # Files of pseudo file systems (sysfs) cannot be mapped but
                # can be read; the reference scans what they yield.
                result = self._scan_stream(path, handle)
        if result is not None:
            self._report(path, result)

    def _scan_stdin(self) -> None:
        stream = sys.stdin.buffer if sys.stdin is not None else None
        result = self._scan_stream(STDIN_NAME, stream)
        if result is not None:
            self._report(STDIN_NAME, result)

    def _scan_stream(self, name: str, stream: BinaryIO | None) -> ScanResult | None:
        try:
            if stream is None:
                raise OSError("standard input is closed")
            return self._engine.scan_fileobj(stream, self._options)
        except OSError:
            self._output.scan_error(name, CANNOT_READ_FILE)
            self._stats.errors += 1
            return None

    def _report(self, name: str, result: ScanResult) -> None:
        self._stats.files += 1
        self._stats.add_data(result.bytes_read, result.bytes_scanned)
        if result.names:
            self._stats.infected += 1
            for found in result.names:
                self._output.found(name, found)
        else:
            self._output.notice(name, OK)


def _device_of(path: str) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


# ---------------------------------------------------------------------------
# Version and help


def _help_text(specs: Sequence[OptionSpec]) -> str:
    rows = []
    for spec in specs:
        long_form, short_form = spec.long, spec.short or ""
        if spec.takes_value:
            long_form += f"={spec.metavar}"
            short_form += f" {spec.metavar}" if spec.short else ""
        elif spec.long not in ("--help", "--version"):
            long_form += "[=yes/no(*)]"
        rows.append(f"    {long_form:<25}{short_form:<15}{spec.help}".rstrip())
    return _BANNER + "\n" + "\n".join(rows) + "\n\n"


def _parse_size(option: str, value: str) -> int:
    """A ClamAV size: digits with an optional K, M or G (any case); 0 means no limit."""
    digits, unit = (value[:-1], value[-1].lower()) if value[-1:].isalpha() else (value, "")
    if not (digits.isascii() and digits.isdigit()) or unit not in _SIZE_UNITS:
        raise UsageError(
            f"ERROR: Incorrect argument format for option {option}",
            f"ERROR: {CANNOT_PARSE_OPTIONS}",
        )
    return int(digits) * _SIZE_UNITS[unit] or _NO_LIMIT


def run(argv: Sequence[str]) -> int:
    """Run clamscan on ``argv`` (without the program name) and return the exit code."""
    return run_command(app, argv, "clamscan", usage_status=2)


def main() -> None:
    # Die quietly on a closed pipe or Ctrl-C, as the reference does, rather
    # than with a Python traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # File names are bytes: print the ones that are not UTF-8 as they are.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="surrogateescape")
    code = run(sys.argv[1:])
    # The engine is a million small objects; letting the interpreter free them
    # one by one at exit costs half a second, for memory the kernel takes back
    # at once anyway.  Flush what was printed, then leave.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
