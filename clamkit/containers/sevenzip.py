"""7-Zip archives, read with ``py7zr``.

Strategy: hand py7zr a copy of the archive (it reads through a file
object; the archive is itself within MaxFileSize), list it, then extract
one file at a time into a memory writer that refuses to grow past the
member budget (raising stops ``py7zr`` mid-stream, so a bomb costs its
budget, not its size).  Files in
a solid block cost a decompression from the block's start each; that is
the price of holding one member at a time, and MaxFiles bounds it.

Only the coders the reference reads are used: copy, LZMA, LZMA2 and the
branch converters (BCJ x86, PPC, IA64, ARM, ARM Thumb, SPARC); files behind
any other coder (PPMd, Delta, bzip2, Deflate, zstd, Brotli) are skipped, as
the reference skips them.  An encrypted block, or encrypted headers, give
``Heuristics.Encrypted.7Zip`` under AlertEncryptedArchive.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

import py7zr
import py7zr.exceptions
import py7zr.io

from clamkit.containers.base import Alert, ContainerError, Extraction, Member
from clamkit.engine.filetypes import FileType

if TYPE_CHECKING:
    from clamkit.engine.bodyregex import Buffer

__all__ = ["FORMAT", "SevenZipFormat"]

ENCRYPTED_7ZIP = "Heuristics.Encrypted.7Zip"

_AES = b"\x06\xf1\x07\x01"
_READ_CODERS = frozenset(
    {
        b"\x00",  # copy
        b"\x03\x01\x01",  # LZMA
        b"\x21",  # LZMA2
        b"\x03\x03\x01\x03",  # BCJ x86
        b"\x03\x03\x02\x05",  # PPC
        b"\x03\x03\x04\x01",  # IA64
        b"\x03\x03\x05\x01",  # ARM
        b"\x03\x03\x07\x01",  # ARM Thumb
        b"\x03\x03\x08\x05",  # SPARC
    }
)


# What py7zr raises on damaged input: its own errors, and whatever its
# header parser trips over (it reads fields it has not validated).
_LIBRARY_FAILURES = (
    py7zr.exceptions.ArchiveError,
    ValueError,
    EOFError,
    LookupError,
    OSError,
    TypeError,
    AttributeError,
    ArithmeticError,
    MemoryError,
)


class _BudgetExceeded(Exception):
    """Raised inside py7zr's extraction to stop it at the member budget."""


class _Collector(py7zr.io.Py7zIO):
    """Collects one member's bytes, at most ``budget`` of them."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.data = bytearray()
        self.truncated = False

    def write(self, s: bytes | bytearray) -> int:
        room = self.budget - len(self.data)
        self.data += s[:room]
        if len(s) > room:
            self.truncated = True
            raise _BudgetExceeded
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return len(self.data)

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self.data)


class _Factory(py7zr.io.WriterFactory):
    def __init__(self, budget: int) -> None:
        self.collector = _Collector(budget)

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        return self.collector


class SevenZipFormat:
    name = "7z"

    def recognise(self, file_type: FileType, data: Buffer) -> bool:
        return file_type in (FileType.CL_TYPE_7Z, FileType.CL_TYPE_7ZSFX)

    def members(self, data: Buffer, extraction: Extraction) -> Iterator[Member | Alert]:
        try:
            archive = py7zr.SevenZipFile(io.BytesIO(data))
        except py7zr.exceptions.PasswordRequired:
            yield Alert(ENCRYPTED_7ZIP, "alert_encrypted_archive")
            return
        except _LIBRARY_FAILURES as error:
            raise ContainerError(f"7z: {error}") from error
        with archive:
            for entry in list(archive.files):
                if entry.is_directory or entry.emptystream or entry.folder is None:
                    continue
                methods = {coder["method"] for coder in entry.folder.coders}
                if _AES in methods:
                    yield Alert(ENCRYPTED_7ZIP, "alert_encrypted_archive")
                    continue
                if not methods <= _READ_CODERS:
                    continue
                budget = extraction.member_budget()
                if budget <= 0:
                    return
                factory = _Factory(budget)
                archive.reset()
                try:
                    archive.extract(targets=[entry.filename], factory=factory)
                except _BudgetExceeded:
                    pass
                except _LIBRARY_FAILURES:
                    # A damaged block: what came out before the damage is scanned.
                    pass
                collector = factory.collector
                if collector.data:
                    size = entry.uncompressed
                    yield Member(entry.filename, bytes(collector.data), size, collector.truncated)


FORMAT = SevenZipFormat()
