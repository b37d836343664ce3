"""The compiled engine kept on disk, one part per database file, keyed by content.

Loading 122,000 signatures and compiling them takes seconds; reading the
result back takes a few hundredths of one.  ``load_engine`` compiles each
database file of a load on its own (``database.loader.load_unit``) and
caches it as ``engine-<key>.cache``, the key a digest of the file's name and
content, of the names the ignore lists before it drop, and of everything
else that shapes an engine (load options, clamkit's source, the
prefilter's version, Python's); the parts are joined (``engine.join``).
So a database update compiles only the files it changed or added: a
reload after a ``daily`` update does not compile ``main`` again, and a
compile never holds more than one file's signatures in memory.  Each load
marks its parts with one modification time; the parts of the last ``KEEP``
loads are kept.

Strategy: the bulky parts of an engine (its 150,000 matchers and the
signature objects) are pickled item by item into one run of the file each
(``PickledItems``) and unpickled only when a scan first touches an item: a
random file touches almost none.  The file is mapped and those runs are
used in place, never copied: the pages are shared by every worker process
and every later load of the same cache, and only those a scan reads become
resident.  The flat arrays (hash keys, anchor tables, logical signatures'
matcher lists) are read in place too, as ``memoryview``s of the mapping: a
reload that reads the same cache file while the old engine still serves
adds no second copy of them.

The file is written as the pickler goes: each item, array and out-of-band
buffer lands in the file when met, the pickle of the rest after them, and a
table of where everything is at the end.  Writing thus never holds the
pickled engine in memory beside the engine itself.

A cache file is code to pickle: it is used only from a directory that
belongs to this user and that nobody else may write, and written there
atomically with mode 0600.  Any problem with the cache (unwritable
directory, damaged file) falls back to compiling; it never fails a load.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import dataclasses
import functools
import gc
import hashlib
import io
import mmap
import os
import pickle
import stat
import struct
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

import clamkit
from clamkit.database.loader import (
    DatabaseError,
    LoadOptions,
    LoadReport,
    LoadUnit,
    collector_paused,
    load_unit,
    load_units,
)
from clamkit.engine import prefilter
from clamkit.engine.compiler import Engine, compile_engine
from clamkit.engine.join import join_engines

# Where the cache lives when the caller names no directory.
CACHE_DIR_VARIABLE = "CLAMKIT_CACHE_DIR"
FORMAT = b"clamkit-engine-cache-4\n"
# Engine fields stored as lazily unpickled items.
LAZY_FIELDS = ("matchers", "body_signatures", "logical_signatures")
# Arrays smaller than this are pickled in band: a view would cost more than it saves.
SHARED_ARRAY_BYTES = 4096
# Pieces start at multiples of this in the file, so that the arrays read in
# place are aligned for their items.
ALIGNMENT = 8
_OFFSET = struct.Struct("<Q")
# Loads whose cached parts are kept per directory: the current databases and the previous ones.
KEEP = 2

_Item = TypeVar("_Item")


class PickledItems(Sequence[_Item], Generic[_Item]):
    """A read-only sequence whose items are unpickled on first access."""

    __slots__ = ("_blob", "_ends", "_memo")

    def __init__(self, blob: bytes | memoryview | _Piece, ends: array.array) -> None:
        self._blob = blob
        self._ends = ends  # item i is blob[ends[i - 1]:ends[i]]
        self._memo: dict[int, _Item] = {}

    @classmethod
    def written(cls, items: Sequence[_Item], file: _PieceFile) -> PickledItems[_Item]:
        """The items pickled straight into ``file``: only a reader of it can use them."""
        piece = file.write_run(_pickled_runs(items, ends := array.array("Q")))
        return cls(piece, ends)

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> _Item:  # type: ignore[override]
        item = self._memo.get(index)
        if item is None:
            if index < 0:
                index += len(self._ends)
            start = self._ends[index - 1] if index else 0
            item = self._memo[index] = pickle.loads(self._blob[start : self._ends[index]])  # type: ignore[index]
        return item

    def __iter__(self) -> Iterator[_Item]:
        return (self[index] for index in range(len(self)))

    def __reduce_ex__(self, protocol: int) -> tuple:
        blob = self._blob if isinstance(self._blob, _Piece) else pickle.PickleBuffer(self._blob)
        return PickledItems, (blob, self._ends)


def _pickled_runs(items: Sequence[object], ends: array.array) -> Iterator[bytes]:
    """Each item pickled, in order; ``ends`` gets where each ends."""
    total = 0
    for item in items:
        run = pickle.dumps(item, protocol=5)
        total += len(run)
        ends.append(total)
        yield run


@dataclasses.dataclass(frozen=True, slots=True)
class _Piece:
    """A run of the cache file, by its number in the file's table."""

    number: int


class _PieceFile:
    """The cache file being written: pieces first, each where the next aligned offset is."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.table: list[tuple[int, int]] = []  # (offset, length) of each piece

    def write_run(self, runs: Iterable[bytes | memoryview]) -> _Piece:
        self._file.write(bytes(-self._file.tell() % ALIGNMENT))
        start = self._file.tell()
        for run in runs:
            self._file.write(run)
        self.table.append((start, self._file.tell() - start))
        return _Piece(len(self.table) - 1)


class _SharingPickler(pickle.Pickler):
    """Pickles the engine into a ``_PieceFile``: large flat arrays and
    out-of-band buffers go to the file as pieces, read back in place by
    ``_shared_array`` and as the unpickler's buffers; ``_Piece``s are
    persistent references to them."""

    def __init__(self, meta: BinaryIO, pieces: _PieceFile) -> None:
        self.pieces = pieces
        self.buffer_pieces: list[int] = []
        super().__init__(meta, protocol=5, buffer_callback=self._place_buffer)

    def _place_buffer(self, buffer: pickle.PickleBuffer) -> None:
        self.buffer_pieces.append(self.pieces.write_run([buffer.raw()]).number)

    def persistent_id(self, obj: object) -> int | None:
        return obj.number if isinstance(obj, _Piece) else None

    def reducer_override(self, obj: object) -> object:
        if type(obj) is array.array and obj.itemsize * len(obj) >= SHARED_ARRAY_BYTES:
            return _shared_array, (self.pieces.write_run([memoryview(obj).cast("B")]), obj.typecode)
        return NotImplemented


class _PieceUnpickler(pickle.Unpickler):
    def __init__(self, meta: BinaryIO, pieces: list[memoryview], buffer_pieces: list[int]) -> None:
        super().__init__(meta, buffers=[pieces[number] for number in buffer_pieces])
        self._pieces = pieces

    def persistent_load(self, pid: object) -> memoryview:
        return self._pieces[pid]  # type: ignore[index]


def _shared_array(buffer: bytes | memoryview, typecode: str) -> memoryview:
    """An array as a read-only view (of the cache file's mapping, when read from one)."""
    return memoryview(buffer).cast("B").cast(typecode)


def default_cache_dir() -> Path:
    chosen = os.environ.get(CACHE_DIR_VARIABLE)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "clamkit"


@functools.cache
def _code_fingerprint() -> bytes:
    """A digest of clamkit's own source: a cache written by other code (a
    checkout between releases) must not be unpickled into this one's classes."""
    digest = hashlib.sha256()
    package = Path(clamkit.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.digest()


def _maker_digest(options: LoadOptions, backend: str) -> bytes:
    """A digest of everything besides the databases that shapes an engine."""
    digest = hashlib.sha256()
    versions = (
        clamkit.__version__,
        FORMAT.decode(),
        sys.version,
        backend,
        getattr(prefilter.hyperscan, "__version__", "-"),
        repr(options),
    )
    digest.update(repr(versions).encode())
    digest.update(_code_fingerprint())
    return digest.digest()


def _part_key(maker: bytes, unit: LoadUnit, ignored: frozenset[str]) -> str:
    """A digest of one database file's name and content, of the names ignored
    before it, and of the engine's makers (``_maker_digest``).

    The file's directory does not count, so the same databases copied
    elsewhere (a new DatabaseDirectory, a benchmark's temporary one) find
    the same engine; ``_rebased`` then fixes the paths in its report."""
    digest = hashlib.sha256(maker)
    digest.update(b"\1dir" if unit.from_directory else b"\1file")
    digest.update(f"\0{unit.path.name}\0".encode())
    try:
        with unit.path.open("rb") as file:
            digest.update(hashlib.file_digest(file, "sha256").digest())
    except OSError:
        digest.update(b"unreadable")  # the load itself reports it
    for name in sorted(ignored):
        digest.update(b"\0ignored\0" + name.encode(errors="surrogateescape"))
    return digest.hexdigest()[:32]


@dataclasses.dataclass(frozen=True, slots=True)
class _Part:
    """The compiled engine of one database file, its load report, and the
    names its ignore lists add for the files after it."""

    engine: Engine
    report: LoadReport
    ignored: frozenset[str]


def load_engine(
    paths: Sequence[str | os.PathLike[str]],
    options: LoadOptions | None = None,
    cache_dir: Path | None = None,
    backend: str | None = None,
    *,
    compile_apart: bool = False,
    write_apart: bool = False,
) -> tuple[Engine, LoadReport, bool]:
    """The engine for ``paths`` and its load report, each database file's
    part from the cache when it holds it (third value: all did), else
    loaded, compiled and cached; the parts joined (``engine.join``).
    ``cache_dir`` None: ``default_cache_dir()``.  Raises what ``load_database`` raises.

    ``compile_apart``: on a miss, load and compile in a forked child that
    writes the cache, then read it back.  A compile peaks at three times the
    memory of the engine it makes, and a long-lived process (clamd's pool
    leader) would keep that peak for good; the child returns it on exit.

    ``write_apart``: on a miss, write the cache from a detached child, so a
    one-off scan (clamscan) starts scanning while the cache is written on
    another core."""
    options = options or LoadOptions()
    backend = backend or prefilter.default_backend()
    directory = default_cache_dir() if cache_dir is None else cache_dir
    maker = _maker_digest(options, backend)
    stamp = time.time_ns()
    parts: list[_Part] = []
    warnings: list[str] = []
    used: list[Path] = []
    unwritten: list[tuple[Path, _Part, str]] = []
    ignored: frozenset[str] = frozenset()
    all_cached = True
    for unit in load_units(paths):
        warnings.extend(unit.warnings)
        path = directory / f"engine-{_part_key(maker, unit, ignored)}.cache"
        part = _read(path, str(unit.path))
        if part is None:
            all_cached = False
            if compile_apart and _compiled_apart(unit, options, ignored, backend, directory, path):
                part = _read(path, str(unit.path))
            if part is None:
                part = _compiled(unit, options, ignored, backend)
                unwritten.append((path, part, str(unit.path)))
        parts.append(part)
        used.append(path)
        ignored |= part.ignored
    _mark_used(used, stamp)
    if unwritten and write_apart:
        _write_detached(directory, unwritten, stamp)
    elif not all_cached:
        _write_all(directory, unwritten, stamp)
    engine = join_engines([part.engine for part in parts])
    report = LoadReport.joined([part.report for part in parts], warnings)
    _return_freed_memory()  # once, for every part's unpickling and the join
    return engine, report, all_cached


def _compiled(unit: LoadUnit, options: LoadOptions, ignored: frozenset[str], backend: str) -> _Part:
    """Load and compile; the parsed database is let go before the cache is written."""
    database = load_unit(unit, options, ignored)
    part = _Part(compile_engine(database, backend), database.report, database.ignored)
    del database
    # The parsed signatures hold reference cycles (loaded with the collector
    # paused): collected now, they do not add to the peak of the write.
    gc.collect()
    return part


def _write_all(directory: Path, parts: list[tuple[Path, _Part, str]], stamp: int) -> None:
    """Write ``parts`` as parts of the load marked ``stamp``; drop older loads' parts."""
    for path, part, unit_path in parts:
        _write(directory, path, part, unit_path)
    _mark_used((path for path, _, _ in parts), stamp)
    _prune(directory)


def _write_detached(directory: Path, parts: list[tuple[Path, _Part, str]], stamp: int) -> None:
    """``_write_all`` in a grandchild that nobody waits for (no zombie is left)."""
    try:
        child = os.fork()
    except OSError:
        return  # no process to spare: the next load compiles again
    if child:
        os.waitpid(child, 0)
        return
    try:
        if not os.fork():
            _write_all(directory, parts, stamp)
    finally:
        os._exit(0)


def _rebased(report: LoadReport, old_path: str, new_path: str) -> LoadReport:
    """The report of a load of ``old_path``, as if made from ``new_path``."""
    if old_path == new_path:
        return report

    def moved(text: str) -> str:
        return text.replace(old_path, new_path)

    return dataclasses.replace(
        report,
        files=tuple(dataclasses.replace(file, path=moved(file.path)) for file in report.files),
        warnings=tuple(moved(warning) for warning in report.warnings),
    )


def _compiled_apart(
    unit: LoadUnit,
    options: LoadOptions,
    ignored: frozenset[str],
    backend: str,
    directory: Path,
    path: Path,
) -> bool:
    """Compile in a child that writes the cache; False if it could not.
    A load error in the child is raised here."""
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(readable)
        failure = None
        try:
            _write(directory, path, _compiled(unit, options, ignored, backend), str(unit.path))
        except DatabaseError as error:
            failure = (str(error), error.summary, error.details)
        finally:
            with os.fdopen(writable, "wb") as channel:
                channel.write(pickle.dumps(failure))
            os._exit(0)
    os.close(writable)
    with os.fdopen(readable, "rb") as channel:
        answer = channel.read()
    _, status = os.waitpid(pid, 0)
    if not (os.WIFEXITED(status) and answer):
        return False  # the child died (out of memory?): compile here instead
    failure = pickle.loads(answer)
    if failure is not None:
        raise DatabaseError(*failure)
    return True


def _trusted_directory(directory: Path) -> bool:
    try:
        info = directory.stat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _read(path: Path, unit_path: str) -> _Part | None:
    if not _trusted_directory(path.parent):
        return None
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        mapped = mmap.mmap(descriptor, 0, prot=mmap.PROT_READ)
    except (OSError, ValueError):
        return None
    finally:
        os.close(descriptor)
    try:
        whole = memoryview(mapped)
        if bytes(whole[: len(FORMAT)]) != FORMAT:
            return None
        # The trailer: its own offset last; in it the meta pickle's place,
        # the pieces' table and which pieces are the pickle's buffers.
        (position,) = _OFFSET.unpack_from(whole, len(whole) - _OFFSET.size)
        numbers = array.array("Q")
        numbers.frombytes(whole[position : len(whole) - _OFFSET.size])
        meta_start, meta_length, piece_count = numbers[:3]
        places = numbers[3 : 3 + 2 * piece_count]
        pieces = [whole[places[i] : places[i] + places[i + 1]] for i in range(0, len(places), 2)]
        buffer_pieces = list(numbers[3 + 2 * piece_count :])
        meta = io.BytesIO(whole[meta_start : meta_start + meta_length])
        with collector_paused():
            state = _PieceUnpickler(meta, pieces, buffer_pieces).load()
        # What was read is now Python objects or hyperscan's own memory: no
        # page of the file needs to stay resident (the lazy items map theirs
        # back in as they are first used).
        mapped.madvise(mmap.MADV_DONTNEED)
        return _Part(
            Engine(**state["engine"]),
            _rebased(state["report"], state["path"], unit_path),
            state["ignored"],
        )
    # A damaged or foreign file can fail in any way pickle can: compile instead.
    except Exception:
        return None


def _return_freed_memory() -> None:
    """Hand the freed temporaries of reading and joining the parts back to the
    system (glibc keeps them otherwise): about 6 MB less for every process
    that shares the engine."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _write(directory: Path, path: Path, part: _Part, unit_path: str) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted_directory(directory):
            return
        temporary = directory / f".{path.name}.{os.getpid()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(FORMAT)
                _write_state(file, part, unit_path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        os.replace(temporary, path)
    except OSError:
        return


def _write_state(file: BinaryIO, part: _Part, unit_path: str) -> None:
    pieces = _PieceFile(file)
    state = {
        "engine": {
            field.name: PickledItems.written(value, pieces) if field.name in LAZY_FIELDS else value
            for field in dataclasses.fields(Engine)
            for value in (getattr(part.engine, field.name),)
        },
        "report": part.report,
        "ignored": part.ignored,
        "path": unit_path,
    }
    meta = io.BytesIO()
    pickler = _SharingPickler(meta, pieces)
    pickler.dump(state)
    file.write(bytes(-file.tell() % ALIGNMENT))
    meta_start = file.tell()
    file.write(meta.getbuffer())
    trailer = array.array("Q", [meta_start, meta.tell(), len(pieces.table)])
    for offset, length in pieces.table:
        trailer.extend((offset, length))
    trailer.extend(pickler.buffer_pieces)
    trailer_start = file.tell()
    file.write(trailer.tobytes())
    file.write(_OFFSET.pack(trailer_start))


def _mark_used(paths: Iterable[Path], stamp: int) -> None:
    """Give the parts of one load the same modification time: a load is a
    generation (see ``_prune``)."""
    for path in paths:
        with contextlib.suppress(OSError):  # not written (yet): nothing to mark
            os.utime(path, ns=(stamp, stamp))


def _prune(directory: Path) -> None:
    """Keep the parts of the newest ``KEEP`` loads (each load marks its parts
    with one modification time), so going back to the previous databases
    does not compile."""
    try:
        caches = [(path.stat().st_mtime_ns, path) for path in directory.glob("engine-*.cache")]
    except OSError:
        return  # another load pruned at the same time
    kept = sorted({stamp for stamp, _ in caches}, reverse=True)[:KEEP]
    for stamp, path in caches:
        if stamp not in kept:
            path.unlink(missing_ok=True)
