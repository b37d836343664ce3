"""RTF documents as containers: their embedded objects (``\\objdata``).

Strategy: each ``\\objdata`` destination is read to the end of its group
(brace depth counted, control words dropped, the remaining hex digits
decoded).  The bytes are an OLE1 object: version, format, class, topic and
item names, then the native data.  A *Package* object gives the packaged
file (through the OLE1 package reader shared with OLE2); any other class
gives its native data, typically a whole OLE2 document; bytes that are not
an OLE1 object are dropped, as the reference drops them.  Text in an
ignorable group nested in the object data (``{\\* ...}``) belongs to
another destination and is skipped.  (The reference governs RTF
with ScanArchive, not a document switch: it is registered so.)
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

from clamkit.containers.base import Alert, Extraction, Member
from clamkit.containers.ole2 import ole10_native_payload
from clamkit.containers.transfer import bounded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = ["FORMAT", "RtfFormat", "ole1_object"]

_OBJDATA = re.compile(rb"\\objdata(?![a-zA-Z])")
_BRACE = re.compile(rb"\\[{}\\]|[{}]")
_CONTROL = re.compile(rb"\\[a-zA-Z]+-?[0-9]* ?|\\.|[{}]")
_NOT_HEX = re.compile(rb"[^0-9a-fA-F]+")

_OLE1_VERSION = 0x0501
_PACKAGE = "Package"


def _group_end(text: bytes, start: int) -> int:
    """Where the group that is open at ``start`` closes (the end of the text if it does not)."""
    depth = 0
    for brace in _BRACE.finditer(text, start):
        token = brace.group()
        if token == b"{":
            depth += 1
        elif token == b"}":
            if depth == 0:
                return brace.start()
            depth -= 1
    return len(text)


def _without_ignorable_groups(text: bytes) -> bytes:
    """``text`` less its ``{\\* ...}`` groups, whose content belongs to another destination."""
    kept = []
    pos = 0
    while (start := text.find(b"{\\*", pos)) >= 0:
        kept.append(text[pos:start])
        pos = _group_end(text, start + 1) + 1
    kept.append(text[pos:])
    return b"".join(kept)


def _hex_bytes(text: bytes) -> bytes:
    digits = _NOT_HEX.sub(b"", _CONTROL.sub(b"", _without_ignorable_groups(text)))
    return bytes.fromhex(digits[: len(digits) // 2 * 2].decode("ascii"))


def _counted_string(data: bytes, at: int) -> tuple[bytes, int]:
    (length,) = struct.unpack_from("<I", data, at)
    end = at + 4 + length
    if end > len(data):
        raise struct.error("string runs past the object")
    return data[at + 4 : end].rstrip(b"\0"), end


def ole1_object(data: bytes) -> tuple[str, bytes] | None:
    """Class name and native data (4-byte size first) of an OLE1 object, or None."""
    try:
        version, _ = struct.unpack_from("<II", data)
        if version & 0xFFFF != _OLE1_VERSION:
            return None
        class_name, at = _counted_string(data, 8)
        for _ in range(2):  # topic and item names
            _, at = _counted_string(data, at)
        struct.unpack_from("<I", data, at)
    except struct.error:
        return None
    return class_name.decode("latin-1"), data[at:]


def embedded_objects(text: bytes) -> Iterator[tuple[str, bytes]]:
    """Name and content of what every ``\\objdata`` in an RTF text holds."""
    for found in _OBJDATA.finditer(text):
        data = _hex_bytes(text[found.end() : _group_end(text, found.end())])
        if not data:
            continue
        parsed = ole1_object(data)
        if parsed is None:
            # The reference waits for the OLE1 header and drops anything else.
            continue
        class_name, native = parsed
        payload = ole10_native_payload(native) if class_name == _PACKAGE else None
        if payload is not None:
            yield payload
        else:
            (size,) = struct.unpack_from("<I", native)
            yield class_name, native[4 : 4 + size]


class RtfFormat:
    """Rich Text Format documents (``CL_TYPE_RTF``)."""

    name = "rtf"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_RTF

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        for name, content in embedded_objects(bytes(data)):
            member = bounded_member(name or "objdata", content, extraction)
            if member is None:
                return
            yield member


FORMAT = RtfFormat()
