"""Reading clamd.conf into a typed, immutable ``Config``, exactly as clamd 1.4 reads it.

Strategy: the file is cut into the pieces clamd's line reader sees (a line,
or 1023-byte slices of a longer one, each counted as a line), and every piece
goes through the same steps as in clamd, in clamd's order, so that the same
bad file fails with the same message: leading blanks dropped, pieces of two
bytes or less and ``#`` comments skipped, ``Example`` refused, the name split
from its argument at the first blank, a double-quoted argument unquoted, the
name looked up (case matters), the argument converted by its kind.  A name
given twice keeps its first value (the second is still checked), except for
repeatable options, which collect every value.  Error texts and the warning
texts printed while parsing are clamd's, since scripts and users match them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from clamkit.config.options import BY_NAME, OPTIONS, Option, OptionKind

# clamd reads lines with a 1024-byte buffer: longer lines arrive in pieces.
_LINE_BUFFER = 1024
# Sizes are C long longs: larger values are clamped, with a warning.  A size of
# 0 means "no limit", which clamd stores as this same largest value.
SIZE_UNLIMITED = 2**63 - 1
_BLANKS = " \t"
_SIZE = re.compile(r"([0-9]+)([kKmMgG]?)")
_MULTIPLIERS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_TRUE = frozenset({"yes", "true", "1"})
_FALSE = frozenset({"no", "false", "0"})


class ConfigError(Exception):
    """A configuration clamd would refuse.

    ``str()`` is what clamd 1.4 prints on stderr before exiting with status 1
    (warnings printed earlier in the same parse included), without the final
    newline.
    """

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = tuple(lines)


class _BadArgument(ValueError):
    """An argument its option's kind does not accept."""


@dataclass(frozen=True)
class Config:
    """Option values by name; unset options hold their default.

    Values: bool (BOOL), int (NUMBER, or bytes for SIZE), str or None (STRING,
    REGEX, CHOICE), a tuple for repeatable options, None for deprecated ones.
    ``warnings`` are the lines clamd prints on stderr while parsing (with
    their ``WARNING: `` prefix).
    """

    path: str
    values: Mapping[str, object]
    explicit: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> object:
        return self.values[_known(name).name]

    def flag(self, name: str) -> bool:
        value = self[name]
        assert isinstance(value, bool), name
        return value

    def number(self, name: str) -> int:
        value = self[name]
        assert isinstance(value, int) and not isinstance(value, bool), name
        return value

    def text(self, name: str) -> str | None:
        value = self[name]
        assert value is None or isinstance(value, str), name
        return value

    def every(self, name: str) -> tuple[str, ...]:
        value = self[name]
        assert isinstance(value, tuple), name
        return value

    def replace(self, **overrides: object) -> Config:
        """A copy with some values set (command-line overrides); they count as explicit."""
        for name in overrides:
            _known(name)
        return Config(
            self.path,
            MappingProxyType({**self.values, **overrides}),
            self.explicit | frozenset(overrides),
            self.warnings,
        )


def _known(name: str) -> Option:
    option = BY_NAME.get(name)
    if option is None:
        raise KeyError(f"no clamd.conf option named {name!r}")
    return option


def default_config(path: str = "") -> Config:
    return Config(path, MappingProxyType({option.name: option.default for option in OPTIONS}))


def load_config(path: str) -> Config:
    """Read and parse the file at ``path``; ConfigError if it cannot be opened or is invalid."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except IsADirectoryError:
        # clamd opens a directory without complaint and reads no lines from it.
        data = b""
    except (OSError, ValueError):  # ValueError: a NUL in the path
        raise ConfigError([_cannot_parse(path)]) from None
    return _parse(data, path)


def parse_config(text: str, path: str) -> Config:
    """Parse clamd.conf text; ``path`` is only used in messages."""
    return _parse(os.fsencode(text), path)


def _cannot_parse(path: str) -> str:
    return f"ERROR: Can't open/parse the config file {path}"


def _pieces(data: bytes) -> Iterator[bytes]:
    """What clamd's line reader returns, one call at a time."""
    start, end = 0, len(data)
    while start < end:
        newline = data.find(b"\n", start, start + _LINE_BUFFER - 1)
        stop = newline + 1 if newline >= 0 else min(end, start + _LINE_BUFFER - 1)
        # C strings end at the first NUL.
        yield data[start:stop].split(b"\0", 1)[0]
        start = stop


def _parse(data: bytes, path: str) -> Config:
    values = {option.name: option.default for option in OPTIONS}
    explicit: set[str] = set()
    warnings: list[str] = []

    def fail(message: str) -> ConfigError:
        return ConfigError([*warnings, f"ERROR: {message}", _cannot_parse(path)])

    for number, raw in enumerate(_pieces(data), start=1):
        piece = os.fsdecode(raw).lstrip(_BLANKS)
        if len(piece) <= 2 or piece.startswith("#"):
            continue
        if piece.startswith("Example"):
            raise fail(f"Please edit the example config file {path}")
        line = piece.rstrip(_BLANKS + "\n")
        blank = next((i for i, char in enumerate(line) if char in _BLANKS), -1)
        if blank < 0:
            raise fail(f"Missing argument for option at {path}:{number}")
        name, argument = line[:blank], line[blank:].lstrip(_BLANKS)
        if argument.startswith('"'):
            closing = argument.find('"', 1)
            if closing < 0:
                raise fail(f"Missing closing parenthesis in option {name} at {path}:{number}")
            argument = argument[1:closing]
            if not argument:
                raise fail(f"Empty argument for option {name} at {path}:{number}")
        option = BY_NAME.get(name)
        if option is None:
            raise fail(f"Parse error at {path}:{number}: Unknown option {name}")
        first = name not in explicit
        explicit.add(name)
        if option.kind is OptionKind.DEPRECATED:
            warnings.append(f"WARNING: Ignoring deprecated option {name} at {path}:{number}")
            continue
        try:
            value = _CONVERTERS[option.kind](option, argument, warnings)
        except _BadArgument:
            raise fail(f"Incorrect argument format for option {name}") from None
        if option.repeatable:
            values[name] = (*values[name], value)  # type: ignore[misc]
        elif first:
            values[name] = value
    return Config(path, MappingProxyType(values), frozenset(explicit), tuple(warnings))


def _boolean(option: Option, argument: str, warnings: list[str]) -> bool:
    lowered = argument.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _BadArgument(argument)


def _number(option: Option, argument: str, warnings: list[str]) -> int:
    """A C int, as clamd keeps it: saturated to a long, then cut to 32 bits (wrapping)."""
    if not argument.isascii() or not argument.isdigit():
        raise _BadArgument(argument)
    value = min(int(argument), SIZE_UNLIMITED)
    return (value + 2**31) % 2**32 - 2**31


def _size(option: Option, argument: str, warnings: list[str]) -> int:
    match = _SIZE.fullmatch(argument)
    if match is None:
        raise _BadArgument(argument)
    value = int(match[1]) * _MULTIPLIERS[match[2].lower()]
    if value > SIZE_UNLIMITED:
        warnings.append(
            f"WARNING: Numerical value for option {option.name} too high, "
            f"resetting to {SIZE_UNLIMITED}"
        )
    return min(value, SIZE_UNLIMITED) or SIZE_UNLIMITED


def _string(option: Option, argument: str, warnings: list[str]) -> str:
    return argument


def _choice(option: Option, argument: str, warnings: list[str]) -> str:
    """Matched in any case and kept as written, like clamd."""
    if argument.lower() not in {choice.lower() for choice in option.choices}:
        raise _BadArgument(argument)
    return argument


_CONVERTERS: dict[OptionKind, Callable[[Option, str, list[str]], object]] = {
    OptionKind.BOOL: _boolean,
    OptionKind.NUMBER: _number,
    OptionKind.SIZE: _size,
    OptionKind.STRING: _string,
    OptionKind.REGEX: _string,
    OptionKind.CHOICE: _choice,
}


def unacted_warnings(config: Config) -> list[str]:
    """One log line per option the file sets that clamkit parses but does not act on."""
    return [
        f"Option {option.name} is accepted but has no effect in clamkit"
        for option in OPTIONS
        if option.name in config.explicit
        and not option.acted_on
        and option.kind is not OptionKind.DEPRECATED
    ]
