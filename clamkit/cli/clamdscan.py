"""The ``clamdscan`` command: have a clamd scan files, print what ClamAV 1.4's
clamdscan prints, and exit 0 (clean), 1 (found) or 2 (trouble).

Strategy: the options are declared once to typer and parsed by ClamAV's
getopt front (``clamkit.cli.getopt``).  The daemon is found from clamd.conf
(``-c`` or /etc/clamav/clamd.conf; clamkit's built-in socket when neither
exists) and driven through ``clamkit.client``: in path mode every argument is
one CONTSCAN/MULTISCAN/ALLMATCHSCAN of its absolute path; in stream and
descriptor mode the files are walked here and all go through one pipelined
IDSESSION.  Every reply passes through ``_Scan.on_reply``, which counts,
prints and applies --remove/--move/--copy (``clamkit.cli.quarantine``).
``_Printer`` alone decides where a line goes (stdout, stderr, the log,
nowhere) as the reference does; on a terminal it hands lines to
``clamkit.cli.clamdscan_output`` (rich colours, a live progress line),
imported only then so ``--ping`` starts fast.

One intended difference from the reference: with no path and standard
input a pipe or a regular file, standard input is scanned as for ``-``.
"""

from __future__ import annotations

import contextlib
import enum
import io
import os
import signal
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from clamkit import __version__
from clamkit.cli.getopt import option_specs, run_command
from clamkit.cli.output import SUMMARY_TITLE, Timing, timing_lines
from clamkit.cli.quarantine import Action as _Action
from clamkit.cli.quarantine import SetupError as _SetupError
from clamkit.client.connection import (
    Address,
    ConnectError,
    Segment,
    address_from_config,
    connect,
    converse,
    descriptor_upload,
    pipeline,
    stream_upload,
)
from clamkit.client.protocol import FOUND_SUFFIX, request, result_text
from clamkit.config.parser import Config, ConfigError, default_config, load_config
from clamkit.protocol.framing import Command
from clamkit.protocol.replies import PONG, RELOADING

if TYPE_CHECKING:
    from clamkit.cli.clamdscan_output import Terminal

# The file clamd reads when it is given no -c.
DEFAULT_CONFIG_PATH = "/etc/clamav/clamd.conf"

CLEAN, FOUND, TROUBLE = 0, 1, 2
# --ping and --wait when no daemon answered in time.
NOT_RESPONDING = 21
# A --ping argument that is not a number: the reference exits with ERANGE.
BAD_PING_ARGUMENT = 34
# --wait without --ping: this many attempts, one a second.
WAIT_ATTEMPTS = 30
DEFAULT_PING_INTERVAL = 1
_ULONG = 2**64

STDIN_NOT_ALONE = 'Scanning from standard input requires "-" to be the only file argument'
# What the reference writes to stdout and the log when a log file is given.
LOG_SEPARATOR = "-" * 38

_BANNER = f"""
                      clamkit: Daemon Client {__version__}
           A ClamAV-compatible clamd client written in Python

    clamdscan [options] [file/directory/-]
"""

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": []},
)


class Mode(enum.Enum):
    """How files reach the daemon."""

    CONTSCAN = Command.CONTSCAN
    MULTISCAN = Command.MULTISCAN
    ALLMATCHSCAN = Command.ALLMATCHSCAN
    STREAM = Command.INSTREAM
    FILDES = Command.FILDES

    @property
    def daemon_walks(self) -> bool:
        """The daemon is given the paths and walks directories itself."""
        return self in (Mode.CONTSCAN, Mode.MULTISCAN)


@app.command()
def clamdscan(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(show_default=False)] = None,
    help_: Annotated[bool, typer.Option("--help", "-h", help="Show this help")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Print the daemon's version (this client's if none answers)"
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Be verbose (accepted as ClamAV 1.4's clamdscan accepts it: it adds no output)",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Be quiet, only output error messages")
    ] = False,
    to_stdout: Annotated[
        bool, typer.Option("--stdout", help="Write error and warning messages to stdout")
    ] = False,
    log: Annotated[
        str | None,
        typer.Option("--log", "-l", metavar="FILE", help="Append the scan report to FILE"),
    ] = None,
    file_list: Annotated[
        str | None,
        typer.Option(
            "--file-list", "-f", metavar="FILE", help="Scan the files listed in FILE, one a line"
        ),
    ] = None,
    ping: Annotated[
        str | None,
        typer.Option(
            "--ping",
            "-p",
            metavar="A[:I]",
            help="Ping clamd up to A times, I seconds apart (default 1), until it answers",
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            "-w",
            help="Wait up to 30 seconds for clamd to start (--ping sets attempts and interval)",
        ),
    ] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Remove infected files")] = False,
    move: Annotated[
        str | None,
        typer.Option("--move", metavar="DIRECTORY", help="Move infected files into DIRECTORY"),
    ] = None,
    copy: Annotated[
        str | None,
        typer.Option("--copy", metavar="DIRECTORY", help="Copy infected files into DIRECTORY"),
    ] = None,
    config_file: Annotated[
        str | None,
        typer.Option("--config-file", "-c", metavar="FILE", help="Read clamd's address from FILE"),
    ] = None,
    allmatch: Annotated[
        bool,
        typer.Option("--allmatch", "-z", help="Continue scanning within a file after a match"),
    ] = False,
    multiscan: Annotated[
        bool, typer.Option("--multiscan", "-m", help="Have clamd scan directories in parallel")
    ] = False,
    infected: Annotated[
        bool, typer.Option("--infected", "-i", help="Only print infected files")
    ] = False,
    no_summary: Annotated[
        bool, typer.Option("--no-summary", help="Leave out the summary at the end")
    ] = False,
    reload: Annotated[
        bool, typer.Option("--reload", help="Have clamd reload its database")
    ] = False,
    fdpass: Annotated[
        bool, typer.Option("--fdpass", help="Pass file descriptors to clamd (Unix socket only)")
    ] = False,
    stream: Annotated[
        bool, typer.Option("--stream", help="Send file contents to clamd (INSTREAM)")
    ] = False,
) -> int:
    """Have clamd scan files and directories (standard input with ``-``)."""
    if help_:
        sys.stdout.write(_help_text(ctx.command))
        return CLEAN
    config = _read_config(config_file)
    if config is None:
        return TROUBLE
    address = address_from_config(config)
    printer = _Printer(quiet=quiet, infected_only=infected, to_stdout=to_stdout)
    if log is not None and not printer.open_log(log):
        return TROUBLE
    if version:
        return _print_version(address, printer)
    if ping is not None or wait:
        code = _wait_for_daemon(address, ping, wait, printer)
        if not wait:
            return code
        if code != CLEAN:
            if not no_summary:
                printer.summary(_summary(0, 0, time.time(), time.perf_counter()))
            return code
    if reload:
        return _reload(address, printer)
    try:
        action = _Action.create(remove, move, copy, printer)
    except _SetupError as problem:
        (printer.error if problem.error else printer.info)(str(problem))
        return TROUBLE
    mode = _choose_mode(address, stream=stream, fdpass=fdpass, multi=multiscan, all_=allmatch)
    started, clock = time.time(), time.perf_counter()
    scan = _Scan(printer, address, config, mode, action)
    with printer.progress(scan.counts):
        scan.run(_targets(paths or [], file_list, printer))
    if not no_summary:
        printer.summary(_summary(scan.counts.infected, scan.counts.errors, started, clock))
    return scan.counts.exit_code


# ---------------------------------------------------------------------------
# Configuration, version, ping, reload


def _read_config(path: str | None) -> Config | None:
    """``-c FILE``, else the default file, else built-in defaults (no file at all)."""
    if path is None and not os.path.exists(DEFAULT_CONFIG_PATH):
        from clamkit.defaults import UnsafeDefaultsError, default_local_socket

        try:
            socket_path = str(default_local_socket())
        except UnsafeDefaultsError as error:
            sys.stderr.write(f"ERROR: {error}\n")
            return None
        return default_config().replace(LocalSocket=socket_path)
    path = path or DEFAULT_CONFIG_PATH
    try:
        return load_config(path)
    except ConfigError as error:
        # The parser's last line names clamd's failure; clamdscan words it its way.
        for line in error.lines[:-1]:
            sys.stderr.write(line + "\n")
        sys.stderr.write(f"ERROR: Can't parse clamd configuration file {path}\n")
        return None


def _print_version(address: Address | None, printer: _Printer) -> int:
    try:
        replies = converse(address, request(Command.VERSION))
    except ConnectError as error:
        printer.connect_error(error)
        replies = []
    printer.info(replies[0] if replies else f"clamkit {__version__}")
    return CLEAN


def _strtoul(text: str) -> tuple[int, str]:
    """C's strtoul: leading blanks and a sign allowed, negative values wrap,
    too large ones saturate; returns the value and what follows the digits."""
    body = text.lstrip(" \t\n\v\f\r")
    sign = body[:1] if body[:1] in ("+", "-") else ""
    digits = body[len(sign) :]
    count = len(digits) - len(digits.lstrip("0123456789"))
    if not count:
        return 0, text
    value = min(int(digits[:count]), _ULONG - 1)
    if sign == "-":
        value = (_ULONG - value) % _ULONG
    return value, digits[count:]


class _PingArgumentError(Exception):
    """An --ping argument the reference refuses; ``str()`` is its warning."""


def _parse_ping(text: str) -> tuple[int, int]:
    """``A[:I]`` -> (attempts, interval in seconds), as the reference reads it."""
    attempts, rest = _strtoul(text)
    if rest and not rest.startswith(":"):
        raise _PingArgumentError("attempt_str would go past end of buffer")
    if not rest:
        return attempts, DEFAULT_PING_INTERVAL
    interval, rest = _strtoul(rest[1:])
    if rest:
        raise _PingArgumentError("interval_str would go past end of buffer")
    return attempts, interval


def _ping_once(address: Address | None, printer: _Printer) -> bool:
    try:
        return converse(address, request(Command.PING))[:1] == [PONG]
    except ConnectError as error:
        printer.connect_error(error)
        return False


def _wait_for_daemon(
    address: Address | None, ping: str | None, wait: bool, printer: _Printer
) -> int:
    """--ping and --wait: CLEAN once clamd answers PING, else an exit code.

    --ping alone prints PONG; --wait is silent on success and goes on to scan.
    """
    attempts, interval = WAIT_ATTEMPTS, DEFAULT_PING_INTERVAL
    if ping is not None:
        try:
            attempts, interval = _parse_ping(ping)
        except _PingArgumentError as error:
            printer.warning(str(error))
            return BAD_PING_ARGUMENT
    attempt = 0
    while True:
        attempt += 1
        if _ping_once(address, printer):
            if not wait:
                printer.note(PONG)
            return CLEAN
        if attempt >= attempts:
            break
        if not wait:
            unit = "second" if interval == 1 else "seconds"
            printer.note(f"Could not connect, will PING again in {interval} {unit}")
        time.sleep(interval)
    if wait:
        printer.note("Wait timeout exceeded; Could not connect to clamd")
    else:
        printer.note("PING timeout exceeded; No response from clamd")
    return NOT_RESPONDING


def _reload(address: Address | None, printer: _Printer) -> int:
    try:
        replies = converse(address, request(Command.RELOAD))
    except ConnectError as error:
        printer.connect_error(error)
        return TROUBLE
    if replies[:1] != [RELOADING]:
        printer.error("Clamd did not reload the database")
        return TROUBLE
    return CLEAN


# ---------------------------------------------------------------------------
# Output


class _Printer:
    """Routes each line as the reference does.

    - results (FOUND, OK, per-file errors, Removed./moved/copied) and the
      summary go to stdout, unless --quiet; --infected hides OK lines;
    - ``ERROR:``/``WARNING:`` lines go to stderr, or stdout with --stdout;
    - ping and version lines always go to stdout;
    - with --log, every line printed is appended to the log as well.
    """

    def __init__(self, *, quiet: bool, infected_only: bool, to_stdout: bool) -> None:
        self._quiet = quiet
        self._infected_only = infected_only
        self._to_stdout = to_stdout
        self._log: TextIO | None = None
        self._terminal: Terminal | None = None
        if sys.stdout.isatty():
            from clamkit.cli.clamdscan_output import Terminal

            self._terminal = Terminal()

    def open_log(self, path: str) -> bool:
        try:
            self._log = open(path, "a", errors="surrogateescape")  # noqa: SIM115 - kept to exit
        except OSError as error:
            self.info(f"ERROR: Failed to open log file {path}: {error.strerror}")
            self.error("Problem with internal logger.")
            return False
        self.info(LOG_SEPARATOR)
        return True

    def _emit(self, line: str, *, error: bool, kind: str, end: str = "\n") -> None:
        if self._terminal is not None:
            self._terminal.line(line, error=error, kind=kind, end=end)
        else:
            stream = sys.stderr if error else sys.stdout
            stream.write(line + end)
            stream.flush()
        if self._log is not None:
            self._log.write(line + end)
            self._log.flush()

    def unterminated(self, text: str) -> None:
        """A message the reference ends without a newline (the next line completes it)."""
        self._emit(text, error=False, kind="error", end="")

    def info(self, line: str) -> None:
        self._emit(line, error=False, kind="info")

    def found(self, name: str, verdict: str) -> None:
        if not self._quiet:
            self._emit(f"{name}: {verdict}", error=False, kind="found")

    def ok(self, name: str, verdict: str) -> None:
        if not self._quiet and not self._infected_only:
            self._emit(f"{name}: {verdict}", error=False, kind="info")

    def failed(self, name: str, verdict: str) -> None:
        """A file the daemon could not scan (``name: MESSAGE ERROR``)."""
        if not self._quiet:
            self._emit(f"{name}: {verdict}", error=False, kind="error")

    def note(self, line: str) -> None:
        """What an action did (Removed., moved to, copied to), what --ping found."""
        if not self._quiet:
            self._emit(line, error=False, kind="info")

    def error(self, text: str) -> None:
        self._emit(f"ERROR: {text}", error=not self._to_stdout, kind="error")

    def warning(self, text: str) -> None:
        self._emit(f"WARNING: {text}", error=not self._to_stdout, kind="warning")

    def connect_error(self, error: ConnectError) -> None:
        if str(error):
            self.error(str(error))

    def summary(self, lines: list[str]) -> None:
        if not self._quiet:
            for line in lines:
                self._emit(line, error=False, kind="info")

    def progress(self, counts: _Counts) -> _ProgressScope:
        return _ProgressScope(self._terminal, counts)


class _ProgressScope:
    """The terminal's live progress line for the duration of a scan (nothing when piped)."""

    def __init__(self, terminal: Terminal | None, counts: _Counts) -> None:
        self._terminal = terminal
        self._counts = counts

    def __enter__(self) -> None:
        if self._terminal is not None:
            counts = self._counts
            self._terminal.start_progress(lambda: (counts.files, counts.bytes, counts.infected))

    def __exit__(self, *exc: object) -> None:
        if self._terminal is not None:
            self._terminal.stop_progress()


def _summary(infected: int, errors: int, started: float, clock: float) -> list[str]:
    lines = ["", SUMMARY_TITLE, f"Infected files: {infected}"]
    if errors:
        lines.append(f"Total errors: {errors}")
    return lines + timing_lines(Timing(started, time.time(), time.perf_counter() - clock))


# ---------------------------------------------------------------------------
# Scanning


@dataclass(slots=True)
class _Counts:
    infected: int = 0
    errors: int = 0
    trouble: bool = False  # an error the summary does not count (stdin unscanned)
    files: int = 0  # answers received, for the progress line
    bytes: int = 0  # bytes sent, for the progress line

    @property
    def exit_code(self) -> int:
        if self.infected:
            return FOUND
        return TROUBLE if self.errors or self.trouble else CLEAN


@dataclass(frozen=True, slots=True)
class _Target:
    """What a reply is about.

    ``path`` None: replies are printed as the daemon words them (path mode,
    standard input).  Otherwise the client found the file under the
    command-line ``argument``, and OK is said once per argument, by its
    ``closing`` marker (sent nowhere), if nothing else was said about it:
    the reference's way.
    """

    path: str | None
    argument: str = ""
    size: int = 0
    closing: bool = False


def _choose_mode(
    address: Address | None, *, stream: bool, fdpass: bool, multi: bool, all_: bool
) -> Mode:
    if stream or (address is not None and not address.is_local()):
        return Mode.STREAM
    # Descriptors cannot cross TCP: the reference then sends paths.
    if fdpass and (address is None or address.passes_descriptors):
        return Mode.FILDES
    if multi:
        return Mode.MULTISCAN
    return Mode.ALLMATCHSCAN if all_ else Mode.CONTSCAN


def _absolute(argument: str) -> str:
    """How the reference names an argument: the working directory joined as
    it is (not normalised), trailing slashes dropped."""
    path = argument if argument.startswith("/") else f"{os.getcwd()}/{argument}"
    return path.rstrip("/") or "/"


def _targets(paths: list[str], file_list: str | None, printer: _Printer) -> list[str]:
    """The arguments to scan, in order; ``-`` is standard input."""
    if file_list is not None:
        if paths:
            printer.warning(
                "Only scanning files from --file-list (files passed at cmdline are ignored)"
            )
        try:
            with open(file_list, errors="surrogateescape", newline="\n") as listing:
                lines = listing.readlines()
        except OSError:
            printer.error(f"--file-list: Can't open file {file_list}")
            return []
        # The reference drops a line's newline only when something precedes it.
        return [line[:-1] if len(line) > 1 and line.endswith("\n") else line for line in lines]
    if paths:
        return paths
    # The intended difference: piped or redirected input is what to scan.
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        mode = 0
    return ["-"] if stat.S_ISFIFO(mode) or stat.S_ISREG(mode) else [os.getcwd()]


@dataclass
class _Scan:
    """One run over the arguments: sends them as ``mode`` says, counts and prints the replies."""

    printer: _Printer
    address: Address | None
    config: Config
    mode: Mode
    action: _Action | None
    counts: _Counts = field(default_factory=_Counts)
    _last_found: _Target | None = None
    # Arguments something was reported about (no OK for them at the end).
    _spoken: set[str] = field(default_factory=set)

    def run(self, arguments: list[str]) -> None:
        files: list[str] = []
        for argument in arguments:
            if argument != "-":
                files.append(argument)
                continue
            if files:
                self._scan_files(files)
                files = []
            if len(arguments) > 1:
                self.printer.error(STDIN_NOT_ALONE)
            else:
                self._scan_stdin()
        if files:
            self._scan_files(files)

    # -- replies

    def on_reply(self, target: _Target, text: str | None) -> None:
        """Count and print one reply about ``target``; None: nothing was sent
        (a link left unscanned, reported OK; a file that could not be opened)."""
        if text is None:
            if target.closing and target.argument not in self._spoken:
                self.printer.ok(target.argument, "OK")
            return
        name, verdict = result_text(text)
        shown = target.path if target.path is not None else name
        self.counts.files += 1
        self.counts.bytes += target.size
        if verdict != "OK":
            self._spoken.add(target.argument)
        if verdict.endswith(FOUND_SUFFIX):
            # One file found is one count, whatever number of signatures an
            # --allmatch reply lists for it; a file named twice counts twice.
            if target.path is None or target is not self._last_found:
                self.counts.infected += 1
            self._last_found = target
            self.printer.found(shown, verdict)
            # In path mode the daemon names the file; stdin has no file.
            path = target.path or (name if self.mode.daemon_walks else None)
            if self.action is not None and path and not self.action.apply(path):
                self.counts.errors += 1
        elif verdict == "OK":
            if target.path is None:
                self.printer.ok(shown, verdict)
        else:
            self.counts.errors += 1
            self.printer.failed(shown, verdict)

    # -- what is sent

    def _check(self, path: str) -> os.stat_result | None:
        """lstat ``path``, reporting a missing one as the reference does."""
        try:
            return os.lstat(path)
        except (OSError, ValueError):
            self.printer.error(f"Can't access file {path}")
            self.counts.errors += 1
            return None

    def _unsupported(self, path: str, argument: str = "") -> None:
        self.printer.warning(f"{path}: Not supported file type")
        self.counts.errors += 1
        self._spoken.add(argument)

    def _scan_files(self, arguments: list[str]) -> None:
        if self.mode.daemon_walks:
            for argument in arguments:
                self._scan_path(_absolute(argument))
        elif self.mode is Mode.ALLMATCHSCAN:
            for target in self._targets(arguments):
                self._scan_one(target)
        else:
            self._scan_session(arguments)

    def _scan_path(self, path: str) -> None:
        """CONTSCAN or MULTISCAN of one argument: the daemon walks it."""
        info = self._check(path)
        if info is None:
            return
        if stat.S_ISLNK(info.st_mode):
            # The daemon decides about links (FollowFileSymlinks and the like).
            with contextlib.suppress(OSError):
                info = os.stat(path)
        kind = stat.S_IFMT(info.st_mode)
        if kind not in (stat.S_IFDIR, stat.S_IFREG, stat.S_IFLNK):
            self._unsupported(path)
            return
        self._converse(_Target(None), request(self.mode.value, path))

    def _scan_one(self, target: _Target) -> None:
        """ALLMATCHSCAN of one file the client found."""
        if target.closing or target.path is None:
            self.on_reply(target, None)
        else:
            self._converse(target, request(self.mode.value, target.path))

    def _converse(self, target: _Target, data: bytes) -> None:
        try:
            replies = converse(self.address, data)
        except ConnectError as error:
            self.printer.connect_error(error)
            self.counts.errors += 1
            return
        for reply in replies:
            self.on_reply(target, reply)

    def _scan_stdin(self) -> None:
        try:
            info = os.fstat(0)
        except OSError as error:
            # The reference's words, newline and all, on stdout.
            self.printer.unterminated(
                f'client.c: fstat failed for file name "-", with {error.strerror}\n.'
            )
            self.counts.trouble = True
            return
        try:
            client = connect(self.address)
        except ConnectError as error:
            self.printer.connect_error(error)
            self.counts.trouble = True
            return
        stdin: Iterator[Segment]
        if (
            self.mode is not Mode.STREAM
            and self.address is not None
            and self.address.passes_descriptors
            and stat.S_ISREG(info.st_mode)
        ):
            stdin = descriptor_upload(os.dup(0))
        else:
            stdin = stream_upload(os.fdopen(os.dup(0), "rb"), self._stream_limit)
        outcome = pipeline(client, [(_Target(None), stdin)], self.on_reply)
        if outcome.unanswered:
            self.counts.trouble = True

    @property
    def _stream_limit(self) -> int:
        return self.config.number("StreamMaxLength")

    def _scan_session(self, arguments: list[str]) -> None:
        """INSTREAM or FILDES of every file found, in one pipelined IDSESSION.

        A daemon that hangs up mid-session (after refusing an upload over its
        StreamMaxLength, say) gets a new session for the rest: the requests
        it left unanswered are sent again, except the first when nothing it
        said explains the hang-up (that one is reported as unanswered).
        """
        try:
            client = connect(self.address)
        except ConnectError as error:
            for argument in arguments:
                if self._check(_absolute(argument)) is not None:
                    self.printer.connect_error(error)
                    self.counts.errors += 1
            return
        rest = ((target, self._upload(target)) for target in self._targets(arguments))
        again: list[_Target] = []
        while True:
            errors = self.counts.errors
            uploads = chain(((target, self._upload(target)) for target in again), rest)
            outcome = pipeline(client, uploads, self.on_reply)
            again = outcome.unanswered
            if again and self.counts.errors == errors:
                self.printer.failed(str(again[0].path), "no reply from clamd")
                self.counts.errors += 1
                self._spoken.add(again[0].argument)
                again = again[1:]
            if outcome.complete and not again:
                return
            try:
                client = connect(self.address)
            except ConnectError as error:
                self.printer.connect_error(error)
                self.counts.errors += 1
                return

    def _upload(self, target: _Target) -> Iterator[Segment] | None:
        """The request for ``target``; None for a closing marker and for a file
        that cannot be opened (reported here)."""
        if target.closing or target.path is None:
            return None
        try:
            if self.mode is Mode.FILDES:
                return descriptor_upload(os.open(target.path, os.O_RDONLY))
            return stream_upload(open(target.path, "rb"), self._stream_limit)
        except OSError:
            self.printer.failed(target.path, "Failed to open file. ERROR")
            self.counts.errors += 1
            self._spoken.add(target.argument)
            return None

    # -- walking, for the modes where the client finds the files

    def _targets(self, arguments: list[str]) -> Iterator[_Target]:
        follow_files = self.config.flag("FollowFileSymlinks")
        follow_directories = self.config.flag("FollowDirectorySymlinks")
        for argument in arguments:
            path = _absolute(argument)
            info = self._check(path)
            if info is None:
                continue
            # The reference leaves an unfollowed link unscanned, and calls it OK.
            if stat.S_ISLNK(info.st_mode):
                info = _follow(path, follow_files, follow_directories) or info
            if stat.S_ISDIR(info.st_mode):
                yield from self._walk(path, path, 0, follow_files, follow_directories)
            elif stat.S_ISREG(info.st_mode):
                yield _Target(path, path, info.st_size)
            elif not stat.S_ISLNK(info.st_mode):
                self._unsupported(path, path)
                continue
            yield _Target(path, path, closing=True)

    def _walk(
        self,
        directory: str,
        argument: str,
        depth: int,
        follow_files: bool,
        follow_directories: bool,
    ) -> Iterator[_Target]:
        """The files under ``directory`` in the reference's order: entries by
        inode number, files first, then the subdirectories."""
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.inode())
        except OSError:
            self.printer.failed(directory, "Can't open directory. ERROR")
            self.counts.errors += 1
            self._spoken.add(argument)
            return
        subdirectories = []
        for entry in entries:
            path = f"{directory.rstrip('/')}/{entry.name}"
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                followed = _follow(path, follow_files, follow_directories)
                if followed is None:
                    continue
                info = followed
            if stat.S_ISDIR(info.st_mode):
                subdirectories.append(path)
            elif stat.S_ISREG(info.st_mode):
                yield _Target(path, argument, info.st_size)
            else:
                self._unsupported(path, argument)
        if depth < self.config.number("MaxDirectoryRecursion"):
            for path in subdirectories:
                yield from self._walk(path, argument, depth + 1, follow_files, follow_directories)


def _follow(path: str, files: bool, directories: bool) -> os.stat_result | None:
    """What the link ``path`` points to, if the configuration follows such links."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    wanted = directories if stat.S_ISDIR(info.st_mode) else files
    return info if wanted else None


# ---------------------------------------------------------------------------
# Help and entry point


def _help_text(command: object) -> str:
    rows = []
    for spec in option_specs(command):
        long_form = f"{spec.long}={spec.metavar}" if spec.takes_value else spec.long
        short_form = f"{spec.short} {spec.metavar}" if spec.short and spec.takes_value else ""
        short_form = short_form or (spec.short or "")
        rows.append(f"    {long_form:<20}{short_form:<15}{spec.help}".rstrip())
    return _BANNER + "\n" + "\n".join(rows) + "\n\n"


def run(argv: list[str]) -> int:
    """Run clamdscan on ``argv`` (without the program name) and return the exit code."""
    return run_command(app, argv, "clamdscan", usage_status=TROUBLE)


def main() -> None:
    # Die quietly on a closed pipe or Ctrl-C, as the reference does.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # File names are bytes: print the ones that are not UTF-8 as they are.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="surrogateescape")
    code = run(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
