"""BinHex 4.0 as a container: the data and resource forks of the encoded file.

Strategy: the text between the colons after the ``(This file must be
converted with BinHex`` line is a base64 variant with its own alphabet, so
it is translated to the standard alphabet and decoded by ``binascii``; the
result is run-length expanded (0x90 marks a run) up to what the header
declares or the member budget allows, whichever is less, so a run-length
bomb costs no more than the limit.  The header's CRCs are not checked,
as ClamAV does not reject a file over them.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.containers.transfer import bounded_member, decode_base64
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = ["FORMAT", "BinHexFormat", "find_binhex"]

_ALPHABET = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr"
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Characters outside the alphabet become a byte that base64 decoding skips.
_TO_BASE64 = bytes(_BASE64[_ALPHABET.index(c)] if c in _ALPHABET else ord("\n") for c in range(256))

_BLOCK = re.compile(rb"\(This file must be converted with BinHex[^\n]*\n[^:]*:([^:]*)")
_RUN = 0x90
# Header after the name: version, type, creator, flags, data and resource lengths, CRC.
_HEADER = struct.Struct(">B4s4sHIIH")


def _expand_runs(packed: bytes, cap: int) -> bytes:
    """Undo BinHex run-length coding, stopping once ``cap`` bytes are out."""
    pieces = packed.split(bytes([_RUN]))
    out = bytearray(pieces[0][:cap])
    for piece in pieces[1:]:
        if len(out) >= cap or not piece:
            break
        count = piece[0]
        if count == 0:
            out.append(_RUN)
        elif out:
            out += out[-1:] * min(count - 1, cap - len(out))
        out += piece[1:]
    return bytes(out[:cap])


def decode_binhex(text: bytes, cap: int) -> tuple[str, bytes, bytes]:
    """Name, data fork and resource fork of one BinHex body (the text between the colons).

    Raises ContainerError when the header is cut short.  Forks are cut at ``cap`` bytes.
    """
    packed = decode_base64(text.translate(_TO_BASE64))
    # The header is at most 1 + 255 + 21 bytes; the forks follow with 2-byte CRCs.
    head = _expand_runs(packed, 1 + 255 + _HEADER.size)
    if not head or len(head) < 1 + head[0] + _HEADER.size:
        raise ContainerError("BinHex header truncated")
    name_end = 1 + head[0]
    name = head[1:name_end].decode("latin-1")
    _, _, _, _, data_size, resource_size, _ = _HEADER.unpack_from(head, name_end)
    start = name_end + _HEADER.size
    data_size, resource_size = min(data_size, cap), min(resource_size, cap)
    whole = _expand_runs(packed, start + data_size + 2 + resource_size)
    data = whole[start : start + data_size]
    resource = whole[start + data_size + 2 : start + data_size + 2 + resource_size]
    return name, data, resource


def _forks(name: str, data: bytes, resource: bytes) -> Iterator[tuple[str, bytes]]:
    yield name, data
    if resource:
        yield name + ".rsrc", resource


def find_binhex(text: bytes, cap: int) -> Iterator[tuple[str, bytes]]:
    """Name and forks of every BinHex block in ``text`` (resource forks as ``NAME.rsrc``).

    Forks are cut at ``cap`` bytes; pass one more than the member budget so
    ``bounded_member`` sees that they were cut.
    """
    for block in _BLOCK.finditer(text):
        try:
            yield from _forks(*decode_binhex(block.group(1), cap))
        except ContainerError:
            continue


class BinHexFormat:
    """Files that start with the BinHex 4.0 banner (``CL_TYPE_BINHEX``)."""

    name = "binhex"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_BINHEX

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        block = _BLOCK.match(bytes(data))
        if block is None:
            raise ContainerError("no BinHex data after the banner")
        name, fork, resource = decode_binhex(block.group(1), extraction.member_budget() + 1)
        for member_name, content in _forks(name, fork, resource):
            member = bounded_member(member_name, content, extraction)
            if member is None:
                return
            yield member


FORMAT = BinHexFormat()
