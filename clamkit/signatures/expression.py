"""Logical expressions of .ldb signatures and PCRE triggers: text -> model.Expression.

Strategy: the reference does not use a conventional precedence grammar, and
its grouping decides what a count modifier sees, so this parser reproduces its
observable rules rather than inventing tidier ones:

- ``&`` and ``|`` have equal precedence.  Outside parentheses the *first*
  operator splits the text (``0&1|2`` is ``0&(1|2)``); directly inside a
  parenthesised group the *last* one does (``(0&1|2)`` is ``(0&1)|2``).
- A modifier ``=X``, ``>X``, ``<X`` (optionally ``,Y``) applies either to a
  bare subsignature index or to a parenthesised group that contains an
  operator; ``(0)>1`` and ``((0|1))>1`` are syntax errors.  On a bare index the
  reference ignores ``,Y``, so the parsed tree drops it.
- Numbers are read like C's ``%u``: leading blanks, an optional sign (a
  negative value wraps to a huge unsigned one) and trailing text after an
  index are tolerated (``0x`` is index 0), because the reference loads such
  lines.

Binary nodes are flattened into n-ary ``And``/``Or`` where that cannot change
the value (no count modifier in between).  Errors raise ``SignatureError``.
"""

from __future__ import annotations

import functools

from clamkit.signatures.model import And, Count, Expression, Or, SignatureError, SubRef, is_decimal

__all__ = ["expression_indexes", "parse_expression"]

_MODIFIERS = "=<>"
_UINT_MODULUS = 1 << 32


def parse_expression(
    text: str, subsignature_count: int, *, all_counted: bool = False
) -> Expression:
    """Parse ``text``; every referenced index must be below ``subsignature_count``.

    With ``all_counted`` (a signature's own expression) the highest index must
    also be the last subsignature, as the reference demands.
    """
    expression, highest = _parse_cached(text)
    if highest >= subsignature_count:
        raise SignatureError(
            f"logical expression {text!r} refers to subsignature {highest} "
            f"but only {subsignature_count} precede it"
        )
    if all_counted and highest + 1 != subsignature_count:
        raise SignatureError(
            f"{subsignature_count} subsignatures given but the expression {text!r} "
            f"refers up to subsignature {highest}"
        )
    return expression


def expression_indexes(expression: Expression) -> set[int]:
    """Every subsignature index the expression refers to."""
    if isinstance(expression, SubRef):
        return {expression.index}
    if isinstance(expression, Count):
        return expression_indexes(expression.operand)
    indexes: set[int] = set()
    for operand in expression.operands:
        indexes |= expression_indexes(operand)
    return indexes


def _scan_uint(text: str) -> tuple[int, int] | None:
    """C ``%u``: (value, characters consumed) or None when no digits follow."""
    position = 0
    while position < len(text) and text[position] in " \t\n\v\f\r":
        position += 1
    negative = position < len(text) and text[position] == "-"
    if position < len(text) and text[position] in "+-":
        position += 1
    start = position
    while position < len(text) and is_decimal(text[position]):
        position += 1
    if position == start:
        return None
    value = int(text[start:position])
    return (-value if negative else value) % _UINT_MODULUS, position


@functools.lru_cache(maxsize=65536)
def _parse_cached(text: str) -> tuple[Expression, int]:
    # Real databases repeat a few thousand expressions; the trees are immutable.
    expression = _parse(text)
    return expression, max(expression_indexes(expression))


def _parse(text: str) -> Expression:
    if not text:
        raise SignatureError("empty logical expression")
    depth = 0
    operator_at = -1  # first '&'/'|' outside parentheses
    group_operator_at = -1  # last '&'/'|' directly inside a top-level group
    group_end = -1
    modifier_at = -1  # last ')', '=', '<' or '>' seen
    group_modifier: tuple[str, int, int] | None = None
    position = 0
    while position < len(text):
        char = text[position]
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                raise SignatureError(f"unbalanced ')' in logical expression {text!r}")
            depth -= 1
            modifier_at = position
        elif char in _MODIFIERS:
            modifier_at = position
        elif char in "&|":
            if depth == 0:
                operator_at = position
                break
            if depth == 1:
                group_operator_at = position
        if group_operator_at >= 0 and depth == 0:
            group_end = position
            group_modifier, position = _group_modifier(text, position)
            if position + 1 == len(text):
                break
            group_modifier = None
        position += 1
    if depth:
        raise SignatureError(f"unbalanced '(' in logical expression {text!r}")

    if operator_at < 0 and group_operator_at < 0:
        if text[0] == "(":
            return _parse(text[1:-1])
        return _leaf(text, modifier_at)

    if operator_at >= 0:
        left, right = text[:operator_at], text[operator_at + 1 :]
        symbol = text[operator_at]
    else:
        left, right = text[1:group_operator_at], text[group_operator_at + 1 : group_end]
        symbol = text[group_operator_at]
    if not left:
        raise SignatureError(f"operator {symbol!r} has no left operand in {text!r}")
    if not right:
        raise SignatureError(f"operator {symbol!r} has no right operand in {text!r}")
    node = _combine(symbol, _parse(left), _parse(right))
    if group_modifier is not None:
        operator, value, distinct = group_modifier
        return Count(node, operator, value, distinct or None)
    return node


def _group_modifier(text: str, close: int) -> tuple[tuple[str, int, int] | None, int]:
    """Read ``=X[,Y]`` after a group closing at ``close``; returns it and where it ends."""
    if close + 1 >= len(text) or text[close + 1] not in _MODIFIERS:
        return None, close
    operator = text[close + 1]
    first = _scan_uint(text[close + 2 :])
    if first is None:
        raise SignatureError(f"missing number after {operator!r} in logical expression {text!r}")
    value, used = first
    distinct = 0
    rest = text[close + 2 + used :]
    if rest.startswith(","):
        second = _scan_uint(rest[1:])
        if second is not None:
            distinct = second[0]
    end = close + 2
    # Like the reference, skip the digits and commas after the first character.
    while end + 1 < len(text) and (is_decimal(text[end + 1]) or text[end + 1] == ","):
        end += 1
    return (operator, value, distinct), end


def _leaf(text: str, modifier_at: int) -> Expression:
    scanned = _scan_uint(text)
    if scanned is None:
        raise SignatureError(f"cannot parse {text!r} as a subsignature index")
    reference = SubRef(scanned[0])
    if modifier_at < 0:
        return reference
    operator = text[modifier_at]
    if operator == ")":
        # The reference loads e.g. '0()1' as a modifier that never holds;
        # such text is a typo, so it is refused here.
        raise SignatureError(f"stray parenthesis in logical expression {text!r}")
    value = _scan_uint(text[modifier_at + 1 :])
    if value is None:
        raise SignatureError(f"missing number after {operator!r} in logical expression {text!r}")
    # A bare index ignores ',Y' in the reference: exactly X matches of one
    # subsignature says everything.
    return Count(reference, operator, value[0])


def _combine(symbol: str, left: Expression, right: Expression) -> Expression:
    kind = And if symbol == "&" else Or
    operands: list[Expression] = []
    for side in (left, right):
        if isinstance(side, kind):
            operands.extend(side.operands)
        else:
            operands.append(side)
    return kind(tuple(operands))
