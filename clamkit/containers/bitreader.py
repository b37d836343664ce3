"""Reading a byte string bit by bit, for the decoders written here (implode, NSIS bzip2).

Strategy: an accumulator holds the bits of the bytes read so far that have
not been used; ``read`` refills it a byte at a time.  PKWARE's implode
takes bits from the least significant end of each byte, bzip2 from the most
significant end; one class serves both.
"""

from __future__ import annotations

from clamkit.containers.base import ContainerError

__all__ = ["BitReader"]


class BitReader:
    """The bits of ``data``, each byte's least (or most) significant bit first.

    Running out of data raises ContainerError with ``name`` in its message.
    """

    __slots__ = ("_count", "_data", "_msb_first", "_name", "_position", "_value")

    def __init__(self, data: bytes, *, msb_first: bool, name: str) -> None:
        self._data = data
        self._msb_first = msb_first
        self._name = name
        self._position = 0
        self._value = 0
        self._count = 0

    def read(self, width: int) -> int:
        """The next ``width`` bits as a number: in LSB-first order the first
        bit read is its lowest, in MSB-first order its highest."""
        while self._count < width:
            if self._position >= len(self._data):
                raise ContainerError(f"{self._name}: data ends early")
            byte = self._data[self._position]
            self._position += 1
            if self._msb_first:
                self._value = (self._value << 8) | byte
            else:
                self._value |= byte << self._count
            self._count += 8
        self._count -= width
        if self._msb_first:
            result = self._value >> self._count
            self._value &= (1 << self._count) - 1
        else:
            result = self._value & ((1 << width) - 1)
            self._value >>= width
        return result
