"""The LZ77+Huffman decoders of the ARJ and LHA family ("LZH": ARJ methods 1-4, LHA -lh4- to -lh7-).

Format, as Haruhiko Okumura's ar002 and the ARJ technical notes describe it:
an MSB-first bit stream of blocks.  A block starts with its symbol count
(16 bits), then three Huffman code descriptions: the code-length code
(19 symbols, 5-bit count; lengths in 3 bits, 7 meaning "7 plus one more
for every following 1 bit"; after the third length, 2 bits of zero run),
the literal/length code (510 symbols, 9-bit count; its lengths coded with
the previous code, where 0, 1 and 2 start zero runs of 1, 4-19 and 20-531),
and the distance code (one symbol per distance bit width, ``pbit``-bit
count).  A count of zero means a one-symbol code, given right after it.
Literal symbols are bytes; symbol 256+n copies n+3 bytes from a distance
whose width w comes from the distance code and whose value is
``2**(w-1) + (w-1 more bits)``, plus one.  ARJ's method 4 ("fastest") has
no Huffman stage: a length in unary-prefixed binary (0 means a literal
byte of 8 bits follows) and a distance likewise, from 9 to 13 bits wide.

Strategy: the shared bit reader and table decoder from ``lz``; output is
one bytearray that is both history and result, cut at ``limit`` bytes.
"""

from __future__ import annotations

from clamkit.containers.base import ContainerError
from clamkit.containers.lz import OVERRUN_BYTES, BitReader, HuffmanCode, copy_match

_LENGTH_CODE_SYMBOLS = 19  # NT
_LENGTH_CODE_BITS = 5  # TBIT
_LITERAL_SYMBOLS = 510  # NC: 256 bytes and 254 match lengths
_LITERAL_BITS = 9  # CBIT
_MIN_MATCH = 3
_MAX_CODE_LENGTH = 16


def _read_length_code(
    bits: BitReader, symbols: int, count_bits: int, gap_after: int
) -> HuffmanCode:
    count = bits.read(count_bits)
    if count == 0:
        return HuffmanCode.single(bits.read(count_bits))
    if count > symbols:
        raise ContainerError("LZH: code table larger than its alphabet")
    lengths = [0] * symbols
    index = 0
    while index < count:
        length = bits.peek(3)
        if length == 7:
            window = bits.peek(16)
            mask = 1 << 12
            while window & mask:
                mask >>= 1
                length += 1
            if length > _MAX_CODE_LENGTH:
                raise ContainerError("LZH: code length over 16 bits")
        bits.skip(3 if length < 7 else length - 3)
        lengths[index] = length
        index += 1
        if index == gap_after:
            index += bits.read(2)
    return HuffmanCode(lengths)


def _read_literal_code(bits: BitReader, length_code: HuffmanCode) -> HuffmanCode:
    count = bits.read(_LITERAL_BITS)
    if count == 0:
        return HuffmanCode.single(bits.read(_LITERAL_BITS))
    if count > _LITERAL_SYMBOLS:
        raise ContainerError("LZH: literal table larger than its alphabet")
    lengths = [0] * _LITERAL_SYMBOLS
    index = 0
    while index < count:
        symbol = bits.decode(length_code)
        if symbol == 0:
            index += 1
        elif symbol == 1:
            index += bits.read(4) + 3
        elif symbol == 2:
            index += bits.read(_LITERAL_BITS) + 20
        elif index < _LITERAL_SYMBOLS:
            lengths[index] = symbol - 2
            index += 1
        else:
            raise ContainerError("LZH: literal table overruns its alphabet")
    return HuffmanCode(lengths)


def decode_stored(data: bytes, start: int, end: int, limit: int, lookahead: int = 0) -> bytes:
    """Up to ``limit`` bytes of stored data in ``data[start:end]`` (ARJ method 0, -lh0-);
    with a ``lookahead`` (see ``decode_huffman``), data cut short is an error."""
    if lookahead and end - start < limit:
        raise ContainerError("stored data cut off")
    return data[start : min(end, start + limit)]


def _reader(data: bytes, start: int, end: int, lookahead: int) -> BitReader:
    return BitReader(data, start, end, 0 if lookahead else OVERRUN_BYTES)


def _check_lookahead(bits: BitReader, end: int, lookahead: int) -> None:
    if bits.bits_consumed + lookahead > end * 8:
        raise ContainerError("compressed data ends early")


def decode_huffman(
    data: bytes,
    start: int,
    end: int,
    limit: int,
    distance_symbols: int,
    distance_bits: int,
    lookahead: int = 0,
) -> bytes:
    """Up to ``limit`` bytes of a block-Huffman stream in ``data[start:end]``.

    ARJ 1-3 and -lh7- use 17 distance symbols counted in 5 bits, -lh6- 16 and 5,
    -lh4-/-lh5- 14 and 4.  A ``lookahead`` of n bits means ``end`` is where the
    file ends rather than where the stream does: nothing past it may be read, and
    n bits must remain after the last one used (the reference's decoder always
    holds that many ahead, and fails when the file cannot give them).
    """
    bits = _reader(data, start, end, lookahead)
    out = bytearray()
    left_in_block = 0
    while len(out) < limit:
        if left_in_block == 0:
            left_in_block = bits.read(16) or 1 << 16  # a 16-bit counter: 0 wraps to 65536
            length_code = _read_length_code(bits, _LENGTH_CODE_SYMBOLS, _LENGTH_CODE_BITS, 3)
            literal_code = _read_literal_code(bits, length_code)
            distance_code = _read_length_code(bits, distance_symbols, distance_bits, -1)
        if not literal_code.max_length and 0 <= literal_code.table[0] >> 5 < 256:
            # A one-literal block reads no bits: emit its run at once, not byte by byte.
            run = min(left_in_block, limit - len(out))
            out += bytes([literal_code.table[0] >> 5]) * run
            left_in_block -= run
            continue
        left_in_block -= 1
        symbol = bits.decode(literal_code)
        if symbol < 256:
            out.append(symbol)
            continue
        width = bits.decode(distance_code)
        distance = (1 << (width - 1)) + bits.read(width - 1) if width else 0
        copy_match(out, distance + 1, symbol - 256 + _MIN_MATCH)
    _check_lookahead(bits, end, lookahead)
    return bytes(out[:limit])


def _unary_prefixed(bits: BitReader, first_width: int, last_width: int) -> int:
    """ARJ method 4's numbers: one 1 bit per extra width step, a 0, then the value."""
    base = 0
    width = first_width
    while width < last_width and bits.read(1):
        base += 1 << width
        width += 1
    return base + bits.read(width)


def decode_fastest(data: bytes, start: int, end: int, limit: int, lookahead: int = 0) -> bytes:
    """Up to ``limit`` bytes of an ARJ method-4 stream in ``data[start:end]``
    (``lookahead`` as for ``decode_huffman``)."""
    bits = _reader(data, start, end, lookahead)
    out = bytearray()
    while len(out) < limit:
        length = _unary_prefixed(bits, 0, 7)
        if length == 0:
            out.append(bits.read(8))
            continue
        copy_match(out, _unary_prefixed(bits, 9, 13) + 1, length - 1 + _MIN_MATCH)
    _check_lookahead(bits, end, lookahead)
    return bytes(out[:limit])
