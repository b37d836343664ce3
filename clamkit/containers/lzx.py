"""The LZX decompressor of cabinet files and CHM help files.

Format, as Microsoft's LZX specification for cabinets describes it: a bit
stream read as 16-bit little-endian words, most significant bit first.  It
opens with one bit for "Intel E8 translation" (and then a 32-bit translation
size); then come blocks: 3 bits of type (1 verbatim, 2 aligned offsets,
3 uncompressed) and 24 bits of uncompressed length.  Verbatim and aligned
blocks carry Huffman code lengths, delta-coded against the previous block's
through a 20-symbol pretree (17 and 18: runs of zeros, 19: a run of one
length): the main tree (256 literals, then 8 length headers per position
slot) and the length tree (249 symbols); aligned blocks first give an
8-symbol aligned-offset tree as 3-bit lengths.  Position slots 0-2 reuse
the last three match offsets (R0, R1, R2).  An uncompressed block is
byte-aligned (1 to 16 bits of padding), restates R0-R2 as 12 bytes, holds
its bytes raw and is padded to an even length.  The output is cut into
32 KB frames, which matches may not cross (the reference refuses them,
though the specification's own decoder lets them spill into the next
frame); after each frame the bit stream realigns to a 16-bit word,
and the E8 post-pass turns absolute call targets back into relative ones
(in the first 32768 frames, skipping the last 10 bytes of each frame).
CHM resets the whole state (offsets, tree lengths, header bit) every
*reset interval* frames so readers can start at any reset point.

Strategy: the word-wise stream is the byte-wise MSB-first stream of the
input with each byte pair swapped, so the shared ``BitReader`` serves it
and raw bytes of uncompressed blocks are read from the unswapped input at
the same offsets.  Decoded bytes go to a history trimmed to the window, and
each frame is copied out (and E8-translated, never in the history) as it
completes: frames are yielded lazily, so the caller decides how far to go.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from clamkit.containers.base import ContainerError
from clamkit.containers.lz import BitReader, HuffmanCode, copy_match

FRAME = 32768
_POSITION_SLOTS = {15: 30, 16: 32, 17: 34, 18: 36, 19: 38, 20: 42, 21: 50}
_EXTRA_BITS = [0, 0, 0, 0] + [min((slot - 2) // 2, 17) for slot in range(4, 50)]
_POSITION_BASE = [0]
for _bits in _EXTRA_BITS[:-1]:
    _POSITION_BASE.append(_POSITION_BASE[-1] + (1 << _bits))
_VERBATIM, _ALIGNED, _UNCOMPRESSED = 1, 2, 3
_LENGTH_SYMBOLS = 249
_PRIMARY_LENGTHS = 7
_MIN_MATCH = 2
_E8_FRAMES = 32768  # translation stops after the first 1 GB, as encoders do
# Direct lookup widths of the reference's tables (see HuffmanCode's direct_bits).
_PRETREE_BITS, _MAIN_BITS, _LENGTH_BITS, _ALIGNED_BITS = 6, 12, 12, 7


class _Decoder:
    def __init__(self, data: bytes, window_bits: int) -> None:
        if window_bits not in _POSITION_SLOTS:
            raise ContainerError(f"LZX: window of {window_bits} bits is not allowed")
        self.raw = data
        swapped = bytearray(data + b"\0" * (len(data) & 1))
        swapped[0::2], swapped[1::2] = swapped[1::2], swapped[0::2]
        self.bits = BitReader(bytes(swapped), end=len(data))
        self.window = 1 << window_bits
        self.main_lengths = bytearray(256 + 8 * _POSITION_SLOTS[window_bits])
        self.length_lengths = bytearray(_LENGTH_SYMBOLS)
        self.history = bytearray()
        self.history_start = 0  # stream offset of history[0]
        self.intel_started = False
        self.intel_size = 0
        self.raw_at = -1  # input offset of the next raw byte inside an uncompressed block
        self.reset()

    def reset(self) -> None:
        self.offsets = [1, 1, 1]
        self.main_lengths[:] = bytes(len(self.main_lengths))
        self.length_lengths[:] = bytes(_LENGTH_SYMBOLS)
        self.header_read = False
        self.block_type = 0
        self.block_length = 0
        self.block_remaining = 0

    @property
    def position(self) -> int:
        return self.history_start + len(self.history)

    def read_header(self) -> None:
        self.leave_raw_block()
        if self.bits.read(1):
            self.intel_size = self.bits.read(16) << 16 | self.bits.read(16)
        else:
            self.intel_size = 0
        self.header_read = True

    def leave_raw_block(self) -> None:
        """Resume bit reading after an uncompressed block (and its padding byte)."""
        if self.raw_at >= 0:
            self.bits.seek_bit((self.raw_at + (self.block_length & 1)) * 8)
            self.raw_at = -1

    def read_block_header(self) -> None:
        self.leave_raw_block()
        bits = self.bits
        self.block_type = bits.read(3)
        self.block_length = self.block_remaining = bits.read(16) << 8 | bits.read(8)
        if self.block_type == _ALIGNED:
            self.aligned = HuffmanCode([bits.read(3) for _ in range(8)], _ALIGNED_BITS)
        if self.block_type in (_VERBATIM, _ALIGNED):
            self._read_lengths(self.main_lengths, 0, 256)
            self._read_lengths(self.main_lengths, 256, len(self.main_lengths))
            self.main = HuffmanCode(self.main_lengths, _MAIN_BITS)
            if self.main_lengths[0xE8]:
                self.intel_started = True
            self._read_lengths(self.length_lengths, 0, _LENGTH_SYMBOLS)
            self.lengths = HuffmanCode(self.length_lengths, _LENGTH_BITS)
        elif self.block_type == _UNCOMPRESSED:
            self.intel_started = True
            consumed = bits.bits_consumed
            start = (consumed + 16 - consumed % 16) // 8  # 1 to 16 bits of padding
            if start + 12 > len(self.raw):
                raise ContainerError("LZX: uncompressed block header cut off")
            self.offsets = list(struct.unpack_from("<3I", self.raw, start))
            self.raw_at = start + 12
        else:
            raise ContainerError(f"LZX: invalid block type {self.block_type}")

    def _read_lengths(self, lengths: bytearray, first: int, last: int) -> None:
        bits = self.bits
        pretree = HuffmanCode([bits.read(4) for _ in range(20)], _PRETREE_BITS)
        index = first
        while index < last:
            symbol = bits.decode(pretree)
            if symbol == 17:
                run, value = bits.read(4) + 4, 0
            elif symbol == 18:
                run, value = bits.read(5) + 20, 0
            elif symbol == 19:
                run = bits.read(1) + 4
                delta = bits.decode(pretree)
                if delta > 16:
                    raise ContainerError("LZX: invalid code length run")
                value = (lengths[index] - delta) % 17
            else:
                lengths[index] = (lengths[index] - symbol) % 17
                index += 1
                continue
            # A run may spill past ``last``; the next pass overwrites what it wrote.
            end = min(index + run, len(lengths))
            lengths[index:end] = bytes([value]) * (end - index)
            index += run

    def fill(self, target: int) -> None:
        """Decode until the stream holds at least ``target`` bytes."""
        while self.position < target:
            if self.block_remaining == 0:
                self.read_block_header()
                continue
            wanted = min(self.block_remaining, target - self.position)
            if self.block_type == _UNCOMPRESSED:
                chunk = self.raw[self.raw_at : self.raw_at + wanted]
                if len(chunk) < wanted:
                    raise ContainerError("LZX: uncompressed block cut off")
                self.history += chunk
                self.raw_at += wanted
                produced = wanted
            else:
                produced = self._decode_run(wanted)
            if produced > self.block_remaining:
                raise ContainerError("LZX: match runs past the end of its block")
            self.block_remaining -= produced

    def _decode_run(self, wanted: int) -> int:
        """Decode at least ``wanted`` bytes of a verbatim or aligned block (a match may overrun)."""
        bits, history, offsets = self.bits, self.history, self.offsets
        main, lengths = self.main, self.lengths
        aligned = self.block_type == _ALIGNED
        produced = 0
        while produced < wanted:
            symbol = bits.decode(main)
            if symbol < 256:
                history.append(symbol)
                produced += 1
                continue
            symbol -= 256
            length = symbol & 7
            if length == _PRIMARY_LENGTHS:
                length += bits.decode(lengths)
            length += _MIN_MATCH
            slot = symbol >> 3
            if slot > 2:
                extra = _EXTRA_BITS[slot]
                offset = _POSITION_BASE[slot] - 2
                if aligned and extra >= 3:
                    offset += (bits.read(extra - 3) << 3) + bits.decode(self.aligned)
                elif extra:
                    offset += bits.read(extra)
                offsets[2], offsets[1], offsets[0] = offsets[1], offsets[0], offset
            elif slot == 0:
                offset = offsets[0]
            else:
                offset = offsets[slot]
                offsets[slot], offsets[0] = offsets[0], offset
            if offset > self.window:
                raise ContainerError("LZX: match offset beyond the window")
            copy_match(history, offset, length)
            produced += length
        return produced

    def realign(self) -> None:
        if self.raw_at < 0:
            self.bits.skip(-self.bits.bits_consumed % 16)

    def take_frame(self, start: int, size: int) -> bytearray:
        """Bytes ``start`` to ``start + size`` of the stream; trims the history to the window."""
        first = start - self.history_start
        frame = self.history[first : first + size]
        excess = len(self.history) - self.window
        if excess > self.window:
            del self.history[:excess]
            self.history_start += excess
        return frame


def _translate_e8(frame: bytearray, start: int, size: int) -> None:
    """Undo the encoder's E8 call-target translation in ``frame`` (stream offset ``start``)."""
    index = frame.find(0xE8, 0, len(frame) - 10)
    while index >= 0:
        (target,) = struct.unpack_from("<i", frame, index + 1)
        position = start + index
        if -position <= target < size:
            relative = target - position if target >= 0 else target + size
            struct.pack_into("<i", frame, index + 1, relative)
        index = frame.find(0xE8, index + 5, len(frame) - 10)


def decompress(
    data: bytes, window_bits: int, output_length: int, reset_interval: int = 0
) -> Iterator[bytes]:
    """The ``output_length`` bytes of an LZX stream, one 32 KB frame at a time.

    ``reset_interval`` is CHM's: the number of frames between state resets
    (0: never, as in cabinets).
    """
    decoder = _Decoder(data, window_bits)
    produced = 0
    frame_number = 0
    while produced < output_length:
        if reset_interval and frame_number and frame_number % reset_interval == 0:
            decoder.reset()
        if not decoder.header_read:
            decoder.read_header()
        size = min(FRAME, output_length - produced)
        decoder.fill(produced + size)
        if decoder.position != produced + size:
            # The reference's decoder refuses a match that runs into the next frame.
            raise ContainerError("LZX: a match runs past the end of its frame")
        frame = decoder.take_frame(produced, size)
        if decoder.intel_started and decoder.intel_size and frame_number < _E8_FRAMES:
            _translate_e8(frame, produced, decoder.intel_size)
        yield bytes(frame)
        produced += size
        frame_number += 1
        decoder.realign()
