"""NSIS's variant of bzip2, which no library reads.

Strategy: NSIS compresses with a trimmed bzip2: no ``BZh`` stream header,
a one-byte block magic (``0x31``; ``0x17`` ends the stream) where bzip2 has
six, and neither block nor stream CRCs nor the randomised-block bit.  The
block body is bzip2's own (symbol map, Huffman selectors and tables,
move-to-front with RUNA/RUNB runs, the Burrows-Wheeler transform, then the
initial run-length coding), decoded here from bzip2's published format,
block by block, with every count checked against the format's limits; bits
and canonical Huffman codes are read with ``lz``'s shared building blocks.
Output stops at the caller's budget.
"""

from __future__ import annotations

from clamkit.containers.base import ContainerError
from clamkit.containers.lz import BitReader, HuffmanCode

__all__ = ["decompress"]

_BLOCK_MAGIC = 0x31
_END_MAGIC = 0x17
_MAX_BLOCK = 900_000  # NSIS always compresses with bzip2's largest blocks
_MAX_GROUPS = 6
_MIN_GROUPS = 2
_GROUP_SIZE = 50
_MAX_CODE_LENGTH = 20
_RUN_A, _RUN_B = 0, 1


def _symbol_map(bits: BitReader) -> list[int]:
    used_groups = bits.read(16)
    in_use = []
    for group in range(16):
        if used_groups & (0x8000 >> group):
            used = bits.read(16)
            in_use += [group * 16 + i for i in range(16) if used & (0x8000 >> i)]
    if not in_use:
        raise ContainerError("NSIS bzip2: no symbols in use")
    return in_use


def _tables(bits: BitReader, alphabet: int) -> tuple[list[int], list[HuffmanCode]]:
    groups = bits.read(3)
    selectors_count = bits.read(15)
    if not _MIN_GROUPS <= groups <= _MAX_GROUPS or selectors_count == 0:
        raise ContainerError("NSIS bzip2: bad table counts")
    order = list(range(groups))
    selectors = []
    for _ in range(selectors_count):
        index = 0
        while bits.read(1):
            index += 1
            if index >= groups:
                raise ContainerError("NSIS bzip2: bad selector")
        value = order.pop(index)
        order.insert(0, value)
        selectors.append(value)
    tables = []
    for _ in range(groups):
        length = bits.read(5)
        lengths = []
        for _ in range(alphabet):
            while bits.read(1):
                length += -1 if bits.read(1) else 1
                if not 1 <= length <= _MAX_CODE_LENGTH:
                    raise ContainerError("NSIS bzip2: bad code length")
            if not 1 <= length <= _MAX_CODE_LENGTH:
                raise ContainerError("NSIS bzip2: bad code length")
            lengths.append(length)
        tables.append(HuffmanCode(lengths))
    return selectors, tables


def _block(bits: BitReader) -> bytes:
    """One block, from after its magic byte to its last symbol."""
    origin = bits.read(24)
    in_use = _symbol_map(bits)
    end_of_block = len(in_use) + 1
    selectors, tables = _tables(bits, len(in_use) + 2)
    mtf = list(range(len(in_use)))
    text = bytearray()
    run, run_weight = 0, 1
    decoded = 0
    while True:
        selector = decoded // _GROUP_SIZE
        decoded += 1
        if selector >= len(selectors):
            raise ContainerError("NSIS bzip2: selectors run out")
        symbol = bits.decode(tables[selectors[selector]])
        if symbol in (_RUN_A, _RUN_B):
            run += run_weight << symbol
            run_weight <<= 1
            if run > _MAX_BLOCK:
                raise ContainerError("NSIS bzip2: run too long")
            continue
        if run:
            text += bytes([in_use[mtf[0]]]) * run
            run, run_weight = 0, 1
        if symbol == end_of_block:
            break
        value = mtf.pop(symbol - 1)
        mtf.insert(0, value)
        text.append(in_use[value])
        if len(text) > _MAX_BLOCK:
            raise ContainerError("NSIS bzip2: block too long")
    if origin >= len(text):
        raise ContainerError("NSIS bzip2: bad origin pointer")
    return _unrun(_inverse_bwt(text, origin))


def _inverse_bwt(last: bytearray, origin: int) -> bytes:
    starts = [0] * 256
    total = 0
    for byte in range(256):
        starts[byte] = total
        total += last.count(byte)
    following = [0] * len(last)
    for index, byte in enumerate(last):
        following[starts[byte]] = index
        starts[byte] += 1
    out = bytearray(len(last))
    position = following[origin]
    for index in range(len(last)):
        out[index] = last[position]
        position = following[position]
    return bytes(out)


def _unrun(data: bytes) -> bytes:
    """Undo bzip2's first stage: four equal bytes are followed by a repeat count."""
    out = bytearray()
    index, length = 0, len(data)
    while index < length:
        byte = data[index]
        same = 1
        while same < 4 and index + same < length and data[index + same] == byte:
            same += 1
        out += data[index : index + same]
        index += same
        if same == 4 and index < length:
            out += bytes([byte]) * data[index]
            index += 1
    return bytes(out)


def decompress(data: bytes, budget: int) -> tuple[bytes, bool]:
    """Decode an NSIS bzip2 stream: (output up to ``budget`` bytes, whether it was cut).

    Damage ends the stream: what the blocks before it held is kept.
    """
    bits = BitReader(data, overrun=0)
    out = bytearray()
    try:
        while len(out) <= budget:
            magic = bits.read(8)
            if magic == _END_MAGIC:
                break
            if magic != _BLOCK_MAGIC:
                raise ContainerError("NSIS bzip2: bad block magic")
            out += _block(bits)
    except ContainerError:
        if not out:
            raise
    return bytes(out[:budget]), len(out) > budget
