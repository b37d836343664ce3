"""PKWARE "implode" (zip method 6) decompression, written from PKWARE's APPNOTE.

Strategy: no maintained library reads this 1989 format, so it is decoded
here, bit by bit, with guards everywhere input can lie.  An imploded entry
starts with two or three Shannon-Fano trees (literals when general purpose
flag bit 2 is set, then match lengths, then the high six bits of
distances), each stored as run-length pairs of (code length, count).  The
codes are canonical codes with every bit inverted, read least significant
bit first.  Then comes a stream of tokens: a 1 bit and a literal (through
the literal tree, or 8 raw bits), or a 0 bit and a match: 6 or 7 raw low
distance bits (flag bit 1 selects the 8 KiB window), the distance tree,
the length tree (63 means "add the next 8 raw bits"), plus a minimum
length of 3 with a literal tree and 2 without.  A distance reaching before
the start of the output copies zeros, as Info-ZIP's unzip does.

Output stops at ``size`` bytes, which the caller caps at the member budget.
"""

from __future__ import annotations

from clamkit.containers.base import ContainerError

__all__ = ["explode"]

_FLAG_8K_WINDOW = 0x02
_FLAG_LITERAL_TREE = 0x04
_MAX_CODE_BITS = 16


class _Bits:
    """Least-significant-bit-first reader (implode's order; ``lz`` reads the other way)."""

    __slots__ = ("count", "data", "position", "value")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0
        self.value = 0
        self.count = 0

    def read(self, width: int) -> int:
        """The next ``width`` bits, the first read as the lowest."""
        while self.count < width:
            if self.position >= len(self.data):
                raise ContainerError("imploded data ends early")
            self.value |= self.data[self.position] << self.count
            self.position += 1
            self.count += 8
        result = self.value & ((1 << width) - 1)
        self.value >>= width
        self.count -= width
        return result


class _Tree:
    """A decoding table: (code length, inverted canonical code) -> symbol."""

    __slots__ = ("codes",)

    def __init__(self, lengths: list[int]) -> None:
        self.codes: dict[tuple[int, int], int] = {}
        code = 0
        for length in range(1, _MAX_CODE_BITS + 1):
            for symbol, symbol_length in enumerate(lengths):
                if symbol_length == length:
                    self.codes[length, code] = symbol
                    code += 1
            code <<= 1
        if not self.codes:
            raise ContainerError("empty Shannon-Fano tree")

    def decode(self, bits: _Bits) -> int:
        code = 0
        for length in range(1, _MAX_CODE_BITS + 1):
            code = code << 1 | (bits.read(1) ^ 1)
            symbol = self.codes.get((length, code))
            if symbol is not None:
                return symbol
        raise ContainerError("invalid Shannon-Fano code")


def _read_tree(bits: _Bits, symbols: int) -> _Tree:
    # Tree descriptions are whole bytes, and come before any other bit.
    lengths: list[int] = []
    for _ in range(bits.read(8) + 1):
        pair = bits.read(8)
        lengths.extend([(pair & 0x0F) + 1] * ((pair >> 4) + 1))
    if len(lengths) != symbols:
        raise ContainerError("Shannon-Fano tree of the wrong size")
    return _Tree(lengths)


def explode(data: bytes, flags: int, size: int) -> bytes:
    """Decompress an imploded entry to at most ``size`` bytes.

    Raises ContainerError on corrupt or truncated input.
    """
    bits = _Bits(data)
    literal_tree = _read_tree(bits, 256) if flags & _FLAG_LITERAL_TREE else None
    length_tree = _read_tree(bits, 64)
    distance_tree = _read_tree(bits, 64)
    low_distance_bits = 7 if flags & _FLAG_8K_WINDOW else 6
    minimum_length = 3 if literal_tree is not None else 2
    out = bytearray()
    while len(out) < size:
        if bits.read(1):
            out.append(literal_tree.decode(bits) if literal_tree is not None else bits.read(8))
            continue
        low = bits.read(low_distance_bits)
        distance = (distance_tree.decode(bits) << low_distance_bits | low) + 1
        length = length_tree.decode(bits)
        if length == 63:
            length += bits.read(8)
        length = min(length + minimum_length, size - len(out))
        start = len(out) - distance
        if start < 0:
            zeros = min(-start, length)
            out += bytes(zeros)
            length -= zeros
            start = len(out) - distance
        # Copy in steps no longer than the distance: a match may overlap itself.
        while length > 0:
            step = min(length, distance)
            out += out[start : start + step]
            start += step
            length -= step
    return bytes(out)
