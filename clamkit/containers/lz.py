"""Building blocks shared by the hand-written LZ77 decoders (LZH for ARJ, LZX for CAB and CHM).

Strategy: one most-significant-bit-first bit reader over a bytes object,
canonical Huffman codes decoded through a single flat lookup table indexed
by the next ``max_length`` bits (built with slice assignment, so a 16-bit
table costs about a millisecond), and one match-copy routine that handles
overlapping copies by repeating the period.  Everything reading outside
the input or following an impossible code raises ``ContainerError``, so a
decoder built on these never fails with IndexError on hostile input.
"""

from __future__ import annotations

from clamkit.containers.base import ContainerError

# How far the reader may run past the end of its input, reading zeros: LZH
# and LZX encoders end a stream anywhere inside the last word, and decoders
# look ahead up to a full code before knowing how much of it they use.
OVERRUN_BYTES = 4
# Bytes loaded per refill: a quarter of the trips through the refill that
# 4 bytes take, for a buffer integer that is still small.
_REFILL_BYTES = 16


class BitReader:
    """Bits of ``data`` from ``start``, most significant bit of each byte first."""

    __slots__ = ("_buf", "_count", "_data", "_end", "_limit", "pos")

    def __init__(
        self, data: bytes, start: int = 0, end: int | None = None, overrun: int = OVERRUN_BYTES
    ) -> None:
        """``overrun``: how many zero bytes past ``end`` may be read."""
        self._data = data
        self.pos = start  # next byte to load into the buffer
        self._end = len(data) if end is None else min(end, len(data))
        self._limit = self._end + overrun  # bytes, zeros included, that may be loaded
        self._buf = 0
        self._count = 0

    @property
    def bits_consumed(self) -> int:
        """Bits read since byte 0 of ``data`` (not since ``start``)."""
        return self.pos * 8 - self._count

    def _fill(self, n: int) -> None:
        """Load whole bytes until ``n`` bits are buffered (never past the overrun)."""
        needed = (n - self._count + 7) // 8
        room = self._limit - self.pos
        if needed > room:
            raise ContainerError("compressed data ends early")
        wanted = min(max(_REFILL_BYTES, needed), room)
        # Past the end only zeros are read, and only as far as a last code may look.
        chunk = self._data[self.pos : min(self.pos + wanted, self._end)]
        self._buf = (self._buf << (8 * wanted)) | int.from_bytes(
            bytes(chunk) + bytes(wanted - len(chunk)), "big"
        )
        self.pos += wanted
        self._count += 8 * wanted

    def peek(self, n: int) -> int:
        """The next ``n`` bits as an integer, without consuming them."""
        if self._count < n:
            self._fill(n)
        return self._buf >> (self._count - n)

    def skip(self, n: int) -> None:
        if self._count < n:
            self._fill(n)
        self._count -= n
        self._buf &= (1 << self._count) - 1

    def read(self, n: int) -> int:
        if self._count < n:
            self._fill(n)
        count = self._count - n
        value = self._buf >> count
        self._count = count
        self._buf &= (1 << count) - 1
        return value

    def seek_bit(self, bit: int) -> None:
        """Continue at absolute bit offset ``bit`` (used to realign and to leave raw-byte runs)."""
        self.pos, remainder = divmod(bit, 8)
        self._buf = 0
        self._count = 0
        if remainder:
            self.skip(remainder)

    def decode(self, code: HuffmanCode) -> int:
        """The next symbol of ``code``."""
        length = code.max_length
        if self._count < length:
            self._fill(length)
        count = self._count
        entry = code.table[self._buf >> (count - length)]
        if entry < 0:
            raise ContainerError("invalid Huffman code in compressed data")
        count -= entry & 0x1F
        self._count = count
        self._buf &= (1 << count) - 1
        return entry >> 5


class HuffmanCode:
    """A canonical prefix code: shorter codes first, equal lengths in symbol order.

    ``table`` maps every ``max_length``-bit window to ``symbol << 5 | length``.
    Codes must be complete (every bit pattern starts a code) or empty (all
    lengths 0: every read fails); a code of one symbol and length 0 (LZH's
    way of saying "always this symbol") reads no bits.

    ``direct_bits`` copies a leniency of the reference's LZX tables, which
    look codes up directly up to that many bits: once the codes that short
    fill the whole code space, longer ones are ignored (never decodable),
    however many there are.
    """

    __slots__ = ("max_length", "table")

    def __init__(
        self, lengths: list[int] | bytes | bytearray, direct_bits: int | None = None
    ) -> None:
        codes = sorted((n, s) for s, n in enumerate(lengths) if n)
        if direct_bits is not None:
            short = [(n, s) for n, s in codes if n <= direct_bits]
            if sum(1 << (direct_bits - n) for n, _s in short) == 1 << direct_bits:
                codes = short
        max_length = codes[-1][0] if codes else 0
        if max_length > 24:
            raise ContainerError("Huffman code length out of range")
        self.max_length = max_length
        table = [-1] * (1 << max_length)
        code = 0
        previous = 0
        for length, symbol in codes:
            code <<= length - previous
            previous = length
            span = 1 << (max_length - length)
            start = code * span
            if start + span > len(table):
                raise ContainerError("over-subscribed Huffman code")
            table[start : start + span] = [symbol << 5 | length] * span
            code += 1
        if previous and code != 1 << previous:
            # ARJ, LHA and LZX decoders all refuse a code that leaves bit patterns unused.
            raise ContainerError("incomplete Huffman code")
        self.table = table

    @classmethod
    def single(cls, symbol: int) -> HuffmanCode:
        code = cls(())
        code.table = [symbol << 5]
        return code


def copy_match(out: bytearray, distance: int, length: int) -> None:
    """Append ``length`` bytes copied from ``distance`` bytes back (overlap repeats)."""
    start = len(out) - distance
    if distance <= 0 or start < 0:
        raise ContainerError("match refers to data before the start of the stream")
    if distance >= length:
        out += out[start : start + length]
    else:
        period = out[start:]
        repeats, rest = divmod(length, distance)
        out += period * repeats + period[:rest]
