"""Byte-compare subsignatures ``Trigger(Offset#Options#Comparisons)``.

Strategy: ``parse_byte_compare`` turns the text into a
``ByteCompareSubsignature``; ``read_number`` extracts the number from the
bytes found at that position, so parsing and reading stay next to each other.

Syntax, as the reference accepts it:

- ``Trigger`` is a decimal subsignature index (at most 64).
- ``Offset`` is ``>>n`` (after the trigger's start), ``<<n`` (before it), or
  ``0``/empty; ``n`` is read like C's ``strtol(..., 0)`` (``0x1f`` hex, ``017``
  octal).
- ``Options`` is ``[h|d|a|i][l|b][e]length``: hex, decimal, auto (``0x``
  prefix means hex) or raw binary integer; little or big endian (decimal is
  big endian only); ``e`` demands exactly ``length`` characters.  Binary
  lengths are 1, 2, 4 or 8; hex lengths at most 18.
- ``Comparisons`` is one or two of ``<v``, ``>v``, ``=v`` joined by ``,``; all
  must hold.

Options the reference loads but can never evaluate (hex or binary without an
endianness, no number type at all) are kept with no comparisons: such a
subsignature never matches, as in the reference.
"""

from __future__ import annotations

from clamkit.signatures.model import (
    ByteCompareBase,
    ByteCompareSubsignature,
    ByteComparison,
    SignatureError,
    is_decimal,
)

__all__ = ["c_integer", "parse_byte_compare", "read_number"]

MAX_TRIGGER = 64  # the reference's cap on logical subsignatures
MAX_BINARY_LENGTH = 8
MAX_HEX_LENGTH = 18
_INT64 = 1 << 63
_C_SPACE = b" \t\n\v\f\r"
_DIGITS = {8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def c_integer(text: str) -> int | None:
    """The whole of ``text`` read like C's ``strtol(text, &end, 0)``; None if anything is left."""
    body = text.lstrip(" \t\n\v\f\r")
    sign = -1 if body[:1] == "-" else 1
    if body[:1] in ("+", "-"):
        body = body[1:]
    if body[:2] in ("0x", "0X") and len(body) > 2:
        base, body = 16, body[2:]
    elif body[:1] == "0" and len(body) > 1:
        base, body = 8, body[1:]
    else:
        base = 10
    if not body or any(char not in _DIGITS[base] for char in body):
        return None
    return sign * int(body, base)


def parse_byte_compare(text: str) -> ByteCompareSubsignature:
    """Parse one byte-compare subsignature; malformed text raises SignatureError."""
    open_at = text.find("(")
    close_at = text.find(")", open_at + 1)
    trigger_text = text[:open_at]
    if open_at <= 0 or not is_decimal(trigger_text):
        raise SignatureError(f"byte compare {text!r} must start with a subsignature index and '('")
    trigger = int(trigger_text)
    if trigger > MAX_TRIGGER:
        raise SignatureError(f"byte compare {text!r} refers to subsignature {trigger} (max 64)")
    if close_at < 0:
        raise SignatureError(f"byte compare {text!r} has no closing ')'")
    fields = text[open_at + 1 : close_at].split("#")
    if len(fields) != 3:
        raise SignatureError(f"byte compare {text!r} needs offset#options#comparisons")
    offset_text, options_text, comparisons_text = fields
    offset = _parse_offset(offset_text, text)
    base, little_endian, exact, length, usable = _parse_options(options_text, text)
    comparisons = _parse_comparisons(comparisons_text, text)
    return ByteCompareSubsignature(
        trigger=trigger,
        offset=offset,
        base=base,
        little_endian=little_endian,
        exact=exact,
        length=length,
        comparisons=comparisons if usable else (),
    )


def _parse_offset(field: str, text: str) -> int:
    if field[:2] in (">>", "<<"):
        value = c_integer(field[2:])
        if value is None:
            raise SignatureError(f"byte compare {text!r}: invalid offset {field!r}")
        return value if field[0] == ">" else -value
    if field[:1] in ("", "0"):
        return 0  # the reference takes a leading '0' as offset 0 without looking further
    raise SignatureError(f"byte compare {text!r}: offset must be '>>n' or '<<n', not {field!r}")


_BASES = {
    "h": ByteCompareBase.HEX,
    "d": ByteCompareBase.DECIMAL,
    "a": ByteCompareBase.AUTO,
    "i": ByteCompareBase.BINARY,
}


def _parse_options(field: str, text: str) -> tuple[ByteCompareBase, bool, bool, int, bool]:
    """(base, little endian, exact, length, whether the reference can ever evaluate it)."""
    base: ByteCompareBase | None = None
    endian: str | None = None
    exact = False
    position = 0
    while position < len(field) and not is_decimal(field[position]):
        letter = field[position]
        if letter in _BASES:
            if base is not None and base is not _BASES[letter]:
                raise SignatureError(f"byte compare {text!r}: conflicting number types")
            if letter == "d" and endian == "l":
                raise SignatureError(f"byte compare {text!r}: decimal cannot be little endian")
            base = _BASES[letter]
            if letter == "d":
                endian = "b"
        elif letter in "lb":
            if endian is not None and endian != letter:  # decimal already implies big
                raise SignatureError(f"byte compare {text!r}: conflicting endianness")
            endian = letter
        elif letter == "e":
            exact = True
        else:
            raise SignatureError(f"byte compare {text!r}: unknown option {letter!r}")
        position += 1
    length = c_integer(field[position:]) if position < len(field) else None
    if not length or length < 0:
        raise SignatureError(f"byte compare {text!r}: invalid byte length in {field!r}")
    if base is ByteCompareBase.BINARY and (
        length > MAX_BINARY_LENGTH or MAX_BINARY_LENGTH % length
    ):
        raise SignatureError(f"byte compare {text!r}: binary length must be 1, 2, 4 or 8")
    if base is ByteCompareBase.HEX and length > MAX_HEX_LENGTH:
        raise SignatureError(f"byte compare {text!r}: hex length is at most {MAX_HEX_LENGTH}")
    usable = base is not None and endian is not None
    return base or ByteCompareBase.AUTO, endian == "l", exact, length, usable


def _parse_comparisons(field: str, text: str) -> tuple[ByteComparison, ...]:
    parts = field.split(",")
    if len(parts) > 2:
        raise SignatureError(f"byte compare {text!r}: at most two comparisons")
    comparisons = []
    for part in parts:
        value = c_integer(part[1:]) if part[:1] in ("<", ">", "=") else None
        if value is None:
            raise SignatureError(f"byte compare {text!r}: invalid comparison {part!r}")
        comparisons.append(ByteComparison(part[0], value))
    return tuple(comparisons)


def read_number(sub: ByteCompareSubsignature, field: bytes) -> int | None:
    """The number ``sub`` reads from ``field`` (``sub.length`` bytes), or None if unreadable."""
    if sub.base is ByteCompareBase.BINARY:
        value = int.from_bytes(field, "little" if sub.little_endian else "big")
        # The reference holds it in a signed 64-bit integer.
        return value - (1 << 64) if value >= _INT64 else value
    text = field.lstrip(_C_SPACE)
    padded = len(text) != len(field)
    base = sub.base
    if base is ByteCompareBase.AUTO:
        if len(text) < 3:
            return None  # the reference cannot decide and gives up
        base = ByteCompareBase.HEX if text[:2] in (b"0x", b"0X") else ByteCompareBase.DECIMAL
    if base is ByteCompareBase.DECIMAL:
        if sub.little_endian:
            return None
        parsed = _strtol(text, 10)
    elif sub.little_endian:
        swapped = _swap_hex_pairs(text)
        # A one-character field is read alone, without the pad digit.
        parsed = _strtol(swapped[:1] if len(text) == 1 else swapped, 16)
    else:
        parsed = _strtol(text, 16)
    if parsed is None:
        return None
    value, used = parsed
    if sub.exact and (padded or used != len(text)):
        return None
    return value


def _strtol(text: bytes, base: int) -> tuple[int, int] | None:
    """C ``strtol`` on bytes: (value, bytes used), None on 64-bit overflow."""
    position = 0
    negative = False
    if text[:1] in (b"+", b"-"):
        negative = text[:1] == b"-"
        position = 1
    digits = b"0123456789abcdefABCDEF" if base == 16 else b"0123456789"
    if (
        base == 16
        and text[position : position + 2] in (b"0x", b"0X")
        and text[position + 2 : position + 3] != b""
        and text[position + 2] in digits
    ):
        position += 2
    start = position
    while position < len(text) and text[position] in digits:
        position += 1
    if position == start:
        return 0, 0
    value = int(text[start:position], base)
    value = -value if negative else value
    if not -_INT64 <= value < _INT64:
        return None
    return value, position


def _swap_hex_pairs(text: bytes) -> bytes:
    """The reference's little-endian hex normalisation: reverse the order of digit pairs.

    An odd-length field is padded with a leading '0' (after a ``0x`` prefix,
    which becomes an ``x`` marker); a non-hex character blanks the pairs
    already produced.
    """
    length = len(text)
    if length <= 1:
        return text + b"0"
    norm = length + (length % 2)
    prefixed = text[:2] in (b"0x", b"0X")
    if norm != length:
        source = bytearray(b"x00" + text[2:]) if prefixed else bytearray(b"0" + text)
    else:
        source = bytearray(text)
        if prefixed:
            source[0] = ord("x")
    out = bytearray(b"0" * norm)
    valid = b"0123456789abcdefABCDEFxX"
    for i in range(0, norm, 2):
        high, low = source[norm - i - 2], source[norm - i - 1]
        if high not in valid:
            out = bytearray(b"0" * norm)
            continue
        out[i] = high
        if low not in valid:
            out = bytearray(b"0" * norm)
        else:
            out[i + 1] = low
    return bytes(out)
