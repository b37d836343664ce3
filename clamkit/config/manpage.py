"""clamd.conf(5), rendered from the option table.

Strategy: the page is plain man(7) roff built from ``OPTIONS``: one section
per group in ``GROUPS`` order, one tagged paragraph per option with its
kind, default and help text, so the page cannot describe an option the
parser does not know or miss one it does.  ``python -m
clamkit.config.manpage > man/clamd.conf.5`` regenerates the committed copy
(a test checks the two are equal).
"""

from __future__ import annotations

import sys

from clamkit import __version__
from clamkit.config.options import GROUPS, OPTIONS, Option, OptionKind
from clamkit.roff import escape

_SUFFIXES = ((1024**3, "G"), (1024**2, "M"), (1024, "K"))

_PREAMBLE = r"""
.SH NAME
clamd.conf \- configuration file of clamkit's clamd
.SH DESCRIPTION
clamd reads its settings from this file (by default
.IR /etc/clamav/clamd.conf ,
or the file given with
.BR \-c ).
The format is that of ClamAV 1.4's clamd, and a file one of them accepts
the other accepts too, with the same values.
.PP
Each line holds one option: its name (case matters), blanks, then its
argument.
Lines starting with
.B #
are comments; blank lines are ignored.
A line starting with
.B Example
makes the whole file invalid, so that a sample file cannot be used unedited.
The argument is the rest of the line without trailing blanks, or, when it
starts with a double quote, the text up to the next double quote.
A
.B #
after an argument is part of it.
Lines are read in pieces of at most 1023 bytes.
.PP
When an option that takes one value is given twice, the first value is
kept.
Options marked
.I repeatable
collect every value given.
.PP
An unknown option, a missing or malformed argument, or an unreadable file
stops clamd with a message naming the option or line.
.SH VALUE KINDS
.TP
.B BOOL
.BR yes ", " no ", " true ", " false ", " 1 " or " 0 ,
in any case.
.TP
.B NUMBER
Decimal digits only.
.TP
.B SIZE
Decimal digits, optionally followed by
.BR K ", " M " or " G
(any case) for kibibytes, mebibytes or gibibytes.
For limits, 0 means no limit.
.TP
.B STRING
Any text; paths must be absolute.
.TP
.B REGEX
A POSIX extended regular expression, matched anywhere in the full path.
.TP
.B CHOICE
One of the listed words, in any case.
.TP
.B DEPRECATED
Accepted for old files, with a warning, and otherwise ignored.
""".strip()

_EPILOGUE = r"""
.SH FILES
.I /etc/clamav/clamd.conf
.SH SEE ALSO
.BR clamd (8),
.BR clamdscan (1),
.BR clamscan (1)
""".strip()


def _size(value: int) -> str:
    for factor, suffix in _SUFFIXES:
        if value % factor == 0:
            return f"{value // factor}{suffix}"
    return str(value)


def _default(option: Option) -> str:
    value = option.default
    if option.kind is OptionKind.DEPRECATED:
        return ""
    if value is None or value == ():
        return "unset"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if option.kind is OptionKind.SIZE and isinstance(value, int):
        return _size(value)
    return str(value)


def _entry(option: Option) -> list[str]:
    kind = option.kind.value
    if option.choices:
        kind += " (" + ", ".join(option.choices) + ")"
    notes = []
    if option.repeatable:
        notes.append("Repeatable.")
    default = _default(option)
    if default:
        notes.append(f"Default: {default}.")
    if option.alias_of:
        notes.append(
            f"Replaced by {option.alias_of}; takes effect only when set to the "
            "opposite of its default."
        )
    if option.since:
        notes.append(f"New in ClamAV {option.since}; older clamd rejects it.")
    if not option.acted_on and option.kind is not OptionKind.DEPRECATED:
        notes.append("Accepted, but clamkit does not act on it.")
    return [
        ".TP",
        f'.BR {option.name} " " {escape(kind)}',
        escape(option.help),
        *(line for note in notes for line in (".br", escape(note))),
    ]


def render_manpage() -> str:
    lines = [
        f'.TH CLAMD.CONF 5 "" "clamkit {__version__}" "File formats"',
        _PREAMBLE,
        ".SH OPTIONS",
    ]
    for group in GROUPS:
        lines.append(f".SS {group}")
        for option in OPTIONS:
            if option.group == group:
                lines.extend(_entry(option))
    lines.append(_EPILOGUE)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_manpage())
