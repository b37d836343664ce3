"""The ``clamscan`` command: load a database, scan files, directories and stdin,
print what ClamAV 1.4's clamscan prints, and exit 0 (clean), 1 (found) or 2 (trouble).

Strategy: typer declares the options once; everything else about them is
derived from that declaration: the ClamAV-style ``--help`` text, and the
getopt/ClamAV syntax that typer does not speak (``--switch=yes|no|true|false|1|0``,
unique prefixes of long options, options after paths), which
``clamkit.cli.getopt`` parses and turns into tokens typer reads unambiguously.
The options that only set a field of the engine's ``ScanOptions`` (switches,
limits) are rows of one table, ``ENGINE_OPTIONS``, turned into typer
parameters of the command.  Usage errors are reported with getopt's and
ClamAV's wording, and typer never prints its own.  The walker (``_Walker``)
mirrors the reference's traversal: command-line symlinks are followed (at
--follow-*-symlinks level 1, the default), symlinks inside directories are
reported and skipped (followed at level 2), directories are read in on-disk
order, at most --max-dir-recursion levels deep; --exclude/--include match
a file's real path, their -dir forms a directory's path as printed.
``_Report`` adds --quiet, -o, -v, --bell and the log to ``Output``'s routing;
infected files go to ``clamkit.cli.quarantine`` (--remove/--move/--copy).
The engine and the loader are imported only when a scan really starts, so
``-V`` and ``-h`` stay fast.
"""

from __future__ import annotations

import contextlib
import enum
import inspect
import io
import os
import signal
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, BinaryIO, TextIO

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
from clamkit.cli.posix_regex import Pattern, excluded, patterns
from clamkit.cli.quarantine import Action, Identity, SetupError, identity

if TYPE_CHECKING:
    from clamkit.engine import Engine, ScanOptions, ScanResult

# The reference descends at most this many directory levels below a
# command-line directory (its --max-dir-recursion default).
MAX_DIR_RECURSION = 15
# The exit code when --file-list cannot be read (the reference's).
FILE_LIST_UNREADABLE = 54
# What the reference writes to the log each time it opens it, between blank lines.
LOG_SEPARATOR = "-" * 79
# What --verbose says before a file's result.
SCANNING = "Scanning"
# What "Excluded" notices say (--exclude, --include, their -dir forms, --cross-fs).
EXCLUDED = "Excluded"

# --follow-*-symlinks levels: links named on the command line are followed
# from DIRECT on, links met inside directories only at ALWAYS.
# (0 follows none.)
_FOLLOW_DIRECT, _FOLLOW_ALWAYS = 1, 2

GiB = 1024**3
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": GiB}
# A size limit of 0 lifts the limit.
_NO_LIMIT = sys.maxsize
# Whole-number options are unsigned 32-bit in the reference: larger values wrap.
_NUMBER_RANGE = 2**32


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


# ---------------------------------------------------------------------------
# The options that set the engine's ScanOptions, one row each: the option,
# the field, how its value reads (a switch on or off by default, a size with
# K/M suffixes, a whole number), and its help.  The switches' defaults are
# ScanOptions' own (a test holds them to it; the engine is not imported here,
# to keep -h and -V fast).


class _Kind(enum.Enum):
    ON = "switch, on by default"
    OFF = "switch, off by default"
    SIZE = "size"
    NUMBER = "number"


ENGINE_OPTIONS: tuple[tuple[str, str, _Kind, str], ...] = (
    ("--scan-mail", "scan_mail", _Kind.ON, "Look into e-mail messages"),
    ("--heuristic-alerts", "heuristic_alerts", _Kind.ON, "Report heuristic findings"),
    (
        "--heuristic-scan-precedence",
        "heuristic_scan_precedence",
        _Kind.OFF,
        "End a file's scan at its first heuristic finding",
    ),
    ("--scan-pe", "scan_pe", _Kind.ON, "Look for executables embedded in files"),
    ("--scan-ole2", "scan_ole2", _Kind.ON, "Look into OLE2 documents (Office 97-2003)"),
    ("--scan-pdf", "scan_pdf", _Kind.ON, "Look into PDF documents"),
    ("--scan-html", "scan_html", _Kind.ON, "Normalise HTML and look into its scripts"),
    ("--scan-onenote", "scan_onenote", _Kind.ON, "Look into OneNote documents"),
    ("--scan-archive", "scan_archive", _Kind.ON, "Look into archives and compressed files"),
    ("--alert-broken", "alert_broken_executables", _Kind.OFF, "Report malformed executables"),
    ("--alert-encrypted", "alert_encrypted", _Kind.OFF, "Both of the next two"),
    (
        "--alert-encrypted-archive",
        "alert_encrypted_archive",
        _Kind.OFF,
        "Report encrypted archives",
    ),
    ("--alert-encrypted-doc", "alert_encrypted_doc", _Kind.OFF, "Report encrypted documents"),
    ("--alert-macros", "alert_ole2_macros", _Kind.OFF, "Report OLE2 documents with VBA macros"),
    ("--alert-exceeds-max", "alert_exceeds_max", _Kind.OFF, "Report files a limit cut short"),
    (
        "--alert-partition-intersection",
        "alert_partition_intersection",
        _Kind.OFF,
        "Report disk images whose partitions overlap",
    ),
    ("--max-scantime", "max_scantime_ms", _Kind.NUMBER, "Give up on a file after this many ms"),
    ("--max-filesize", "max_filesize", _Kind.SIZE, "Pass over (as clean) larger files"),
    ("--max-scansize", "max_scansize", _Kind.SIZE, "Scan at most this much data per file"),
    ("--max-files", "max_files", _Kind.NUMBER, "Look at most at this many members per file"),
    ("--max-recursion", "max_recursion", _Kind.NUMBER, "Look at most this deep into containers"),
    ("--max-embeddedpe", "max_embeddedpe", _Kind.SIZE, "Largest file searched for executables"),
    ("--max-htmlnormalize", "max_htmlnormalize", _Kind.SIZE, "Largest HTML file normalised"),
    ("--max-htmlnotags", "max_htmlnotags", _Kind.SIZE, "Largest tag-free HTML text scanned"),
    ("--max-scriptnormalize", "max_scriptnormalize", _Kind.SIZE, "Largest script normalised"),
    ("--max-partitions", "max_partitions", _Kind.NUMBER, "Look at most into this many partitions"),
    ("--pcre-max-filesize", "pcre_max_filesize", _Kind.SIZE, "Largest layer PCREs run on"),
)


def _engine_parameter(option: str, field: str, kind: _Kind, help_: str) -> inspect.Parameter:
    """The typer parameter of one ENGINE_OPTIONS row."""
    if kind in (_Kind.ON, _Kind.OFF):
        default = kind is _Kind.ON
        names = f"{option}/--no-{option[2:]}" if default else option
        annotation: object = Annotated[bool, typer.Option(names, help=help_, show_default=False)]
    else:
        default = None
        annotation = Annotated[str | None, typer.Option(option, metavar=SIZE_METAVAR, help=help_)]
    return inspect.Parameter(
        field, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _engine_settings(values: dict[str, object]) -> dict[str, object]:
    """ScanOptions' fields from the ENGINE_OPTIONS values given (UsageError on a bad one)."""
    settings: dict[str, object] = {}
    for option, field, kind, _ in ENGINE_OPTIONS:
        value = values[field]
        if kind in (_Kind.ON, _Kind.OFF):
            settings[field] = value
        elif value is not None:
            settings[field] = _parse_number(option, str(value), sizes=kind is _Kind.SIZE)
    # --alert-encrypted covers both of its narrower switches.
    if settings["alert_encrypted"]:
        settings["alert_encrypted_archive"] = settings["alert_encrypted_doc"] = True
    return settings


@app.command()
def clamscan(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(show_default=False)] = None,
    help_: Annotated[bool, typer.Option("--help", "-h", help="Print this help")] = False,
    version: Annotated[
        bool, typer.Option("--version", "-V", help="Print the version and exit")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Say which file is scanned before its result"),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Print what the database load did: files, signatures per format, "
            "skipped signatures and why",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", help="Print nothing but errors (the log still gets everything)"),
    ] = False,
    to_stdout: Annotated[
        bool, typer.Option("--stdout", help="Print warnings and errors to stdout, not stderr")
    ] = False,
    no_summary: Annotated[
        bool, typer.Option("--no-summary", help="Leave out the summary at the end")
    ] = False,
    infected: Annotated[
        bool,
        typer.Option("--infected", "-i", help="Print only the files where something was found"),
    ] = False,
    suppress_ok: Annotated[
        bool, typer.Option("--suppress-ok-results", "-o", help="Leave out the OK lines")
    ] = False,
    bell: Annotated[
        bool, typer.Option("--bell", help="Ring the terminal bell on each finding")
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
    log: Annotated[
        str | None,
        typer.Option("--log", "-l", metavar="FILE", help="Append the scan report to FILE"),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Descend into subdirectories")
    ] = False,
    allmatch: Annotated[
        bool, typer.Option("--allmatch", "-z", help="Report every signature that matches a file")
    ] = False,
    cross_fs: Annotated[
        bool,
        typer.Option(
            "--cross-fs/--no-cross-fs", help="Descend into directories on other file systems"
        ),
    ] = True,
    follow_dir_symlinks: Annotated[
        str | None,
        typer.Option(
            "--follow-dir-symlinks",
            metavar=SIZE_METAVAR,
            help="Follow links to directories: 0 never, 1 named on the command line "
            "(default), 2 also inside directories",
        ),
    ] = None,
    follow_file_symlinks: Annotated[
        str | None,
        typer.Option(
            "--follow-file-symlinks",
            metavar=SIZE_METAVAR,
            help="Follow links to files: 0 never, 1 named on the command line "
            "(default), 2 also inside directories",
        ),
    ] = None,
    file_list: Annotated[
        str | None,
        typer.Option(
            "--file-list", "-f", metavar="FILE", help="Scan the files listed in FILE, one a line"
        ),
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Delete each infected file")] = False,
    move: Annotated[
        str | None,
        typer.Option("--move", metavar="DIRECTORY", help="Move each infected file into DIRECTORY"),
    ] = None,
    copy: Annotated[
        str | None,
        typer.Option("--copy", metavar="DIRECTORY", help="Copy each infected file into DIRECTORY"),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", metavar="REGEX", help="Skip files whose real path matches REGEX"),
    ] = None,
    exclude_dir: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude-dir", metavar="REGEX", help="Skip directories whose path matches REGEX"
        ),
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include", metavar="REGEX", help="Scan only files whose real path matches REGEX"
        ),
    ] = None,
    include_dir: Annotated[
        list[str] | None,
        typer.Option(
            "--include-dir", metavar="REGEX", help="Enter only directories whose path matches REGEX"
        ),
    ] = None,
    detect_pua: Annotated[
        bool, typer.Option("--detect-pua", help="Load PUA.* signatures (potentially unwanted apps)")
    ] = False,
    max_dir_recursion: Annotated[
        str | None,
        typer.Option(
            "--max-dir-recursion",
            metavar=SIZE_METAVAR,
            help=f"Descend at most this many directory levels (default {MAX_DIR_RECURSION})",
        ),
    ] = None,
    **engine_values: object,
) -> int:
    """Scan files and directories (the current directory when none is given)."""
    walk = _WalkSettings(
        recursive=recursive,
        cross_fs=cross_fs,
        follow_dirs=_parse_level("--follow-dir-symlinks", follow_dir_symlinks),
        follow_files=_parse_level("--follow-file-symlinks", follow_file_symlinks),
        max_depth=_parse_number("--max-dir-recursion", max_dir_recursion, sizes=False)
        if max_dir_recursion is not None
        else MAX_DIR_RECURSION,
        excluded_files=patterns(exclude),
        included_files=patterns(include),
        excluded_dirs=patterns(exclude_dir),
        included_dirs=patterns(include_dir),
    )
    settings = _engine_settings(engine_values)
    if help_:
        sys.stdout.write(_help_text(option_specs(ctx.command)))
        return 0
    databases = database or []
    if version:
        print(version_line(databases))
        return 0
    report = _Report(
        sys.stdout,
        sys.stderr,
        infected_only=infected,
        to_stdout=to_stdout,
        quiet=quiet,
        suppress_ok=suppress_ok,
        bell=bell,
        verbose=verbose,
    )
    with report:
        if log is not None and not report.open_log(log):
            return 2
        return _run(
            paths or [],
            databases,
            report,
            _Request(
                walk=walk,
                allmatch=allmatch,
                detect_pua=detect_pua,
                summary=not no_summary,
                settings=settings,
                debug=debug,
                file_list=file_list,
                action=(remove, move, copy),
            ),
        )


# Every ENGINE_OPTIONS row becomes a keyword parameter of the command: typer
# reads the signature, and so do --help, the man page and the completions.
_SIGNATURE = inspect.signature(clamscan, eval_str=True)
clamscan.__signature__ = _SIGNATURE.replace(  # type: ignore[attr-defined]
    parameters=[
        *list(_SIGNATURE.parameters.values())[:-1],
        *(_engine_parameter(*row) for row in ENGINE_OPTIONS),
    ]
)
clamscan.__annotations__ = {
    name: parameter.annotation
    for name, parameter in clamscan.__signature__.parameters.items()  # type: ignore[attr-defined]
}


@dataclass(frozen=True, slots=True)
class _WalkSettings:
    """What the walker visits: --recursive, --cross-fs, the --follow-*-symlinks
    levels, --max-dir-recursion and the --exclude/--include patterns."""

    recursive: bool = False
    cross_fs: bool = True
    follow_dirs: int = _FOLLOW_DIRECT
    follow_files: int = _FOLLOW_DIRECT
    max_depth: int = MAX_DIR_RECURSION
    excluded_files: tuple[Pattern, ...] = ()
    included_files: tuple[Pattern, ...] = ()
    excluded_dirs: tuple[Pattern, ...] = ()
    included_dirs: tuple[Pattern, ...] = ()

    @property
    def bad_level(self) -> str | None:
        """The --follow-*-symlinks option given a level past 2, if any."""
        for option, level in (
            ("--follow-dir-symlinks", self.follow_dirs),
            ("--follow-file-symlinks", self.follow_files),
        ):
            if level > _FOLLOW_ALWAYS:
                return option
        return None

    def file_excluded(self, real_path: str) -> bool:
        return excluded(real_path, self.excluded_files, self.included_files)

    def directory_excluded(self, path: str) -> bool:
        return excluded(path, self.excluded_dirs, self.included_dirs)


@dataclass(frozen=True, slots=True)
class _Request:
    """Everything a scan run needs besides the paths, the databases and where lines go."""

    walk: _WalkSettings
    allmatch: bool
    detect_pua: bool
    summary: bool
    settings: dict[str, object]
    debug: bool = False
    file_list: str | None = None
    # --remove, --move, --copy as given.
    action: tuple[bool, str | None, str | None] = (False, None, None)


def _run(paths: Sequence[str], databases: Sequence[str], report: _Report, request: _Request) -> int:
    try:
        action = Action.create(*request.action, report)
    except SetupError as problem:
        (report.error if problem.error else report.note)(str(problem))
        return 2
    with contextlib.closing(action) if action is not None else contextlib.nullcontext():
        return _scan(paths, databases, report, request, action)


def _scan(
    paths: Sequence[str],
    databases: Sequence[str],
    report: _Report,
    request: _Request,
    action: Action | None,
) -> int:
    started, clock = time.time(), time.perf_counter()
    stats = ScanStats()
    known_viruses = not_acted = 0
    code: int | None = None
    bad_level = request.walk.bad_level
    if bad_level is not None:
        # Refused when the reference hands the level to its engine; it then
        # frees an engine it never made, and says so.
        report.error(f"{bad_level}: Invalid argument")
        report.library_error("cl_free: engine == NULL")
        engine = None
    else:
        engine = _load_engine(databases, request.detect_pua, report, request.debug)
    if engine is None:
        stats.trouble = True
    else:
        known_viruses = engine.signature_count
        walker = _Walker(
            engine, _scan_options(request, report), report, stats, request.walk, action
        )
        arguments = _arguments(paths, request.file_list, report)
        for argument in arguments or ():
            walker.scan_argument(argument)
        if arguments is None:
            code = FILE_LIST_UNREADABLE
        not_acted = walker.not_acted
    if request.summary:
        timing = Timing(started, time.time(), time.perf_counter() - clock)
        lines = format_summary(stats, known_viruses, __version__, timing)
        if action is not None and not_acted:
            # After "Infected files" and "Total errors", before the data lines.
            data = next(i for i, line in enumerate(lines) if line.startswith("Data scanned:"))
            lines.insert(data, _not_acted_line(action, request, not_acted))
        report.summary(lines)
    return stats.exit_code if code is None else code


def _not_acted_line(action: Action, request: _Request, count: int) -> str:
    """The summary's count of infected files --remove/--move/--copy failed on.
    The reference words a failed move "Not copied" and a failed copy "Not
    moved" (it asks whether --copy was given the wrong way round)."""
    if action.directory is None:
        return f"Not removed: {count}"
    copy_given = request.action[2] is not None
    return f"Not {'moved' if copy_given else 'copied'}: {count}"


def _scan_options(request: _Request, report: _Report) -> ScanOptions:
    from clamkit.config.scanning import LARGEST_SCANNABLE_FILE
    from clamkit.engine.options import DEFAULT_OPTIONS, ScanOptions

    settings = dict(request.settings)
    max_filesize = settings.get("max_filesize", DEFAULT_OPTIONS.max_filesize)
    if isinstance(max_filesize, int) and max_filesize != _NO_LIMIT and max_filesize > 2 * GiB:
        report.library_warning(
            f"Max file-size was set to {max_filesize} bytes. Unfortunately, scanning files "
            "greater than 2147483647 bytes (2 GiB - 1) is not supported."
        )
        settings["max_filesize"] = LARGEST_SCANNABLE_FILE
    return ScanOptions(allmatch=request.allmatch, **settings)  # type: ignore[arg-type]


def _arguments(paths: Sequence[str], file_list: str | None, report: _Report) -> list[str] | None:
    """What to scan: the paths, or the lines of --file-list (None when it cannot be read)."""
    if file_list is None:
        return list(paths) or [os.getcwd()]
    if paths:
        report.warning("Only scanning files from --file-list (files passed at cmdline are ignored)")
    try:
        with open(file_list, errors="surrogateescape", newline="\n") as listing:
            lines = listing.readlines()
    except OSError:
        report.error(f"--file-list: Can't open file {file_list}")
        return None
    # The reference drops a line's newline only when something precedes it.
    return [line[:-1] if len(line) > 1 and line.endswith("\n") else line for line in lines]


def _load_engine(
    databases: Sequence[str], detect_pua: bool, report: _Report, debug: bool = False
) -> Engine | None:
    """The compiled engine, or None after printing why the database did not load."""
    from clamkit.database.loader import DatabaseError, LoadOptions
    from clamkit.defaults import MissingDefaultsError, bundled_database_dir
    from clamkit.engine.cache import load_engine

    try:
        paths = list(databases) or [bundled_database_dir()]
        engine, load_report, _ = load_engine(
            paths, LoadOptions(detect_pua=detect_pua), write_apart=True
        )
    except MissingDefaultsError as error:
        report.error(str(error))
        return None
    except DatabaseError as error:
        for detail in error.details:
            report.library_error(detail)
        report.error(error.summary)
        return None
    for warning in load_report.warnings:
        report.library_warning(warning)
    if debug:
        for line in load_report_lines(load_report, engine.report):
            report.library_debug(line)
    return engine


# ---------------------------------------------------------------------------
# Where lines go


class _Report(Output):
    """Output's routing, plus --quiet, --suppress-ok-results, --verbose, --bell and --log.

    The log (the reference's) takes every line printed or hidden by --quiet,
    except OK lines, system errors and the library's diagnostics.
    """

    def __init__(
        self,
        stdout: TextIO,
        stderr: TextIO,
        *,
        infected_only: bool,
        to_stdout: bool,
        quiet: bool = False,
        suppress_ok: bool = False,
        bell: bool = False,
        verbose: bool = False,
    ) -> None:
        super().__init__(stdout, stderr, infected_only=infected_only, to_stdout=to_stdout)
        self._out = stdout
        self._err = stderr
        self._quiet = quiet
        self._suppress_ok = suppress_ok
        self._bell = bell
        self._verbose = verbose
        self._log: TextIO | None = None
        self._shown = True
        self._logged = False

    def __enter__(self) -> _Report:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._log is not None:
            self._log.close()

    def open_log(self, path: str) -> bool:
        try:
            self._log = open(path, "a", errors="surrogateescape")  # noqa: SIM115 - kept to exit
        except OSError as error:
            self._out.write(f"ERROR: Failed to open log file {path}: {error.strerror}\n")
            self._out.flush()
            super().error("Problem with internal logger.")
            return False
        self._log.write(f"\n{LOG_SEPARATOR}\n\n")
        self._log.flush()
        return True

    @contextlib.contextmanager
    def _routed(self, *, shown: bool, logged: bool) -> Iterator[None]:
        self._shown, self._logged = shown, logged
        try:
            yield
        finally:
            self._shown, self._logged = True, False

    def _write(self, stream: TextIO, line: str) -> None:  # type: ignore[override]
        if self._shown:
            Output._write(stream, line)
        if self._logged and self._log is not None:
            self._log.write(line + "\n")
            self._log.flush()

    def found(self, path: str, name: str) -> None:
        with self._routed(shown=not self._quiet, logged=True):
            super().found(path, name)
        if self._bell:
            # A bare BEL, no newline, as the reference rings it.
            self._err.write("\a")
            self._err.flush()

    def notice(self, path: str, text: str) -> None:
        shown = not self._quiet and not (self._suppress_ok and text == OK)
        with self._routed(shown=shown, logged=text != OK):
            super().notice(path, text)

    def warning(self, text: str) -> None:
        with self._routed(shown=not self._quiet, logged=True):
            super().warning(text)

    def error(self, text: str) -> None:
        with self._routed(shown=True, logged=True):
            super().error(text)

    def scanning(self, path: str) -> None:
        """--verbose: the file about to be scanned (even with --infected)."""
        if self._verbose:
            with self._routed(shown=not self._quiet, logged=True):
                self._write(self._out, f"{SCANNING} {path}")

    def note(self, line: str) -> None:
        """What --remove, --move or --copy did."""
        with self._routed(shown=not self._quiet, logged=True):
            self._write(self._out, line)

    def summary(self, lines: list[str]) -> None:
        with self._routed(shown=not self._quiet, logged=True):
            super().summary(lines)


# ---------------------------------------------------------------------------
# Walking


class _Walker:
    """Visits command-line arguments the way the reference's clamscan does."""

    def __init__(
        self,
        engine: Engine,
        options: ScanOptions,
        report: _Report,
        stats: ScanStats,
        walk: _WalkSettings,
        action: Action | None = None,
    ) -> None:
        self._engine = engine
        self._options = options
        self._report = report
        self._stats = stats
        self._walk = walk
        self._action = action
        self._proc_device = _device_of("/proc")
        self.not_acted = 0

    def scan_argument(self, argument: str) -> None:
        if argument == "-":
            self._scan_stdin()
            return
        try:
            info = os.lstat(argument)
        except (OSError, ValueError) as error:
            strerror = error.strerror if isinstance(error, OSError) else None
            self._report.system_error(argument, strerror or "No such file or directory")
            self._report.warning(f"{argument}: {CANNOT_ACCESS_FILE}")
            self._stats.trouble = True
            return
        is_link = stat.S_ISLNK(info.st_mode)
        if is_link:
            try:
                info = os.stat(argument)
            except OSError:
                # The reference passes over a dangling symlink without a word.
                return
            if self._follow_level(info) < _FOLLOW_DIRECT:
                self._report.notice(argument, SYMBOLIC_LINK)
                return
        if stat.S_ISDIR(info.st_mode):
            self._scan_directory(argument.rstrip("/") or "/", 0, info.st_dev)
        elif stat.S_ISREG(info.st_mode):
            self._scan_file(argument, info)
        elif is_link:
            # Command-line symlinks are followed to files and directories only.
            self._report.notice(argument, SYMBOLIC_LINK)
        else:
            self._report.warning(f"{argument}: {NOT_SUPPORTED_FILE_TYPE}")
            self._stats.trouble = True

    def _follow_level(self, target: os.stat_result) -> int:
        walk = self._walk
        return walk.follow_dirs if stat.S_ISDIR(target.st_mode) else walk.follow_files

    def _scan_directory(self, path: str, depth: int, device: int) -> None:
        if depth >= self._walk.max_depth:
            return
        if self._walk.directory_excluded(path):
            self._report.notice(path, EXCLUDED)
            return
        try:
            entries = os.scandir(path)
        except OSError:
            self._report.notice(path, CANNOT_OPEN_DIRECTORY)
            self._stats.errors += 1
            return
        self._stats.directories += 1
        prefix = path if path.endswith("/") else path + "/"
        with entries:
            for entry in entries:
                try:
                    self._scan_entry(prefix + entry.name, entry, depth, device)
                except OSError:
                    # Vanished while we looked: the reference skips it too.
                    continue

    def _scan_entry(self, path: str, entry: os.DirEntry[str], depth: int, device: int) -> None:
        """One directory entry; links inside directories are followed only at level 2."""
        info = entry.stat(follow_symlinks=False)
        if entry.is_symlink():
            try:
                info = os.stat(path)
            except OSError:
                self._report.notice(path, SYMBOLIC_LINK)
                return
            if self._follow_level(info) < _FOLLOW_ALWAYS:
                self._report.notice(path, SYMBOLIC_LINK)
                return
        if stat.S_ISDIR(info.st_mode):
            if not self._walk.recursive:
                return
            if not self._walk.cross_fs and info.st_dev != device:
                self._report.notice(path, EXCLUDED)
                return
            self._scan_directory(path, depth + 1, device)
        elif stat.S_ISREG(info.st_mode):
            self._scan_file(path, info)

    def _scan_file(self, path: str, info: os.stat_result) -> None:
        walk = self._walk
        if (walk.excluded_files or walk.included_files) and walk.file_excluded(
            os.path.realpath(path)
        ):
            self._report.notice(path, EXCLUDED)
            return
        if info.st_dev == self._proc_device:
            self._report.notice(path, EXCLUDED_PROC)
            return
        if info.st_size == 0:
            self._report.notice(path, EMPTY_FILE)
            return
        if not os.access(path, os.R_OK):
            self._report.notice(path, ACCESS_DENIED)
            self._stats.errors += 1
            return
        self._report.scanning(path)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below, after the scan
        except OSError as error:
            self._report.warning(f"{CANNOT_OPEN_FILE} {path}: {error.strerror}")
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
            self._record(path, result, identity(info))

    def _scan_stdin(self) -> None:
        stream = sys.stdin.buffer if sys.stdin is not None else None
        result = self._scan_stream(STDIN_NAME, stream)
        if result is not None:
            self._record(STDIN_NAME, result, None)

    def _scan_stream(self, name: str, stream: BinaryIO | None) -> ScanResult | None:
        try:
            if stream is None:
                raise OSError("standard input is closed")
            return self._engine.scan_fileobj(stream, self._options)
        except OSError:
            self._report.scan_error(name, CANNOT_READ_FILE)
            self._stats.errors += 1
            return None

    def _record(self, name: str, result: ScanResult, scanned: Identity | None) -> None:
        """Count and print a result; act on an infected file (``scanned`` None: stdin)."""
        self._stats.files += 1
        self._stats.add_data(result.bytes_read, result.bytes_scanned)
        if not result.names:
            self._report.notice(name, OK)
            return
        self._stats.infected += 1
        for found in result.names:
            self._report.found(name, found)
        acted = self._action is None or scanned is None or self._action.apply(name, scanned)
        # Counted apart from the errors, for the summary's "Not moved:" line.
        self.not_acted += not acted


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
        elif spec.off:
            long_form += "[=yes(*)/no]"
        elif spec.long not in ("--help", "--version"):
            long_form += "[=yes/no(*)]"
        left = f"{long_form:<25}{short_form}".rstrip()
        rows.append(f"    {left:<39} {spec.help}".rstrip())
    return _BANNER + "\n" + "\n".join(rows) + "\n\n"


def _format_error(option: str) -> UsageError:
    return UsageError(
        f"ERROR: Incorrect argument format for option {option}", f"ERROR: {CANNOT_PARSE_OPTIONS}"
    )


def _parse_number(option: str, value: str, *, sizes: bool) -> int:
    """A ClamAV number: digits, with an optional K, M or G (any case) for a
    size; a size of 0 means no limit, a whole number wraps at 2**32."""
    digits, unit = (value[:-1], value[-1].lower()) if value[-1:].isalpha() else (value, "")
    if not (digits.isascii() and digits.isdigit()) or unit not in _SIZE_UNITS:
        raise _format_error(option)
    if not sizes:
        if unit:
            raise _format_error(option)
        return int(digits) % _NUMBER_RANGE
    return int(digits) * _SIZE_UNITS[unit] or _NO_LIMIT


def _parse_level(option: str, value: str | None) -> int:
    """A --follow-*-symlinks level (1 when not given); one past 2 parses, and
    is refused when the scan starts (``_WalkSettings.bad_level``)."""
    return _FOLLOW_DIRECT if value is None else _parse_number(option, value, sizes=False)


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
