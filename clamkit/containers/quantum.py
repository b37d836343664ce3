"""The Quantum decompressor of cabinet files (David Stafford's format, CAB compression type 2).

Format, as the libmspack documentation of Quantum describes it: an
adaptive arithmetic code over 16-bit low/high/code registers, with eight
frequency models: four for literals (64 byte values each), three for match
positions (3-byte matches, 4-byte matches, longer matches: position slots
with a base and extra bits, up to twice the window bits), one for the
lengths of longer matches (27 slots) and a 7-symbol selector choosing among
them.  A model starts with every symbol equally likely; each decoded
symbol adds 8 to the cumulative frequencies below it, and past 3800 the
frequencies are halved (and, every 50th time, rebuilt and sorted, most
frequent first).  Extra bits are read raw from the same MSB-first bit
stream.  Output is cut into 32 KB frames; each frame starts the arithmetic
registers afresh (16 bits of code) while the models carry on, and ends at
a byte boundary followed by padding up to a 0xFF trailer byte, which the
cabinet reader appends to each data block.

Strategy: a direct transcription of that model in Python integers, masked
to 16 bits where the format keeps 16-bit registers; output goes to one
history trimmed to the window, and frames are yielded lazily.
"""

from __future__ import annotations

from collections.abc import Iterator

from clamkit.containers.base import ContainerError
from clamkit.containers.lz import BitReader, copy_match

FRAME = 32768
_POSITION_BASE = [0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
_POSITION_BASE += [768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768]
_POSITION_BASE += [49152, 65536, 98304, 131072, 196608, 262144, 393216, 524288, 786432]
_POSITION_BASE += [1048576, 1572864]
_POSITION_EXTRA = [0, 0, *[bits for bits in range(20) for _ in range(2)][:40]]
_LENGTH_BASE = [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 18, 22, 26, 30, 38, 46, 54, 62, 78, 94]
_LENGTH_BASE += [110, 126, 158, 190, 222, 254]
_LENGTH_EXTRA = [0] * 6 + [bits for bits in range(1, 6) for _ in range(4)] + [0]
_RESCALE_AT = 3800
_REBUILD_EVERY = 50


class _Model:
    """Symbols with cumulative frequencies; ``cumulative[len(symbols)]`` is 0."""

    __slots__ = ("cumulative", "shifts_left", "symbols")

    def __init__(self, first: int, count: int) -> None:
        self.symbols = list(range(first, first + count))
        self.cumulative = list(range(count, -1, -1))
        self.shifts_left = 4

    def rescale(self) -> None:
        cumulative, count = self.cumulative, len(self.symbols)
        self.shifts_left -= 1
        if self.shifts_left:
            for index in range(count - 1, -1, -1):
                cumulative[index] >>= 1
                cumulative[index] = max(cumulative[index], cumulative[index + 1] + 1)
            return
        self.shifts_left = _REBUILD_EVERY
        frequencies = [
            (cumulative[index] - cumulative[index + 1] + 1) >> 1 for index in range(count)
        ]
        # Most frequent first, by the format's own swapping selection sort:
        # it is not stable, and a stable sort would order ties differently.
        symbols = self.symbols
        for i in range(count - 1):
            for j in range(i + 1, count):
                if frequencies[i] < frequencies[j]:
                    frequencies[i], frequencies[j] = frequencies[j], frequencies[i]
                    symbols[i], symbols[j] = symbols[j], symbols[i]
        total = 0
        for index in range(count - 1, -1, -1):
            total += frequencies[index]
            cumulative[index] = total


class _Decoder:
    def __init__(self, data: bytes, window_bits: int) -> None:
        if not 10 <= window_bits <= 21:
            raise ContainerError(f"Quantum: window of {window_bits} bits is not allowed")
        self.bits = BitReader(data)
        self.window = 1 << window_bits
        self.literals = [_Model(start, 64) for start in (0, 64, 128, 192)]
        self.position3 = _Model(0, min(window_bits * 2, 24))
        self.position4 = _Model(0, min(window_bits * 2, 36))
        self.position = _Model(0, window_bits * 2)
        self.length = _Model(0, 27)
        self.selector = _Model(0, 7)
        self.history = bytearray()
        self.history_start = 0  # stream offset of history[0]
        self.low = self.high = self.code = 0

    def start_frame(self) -> None:
        self.high, self.low = 0xFFFF, 0
        self.code = self.bits.read(16)

    def end_frame(self) -> None:
        """Skip to the byte boundary, then past the padding to the 0xFF trailer."""
        self.bits.skip(-self.bits.bits_consumed % 8)
        while self.bits.read(8) != 0xFF:
            pass

    def symbol(self, model: _Model) -> int:
        cumulative = model.cumulative
        low, high, code = self.low, self.high, self.code
        width = ((high - low) & 0xFFFF) + 1
        scaled = _c_division((code - low + 1) * cumulative[0] - 1, width) & 0xFFFF
        index = 1
        count = len(model.symbols)
        while index < count and cumulative[index] > scaled:
            index += 1
        symbol = model.symbols[index - 1]
        width = high - low + 1
        total = cumulative[0]
        high = (low + _c_division(cumulative[index - 1] * width, total) - 1) & 0xFFFF
        low = (low + _c_division(cumulative[index] * width, total)) & 0xFFFF
        for below in range(index):
            cumulative[below] += 8
        if cumulative[0] > _RESCALE_AT:
            model.rescale()
        bits = self.bits
        while True:
            if (low ^ high) & 0x8000:
                if low & 0x4000 and not high & 0x4000:  # underflow: drop the second bit
                    code ^= 0x4000
                    low &= 0x3FFF
                    high |= 0x4000
                else:
                    break
            low = (low << 1) & 0xFFFF
            high = ((high << 1) | 1) & 0xFFFF
            code = ((code << 1) | bits.read(1)) & 0xFFFF
        self.low, self.high, self.code = low, high, code
        return symbol

    def frame(self, start: int, size: int) -> bytes:
        """Decode stream bytes ``start`` to ``start + size``; trims the history to the window."""
        first = start - self.history_start
        self._decode_until(first + size)
        frame = bytes(self.history[first : first + size])
        excess = len(self.history) - self.window
        if excess > self.window:
            del self.history[:excess]
            self.history_start += excess
        return frame

    def _decode_until(self, target: int) -> None:
        history, bits = self.history, self.bits
        while len(history) < target:
            selector = self.symbol(self.selector)
            if selector < 4:
                history.append(self.symbol(self.literals[selector]))
                continue
            if selector == 6:
                slot = self.symbol(self.length)
                length = _LENGTH_BASE[slot] + bits.read(_LENGTH_EXTRA[slot]) + 5
                model = self.position
            else:
                length = selector - 1  # 4: three bytes, 5: four bytes
                model = self.position3 if selector == 4 else self.position4
            slot = self.symbol(model)
            offset = _POSITION_BASE[slot] + bits.read(_POSITION_EXTRA[slot]) + 1
            if offset > self.window:
                raise ContainerError("Quantum: match offset beyond the window")
            copy_match(history, offset, length)
            if len(history) > target:
                raise ContainerError("Quantum: match runs past the end of its frame")


def _c_division(numerator: int, denominator: int) -> int:
    """Integer division rounding toward zero, as the format's C arithmetic does."""
    if denominator <= 0:
        raise ContainerError("Quantum: arithmetic decoder out of range")
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def decompress(data: bytes, window_bits: int, output_length: int) -> Iterator[bytes]:
    """The ``output_length`` bytes of a Quantum stream (0xFF after each block), frame by frame."""
    decoder = _Decoder(data, window_bits)
    produced = 0
    while produced < output_length:
        size = min(FRAME, output_length - produced)
        decoder.start_frame()
        frame = decoder.frame(produced, size)
        decoder.end_frame()
        yield frame
        produced += size
