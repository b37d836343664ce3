"""Evaluation of logical signatures: expressions, byte compares and PCREs.

Strategy: everything here follows what the reference does once the body
matcher has counted each subsignature's matches for one scanned view.

- ``evaluate`` works on those counts.  A bare index is true when its count is
  non-zero; ``N op X`` compares that count (and marks N as contributing even
  when X is 0).  ``&``/``|`` combine truth values; a true node carries the sum
  of the counts of its true operands and the set of subsignatures that
  contributed, a false one carries nothing.  A group modifier ``(...) op X,Y``
  compares that sum, requires at least Y contributing subsignatures, and hands
  the sum (but not the set) on to its parent.
- ``byte_compare_matches`` reads a number at a distance from the start of the
  trigger subsignature's last counted match.
- ``pcre_matches`` runs the translated regex over the window its offset
  allows and counts matches (all of them with the ``g`` flag, else the first).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from clamkit.engine.bodyregex import Buffer
from clamkit.signatures.bytecompare import read_number
from clamkit.signatures.expression import expression_indexes
from clamkit.signatures.model import (
    ByteCompareSubsignature,
    Count,
    Expression,
    OffsetKind,
    Or,
    PcreSubsignature,
    SubRef,
)

__all__ = [
    "byte_compare_matches",
    "count_limit",
    "evaluate",
    "pcre_matches",
    "required_subsignatures",
    "true_without_matches",
]


def evaluate(expression: Expression, counts: Sequence[int]) -> bool:
    """Whether ``expression`` holds when subsignature ``i`` matched ``counts[i]`` times."""
    return _truth(expression, counts)


def true_without_matches(expression: Expression) -> bool:
    """Whether ``expression`` holds although no subsignature matched (e.g. ``0=0``)."""
    return _truth(expression, [0] * (max(expression_indexes(expression)) + 1))


def _compare(count: int, operator: str, value: int) -> bool:
    if operator == "=":
        return count == value
    if operator == ">":
        return count > value
    return count < value


def _truth(node: Expression, counts: Sequence[int]) -> bool:
    kind = type(node)
    if kind is SubRef:
        return counts[node.index] > 0  # type: ignore[union-attr]
    if kind is Count:
        return _detail(node, counts) is not None
    if kind is Or:
        return any(_truth(operand, counts) for operand in node.operands)  # type: ignore[union-attr]
    return all(_truth(operand, counts) for operand in node.operands)  # type: ignore[union-attr]


def _detail(node: Expression, counts: Sequence[int]) -> tuple[int, int] | None:
    """(summed count, bitmask of contributing subsignatures) when true, else None."""
    if isinstance(node, SubRef):
        count = counts[node.index]
        return (count, 1 << node.index) if count else None
    if isinstance(node, Count):
        operand = node.operand
        if isinstance(operand, SubRef):
            count = counts[operand.index]
            if _compare(count, node.operator, node.value):
                return count, 1 << operand.index
            return None
        total, contributors = _detail(operand, counts) or (0, 0)
        if not _compare(total, node.operator, node.value):
            return None
        if node.distinct and contributors.bit_count() < node.distinct:
            return None
        return total, 0
    parts = [_detail(operand, counts) for operand in node.operands]
    true_parts = [part for part in parts if part is not None]
    if not true_parts or (not isinstance(node, Or) and len(true_parts) < len(parts)):
        return None
    total = sum(part[0] for part in true_parts)
    contributors = 0
    for part in true_parts:
        contributors |= part[1]
    return total, contributors


def byte_compare_matches(
    sub: ByteCompareSubsignature, data: Buffer, trigger_starts: Sequence[int]
) -> bool:
    """Whether the comparison holds at the trigger's last counted match.

    ``trigger_starts`` are the start offsets of the trigger's counted matches in
    the order they were counted; the reference reads relative to the last one.
    """
    if not trigger_starts or not sub.comparisons:
        return False
    start = trigger_starts[-1] + sub.offset
    # The reference refuses a field at offset 0 as well as one past the end.
    if start <= 0 or start + sub.length > len(data):
        return False
    value = read_number(sub, bytes(data[start : start + sub.length]))
    if value is None:
        return False
    return all(_compare(value, c.operator, c.value) for c in sub.comparisons)


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: bytes, flags: int) -> re.Pattern[bytes]:
    return re.compile(pattern, flags)


def pcre_matches(
    sub: PcreSubsignature, data: Buffer, trigger_fired: bool, *, eof_resolves: bool = True
) -> int:
    """How many times the PCRE matches ``data`` (0 when its trigger did not fire).

    The offset picks where matching starts: ``*`` searches the whole buffer, an
    absolute or ``EOF-n`` offset anchors the regex there unless it has a
    ``,maxshift`` window or the ``r`` flag; with a window, matches starting
    past it are dropped, and with ``e`` the subject ends at the window's end.
    Offsets relative to an executable's layout never match here, as in the
    reference on files it could not parse as executables; neither do
    ``EOF-n`` offsets when ``eof_resolves`` is false (such a file).
    """
    if not trigger_fired or sub.python_regex is None:
        return 0
    length = len(data)
    offset = sub.offset
    shift = offset.maxshift or 0
    if offset.kind is OffsetKind.ANY:
        start = 0
    elif offset.kind is OffsetKind.ABSOLUTE:
        start = offset.value
    elif offset.kind is OffsetKind.EOF and eof_resolves:
        start = length - offset.value
    else:
        return 0
    if start < 0 or start >= length:
        return 0
    anchored = "A" in sub.flags or (
        offset.kind is not OffsetKind.ANY and not sub.rolling and not shift
    )
    end = min(start + shift, length) if sub.encompass and shift else length
    subject = memoryview(data)[start:end]
    regex = _compiled(sub.python_regex, sub.python_flags)
    find = regex.match if anchored else regex.search
    repeat = "g" in sub.flags
    found = 0
    position = 0
    while True:
        match = find(subject, position)
        if match is None or (shift and not sub.encompass and match.start() > shift):
            break
        found += 1
        # An empty match would loop forever in the reference; stop instead.
        if not repeat or match.end() >= len(subject) or match.end() == match.start():
            break
        position = match.end()
    return found


def required_subsignatures(expression: Expression) -> frozenset[int]:
    """Subsignatures that must have matched for ``expression`` to hold.

    The scanner skips evaluating a signature while any of these is missing,
    which is what keeps a file with thousands of partly-matching signatures
    cheap.  The answer errs on the side of the empty set.
    """
    if isinstance(expression, SubRef):
        return frozenset({expression.index})
    if isinstance(expression, Count):
        needs_one = expression.operator == ">" or (
            expression.operator == "=" and expression.value > 0
        )
        return required_subsignatures(expression.operand) if needs_one else frozenset()
    parts = [required_subsignatures(operand) for operand in expression.operands]
    if isinstance(expression, Or):
        return frozenset.intersection(*parts)
    return frozenset.union(*parts)


def count_limit(expression: Expression) -> int:
    """How many matches of a subsignature can make a difference to ``expression``.

    Counting past the largest number any condition compares with (plus one)
    changes no verdict, so the scanner stops counting there.
    """
    if isinstance(expression, SubRef):
        return 1
    if isinstance(expression, Count):
        return max(expression.value + 1, count_limit(expression.operand))
    return max(count_limit(operand) for operand in expression.operands)
