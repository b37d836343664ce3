"""Scan one object (a file, a buffer or a stream) with a compiled ``Engine``.

Strategy: the data is reached through a buffer (an mmap for files, so the
page cache holds it rather than our heap), typed from its first bytes and
handed to ``matching.scan_layer`` as the top-level ``Layer``.  Size limits
that make the reference skip a file entirely are applied here.
"""

from __future__ import annotations

import mmap
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, BinaryIO

from clamkit.engine.bodyregex import Buffer
from clamkit.engine.filetypes import detect_file_type
from clamkit.engine.matching import CHUNK_SIZE, Layer, scan_layer
from clamkit.engine.options import DEFAULT_OPTIONS, ScanOptions, ScanResult

if TYPE_CHECKING:
    from clamkit.engine.compiler import Engine

# How many leading bytes file type detection looks at.
TYPE_DETECTION_BYTES = 4096


def scan_bytes(engine: Engine, data: Buffer, options: ScanOptions | None = None) -> ScanResult:
    options = options or DEFAULT_OPTIONS
    size = len(data)
    if options.file_too_large(size):
        # ClamAV does not scan files over MaxFileSize and reports them clean.
        return ScanResult((), size, 0)
    file_type = detect_file_type(bytes(data[:TYPE_DETECTION_BYTES]), size)
    verdict = scan_layer(engine, Layer(data, file_type), options)
    return ScanResult(verdict.names, size, verdict.bytes_scanned)


def _scan_open_file(engine: Engine, handle: BinaryIO, options: ScanOptions) -> ScanResult:
    """Scan through an mmap, so the page cache rather than our heap holds the data."""
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        return scan_bytes(engine, b"", options)
    if options.file_too_large(size):
        return ScanResult((), size, 0)
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return scan_bytes(engine, mapped, options)


def scan_file(
    engine: Engine, path: str | os.PathLike[str], options: ScanOptions | None = None
) -> ScanResult:
    """Scan a regular file; raises OSError when it cannot be opened."""
    with open(path, "rb") as handle:
        return _scan_open_file(engine, handle, options or DEFAULT_OPTIONS)


def scan_fileobj(
    engine: Engine, fileobj: BinaryIO, options: ScanOptions | None = None
) -> ScanResult:
    """Scan a stream (standard input): spooled to a private temporary file first."""
    with tempfile.TemporaryFile(prefix="clamkit-") as spool:
        shutil.copyfileobj(fileobj, spool, CHUNK_SIZE)
        spool.flush()
        return _scan_open_file(engine, spool, options or DEFAULT_OPTIONS)
