"""The manual pages of clamkit's commands: clamd(8), clamdscan(1), clamscan(1).

Strategy: each command declares its options once, to typer; this module
reads them back (``clamkit.cli.getopt.option_specs``) and renders the SYNOPSIS and OPTIONS
sections from them, so a page cannot document an option the command lacks
or miss one it has.  Only the prose (NAME, DESCRIPTION, FILES, EXIT STATUS)
is written here, per command, in ``COMMANDS``, which the shell completions
(``clamkit.cli.completions``) read too.  The roff is plain man(7) in the
style of clamd.conf(5) (``clamkit.config.manpage``), whose escaping it
shares.  ``python -m clamkit.cli.manpages`` rewrites the committed pages in
man/; with ``--check`` it only reports the ones that differ (exit 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
import typer.main

from clamkit import __version__
from clamkit.cli import clamd, clamdscan, clamscan
from clamkit.cli.getopt import OptionSpec, option_specs
from clamkit.roff import escape

# Where ``python -m`` writes by default: the checkout's man/ directory.
CHECKOUT = Path(__file__).resolve().parents[2]

_SECTION_TITLES = {1: "User commands", 8: "System administration"}

# How options may be written, for every command: ClamAV's getopt front
# (``clamkit.cli.getopt``).
_OPTION_SYNTAX = r"""
.PP
Options are read as GNU getopt_long reads them, and may come after the
operands: a long option may be shortened to any unique prefix, short
options may be grouped, and an option's value may follow it as the next
argument, after
.B =
.RB ( \-\-option=\fIvalue\fP ),
or, for a short option, attached
.RB ( \-o\fIvalue\fP ).
A switch may also be written with a value, as ClamAV allows:
.BR yes ", " true " or " 1
turn it on,
.BR no ", " false " or " 0
leave it off.
An unknown or ambiguous option, or a missing value, is reported with
ClamAV's messages.
""".strip()


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its typer application and the prose of its page."""

    name: str
    section: int
    summary: str
    description: str
    files: tuple[tuple[str, str], ...]
    exit_status: tuple[tuple[int, str], ...]
    app: typer.Typer

    def options(self) -> tuple[OptionSpec, ...]:
        """The options the command declares, in declaration order."""
        return option_specs(typer.main.get_command(self.app))

    def takes_operands(self) -> bool:
        """Whether the command scans paths given after its options."""
        params = typer.main.get_command(self.app).params
        return any(p.param_type_name == "argument" and not p.hidden for p in params)


COMMANDS = (
    Command(
        name="clamd",
        section=8,
        summary="the clamkit scanning daemon, a drop\\-in for ClamAV's clamd",
        description=rf"""
.B clamd
loads a signature database once and then scans files, directories and
streams for any client that asks, over a Unix socket, TCP, or sockets
handed over by systemd.
It speaks ClamAV 1.4's clamd protocol byte for byte, so ClamAV's
.BR clamdscan ,
mail filters and the clamd client libraries work with it unchanged.
.PP
Its settings come from
.BR clamd.conf (5):
the file given with
.BR \-c ,
or else
.IR /etc/clamav/clamd.conf .
Unlike ClamAV's clamd, when neither exists it does not fail but runs on
built\-in defaults: the database bundled with clamkit, and a Unix socket
that only the user running it can reach, whose path it prints.
The options below override the matching settings of the file.
.PP
Scans run in worker processes that share one compiled database; a
database reload (the
.B RELOAD
command,
.BR SIGUSR2 ,
or
.BR SelfCheck )
builds the new database while the old one keeps serving.
Settings that clamkit accepts but does not act on are listed as warnings
when it starts.
{_OPTION_SYNTAX}
""".strip(),
        files=(
            ("/etc/clamav/clamd.conf", "The configuration read when no -c is given."),
            (
                "$XDG_RUNTIME_DIR/clamkit/clamd.sock",
                "The socket of the built-in defaults; /tmp/clamkit-UID/clamd.sock "
                "when the session has no runtime directory.",
            ),
        ),
        exit_status=(
            (0, "The daemon stopped normally, or -h or -V was given."),
            (
                1,
                "It could not start: a usage error, a bad configuration or database, "
                "a socket it could not listen on.",
            ),
            (2, "The pid file could not be written."),
        ),
        app=clamd.app,
    ),
    Command(
        name="clamdscan",
        section=1,
        summary="have a running clamd scan files, a drop\\-in for ClamAV's clamdscan",
        description=rf"""
.B clamdscan
asks a running clamd, clamkit's or ClamAV's, to scan the files and
directories named on its command line (standard input for
.BR \- ),
and prints the answers as ClamAV 1.4's clamdscan does: the same lines
.RI ( path ": OK,"
.IR path ": " name " FOUND,"
.IR path ": " message " ERROR),"
the same summary, the same exit status, so scripts, cron jobs and mail
filters that run it and read its output keep working.
.PP
The daemon's address comes from
.BR clamd.conf (5):
the file given with
.BR \-c ,
or else
.IR /etc/clamav/clamd.conf ;
.B LocalSocket
when it is set, else
.B TCPSocket
on
.BR TCPAddr .
Without
.B \-c
and with no such file, clamdscan uses the socket that
.BR clamd (8)
listens on when it runs on its built\-in defaults, so the two work
together without any configuration.
.PP
By default the daemon is sent each path, made absolute, and reads the
files itself
.RB ( CONTSCAN ,
or
.B MULTISCAN
with
.BR \-m ,
.B ALLMATCHSCAN
with
.BR \-z ),
so it must be allowed to read them.
With
.B \-\-stream
clamdscan reads the files and sends their contents
.RB ( INSTREAM ),
and with
.B \-\-fdpass
it sends open file descriptors over the Unix socket
.RB ( FILDES );
the files then only need to be readable by the user running clamdscan,
and all of them go through one session.
Contents are always streamed to a daemon on another machine (a TCP
address this machine does not have), which cannot see its files.
.PP
With no path, ClamAV's clamdscan scans the current directory.
clamkit's does so only when standard input is a terminal or a character
device such as
.I /dev/null
(as under cron); when standard input is a regular file or a pipe, it
scans standard input as for
.BR \- ,
so that
.B \%clamdscan \-\-stream < file
scans that file.
This is the one intended difference from ClamAV's clamdscan.
.PP
.B \-\-move
and
.B \-\-copy
never overwrite a file in the target directory (a file of the same name
gets a numbered suffix) and never follow a link out of it; a file that
cannot be moved is reported as an error and left where it was.
.PP
On a terminal, FOUND and ERROR lines are coloured and a long scan shows a
progress line (files done, throughput, infected so far); output to a file
or a pipe never contains escape codes.
{_OPTION_SYNTAX}
""".strip(),
        files=(
            ("/etc/clamav/clamd.conf", "Where the daemon is found when no -c is given."),
            (
                "$XDG_RUNTIME_DIR/clamkit/clamd.sock",
                "The built-in defaults' socket, used when there is no configuration file; "
                "/tmp/clamkit-UID/clamd.sock when the session has no runtime directory.",
            ),
        ),
        exit_status=(
            (0, "No virus found (or --ping, --reload, --version succeeded)."),
            (1, "A virus was found."),
            (
                2,
                "An error occurred: no daemon to connect to, a file it could not scan, "
                "a usage error.",
            ),
            (21, "--ping or --wait: the daemon did not answer in time."),
            (34, "--ping: its argument is not A or A:I with whole numbers."),
        ),
        app=clamdscan.app,
    ),
    Command(
        name="clamscan",
        section=1,
        summary="scan files and directories with ClamAV signatures, without a daemon",
        description=rf"""
.B clamscan
loads a signature database and scans the files and directories named on
its command line, or standard input for
.BR \- ,
or the current directory when none is named.
It reads ClamAV's database formats and prints what ClamAV 1.4's clamscan
prints, line for line: one line per file
.RI ( path ": OK,"
.IR path ": " name " FOUND),"
notices, warnings, and a summary, so that scripts parsing ClamAV's output
keep working.
.PP
Without
.BR \-d ,
the database bundled with clamkit is used; it finds the EICAR test file
and ClamAV's own test executable by their official names.
Symbolic links named on the command line are followed; links met inside
a directory are reported and skipped.
clamkit's clamscan has fewer options than ClamAV's; those it has behave as
ClamAV's do.
{_OPTION_SYNTAX}
""".strip(),
        files=(
            (
                "clamkit/sigs/",
                "The bundled database, inside the installed package (sigs/ in a "
                "source checkout), used when no -d is given.",
            ),
        ),
        exit_status=(
            (0, "No virus found."),
            (1, "A virus was found."),
            (
                2,
                "An error occurred (a usage error, a database that does not load, a "
                "file that could not be read).",
            ),
        ),
        app=clamscan.app,
    ),
)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _forms(spec: OptionSpec) -> list[tuple[str, str]]:
    """Each spelling of ``spec`` as (roff name, roff value): ``-d FILE``, ``--database=FILE``."""
    value = rf"\fI{escape(spec.metavar)}\fR" if spec.takes_value else ""
    forms = [(rf"\fB{escape(spec.short)}\fR", f" {value}" if value else "")] if spec.short else []
    forms.append((rf"\fB{escape(spec.long)}\fR", f"={value}" if value else ""))
    return forms


def _synopsis(command: Command) -> list[str]:
    # \% keeps an option from being hyphenated; .ad l keeps the gaps even.
    words = [rf"\%[{''.join(_forms(spec)[0])}]" for spec in command.options()]
    if command.takes_operands():
        words.append(r"\%[\fIFILE\fR|\fIDIRECTORY\fR|\fB\-\fR]...")
    return [".SH SYNOPSIS", ".ad l", f".B {command.name}", *words, ".ad"]


def _option_entry(spec: OptionSpec) -> list[str]:
    tag = ", ".join(name + value for name, value in _forms(spec))
    return [".TP", tag, escape(_sentence(spec.help))]


def render_page(command: Command) -> str:
    """The roff source of ``command``'s manual page."""
    lines = [
        f'.TH {command.name.upper()} {command.section} "" "clamkit {__version__}" '
        f'"{_SECTION_TITLES[command.section]}"',
        ".SH NAME",
        rf"{command.name} \- {command.summary}",
        *_synopsis(command),
        ".SH DESCRIPTION",
        command.description,
        ".SH OPTIONS",
    ]
    for spec in command.options():
        lines.extend(_option_entry(spec))
    lines.append(".SH FILES")
    for path, meaning in command.files:
        lines.extend([".TP", f".I {escape(path)}", escape(meaning)])
    lines.append(".SH EXIT STATUS")
    for code, meaning in command.exit_status:
        lines.extend([".TP", f".B {code}", escape(meaning)])
    others = sorted({(c.name, c.section) for c in COMMANDS} | {("clamd.conf", 5)})
    see_also = [f".BR {name} ({section})" for name, section in others if name != command.name]
    lines.append(".SH SEE ALSO")
    lines.extend(line + "," for line in see_also[:-1])
    lines.append(see_also[-1])
    return "\n".join(lines) + "\n"


def render_pages() -> dict[str, str]:
    """Every page, by file name (``clamscan.1``)."""
    return {f"{c.name}.{c.section}": render_page(c) for c in COMMANDS}


def write_or_check(files: Mapping[str, str], directory: Path, *, check: bool) -> int:
    """Write ``files`` into ``directory``, or with ``check`` name the ones that
    differ from what is there; the exit status (1: something differs)."""
    stale = [name for name, text in files.items() if _read(directory / name) != text]
    if check:
        for name in stale:
            sys.stderr.write(f"{directory / name} is out of date\n")
        return 1 if stale else 0
    directory.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (directory / name).write_text(files[name])
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def generator_main(
    argv: Sequence[str], render: Callable[[], Mapping[str, str]], default: Path
) -> int:
    """The command line of a generator module: ``[--check] [DIRECTORY]``."""
    parser = argparse.ArgumentParser(description=f"Write the generated files into {default}.")
    parser.add_argument("directory", nargs="?", type=Path, default=default)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a file differs, writing nothing"
    )
    arguments = parser.parse_args(argv)
    return write_or_check(render(), arguments.directory, check=arguments.check)


if __name__ == "__main__":
    sys.exit(generator_main(sys.argv[1:], render_pages, CHECKOUT / "man"))
