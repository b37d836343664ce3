"""The ``clamd`` command: read the configuration, open the log, start the daemon.

Strategy: the command line is ClamAV 1.4's clamd's, parsed by the same
getopt-style front as ``clamscan`` (its option syntax, its messages); a
usage error exits 1 as the reference does.  The configuration is
``-c FILE`` or /etc/clamav/clamd.conf, with the command-line options laid
over it; when there is no -c and no such file, clamd runs on built-in
defaults instead of failing: the bundled database and a socket private to
the user (``clamkit.defaults``), announced on the terminal.  Then the log is
opened and the start-up notes the reference writes are written, in its
order, up to what needs the daemon itself (``clamkit.daemon.server``),
which is imported only then, so ``-h`` and ``-V`` stay fast.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import time
from typing import Annotated

import typer

from clamkit import __version__
from clamkit.cli.getopt import SIZE_METAVAR, UsageError, option_specs, run_command
from clamkit.cli.output import CANNOT_PARSE_OPTIONS, version_line
from clamkit.config.parser import Config, ConfigError, default_config, load_config
from clamkit.daemon.lifecycle import database_age_error
from clamkit.daemon.listeners import missing_server_type, systemd_fds
from clamkit.daemon.log import LOGGER_FAILED, DaemonLog, LogError
from clamkit.defaults import (
    MissingDefaultsError,
    UnsafeDefaultsError,
    bundled_database_dir,
    default_local_socket,
)

DEFAULT_CONFIG_PATH = "/etc/clamav/clamd.conf"
# Options naming files or directories that a relative path would leave ambiguous.
_PATH_OPTIONS = ("DatabaseDirectory", "LocalSocket", "PidFile", "TemporaryDirectory")
# The reference exits 1 for every start-up failure, usage errors included.
FAILURE = 1

_BANNER = f"""
                      clamkit: Daemon {__version__}
           A ClamAV-compatible scanning daemon written in Python

    clamd [options]
"""

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": []},
)


@app.command()
def clamd(
    ctx: typer.Context,
    # The reference accepts and ignores words that are not options.
    _arguments: Annotated[list[str] | None, typer.Argument(hidden=True)] = None,
    help_: Annotated[bool, typer.Option("--help", "-h", help="Print this help")] = False,
    version: Annotated[
        bool, typer.Option("--version", "-V", help="Print the version and exit")
    ] = False,
    foreground: Annotated[
        bool, typer.Option("--foreground", "-F", help="Stay attached to the terminal")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Log debug messages too")] = False,
    log_file: Annotated[
        str | None, typer.Option("--log", "-l", metavar="FILE", help="Append the log to FILE")
    ] = None,
    config_file: Annotated[
        str | None,
        typer.Option(
            "--config-file",
            "-c",
            metavar="FILE",
            help=f"Read the configuration from FILE (default {DEFAULT_CONFIG_PATH})",
        ),
    ] = None,
    fail_if_cvd_older_than: Annotated[
        str | None,
        typer.Option(
            "--fail-if-cvd-older-than",
            # A number, checked below: the front then reports an empty value
            # as a format error, as the reference does.
            metavar=SIZE_METAVAR,
            help="Refuse to start when the database is older than this many days",
        ),
    ] = None,
    datadir: Annotated[
        str | None,
        typer.Option("--datadir", metavar="DIRECTORY", help="Load the database from DIRECTORY"),
    ] = None,
    pid_file: Annotated[
        str | None,
        typer.Option("--pid", "-p", metavar="FILE", help="Write the daemon's process id to FILE"),
    ] = None,
) -> int:
    """Start the scanning daemon."""
    if help_:
        sys.stdout.write(_help_text(ctx.command))
        return 0
    days = _days(fail_if_cvd_older_than) if fail_if_cvd_older_than is not None else 0
    try:
        config = _configuration(config_file)
    except ConfigError as error:
        sys.stderr.write(f"{error}\n")
        return FAILURE
    except MissingDefaultsError as error:
        sys.stderr.write(f"ERROR: {error}\n")
        return FAILURE
    for warning in config.warnings:
        sys.stderr.write(f"{warning}\n")
    overrides: dict[str, object] = {
        name: value
        for name, value in (
            ("Foreground", foreground or None),
            ("Debug", debug or None),
            ("LogFile", log_file),
            ("DatabaseDirectory", datadir),
            ("PidFile", pid_file),
        )
        if value is not None
    }
    config = _anchored(config.replace(**overrides))
    if version:
        print(version_line([config.text("DatabaseDirectory") or ""]))
        return 0
    built_in = not config.path
    if built_in:
        # Only now: -V must not create the socket's directory.
        try:
            config = config.replace(LocalSocket=str(default_local_socket()))
        except UnsafeDefaultsError as error:
            sys.stderr.write(f"ERROR: {error}\n")
            return FAILURE
    return _start(config, days, built_in=built_in)


def _days(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise UsageError(
            "ERROR: Incorrect argument format for option --fail-if-cvd-older-than",
            f"ERROR: {CANNOT_PARSE_OPTIONS}",
        )
    return int(text)


def _configuration(path: str | None) -> Config:
    """The configuration file's settings, or the built-in defaults when there is none."""
    if path is not None or os.path.exists(DEFAULT_CONFIG_PATH):
        config = load_config(path or DEFAULT_CONFIG_PATH)
    else:
        config = default_config().replace(DatabaseDirectory=str(bundled_database_dir()))
    return config


def _anchored(config: Config) -> Config:
    """Relative paths made absolute against the directory clamd was started in.

    The reference binds its socket and loads its database before it forks
    and moves to /; ours detaches first, so the paths are fixed here to
    keep meaning what they meant where the user typed them.
    """
    relative = {
        name: os.path.abspath(value)
        for name in _PATH_OPTIONS
        if (value := config.text(name)) and not os.path.isabs(value)
    }
    return config.replace(**relative) if relative else config


def _start(config: Config, days: int, *, built_in: bool) -> int:
    """Open the log, write the reference's start-up notes and run the daemon."""
    try:
        log = DaemonLog.from_config(config)
    except LogError as error:
        if error.logger_failed:
            sys.stdout.write(f"ERROR: {error}\n")
            sys.stdout.flush()
            sys.stderr.write(f"ERROR: {LOGGER_FAILED}\n")
        else:
            sys.stderr.write(f"ERROR: {error}\n")
        return FAILURE
    try:
        log.info(f"+++ Started at {time.ctime()}", terminal=False)
        if built_in:
            log.info(
                f"No configuration file {DEFAULT_CONFIG_PATH}: running on built-in defaults, "
                f"listening on {config.text('LocalSocket')}"
            )
        log.info(f"Received {len(systemd_fds())} file descriptor(s) from systemd.", terminal=False)
        if (refusal := missing_server_type(config)) is not None:
            log.error(refusal)
            return FAILURE
        machine = platform.machine()
        log.info(
            f"clamd daemon {__version__} (OS: {platform.system()}, ARCH: {machine}, "
            f"CPU: {machine})",
            terminal=False,
        )
        log.info(f"Log file size limited to {log.max_size} bytes.", terminal=False)
        if days and (refusal := database_age_error(config.text("DatabaseDirectory") or "", days)):
            log.error(refusal)
            return FAILURE
        from clamkit.daemon.server import run_daemon

        return run_daemon(config, log)
    finally:
        log.close()


def _help_text(command: object) -> str:
    rows = []
    for spec in option_specs(command):
        long_form, short_form = spec.long, spec.short or ""
        if spec.takes_value:
            long_form += f"={spec.metavar}"
            short_form += f" {spec.metavar}" if spec.short else ""
        # The reference's columns: a long form that overflows its 25 columns
        # eats into the short form's, and the help still starts at column 44.
        rows.append(f"    {(long_form.ljust(25) + short_form).ljust(40)}{spec.help}".rstrip())
    return _BANNER + "\n" + "\n".join(rows) + "\n\n"


def run(argv: list[str]) -> int:
    """Run clamd on ``argv`` (without the program name) and return the exit status."""
    return run_command(app, argv, "clamd", usage_status=FAILURE)


def main() -> None:
    # Ctrl-C before the daemon installs its own handler (while the database
    # loads) ends clamd quietly, as the reference, not with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
