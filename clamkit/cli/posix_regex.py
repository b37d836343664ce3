"""The reference's --exclude/--include patterns: POSIX extended regular
expressions as ClamAV's own matcher reads them, translated to Python's.

Strategy: the pattern is rewritten once, character by character, into
Python's syntax: bracket classes (``[[:digit:]]``) become ranges, ``\\<`` and
``\\>`` word boundaries, any other escaped character the character itself
(``\\d`` is the letter d, as the reference has it), a backslash inside
brackets a backslash; what the reference's matcher refuses (an unknown
class, an unclosed bracket, a trailing backslash) and what Python refuses
(``a**``, ``+a``: refused by both) leaves a pattern that matches nothing,
as the reference's does.  Matching is ASCII, as the reference's.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pattern:
    """An --exclude/--include regex, POSIX extended as the reference reads
    it.  The reference's matcher: a pattern ending with "/" is matched
    against the name with "/" appended; a pattern that does not compile
    matches nothing."""

    text: str
    regex: re.Pattern[str] | None

    def matches(self, name: str) -> bool:
        if self.regex is None:
            return False
        return self.regex.search(name + "/" if self.text.endswith("/") else name) is not None


# POSIX bracket classes, as Python set contents (ASCII, as the reference's matcher).
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}
# \< and \> are word boundaries; any other escaped character stands for itself.
_WORD_START, _WORD_END = r"\b(?=\w)", r"\b(?<=\w)"


class _BadRegex(Exception):
    """A POSIX pattern the reference's matcher would not compile."""


def _bracket(text: str, start: int) -> tuple[str, int]:
    """The POSIX bracket expression at ``text[start]`` ("[") as a Python set, and where it ends."""
    position = start + 1
    parts = ["["]
    if text[position : position + 1] == "^":
        parts.append("^")
        position += 1
    first = True
    while position < len(text):
        char = text[position]
        if char == "]" and not first:
            return "".join(parts) + "]", position + 1
        first = False
        if text.startswith("[:", position):
            end = text.find(":]", position + 2)
            name = text[position + 2 : end] if end >= 0 else ""
            if name not in _POSIX_CLASSES:
                raise _BadRegex(text)
            parts.append(_POSIX_CLASSES[name])
            position = end + 2
            continue
        # Backslash and "[" are ordinary inside brackets.
        parts.append("\\" + char if char in "\\[" else char)
        position += 1
    raise _BadRegex(text)


def _python_regex(text: str) -> str:
    """A POSIX extended regular expression (the reference's dialect) in Python's syntax."""
    parts = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "[":
            bracket, position = _bracket(text, position)
            parts.append(bracket)
            continue
        if char == "\\":
            if position + 1 == len(text):
                raise _BadRegex(text)
            escaped = text[position + 1]
            special = {"<": _WORD_START, ">": _WORD_END}
            parts.append(special.get(escaped) or re.escape(escaped))
            position += 2
            continue
        parts.append(char)
        position += 1
    return "".join(parts)


def _compile(text: str) -> re.Pattern[str] | None:
    """The pattern compiled, or None (matching nothing) where the reference's fails."""
    try:
        with warnings.catch_warnings():
            # Python warns about set syntax it may adopt; POSIX has none of it.
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(_python_regex(text), re.ASCII)
    except (_BadRegex, re.error):
        return None


def patterns(texts: Sequence[str] | None) -> tuple[Pattern, ...]:
    """The patterns of a repeatable option (None: not given)."""
    return tuple(Pattern(text, _compile(text)) for text in texts or ())


def excluded(name: str, exclude: Sequence[Pattern], include: Sequence[Pattern]) -> bool:
    """Whether --exclude-style patterns leave ``name`` out: one of ``exclude``
    matches, or ``include`` has patterns and none matches."""
    if any(pattern.matches(name) for pattern in exclude):
        return True
    return bool(include) and not any(pattern.matches(name) for pattern in include)
