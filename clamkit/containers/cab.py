"""Microsoft cabinet files (MS-CAB, ``MSCF``): stored, MSZIP, Quantum and LZX folders.

Format, following Microsoft's cabinet specification: a header (``MSCF``,
sizes, the folder and file counts, flags: 1 previous cabinet, 2 next
cabinet, 4 reserved areas present), then folder entries (offset of the
first data block, block count, compression type: low nibble 0 none,
1 MSZIP, 2 Quantum, 3 LZX with the window size in bits 8-12) and file
entries (size, offset in the folder's uncompressed stream, folder index,
date, time, attributes with 0x80 meaning a UTF-8 name, the name).  Each
data block has a checksum, its stored and uncompressed sizes and its data.
An MSZIP block is ``CK`` plus a raw deflate stream of at most 32 KB of
output that may refer to the previous block's output (a damaged one is
repaired with zeros, as the reference does); an LZX or Quantum
folder is one stream split into 32 KB frames, one per block.

Strategy: each folder becomes a lazy stream of uncompressed blocks, and its
files are cut out of it by ``range_members`` in offset order.  MSZIP blocks
go to zlib with the previous 32 KB as preset dictionary, each capped at the
32 KB a block may hold; LZX and Quantum folders are one stream each,
cut into 32 KB frames (Quantum with a 0xFF trailer after each block, on
which it realigns).  Files that continue from or into another cabinet of
a set are skipped: their data is not all here.  The reference's other
habits, measured on altered cabinets, are kept: file entries are read
right after the folder entries (the header's pointer to them is not
followed), a block declaring no uncompressed data ends its folder, a file
is what its folder's stream holds of it (in stored and Quantum folders, a
file claiming more is lost with the files after it), and MaxFileSize is
weighed against what is extracted, not against what an entry claims.
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from collections.abc import Iterator

from clamkit.containers import lzx, quantum
from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.containers.spans import range_members
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

_HEADER = struct.Struct("<4sIIIIIBBHHHHH")
_FOLDER = struct.Struct("<IHH")
_FILE = struct.Struct("<IIHHHH")
_DATA = struct.Struct("<IHH")
_FLAG_PREVIOUS, _FLAG_NEXT, _FLAG_RESERVE = 0x1, 0x2, 0x4
_NAME_IS_UTF8 = 0x80
_CONTINUED_FOLDERS = frozenset({0xFFFD, 0xFFFE, 0xFFFF})
_STORED, _MSZIP, _QUANTUM, _LZX = 0, 1, 2, 3
_MSZIP_FRAME = 32768
_REPAIR_PIECE = 64


def _unpack(layout: struct.Struct, data: Buffer, offset: int) -> tuple[int, ...]:
    if offset < 0 or offset + layout.size > len(data):
        raise ContainerError("CAB: structure runs past the end of the cabinet")
    return layout.unpack_from(data, offset)


def _string(data: Buffer, offset: int) -> tuple[bytes, int]:
    """A NUL-terminated string at ``offset`` and the offset after it."""
    end = bytes(data[offset : offset + 257]).find(b"\0")
    if end < 0:
        raise ContainerError("CAB: unterminated name")
    return bytes(data[offset : offset + end]), offset + end + 1


class _Folder:
    __slots__ = ("blocks", "data_reserve", "first_block", "method", "total")

    def __init__(self, first_block: int, blocks: int, method: int, data_reserve: int) -> None:
        self.first_block = first_block
        self.blocks = blocks
        self.method = method
        self.data_reserve = data_reserve
        self.total: int | None = None

    def size(self, data: Buffer) -> int:
        """How much a stored or Quantum folder holds: its (whole) blocks' stored
        bytes, or the uncompressed sizes they declare."""
        if self.total is None:
            self.total = 0
            stored = self.method & 0x0F == _STORED
            with contextlib.suppress(ContainerError):
                for block, size in self.block_data(data):
                    self.total += len(block) if stored else size
        return self.total

    def block_data(self, data: Buffer) -> Iterator[tuple[Buffer, int]]:
        """Each data block's stored bytes and its uncompressed size, up to a block
        declaring no uncompressed data (one continued in the next cabinet of a set:
        the reference's folder ends there)."""
        offset = self.first_block
        for _ in range(self.blocks):
            _checksum, stored, uncompressed = _unpack(_DATA, data, offset)
            if not uncompressed:
                return
            offset += _DATA.size + self.data_reserve
            if offset + stored > len(data):
                raise ContainerError("CAB: data block runs past the end of the cabinet")
            yield data[offset : offset + stored], uncompressed
            offset += stored

    def stream(self, data: Buffer) -> Iterator[bytes]:
        """The folder's uncompressed content, block by block."""
        kind = self.method & 0x0F
        if kind == _STORED:
            for block, _size in self.block_data(data):
                yield bytes(block)
        elif kind == _MSZIP:
            yield from self._mszip(data)
        elif kind == _LZX:
            yield from lzx.decompress(*self._joined(data, b""))
        elif kind == _QUANTUM:
            # Each block ends with the 0xFF trailer Quantum realigns on.
            yield from quantum.decompress(*self._joined(data, b"\xff"))
        else:
            raise ContainerError(f"CAB: unknown compression type {kind}")

    def _joined(self, data: Buffer, trailer: bytes) -> tuple[bytes, int, int]:
        """One stream of all blocks, the window bits, and the total uncompressed size."""
        blocks = list(self.block_data(data))
        compressed = b"".join(bytes(block) + trailer for block, _size in blocks)
        return compressed, (self.method >> 8) & 0x1F, sum(size for _block, size in blocks)

    def _mszip(self, data: Buffer) -> Iterator[bytes]:
        history = b""
        for block, _size in self.block_data(data):
            if bytes(block[:2]) != b"CK":
                raise ContainerError("CAB: MSZIP block without its CK signature")
            output = _inflate_block(bytes(block[2:]), history)
            history = (history + output)[-_MSZIP_FRAME:]
            yield output


def _inflate_block(block: bytes, history: bytes) -> bytes:
    """One MSZIP block's output.

    Damaged deflate data is repaired as the reference repairs it: what
    inflated before the damage, then zeros to the full 32 KB frame.  A block
    whose deflate stream does not reach its final block is not repaired: the
    reference reads on into the next block there and loses its footing.
    """
    inflater = zlib.decompressobj(-15, zdict=history)
    try:
        output = inflater.decompress(block, _MSZIP_FRAME)
    except zlib.error:
        return _repaired_block(block, history)
    if not inflater.eof:
        raise ContainerError("CAB: MSZIP block ends inside its deflate stream")
    return output


def _repaired_block(block: bytes, history: bytes) -> bytes:
    inflater = zlib.decompressobj(-15, zdict=history)
    output = bytearray()
    with contextlib.suppress(zlib.error):
        # Small pieces, so what came out before the damage is kept.
        for start in range(0, len(block), _REPAIR_PIECE):
            output += inflater.decompress(
                block[start : start + _REPAIR_PIECE], _MSZIP_FRAME - len(output)
            )
            if len(output) >= _MSZIP_FRAME:
                break
    return bytes(output[:_MSZIP_FRAME]).ljust(_MSZIP_FRAME, b"\0")


class CabFormat:
    name = "CAB"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_MSCAB

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        header = _unpack(_HEADER, data, 0)
        signature, folder_count, file_count, flags = header[0], header[8], header[9], header[10]
        if signature != b"MSCF":
            raise ContainerError("CAB: not a cabinet")
        offset = _HEADER.size
        folder_reserve = data_reserve = 0
        if flags & _FLAG_RESERVE:
            header_reserve, folder_reserve, data_reserve = _unpack(
                struct.Struct("<HBB"), data, offset
            )
            offset += 4 + header_reserve
        for flag in (_FLAG_PREVIOUS, _FLAG_NEXT):
            if flags & flag:  # cabinet name, then disk name
                offset = _string(data, _string(data, offset)[1])[1]
        folders = []
        for _ in range(folder_count):
            first_block, blocks, method = _unpack(_FOLDER, data, offset)
            folders.append(_Folder(first_block, blocks, method, data_reserve))
            offset += _FOLDER.size + folder_reserve
        ranges: list[list[tuple[str, int, int]]] = [[] for _ in folders]
        broken: set[int] = set()
        # The reference reads the file entries right after the folders (it does
        # not follow the header's pointer to them), skips entries of folders
        # that do not exist, and gives up on the cabinet if an entry is cut off.
        for _ in range(file_count):
            size, folder_offset, folder, _date, _time, attributes = _unpack(_FILE, data, offset)
            raw_name, offset = _string(data, offset + _FILE.size)
            if folder in _CONTINUED_FOLDERS or folder >= len(folders):
                continue
            name = raw_name.decode("utf-8" if attributes & _NAME_IS_UTF8 else "latin-1", "replace")
            # A file claiming more than its folder holds: the reference takes what
            # the stream gives from MSZIP and LZX folders (range_members cuts it
            # there), and in stored and Quantum ones loses it and every later
            # file of the folder.
            kind = folders[folder].method & 0x0F
            if kind in (_STORED, _QUANTUM) and folder_offset + size > folders[folder].size(data):
                broken.add(folder)
            if folder not in broken:
                ranges[folder].append((name, folder_offset, size))
        for folder_entry, folder_ranges in zip(folders, ranges, strict=True):
            if folder_ranges:
                yield from range_members(folder_entry.stream(data), folder_ranges, extraction)


FORMAT = CabFormat()
