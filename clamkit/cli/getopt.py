"""ClamAV's command-line syntax in front of typer, shared by clamscan, clamd and clamdscan.

Strategy: each command declares its options to typer once (names, value,
help); ``option_specs`` reads them back, ``canonical_argv`` parses a command
line with getopt_long's rules and ClamAV's (option after paths, unique
prefixes, grouped short options, ``--switch=no``, its exact messages) into
tokens typer reads unambiguously, and ``run_command`` ties the two together.
The same specs feed the help texts, man pages and shell completions.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import typer

from clamkit.cli.output import CANNOT_PARSE_OPTIONS, MISSING_ARGUMENT, UNKNOWN_OPTION

# How the help text names a size or number option's value; such values are
# checked by the command, so an empty one is a format error as in the reference.
SIZE_METAVAR = "#n"

# Values ClamAV's option parser accepts for a switch written as --switch=VALUE.
_TRUE_WORDS = frozenset({"yes", "true", "1"})
_FALSE_WORDS = frozenset({"no", "false", "0"})


class UsageError(Exception):
    """A command line the reference would refuse; ``lines`` go to stderr as they are."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[-1])
        self.lines = lines


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option as the command declares it to typer."""

    long: str
    short: str | None
    takes_value: bool
    metavar: str
    help: str
    # For a switch that is on by default: the typer option that turns it off
    # (``--no-scan-pe`` for ``--scan-pe``), what ``--scan-pe=no`` becomes.
    off: str | None = None

    @property
    def shown(self) -> str:
        """How ClamAV names an option in its messages: ``--recursive (-r)``."""
        return f"{self.long} ({self.short})" if self.short else self.long


def option_specs(command: object) -> tuple[OptionSpec, ...]:
    """The options of a typer-built command, read from its parameters."""
    specs = []
    for param in getattr(command, "params", ()):
        if param.param_type_name != "option":
            continue
        long_name = next(name for name in param.opts if name.startswith("--"))
        short = next((name for name in param.opts if not name.startswith("--")), None)
        off = param.secondary_opts[0] if param.is_flag and param.secondary_opts else None
        specs.append(
            OptionSpec(
                long_name, short, not param.is_flag, param.metavar or "", param.help or "", off
            )
        )
    return tuple(specs)


def _unknown_option(program: str, text: str) -> UsageError:
    return UsageError(
        f"{program}: {text}", f"ERROR: {UNKNOWN_OPTION}", f"ERROR: {CANNOT_PARSE_OPTIONS}"
    )


def _missing_argument(program: str, text: str) -> UsageError:
    return UsageError(
        f"{program}: {text}", f"ERROR: {MISSING_ARGUMENT}", f"ERROR: {CANNOT_PARSE_OPTIONS}"
    )


def _find_long(name: str, specs: Sequence[OptionSpec], program: str) -> OptionSpec:
    """The option ``--name`` stands for: exact, or the one it is a prefix of (getopt_long)."""
    exact = [spec for spec in specs if spec.long == name]
    matches = exact or [spec for spec in specs if spec.long.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise _unknown_option(program, f"option `{name}' is ambiguous")
    raise _unknown_option(program, f"unrecognized option `{name}'")


def _value_token(spec: OptionSpec, value: str) -> str:
    if not value and spec.metavar != SIZE_METAVAR:
        raise UsageError(
            f"ERROR: Option {spec.shown} requires a non-empty string argument",
            f"ERROR: {CANNOT_PARSE_OPTIONS}",
        )
    return f"{spec.long}={value}"


def _switch_is_on(spec: OptionSpec, value: str) -> bool:
    if value.lower() in _TRUE_WORDS:
        return True
    if value.lower() in _FALSE_WORDS:
        return False
    raise UsageError(
        f"ERROR: Incorrect argument format for option {spec.shown}",
        f"ERROR: {CANNOT_PARSE_OPTIONS}",
    )


def canonical_argv(argv: Sequence[str], specs: Sequence[OptionSpec], program: str) -> list[str]:
    """Parse ``argv`` with getopt_long's rules and ClamAV's, and return tokens
    typer reads unambiguously: ``--long`` or ``--long=value``, then ``--`` and
    the paths.

    Like GNU getopt, options may follow paths; unique prefixes of long
    options are accepted; short options may be grouped (``-ri``) and take
    their value attached (``-dFILE``) or as the next argument.  A switch
    given as ``--switch=no`` is left out, which keeps it at its default (off),
    or becomes the switch's ``off`` option when it is on by default.
    """
    by_short = {spec.short: spec for spec in specs if spec.short}
    options: list[str] = []
    paths: list[str] = []
    rest = list(argv)
    while rest:
        token = rest.pop(0)
        if token == "--":
            paths += rest
            break
        if token.startswith("--"):
            name, equals, value = token.partition("=")
            spec = _find_long(name, specs, program)
            if spec.takes_value:
                if not equals:
                    if not rest:
                        raise _missing_argument(
                            program, f"option `{spec.long}' requires an argument"
                        )
                    value = rest.pop(0)
                options.append(_value_token(spec, value))
            elif not equals or _switch_is_on(spec, value):
                options.append(spec.long)
            elif spec.off:
                options.append(spec.off)
        elif token.startswith("-") and token != "-":
            for position in range(1, len(token)):
                spec = by_short.get("-" + token[position])
                if spec is None:
                    raise _unknown_option(program, f"illegal option -- {token[position]}")
                if not spec.takes_value:
                    options.append(spec.long)
                    continue
                value = token[position + 1 :]
                if not value:
                    if not rest:
                        raise _missing_argument(
                            program, f"option requires an argument -- {token[position]}"
                        )
                    value = rest.pop(0)
                options.append(_value_token(spec, value))
                break
        else:
            paths.append(token)
    return [*options, "--", *paths]


def program_name(default: str) -> str:
    """What getopt calls the program: argv[0], or ``default`` under ``python -m``."""
    argv0 = sys.argv[0] if sys.argv else ""
    return default if not argv0 or argv0.endswith(".py") or argv0 == "-m" else argv0


def run_command(app: typer.Typer, argv: Sequence[str], name: str, usage_status: int) -> int:
    """Run a typer app on a ClamAV-style command line; ``usage_status`` on a usage error."""
    command = typer.main.get_command(app)
    try:
        tokens = canonical_argv(argv, option_specs(command), program_name(name))
        return int(command.main(tokens, prog_name=name, standalone_mode=False))
    except UsageError as error:
        for line in error.lines:
            sys.stderr.write(line + "\n")
        return usage_status
