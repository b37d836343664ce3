"""Build inputs that a signature should match (and near misses that it should not).

Used by the parity tests against the reference: the reference is the oracle,
so a synthesised input that fails to match is no error by itself; what
matters is that clamkit and the reference agree on it.
"""

from __future__ import annotations

from clamkit.signatures.model import (
    Alternatives,
    BodySubsignature,
    BoundaryMark,
    Count,
    Expression,
    Gap,
    Literal,
    LogicalSignature,
    Masked,
    Pattern,
    SubRef,
)

# Gap filler: a byte that is neither a word character nor a line end.
FILLER = b"."


def _element_bytes(element: Literal | Masked) -> bytes:
    if isinstance(element, Literal):
        return element.data
    # Keep the fixed bits, fill the free ones with a printable choice.
    free = ~element.mask & 0xFF
    return bytes([(element.value & element.mask) | (ord("A") & free)])


def _option_bytes(option: tuple[Literal | Masked, ...]) -> bytes:
    return b"".join(_element_bytes(element) for element in option)


def _negated(group: Alternatives) -> bytes:
    options = {_option_bytes(option) for option in group.options}
    width = len(next(iter(options)))
    for value in range(0x20, 0x100):
        candidate = bytes([value]) * width
        if candidate not in options:
            return candidate
    return b"\x00" * width


def pattern_bytes(pattern: Pattern) -> bytes:
    """The shortest plain reading of ``pattern``: gaps at their minimum, first options."""
    out = bytearray()
    for element in pattern.elements:
        if isinstance(element, Literal | Masked):
            out += _element_bytes(element)
        elif isinstance(element, Gap):
            out += FILLER * element.min
        elif isinstance(element, Alternatives):
            out += _negated(element) if element.negated else _option_bytes(element.options[0])
        elif isinstance(element, BoundaryMark):
            out += b" "
    return bytes(out)


def near_miss(data: bytes, pattern: Pattern) -> bytes | None:
    """``data`` with one byte of the pattern's longest literal changed."""
    literals = [e.data for e in pattern.elements if isinstance(e, Literal)]
    if not literals:
        return None
    longest = max(literals, key=len)
    at = data.find(longest)
    if at < 0:
        return None
    position = at + len(longest) // 2
    return data[:position] + bytes([data[position] ^ 0x5A]) + data[position + 1 :]


def _repetitions(expression: Expression, wanted: dict[int, int]) -> None:
    """How often each subsignature should occur to satisfy count conditions."""
    if isinstance(expression, SubRef):
        wanted.setdefault(expression.index, 1)
    elif isinstance(expression, Count):
        if isinstance(expression.operand, SubRef):
            needed = {
                "=": expression.value,
                ">": expression.value + 1,
                "<": max(expression.value - 1, 1),
            }[expression.operator]
            wanted[expression.operand.index] = max(needed, 1)
        else:
            _repetitions(expression.operand, wanted)
    else:
        for operand in expression.operands:
            _repetitions(operand, wanted)


def logical_bytes(signature: LogicalSignature, separator: bytes = b"\n..\n") -> bytes:
    """Every body subsignature's reading, repeated as count conditions ask."""
    wanted: dict[int, int] = {}
    _repetitions(signature.expression, wanted)
    parts = []
    for index, sub in enumerate(signature.subsignatures):
        if isinstance(sub, BodySubsignature):
            reading = pattern_bytes(sub.pattern)
            if sub.modifiers.wide:
                reading = b"".join(bytes([byte, 0]) for byte in reading)
            parts.extend([reading] * wanted.get(index, 1))
    return separator.join(parts)
