"""OLE2 (Compound File Binary) documents as containers: Word, Excel, PowerPoint, MSI ...

Strategy: ``olefile`` reads the compound file; every stream, in every
storage, is a member, as ClamAV dumps them all.  Four kinds of stream are
also opened further, as the reference does:

* ``\\x01Ole10Native`` holds an OLE1 object; an embedded *Package* gives the
  packaged file itself (:func:`ole10_native_payload`, shared with RTF);
* a VBA project's ``dir`` stream (MS-OVBA compressed) lists its modules;
  their sources, decompressed and normalised as the reference writes them
  (lower case outside strings), make one ``vba_project`` member, and the
  project raises ``Heuristics.OLE2.ContainsMacros.VBA`` under
  AlertOLE2Macros;
* an Excel workbook stream that declares an Excel 4 macro sheet raises
  ``Heuristics.OLE2.ContainsMacros.XLM`` (its formulas are not extracted);
* ``PowerPoint Document`` top-level records of type ExOleObjStg hold
  embedded objects, zlib compressed (the reference inflates them whatever
  the record instance says); each is a member named ``ppt``, then the
  offset of its zlib data in the stream as eight hex digits, then ``.doc``.

Decompression (MS-OVBA, zlib) stops at the member budget.  A file olefile
cannot open is a ContainerError.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Iterator

import olefile

from clamkit.containers.base import (
    EXCEEDED_MAX_FILES,
    EXCEEDED_MAX_RECURSION,
    Alert,
    ContainerError,
    Extraction,
    Member,
)
from clamkit.containers.transfer import bounded_member
from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import FileType

__all__ = [
    "FORMAT",
    "MACROS_ALERT",
    "XLM_MACROS_ALERT",
    "Ole2Format",
    "decompress_vba",
    "has_xlm_macro_sheet",
    "normalise_vba",
    "ole10_native_payload",
]

MACROS_ALERT = "Heuristics.OLE2.ContainsMacros.VBA"
XLM_MACROS_ALERT = "Heuristics.OLE2.ContainsMacros.XLM"

# What olefile raises on a corrupt file: beyond the usual, a storage tree
# deep or looping enough to exhaust the stack (it walks it recursively) and
# sizes too large to index.
_OLEFILE_ERRORS = (OSError, ValueError, IndexError, struct.error, RecursionError, OverflowError)

_OLE10_NATIVE = "\x01Ole10Native"
_PPT_DOCUMENT = "PowerPoint Document"
_PPT_EXOLEOBJSTG = 0x1011
_PPT_RECORD = struct.Struct("<HHI")

# MS-OVBA: a compressed chunk decompresses to at most 4096 bytes.
_VBA_CHUNK = 4096
# dir stream record ids (MS-OVBA 2.3.4.2).
_DIR_PROJECTVERSION = 0x0009
_DIR_MODULESTREAMNAME = 0x001A
_DIR_MODULESTREAMNAME_UNICODE = 0x0032
_DIR_MODULEOFFSET = 0x0031
# Excel BIFF: the workbook stream's records, and the sheet kind of an Excel 4 macro sheet.
_WORKBOOK_STREAMS = frozenset({"workbook", "book"})
_BIFF_RECORD = struct.Struct("<HH")
_BIFF_BOUNDSHEET = 0x0085
_SHEET_XLM_MACROS = 0x01
_VBA_STRING = re.compile(rb'("[^"\r\n]*"?)')
_BLANKS = re.compile(rb"[ \t]+")


def ole10_native_payload(data: bytes) -> tuple[str, bytes] | None:
    """The file inside an OLE1 native stream: its name and bytes (None when there is none).

    A *Package* object (the native data is 4 or more bytes shorter than the
    stream) carries a label, the source path, a temporary path and then the
    file; anything else is the native data itself.
    """
    if len(data) < 4:
        return None
    (size,) = struct.unpack_from("<I", data)
    if len(data) - size < 4:
        return "", data[4 : 4 + size]
    try:
        label_end = data.index(b"\0", 6)
        path_end = data.index(b"\0", label_end + 1)
        # Two reserved words, then the length-prefixed temporary path.
        (temp_length,) = struct.unpack_from("<I", data, path_end + 5)
        at = path_end + 9 + temp_length
        (size,) = struct.unpack_from("<I", data, at)
    except (ValueError, struct.error):
        return None
    name = data[label_end + 1 : path_end].decode("latin-1").rsplit("\\", 1)[-1]
    return name, data[at + 4 : at + 4 + size]


def decompress_vba(data: bytes, cap: int) -> bytes:
    """MS-OVBA decompression of a CompressedContainer, stopping at ``cap`` bytes.

    Raises ContainerError when the signature byte is missing; a container
    cut short gives what was decompressed before the cut.
    """
    if not data or data[0] != 1:
        raise ContainerError("not an MS-OVBA compressed container")
    out = bytearray()
    pos = 1
    while pos + 2 <= len(data) and len(out) < cap:
        (header,) = struct.unpack_from("<H", data, pos)
        end = min(pos + (header & 0x0FFF) + 3, len(data))
        pos += 2
        if not header & 0x8000:
            out += data[pos : pos + _VBA_CHUNK]
            pos += _VBA_CHUNK
            continue
        chunk_start = len(out)
        while pos < end:
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= end:
                    break
                if not flags >> bit & 1:
                    out.append(data[pos])
                    pos += 1
                    continue
                if pos + 2 > end:
                    pos = end
                    break
                (token,) = struct.unpack_from("<H", data, pos)
                pos += 2
                done = len(out) - chunk_start
                bits = max((done - 1).bit_length(), 4)
                offset = (token >> (16 - bits)) + 1
                length = (token & (0xFFFF >> bits)) + 3
                if offset > done:
                    raise ContainerError("MS-OVBA copy token reaches before its chunk")
                # Byte by byte: the source may overlap what is being written.
                for _ in range(length):
                    out.append(out[-offset])
        pos = end
    return bytes(out[:cap])


def normalise_vba(source: bytes) -> bytes:
    """Module source as the reference writes it out: lower case and single blanks outside strings.

    Double-quoted strings keep their case and spacing (a doubled quote
    inside one just closes and reopens it); line ends are kept.
    """
    return b"".join(
        piece if piece.startswith(b'"') else _BLANKS.sub(b" ", piece.lower())
        for piece in _VBA_STRING.split(source)
    )


def _dir_modules(dir_data: bytes) -> Iterator[tuple[str, int]]:
    """(stream name, source offset) of every module a decompressed ``dir`` stream lists."""
    pos, name = 0, ""
    while pos + 6 <= len(dir_data):
        record, size = struct.unpack_from("<HI", dir_data, pos)
        pos += 6
        if record == _DIR_PROJECTVERSION:
            # Its size field says 4 but the record holds 6 bytes.
            size = 6
        value = dir_data[pos : pos + size]
        pos += size
        if record == _DIR_MODULESTREAMNAME:
            name = value.decode("latin-1")
        elif record == _DIR_MODULESTREAMNAME_UNICODE:
            name = value.decode("utf-16-le", "replace")
        elif record == _DIR_MODULEOFFSET and len(value) == 4:
            yield name, struct.unpack("<I", value)[0]


def has_xlm_macro_sheet(workbook: bytes) -> bool:
    """Whether a BIFF workbook stream declares an Excel 4 (XLM) macro sheet."""
    pos = 0
    while pos + _BIFF_RECORD.size <= len(workbook):
        record, length = _BIFF_RECORD.unpack_from(workbook, pos)
        body = pos + _BIFF_RECORD.size
        # BOUNDSHEET: stream position (4), visibility (1), sheet kind (1), name.
        if record == _BIFF_BOUNDSHEET and length >= 6 and workbook[body + 5] == _SHEET_XLM_MACROS:
            return True
        pos = body + length
    return False


def _ppt_objects(stream: bytes, cap: int) -> Iterator[tuple[str, bytes]]:
    """Embedded objects among a PowerPoint Document stream's top-level records."""
    pos = 0
    while pos + _PPT_RECORD.size <= len(stream):
        _, record, length = _PPT_RECORD.unpack_from(stream, pos)
        body = pos + _PPT_RECORD.size
        pos = body + length
        if record != _PPT_EXOLEOBJSTG:
            continue
        # Its decompressed size, then zlib data: the reference inflates every
        # such record, whatever its instance says, and skips what fails.
        start = body + 4
        try:
            data = zlib.decompressobj().decompress(stream[start:pos], cap)
        except zlib.error:
            continue
        yield f"ppt{start:08x}.doc", data


def _walk_order(ole: olefile.OleFileIO) -> tuple[list[list[str]], list[list[str]]]:
    """(stream paths, storage paths) in the order the reference walks the
    directory tree: an entry, then its right sibling's subtree, then its
    children, then its left sibling's subtree.  MaxFiles applies in that order."""
    streams: list[list[str]] = []
    storages: list[list[str]] = []
    seen: set[int] = set()
    # (entry id, path of the storage holding it), depth first without recursion.
    pending: list[tuple[int, list[str]]] = [(0, [])]
    while pending:
        sid, parent = pending.pop()
        if sid in seen or not 0 <= sid < len(ole.direntries):
            continue  # free slots and loops in a damaged tree
        seen.add(sid)
        entry = ole.direntries[sid]
        if entry is None:
            continue
        # Entry 0 is the root whatever type a damaged file gives it: it has
        # no name to make a path of, only children.
        is_root = sid == 0
        path = [] if is_root else [*parent, entry.name]
        if entry.entry_type == olefile.STGTY_STREAM and not is_root:
            streams.append(path)
        elif entry.entry_type == olefile.STGTY_STORAGE and not is_root:
            storages.append(path)
        # Pushed in reverse: the left sibling is walked last.
        pending.append((entry.sid_left, parent))
        if is_root or entry.entry_type == olefile.STGTY_STORAGE:
            pending.append((entry.sid_child, path))
        pending.append((entry.sid_right, parent))
    return streams, storages


def _read(ole: olefile.OleFileIO, path: list[str]) -> bytes | None:
    """A stream's bytes (None when it cannot be read: it is skipped)."""
    try:
        return ole.openstream(path).read()
    except _OLEFILE_ERRORS:
        return None


class Ole2Format:
    """Compound files (``CL_TYPE_MSOLE2``)."""

    name = "ole2"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type is FileType.CL_TYPE_MSOLE2

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        try:
            ole = olefile.OleFileIO(io.BytesIO(bytes(data)))
        except _OLEFILE_ERRORS as error:
            raise ContainerError(f"OLE2: {error}") from error
        with ole:
            yield from self._streams(ole, extraction)

    def _streams(self, ole: olefile.OleFileIO, extraction: Extraction) -> Iterator[Member | Alert]:
        alerted = False
        paths, storages = _walk_order(ole)
        # The reference walks the storage tree only MaxRecursion storages deep
        # (the root is depth 0), whatever the document's own nesting, and
        # reports the limit once.
        deepest = extraction.options.max_recursion or len(max(storages, key=len, default=[])) + 1
        if any(len(storage) >= deepest for storage in storages):
            yield Alert(EXCEEDED_MAX_RECURSION, "alert_exceeds_max")
        paths = [path for path in paths if len(path) <= deepest]
        # It extracts at most MaxFiles streams from one document, whatever
        # the scan counted before, and reports the limit once.
        limit = extraction.options.max_files
        if limit and len(paths) > limit:
            yield Alert(EXCEEDED_MAX_FILES, "alert_exceeds_max")
            paths = paths[:limit]
        streams = [(path, stream) for path in paths if (stream := _read(ole, path)) is not None]
        # PowerPoint's embedded objects are scanned before any stream.
        for path, stream in streams:
            if path[-1] == _PPT_DOCUMENT:
                for name, content in _ppt_objects(stream, extraction.member_budget() + 1):
                    member = bounded_member(name, content, extraction)
                    if member is None:
                        return
                    yield member
        for path, stream in streams:
            found = [("/".join(path), stream)]
            cap = extraction.member_budget() + 1
            leaf = path[-1]
            if leaf == _OLE10_NATIVE and (payload := ole10_native_payload(stream)) is not None:
                found.insert(0, payload)  # the reference scans the packaged file first
            elif leaf.lower() in _WORKBOOK_STREAMS and has_xlm_macro_sheet(stream):
                yield Alert(XLM_MACROS_ALERT, "alert_ole2_macros")
            elif leaf.lower() == "dir" and len(path) > 1:
                sources = self._vba_sources(ole, path[:-1], stream, cap)
                if sources and not alerted:
                    alerted = True
                    yield Alert(MACROS_ALERT, "alert_ole2_macros")
                if sources:
                    project = b"\n".join(normalise_vba(source) for source in sources)
                    found.append(("/".join(path[:-1]) + "/vba_project", project))
            for name, content in found:
                member = bounded_member(name, content, extraction)
                if member is None:
                    return
                yield member

    @staticmethod
    def _vba_sources(
        ole: olefile.OleFileIO, storage: list[str], dir_stream: bytes, cap: int
    ) -> list[bytes]:
        try:
            listing = decompress_vba(dir_stream, cap)
        except ContainerError:
            return []
        sources: list[bytes] = []
        # The sources make one member: together they stay within the cap.
        left = cap
        for name, offset in _dir_modules(listing):
            path = [*storage, name]
            if left <= 0:
                break
            if not name or not ole.exists(path):
                continue
            try:
                source = decompress_vba(ole.openstream(path).read()[offset:], left)
            except (ContainerError, *_OLEFILE_ERRORS):
                continue
            sources.append(source)
            left -= len(source)
        return sources


FORMAT = Ole2Format()
