"""Load signature databases the way ``clamscan -d PATH`` does.

Public API: ``load_database(paths, options) -> Database``; ``LoadOptions``,
``Database``, ``LoadReport``, ``LoadedFile``, ``DatabaseError``;
``collector_paused()``, which a load runs under (the compiler may too).
A load reads ``load_units(paths)`` in order; ``load_unit`` loads one of them
alone, given the names ignored by the units before it, for an engine cached
per database file (``engine.cache``).

Strategy: every path is a directory (its database files, not recursive), a
single database file or a .cvd/.cld/.cud container, whose members are loaded
as if they were files.  The file extension (any case) picks the format; a
table maps each extension to how it is handled: parsed into the model
(hashes, bodies, logical signatures, PE section and import hashes, YARA
rules, ignore lists), counted but not used (the other formats the reference
accepts), or
refused.  What ``Database.signature_count`` counts and every rule below was
measured on ClamAV 1.4.6 (the reference), not taken from its documentation:

- A signature from a plain file gets ``.UNOFFICIAL`` appended to its name
  (PUA files .hdu/.ndu/... included); one from a container does not.
- PUA databases (.hdu .hsu .ndu .ldu .mdu .msu) are read only with
  ``detect_pua``; a ``PUA.*`` name in any other file is loaded regardless.
- An ignore list drops only what is loaded after it, so ignore files are
  loaded first in a directory and in a container; several paths load in the
  order given.
- A signature whose FLEVEL range excludes the engine, or whose target type is
  unknown, is dropped silently, before the rest of its line is checked; the
  format modules' ``skip_reason`` replays the reference's order of checks for
  lines their parser refuses.  So are logical signatures with an unknown
  target description attribute or file type name.
- Signatures using a feature clamkit lacks (an untranslatable PCRE, a macro
  offset, an IconGroup, ...) are skipped and reported, but counted as the
  reference counts them.
- ``Known viruses`` counts loaded .hdb/.hsb/.fp/.sfp/.ndb/.db/.ldb/.mdb/.msb/
  .imp/.yar signatures and the lines of .pdb/.gdb/.cdb/.idb/.zmd/.rmd; .wdb,
  .ftm, .cfg, .crb, .pwdb, .cbc, .ioc and .cat lines count 0; ignored and
  FLEVEL-skipped ones do not count.  Real-subset's main.ldb holds one
  comment line, hence 122,355 known for its 122,356 lines.
- A malformed line fails the whole load; the error names the file, the line
  and the problem, framed like the reference's ``LibClamAV Error:`` lines.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import gc
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clamkit import FUNCTIONALITY_LEVEL
from clamkit.database import cvd
from clamkit.signatures import extended, hashes, legacy, sectionhashes, yara
from clamkit.signatures.extended import UnsupportedFeature
from clamkit.signatures.hashes import MalformedHashError, excludes
from clamkit.signatures.ignore import IgnoreList, Skip, parse_ignore_line
from clamkit.signatures.logical import SkippedSignature, parse_ldb_line
from clamkit.signatures.model import (
    AllowListEntry,
    BodySignature,
    HashSignature,
    IgnoreEntry,
    LogicalSignature,
    PcreSubsignature,
    SignatureError,
)

UNOFFICIAL_SUFFIX = ".UNOFFICIAL"

# The reference's closing "ERROR: ..." lines.
MALFORMED = "Malformed database"
INVALID_ARGUMENT = "Invalid argument passed to function"
CANT_STAT = "Can't get file status"
CANT_OPEN = "Can't open file or directory"

# LoadReport.skipped keys besides the Skip reasons.
SKIP_PUA = "PUA"
SKIP_PCRE = "unsupported feature: PCRE construct"
SKIP_ICON_GROUP = "unsupported feature: IconGroup"
SKIP_YARA_REFUSED = "YARA rule the reference refuses"
YARA_WARNING = "YARA rule skipped"
# What the reference says when a plain .cbc file is found (clamkit runs no bytecode).
_UNSIGNED_BYTECODE_WARNINGS = (
    "Only loading signed bytecode, skipping load of unsigned bytecode!",
    "Turn on BytecodeUnsigned/--bytecode-unsigned to enable loading of unsigned bytecode",
)


class _Kind(enum.Enum):
    HASH = "hash"
    ALLOW = "allow list"
    NDB = "extended"
    DB = "legacy"
    LDB = "logical"
    IGNORE = "ignore list"
    SECTION_HASH = "PE section hash"
    IMPORT_HASH = "PE import hash"
    YARA = "YARA"
    COUNTED = "counted"  # other formats whose lines the reference counts
    UNCOUNTED = "uncounted"  # formats the reference loads without counting
    BYTECODE = "bytecode"
    CONTAINER = "container"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class _Format:
    kind: _Kind
    pua: bool = False


_FORMATS: Mapping[str, _Format] = {
    "hdb": _Format(_Kind.HASH),
    "hsb": _Format(_Kind.HASH),
    "hdu": _Format(_Kind.HASH, pua=True),
    "hsu": _Format(_Kind.HASH, pua=True),
    "fp": _Format(_Kind.ALLOW),
    "sfp": _Format(_Kind.ALLOW),
    "ndb": _Format(_Kind.NDB),
    "ndu": _Format(_Kind.NDB, pua=True),
    "sdb": _Format(_Kind.NDB),
    "db": _Format(_Kind.DB),
    "ldb": _Format(_Kind.LDB),
    "ldu": _Format(_Kind.LDB, pua=True),
    "ign": _Format(_Kind.IGNORE),
    "ign2": _Format(_Kind.IGNORE),
    "mdb": _Format(_Kind.SECTION_HASH),
    "msb": _Format(_Kind.SECTION_HASH),
    "mdu": _Format(_Kind.SECTION_HASH, pua=True),
    "msu": _Format(_Kind.SECTION_HASH, pua=True),
    "imp": _Format(_Kind.IMPORT_HASH),
    "yar": _Format(_Kind.YARA),
    "yara": _Format(_Kind.YARA),
    "pdb": _Format(_Kind.COUNTED),
    "gdb": _Format(_Kind.COUNTED),
    "cdb": _Format(_Kind.COUNTED),
    "idb": _Format(_Kind.COUNTED),
    "zmd": _Format(_Kind.COUNTED),
    "rmd": _Format(_Kind.COUNTED),
    "wdb": _Format(_Kind.UNCOUNTED),
    "ftm": _Format(_Kind.UNCOUNTED),
    "cfg": _Format(_Kind.UNCOUNTED),
    "crb": _Format(_Kind.UNCOUNTED),
    "pwdb": _Format(_Kind.UNCOUNTED),
    "ioc": _Format(_Kind.UNCOUNTED),
    "cat": _Format(_Kind.UNCOUNTED),
    "cbc": _Format(_Kind.BYTECODE),
    "cvd": _Format(_Kind.CONTAINER),
    "cld": _Format(_Kind.CONTAINER),
    "cud": _Format(_Kind.CONTAINER),
    "info": _Format(_Kind.INFO),
}

_EMPTY_FILE_REFUSED = frozenset(
    {
        _Kind.HASH,
        _Kind.ALLOW,
        _Kind.NDB,
        _Kind.DB,
        _Kind.LDB,
        _Kind.SECTION_HASH,
        _Kind.IMPORT_HASH,
    }
)


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """``detect_pua`` reads the PUA databases; ``functionality_level`` is the engine's."""

    detect_pua: bool = False
    functionality_level: int = FUNCTIONALITY_LEVEL


class DatabaseError(Exception):
    """The load failed.

    ``details`` are the lines the reference prints as ``LibClamAV Error: ...``
    (most specific first), ``summary`` its closing ``ERROR: ...`` text; the
    exception's own message names the file, the line and the problem.
    """

    def __init__(self, message: str, summary: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.summary = summary
        self.details = tuple(details) or (message,)


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """One database file read; ``member`` is set for a file inside a container."""

    path: str
    member: str | None
    format: str
    signatures: int  # how many clamkit uses


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What a load did.

    ``counts``: signatures used per format (extension); ``skipped``: dropped
    signatures per reason (``Skip`` values, ``"PUA"``, ``"unsupported
    feature: ..."``); ``reference_only``: signatures the reference would
    count in ``Known viruses`` that clamkit does not use.
    """

    files: tuple[LoadedFile, ...]
    counts: Mapping[str, int]
    skipped: Mapping[str, int]
    warnings: tuple[str, ...]
    cvd_headers: tuple[cvd.CvdHeader, ...]
    reference_only: int

    @classmethod
    def joined(cls, reports: Sequence[LoadReport], warnings: Sequence[str] = ()) -> LoadReport:
        """The report of loading what ``reports`` describe, in order, as one load;
        ``warnings`` come first (those of listing the directories)."""
        counts: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        for report in reports:
            counts.update(report.counts)
            skipped.update(report.skipped)
        return cls(
            files=tuple(file for report in reports for file in report.files),
            counts=dict(counts),
            skipped=dict(skipped),
            warnings=(*warnings, *(warning for report in reports for warning in report.warnings)),
            cvd_headers=tuple(header for report in reports for header in report.cvd_headers),
            reference_only=sum(report.reference_only for report in reports),
        )


@dataclass(frozen=True, slots=True)
class LoadUnit:
    """One database file of a load, in the order the load reads them.

    ``warnings`` are what listing its directory said before it (duplicate
    .cvd/.cld pairs); ``from_directory``: found in a directory, not named.
    """

    path: Path
    from_directory: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Database:
    """``section_hashes`` (.mdb/.msb) and ``import_hashes`` (.imp) are hash
    signatures whose size and digest are those of a PE section's raw data and
    of a PE's import text.  ``ignored``: the names this load's ignore lists
    added (they drop signatures of the units loaded after it)."""

    hash_signatures: tuple[HashSignature, ...]
    allow_list: tuple[AllowListEntry, ...]
    body_signatures: tuple[BodySignature, ...]
    logical_signatures: tuple[LogicalSignature, ...]
    report: LoadReport
    section_hashes: tuple[HashSignature, ...] = ()
    import_hashes: tuple[HashSignature, ...] = ()
    ignored: frozenset[str] = frozenset()

    @property
    def signature_count(self) -> int:
        """What the reference prints as ``Known viruses`` for the same inputs."""
        used = len(self.hash_signatures) + len(self.allow_list)
        used += len(self.body_signatures) + len(self.logical_signatures)
        used += len(self.section_hashes) + len(self.import_hashes)
        return used + self.report.reference_only


def load_database(paths: Sequence[str | Path], options: LoadOptions = LoadOptions()) -> Database:
    """Load every path in order; raises ``DatabaseError`` on the first problem."""
    loader = _Loader(options)
    with collector_paused():
        for unit in load_units(paths):
            loader.warnings.extend(unit.warnings)
            loader.load_file(unit)
        return loader.database()


def load_unit(
    unit: LoadUnit, options: LoadOptions = LoadOptions(), ignored: frozenset[str] = frozenset()
) -> Database:
    """One unit alone, as ``load_database`` would load it after units whose
    ignore lists named ``ignored``; the unit's own ``warnings`` are not its
    content and are left to the caller."""
    loader = _Loader(options, ignored)
    with collector_paused():
        loader.load_file(unit)
        return loader.database()


def load_units(paths: Sequence[str | Path]) -> Iterator[LoadUnit]:
    """The files a load of ``paths`` reads, in order; a path that cannot be
    listed raises ``DatabaseError`` when reached, as the load would."""
    for top in map(Path, paths):
        if top.is_dir():
            yield from _directory_units(top)
        elif top.exists():
            yield LoadUnit(top, from_directory=False)
        else:
            message = f"No such file or directory: {top}"
            raise DatabaseError(message, CANT_STAT, (f"cl_load(): {message}",))


def _directory_units(directory: Path) -> Iterator[LoadUnit]:
    try:
        names = sorted(entry.name for entry in directory.iterdir() if entry.is_file())
    except OSError as exc:
        message = f"Can't open directory {directory}: {exc.strerror}"
        raise DatabaseError(message, CANT_OPEN) from None
    names = [name for name in names if is_database_name(name)]
    if not names:
        message = f"cli_loaddbdir: No supported database files found in {directory}"
        raise DatabaseError(message, CANT_OPEN)
    names, warnings = _drop_older_duplicates(directory, names)

    def order(name: str) -> int:
        kind = _FORMATS[_extension(name)].kind
        return 0 if kind is _Kind.IGNORE else 1 if kind is _Kind.CONTAINER else 2

    for number, name in enumerate(sorted(names, key=order)):
        yield LoadUnit(directory / name, from_directory=True, warnings=() if number else warnings)


def _drop_older_duplicates(directory: Path, names: list[str]) -> tuple[list[str], tuple[str, ...]]:
    """Of NAME.cvd and NAME.cld, keep the newer one, as the reference does;
    also the warnings it prints."""
    by_stem: dict[str, list[str]] = {}
    for name in names:
        if _extension(name) in ("cvd", "cld"):
            by_stem.setdefault(name.rpartition(".")[0], []).append(name)
    dropped: set[str] = set()
    warnings = []
    for pair in by_stem.values():
        if len(pair) != 2:
            continue
        try:
            versions = [_header_version(directory / name) for name in pair]
        except (OSError, cvd.CvdError):
            continue  # loading the broken one reports the problem
        first, second = (str(directory / name) for name in pair)
        if versions[0] == versions[1]:
            warnings.append(
                f"Detected duplicate databases {first} and {second}, "
                "please manually remove one of them"
            )
            dropped.add(next(name for name in pair if _extension(name) == "cvd"))
            continue
        older = pair[0] if versions[0] < versions[1] else pair[1]
        warnings.append(
            f"Detected duplicate databases {first} and {second}. "
            f"The {directory / older} database is older and will not be loaded, "
            "you should manually remove it from the database directory."
        )
        dropped.add(older)
    return [name for name in names if name not in dropped], tuple(warnings)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while building large long-lived data.

    A load allocates about a million objects, none of them cyclic garbage;
    each generational collection would walk every young survivor again,
    which costs a load a third of its time.  Memory is still freed by
    reference counting.  On the way out everything is moved to the oldest
    generation (``gc.freeze`` then ``gc.unfreeze``: a move, not a walk), so
    the young collections that follow do not walk the new objects either;
    only a full collection does.  The collector then runs again if it ran
    before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def is_database_name(name: str) -> bool:
    """True for a file name the reference loads from a directory."""
    extension = _extension(name)
    return extension in _FORMATS and _FORMATS[extension].kind is not _Kind.INFO


def _extension(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else ""


def _lines(data: bytes) -> list[tuple[int, str]]:
    """(line number, line) without line ends, skipping ``#`` comment lines."""
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if "\r" in text:
        lines = [line.rstrip("\r") if line.endswith("\r") else line for line in lines]
    # A list comprehension: a generator costs more per line than the split.
    return [(number, line) for number, line in enumerate(lines, 1) if not line.startswith("#")]


def _content_lines(data: bytes) -> int:
    return sum(1 for _, line in _lines(data) if line.strip())


def _ldb_skip_reason(line: str, level: int, ignored: IgnoreList) -> Skip | None:
    """The reference consults the ignore list before anything else in a logical line."""
    return Skip.IGNORED if line.split(";", 1)[0] in ignored else None


_Parse = Callable[[str, str], Any]
_SkipReason = Callable[[str, int, IgnoreList], Skip | None]
_Accept = Callable[[Any, str], str | None]

# ``SkippedSignature.reason``s of lines the reference drops without counting
# them; any other reason is a feature the reference uses and clamkit lacks.
_LDB_DROPS = {
    "functionality level": Skip.FLEVEL,
    "unsupported target": Skip.TARGET,
    "unknown attribute": Skip.UNKNOWN_ATTRIBUTE,
    "unknown file type": Skip.UNKNOWN_FILE_TYPE,
}


def _not_an_error(refusal: SignatureError) -> tuple[str, bool] | None:
    """(``skipped`` key, counted by the reference) for a refusal that is no load error."""
    if isinstance(refusal, SkippedSignature):
        drop = _LDB_DROPS.get(refusal.reason)
        return (drop.value, False) if drop else (_unsupported(refusal.reason), True)
    if isinstance(refusal, UnsupportedFeature):
        return _unsupported(str(refusal)), True
    return None


def _unsupported(feature: str) -> str:
    return f"unsupported feature: {feature}"


class _Loader:
    def __init__(self, options: LoadOptions, ignored: frozenset[str] = frozenset()) -> None:
        self.options = options
        self._ignored_before = ignored
        self.ignored = IgnoreList(map(IgnoreEntry, ignored))
        self.hashes: list[HashSignature] = []
        self.allow_list: list[AllowListEntry] = []
        self.bodies: list[BodySignature] = []
        self.logicals: list[LogicalSignature] = []
        self.section_hashes: list[HashSignature] = []
        self.import_hashes: list[HashSignature] = []
        self.files: list[LoadedFile] = []
        self.counts: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.warnings: list[str] = []
        self.headers: list[cvd.CvdHeader] = []
        self.reference_only = 0
        level = options.functionality_level

        def keeping(keep: Callable[[Any], None]) -> _Accept:
            return functools.partial(self._accept_ranged, keep=keep)

        # Per parsed format: line parser, replay of the reference's silent drops, keeper.
        self._formats: dict[_Kind, tuple[_Parse, _SkipReason, _Accept]] = {
            _Kind.HASH: (hashes.parse_hash_line, hashes.skip_reason, keeping(self.hashes.append)),
            _Kind.ALLOW: (hashes.parse_hash_line, hashes.skip_reason, keeping(self._keep_allowed)),
            _Kind.NDB: (extended.parse_ndb_line, extended.skip_reason, keeping(self.bodies.append)),
            _Kind.DB: (legacy.parse_db_line, legacy.skip_reason, keeping(self.bodies.append)),
            _Kind.SECTION_HASH: (
                sectionhashes.parse_section_hash_line,
                sectionhashes.section_skip_reason,
                keeping(self.section_hashes.append),
            ),
            _Kind.IMPORT_HASH: (
                hashes.parse_hash_line,
                hashes.skip_reason,
                keeping(self.import_hashes.append),
            ),
            _Kind.LDB: (
                functools.partial(parse_ldb_line, functionality_level=level),
                _ldb_skip_reason,
                self._accept_logical,
            ),
        }

    def database(self) -> Database:
        warnings = list(self.warnings)
        report = LoadReport(
            files=tuple(self.files),
            counts=dict(self.counts),
            skipped=dict(self.skipped),
            warnings=tuple(warnings),
            cvd_headers=tuple(self.headers),
            reference_only=self.reference_only,
        )
        return Database(
            tuple(self.hashes),
            tuple(self.allow_list),
            tuple(self.bodies),
            tuple(self.logicals),
            report,
            tuple(self.section_hashes),
            tuple(self.import_hashes),
            self.ignored.names - self._ignored_before,
        )

    # -- files ---------------------------------------------------------------

    def load_file(self, unit: LoadUnit) -> None:
        path, from_directory = unit.path, unit.from_directory
        extension = _extension(path.name)
        fmt = _FORMATS.get(extension)
        if fmt is None:
            self.warnings.append(f"cli_load: unknown extension - skipping {path}")
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DatabaseError(f"Can't open {path}: {exc.strerror}", CANT_OPEN) from None
        try:
            if fmt.kind is _Kind.CONTAINER:
                self._load_container(path, data)
            elif fmt.kind is _Kind.INFO:
                raise DatabaseError(
                    f"{path}: .info files can only be loaded from within database container files",
                    MALFORMED,
                    (
                        "cli_loadinfo: .info files can only be loaded from within database "
                        "container files",
                        f"Can't load {path}: {MALFORMED}",
                    ),
                )
            else:
                self._load_data(str(path), None, extension, data, UNOFFICIAL_SUFFIX)
        except DatabaseError as exc:
            if from_directory:
                exc.details += (f"cli_loaddbdir: error loading database {path}",)
            raise

    def _load_container(self, path: Path, data: bytes) -> None:
        try:
            container = cvd.read_container(
                data, is_cld=_extension(path.name) == "cld", is_database=is_database_name
            )
        except cvd.CvdError as exc:
            raise DatabaseError(
                f"{path}: {exc}", exc.summary, (str(exc), f"Can't load {path}: {exc.summary}")
            ) from None
        self.headers.append(container.header)
        members = [name for name in container.members if is_database_name(name)]
        members.sort(key=lambda name: _FORMATS[_extension(name)].kind is not _Kind.IGNORE)
        for name in members:
            try:
                self._load_data(str(path), name, _extension(name), container.members[name], "")
            except DatabaseError as exc:
                exc.details += (f"Can't load {path}: {MALFORMED}",)
                raise

    # -- one database file ----------------------------------------------------

    def _load_data(
        self, path: str, member: str | None, extension: str, data: bytes, suffix: str
    ) -> None:
        fmt = _FORMATS[extension]
        if fmt.pua and not self.options.detect_pua:
            self.skipped[SKIP_PUA] += _content_lines(data)
            return
        if not data and fmt.kind in _EMPTY_FILE_REFUSED:
            raise self._error(path, member, None, "Empty database file")
        before = self._used()
        kind = fmt.kind
        if kind in self._formats:
            self._parse_lines(path, member, data, suffix, kind)
        elif kind is _Kind.IGNORE:
            self._load_ignore(path, member, data)
        elif kind is _Kind.YARA:
            self._load_yara(path, member, data, suffix)
        else:
            self._count_unsupported(extension, kind, data, suffix)
        used = self._used() - before
        if kind in self._formats or kind is _Kind.YARA:
            self.counts[extension] += used
        self.files.append(LoadedFile(path, member, extension, used))

    def _used(self) -> int:
        used = len(self.hashes) + len(self.allow_list) + len(self.bodies) + len(self.logicals)
        return used + len(self.section_hashes) + len(self.import_hashes)

    def _count_unsupported(self, extension: str, kind: _Kind, data: bytes, suffix: str) -> None:
        """Account for a format clamkit does not use: skipped here, maybe counted there."""
        unused = _content_lines(data)
        counted = 0 if kind in (_Kind.UNCOUNTED, _Kind.BYTECODE) else unused
        if kind is _Kind.BYTECODE and suffix:
            self.warnings.extend(_UNSIGNED_BYTECODE_WARNINGS)
        if unused:
            self.skipped[_unsupported(f".{extension} database")] += unused
        self.reference_only += counted

    def _load_yara(self, path: str, member: str | None, data: bytes, suffix: str) -> None:
        """YARA rules become logical signatures; rules beyond the subset are counted, not used."""
        try:
            rules = yara.parse_yara_rules(data, suffix)
        except SignatureError as exc:
            raise self._error(path, member, None, str(exc)) from None
        for rule in rules:
            if isinstance(rule, yara.YaraDropped):
                self.warnings.extend(rule.warnings)
                self.skipped[SKIP_YARA_REFUSED] += 1
            elif isinstance(rule, SkippedSignature):
                self.warnings.append(f"{YARA_WARNING}: {rule}")
                self.skipped[_unsupported(rule.reason)] += 1
                self.reference_only += 1
            else:
                rejected = self._accept_logical(rule, suffix)
                if rejected is not None:
                    self.skipped[rejected] += 1

    def _load_ignore(self, path: str, member: str | None, data: bytes) -> None:
        entries = []
        for number, line in _lines(data):
            try:
                entries.append(parse_ignore_line(line))
            except SignatureError as exc:
                raise self._error(path, member, number, str(exc)) from None
        self.ignored.extend(entries)

    def _parse_lines(
        self, path: str, member: str | None, data: bytes, suffix: str, kind: _Kind
    ) -> None:
        """Parse every line with the format's parser, keeping what ``accept`` takes."""
        parse, skip_reason, accept = self._formats[kind]
        level = self.options.functionality_level
        ignored = self.ignored
        skipped = self.skipped
        for number, line in _lines(data):
            try:
                signature = parse(line, suffix)
            except SignatureError as refusal:
                reason = skip_reason(line, level, ignored)
                unused = _not_an_error(refusal) if reason is None else (reason.value, False)
                if unused is None:
                    raise self._line_error(path, member, number, refusal) from None
                key, counted = unused
                skipped[key] += 1
                self.reference_only += counted
                continue
            rejected = accept(signature, suffix)
            if rejected is not None:
                skipped[rejected] += 1

    # ``accept`` callbacks: store the signature or say why it is dropped.

    def _drop(self, name: str, suffix: str, low: int | None, high: int | None) -> str | None:
        """The ``skipped`` key for a parsed signature the reference would drop."""
        if (low is not None or high is not None) and excludes(
            low, high, self.options.functionality_level
        ):
            return Skip.FLEVEL.value
        if self.ignored and name[: len(name) - len(suffix)] in self.ignored:
            return Skip.IGNORED.value
        return None

    def _accept_ranged(
        self,
        signature: HashSignature | BodySignature,
        suffix: str,
        *,
        keep: Callable[[Any], None],
    ) -> str | None:
        drop = self._drop(signature.name, suffix, signature.min_flevel, signature.max_flevel)
        if drop is None:
            keep(signature)
        return drop

    def _keep_allowed(self, signature: HashSignature) -> None:
        self.allow_list.append(hashes.allow_list_entry(signature))

    def _accept_logical(self, signature: LogicalSignature, suffix: str) -> str | None:
        engine = signature.target_description.engine
        low, high = (engine.low, engine.high) if engine is not None else (None, None)
        drop = self._drop(signature.name, suffix, low, high)
        if drop is not None:
            return drop
        # Only a line with a '/' can hold a PCRE subsignature.
        if "/" in signature.source and any(
            isinstance(sub, PcreSubsignature) and sub.python_regex is None
            for sub in signature.subsignatures
        ):
            self.reference_only += 1
            return SKIP_PCRE
        description = signature.target_description
        if description.icon_group1 is not None or description.icon_group2 is not None:
            # Icon matching (and .idb icon groups) is not implemented.
            self.reference_only += 1
            return SKIP_ICON_GROUP
        self.logicals.append(signature)
        return None

    # -- errors ---------------------------------------------------------------

    @staticmethod
    def _error(
        path: str, member: str | None, number: int | None, problem: str, summary: str = MALFORMED
    ) -> DatabaseError:
        where = f"{path}:{member}" if member else path
        details = [problem]
        if number is not None:
            details.append(f"Problem parsing database at line {number}")
        details.append(f"Can't load {member or path}: {summary}")
        at = f": line {number}" if number is not None else ""
        return DatabaseError(f"{where}{at}: {problem}", summary, details)

    def _line_error(
        self, path: str, member: str | None, number: int, exc: SignatureError
    ) -> DatabaseError:
        summary = INVALID_ARGUMENT if isinstance(exc, MalformedHashError) else MALFORMED
        return self._error(path, member, number, str(exc), summary)


def _header_version(path: Path) -> int:
    with path.open("rb") as stream:
        return cvd.parse_header(stream.read(cvd.HEADER_SIZE)).version
