"""7-Zip archives, read with ``py7zr``.

Strategy: hand py7zr a copy of the archive (it reads through a file
object; the archive is itself within MaxFileSize) and let it extract every
readable file in one pass, in a thread, into memory writers that keep at
most the member budget of each file.  The thread waits before each file
until the walk asks for the next member, so one member is held at a time
and a solid block is decoded once.  A file far over its budget is decoded
to its end and the excess dropped (stopping py7zr would lose the files
after it); the scan time limit and ``should_stop`` end that wait, and a
walk that stops early cancels the thread at its next write.

Only the coders the reference reads are used: copy, LZMA, LZMA2 and the
branch converters (BCJ x86, PPC, IA64, ARM, ARM Thumb, SPARC); files behind
any other coder (PPMd, Delta, bzip2, Deflate, zstd, Brotli) are skipped, as
the reference skips them.  An encrypted block, or encrypted headers, give
``Heuristics.Encrypted.7Zip`` under AlertEncryptedArchive.
"""

from __future__ import annotations

import io
import lzma
import queue
import threading
import time
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


# How often a wait for py7zr checks whether the caller wants to stop.
_POLL_SECONDS = 0.05

# What py7zr raises on damaged input: its own errors, and whatever its
# header parser trips over (it reads fields it has not validated).
_LIBRARY_FAILURES = (
    py7zr.exceptions.ArchiveError,
    lzma.LZMAError,
    ValueError,
    EOFError,
    LookupError,
    OSError,
    TypeError,
    AttributeError,
    ArithmeticError,
    MemoryError,
)


class _Cancelled(Exception):
    """Raised inside py7zr's extraction when the walk no longer wants members."""


class _Collector(py7zr.io.Py7zIO):
    """Collects one member's bytes, at most ``budget`` of them; the rest is
    decoded and dropped (stopping py7zr would lose the files after it)."""

    def __init__(self, pipe: _Pipe, name: str, budget: int) -> None:
        self.pipe = pipe
        self.name = name
        self.budget = budget
        self.data = bytearray()
        self.truncated = False

    def write(self, s: bytes | bytearray) -> int:
        if self.pipe.cancelled.is_set():
            raise _Cancelled
        room = self.budget - len(self.data)
        if len(s) > room:
            self.truncated = True
        self.data += s[: max(room, 0)]
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return len(self.data)

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self.data)

    def close(self) -> None:
        """py7zr is done with this file: hand it to the walk."""
        self.pipe.results.put(self)


class _Pipe(py7zr.io.WriterFactory):
    """Turns py7zr's push (one writer per file) into the walk's pull.

    py7zr runs in a thread; before each file it waits until the walk asks
    for the next member, so one member at a time is held, and a solid block
    is decoded once rather than once per file.
    """

    def __init__(self, extraction: Extraction) -> None:
        self.extraction = extraction
        # A member far over its budget is still decoded (and dropped); the
        # scan time limit bounds how long that may take.
        limit = extraction.options.max_scantime_ms
        self.deadline = time.monotonic() + limit / 1000 if limit else None
        self.results: queue.Queue[_Collector | BaseException | None] = queue.Queue()
        self.wanted = threading.Semaphore(0)
        self.cancelled = threading.Event()

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        self.wanted.acquire()
        if self.cancelled.is_set():
            raise _Cancelled
        return _Collector(self, filename, self.extraction.member_budget())

    def run(self, archive: py7zr.SevenZipFile, targets: list[str]) -> None:
        """The thread: extract ``targets``, then say it is done (None) or why not."""
        try:
            archive.extract(targets=targets, factory=self)
        except _Cancelled:
            pass
        except BaseException as error:
            # Whatever it is, the walk's thread decides what it means.
            self.results.put(error)
            return
        self.results.put(None)

    def next(self) -> _Collector | BaseException | None:
        """Ask for the next file and wait for it, giving up if the caller wants to stop."""
        self.wanted.release()
        should_stop = self.extraction.options.should_stop
        while True:
            try:
                return self.results.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if should_stop is not None and should_stop():
                    return None
                if self.deadline is not None and time.monotonic() > self.deadline:
                    return None

    def stop(self) -> None:
        self.cancelled.set()
        self.wanted.release()


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
            targets: dict[str, int] = {}
            for entry in archive.files:
                if entry.is_directory or entry.emptystream or entry.folder is None:
                    continue
                methods = {coder["method"] for coder in entry.folder.coders}
                if _AES in methods:
                    yield Alert(ENCRYPTED_7ZIP, "alert_encrypted_archive")
                elif methods <= _READ_CODERS:
                    targets[entry.filename] = entry.uncompressed
            if targets:
                yield from self._extracted(archive, targets, extraction)

    @staticmethod
    def _extracted(
        archive: py7zr.SevenZipFile, sizes: dict[str, int], extraction: Extraction
    ) -> Iterator[Member]:
        pipe = _Pipe(extraction)
        worker = threading.Thread(target=pipe.run, args=(archive, list(sizes)), daemon=True)
        worker.start()
        try:
            while True:
                if extraction.member_budget() <= 0:
                    return
                result = pipe.next()
                if result is None:
                    return
                if isinstance(result, _LIBRARY_FAILURES):
                    # A damaged block: what came out before the damage stands.
                    return
                if isinstance(result, BaseException):
                    raise result
                if result.data:
                    declared = sizes.get(result.name)
                    yield Member(result.name, bytes(result.data), declared, result.truncated)
        finally:
            pipe.stop()
            worker.join()


FORMAT = SevenZipFormat()
