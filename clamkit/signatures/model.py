"""Plain, immutable signature objects: what every format parser produces.

Strategy: each database format (``hashes``, ``extended``, ``logical``, ...) turns
one line of text into one of the frozen dataclasses below and nothing else.
Parsers never touch the matcher; the compiler (``clamkit.engine.compiler``) is
the only consumer that turns these objects into search structures.  Keeping
the objects plain means they can be compared in tests, pickled into the
on-disk engine cache and shared between processes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SignatureError(ValueError):
    """A database line that cannot be parsed; the loader adds file and line."""


def is_decimal(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits, the only numbers a
    database line may hold (``str.isdigit`` alone also takes superscripts,
    which ``int`` then refuses)."""
    return text.isascii() and text.isdigit()


# ---------------------------------------------------------------------------
# Target types (ClamAV's numbering, used by .ndb and the logical ``Target:`` key)


class Target(enum.IntEnum):
    ANY = 0
    PE = 1
    OLE2 = 2
    HTML = 3
    MAIL = 4
    GRAPHICS = 5
    ELF = 6
    TEXT = 7  # normalised ASCII text
    UNUSED = 8
    MACHO = 9
    PDF = 10
    FLASH = 11
    JAVA = 12
    INTERNAL_13 = 13
    INTERNAL_14 = 14


# Targets whose files have an entry point and sections: the only ones that
# may use EP, section and VI offsets or EntryPoint-style conditions.
EXECUTABLE_TARGETS = frozenset({Target.PE, Target.ELF, Target.MACHO})


# ---------------------------------------------------------------------------
# Hash signatures (.hdb .hsb .hdu .hsu .fp .sfp)


class HashAlgorithm(enum.Enum):
    MD5 = 16  # digest length in bytes
    SHA1 = 20
    SHA256 = 32


@dataclass(frozen=True, slots=True)
class HashSignature:
    """A whole-file hash.  ``size`` is None for the ``*`` wildcard."""

    name: str
    algorithm: HashAlgorithm
    digest: bytes
    size: int | None
    min_flevel: int | None = None
    max_flevel: int | None = None


@dataclass(frozen=True, slots=True)
class AllowListEntry:
    """A hash from .fp/.sfp: a file with this hash is clean, whatever matched."""

    name: str
    algorithm: HashAlgorithm
    digest: bytes
    size: int | None


@dataclass(frozen=True, slots=True)
class IgnoreEntry:
    """A signature name from .ign/.ign2; such signatures are dropped at load."""

    name: str
    # .ign (old format) may carry an md5 of the signature line; None otherwise.
    line_md5: str | None = None


# ---------------------------------------------------------------------------
# Body patterns: the hex syntax shared by .db, .ndb and logical subsignatures


@dataclass(frozen=True, slots=True)
class Literal:
    """A run of fixed bytes."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Masked:
    """One byte compared under a mask: ``??`` (mask 0), ``a?`` (0xF0), ``?a`` (0x0F)."""

    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class Gap:
    """A run of any bytes: ``{n}``, ``{-n}``, ``{n-}``, ``{n-m}``, ``*`` (0, None).

    ``anchored`` marks the ``[x-y]`` form, which ClamAV limits to short spans
    next to a single byte; it matches like a bounded gap.
    """

    min: int
    max: int | None
    anchored: bool = False


@dataclass(frozen=True, slots=True)
class Alternatives:
    """``(aa|bb)``, ``(aabb|ccdd)``, generic ``(aa??|bb)``, or negated ``!(aa|bb)``.

    Each option is itself a tuple of ``Literal``/``Masked`` elements (no gaps).
    A negated group matches one fixed-length run that is none of the options.
    """

    options: tuple[tuple[Literal | Masked, ...], ...]
    negated: bool = False


class Boundary(enum.Enum):
    WORD = "B"  # (B): word boundary, file edges included
    LINE = "L"  # (L): CR, LF or file edge


@dataclass(frozen=True, slots=True)
class BoundaryMark:
    kind: Boundary


PatternElement = Literal | Masked | Gap | Alternatives | BoundaryMark


@dataclass(frozen=True, slots=True)
class Pattern:
    """A parsed hex body signature; ``source`` keeps the text for messages."""

    elements: tuple[PatternElement, ...]
    source: str


# ---------------------------------------------------------------------------
# Offsets


class OffsetKind(enum.Enum):
    ANY = "*"
    ABSOLUTE = "n"  # from the start of the file
    EOF = "EOF-n"  # file size minus value
    EP = "EP"  # entry point plus value (value may be negative)
    SECTION = "Sx"  # start of section ``section`` plus value
    SECTION_ENTIRE = "SEx"  # anywhere inside section ``section``
    LAST_SECTION = "SL"  # start of the last section plus value
    VERSION_INFO = "VI"  # the start of a key in a PE's version information


@dataclass(frozen=True, slots=True)
class Offset:
    """Where a pattern may start; ``maxshift`` makes it a window of that width."""

    kind: OffsetKind
    value: int = 0
    maxshift: int | None = None
    section: int | None = None

    @property
    def needs_executable(self) -> bool:
        return self.kind in (
            OffsetKind.EP,
            OffsetKind.SECTION,
            OffsetKind.SECTION_ENTIRE,
            OffsetKind.LAST_SECTION,
            OffsetKind.VERSION_INFO,
        )


ANY_OFFSET = Offset(OffsetKind.ANY)


# ---------------------------------------------------------------------------
# Extended (.ndb) and legacy (.db) body signatures


@dataclass(frozen=True, slots=True)
class BodySignature:
    name: str
    target: Target
    offset: Offset
    pattern: Pattern
    min_flevel: int | None = None
    max_flevel: int | None = None


# ---------------------------------------------------------------------------
# Logical signatures (.ldb .ldu)


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive numeric range from a target description (``FileSize:a-b``)."""

    low: int
    high: int | None  # None: no upper bound

    def __contains__(self, value: int) -> bool:
        return value >= self.low and (self.high is None or value <= self.high)


@dataclass(frozen=True, slots=True)
class TargetDescription:
    """The ``Engine:..,Target:..`` block; absent keys are None."""

    target: Target | None = None
    engine: Range | None = None  # functionality level range
    file_size: Range | None = None
    entry_point: Range | None = None
    number_of_sections: Range | None = None
    container: str | None = None  # e.g. "CL_TYPE_ZIP"
    intermediates: tuple[str, ...] | None = None
    icon_group1: str | None = None
    icon_group2: str | None = None
    handler_type: str | None = None


@dataclass(frozen=True, slots=True)
class SubsignatureModifiers:
    """``::i`` (nocase), ``::w`` (wide), ``::f`` (fullword), ``::a`` (ascii too)."""

    nocase: bool = False
    wide: bool = False
    fullword: bool = False
    ascii: bool = False


@dataclass(frozen=True, slots=True)
class BodySubsignature:
    offset: Offset
    pattern: Pattern
    modifiers: SubsignatureModifiers = SubsignatureModifiers()


@dataclass(frozen=True, slots=True)
class PcreSubsignature:
    """``[Offset:]Trigger/regex/flags``; ``python_regex`` is None when untranslatable."""

    trigger: Expression
    source: str  # the PCRE between the slashes
    flags: str
    offset: Offset
    python_regex: bytes | None
    python_flags: int  # re module flags
    rolling: bool = False  # 'r' flag
    encompass: bool = False  # 'e' flag


class ByteCompareBase(enum.Enum):
    HEX = "h"
    DECIMAL = "d"
    AUTO = "a"
    BINARY = "i"


@dataclass(frozen=True, slots=True)
class ByteComparison:
    operator: str  # '<', '>', '='
    value: int


@dataclass(frozen=True, slots=True)
class ByteCompareSubsignature:
    """``Trigger(Offset#Options#Comparisons)``: read a number near a match."""

    trigger: int  # subsignature index whose match anchors the read
    offset: int  # relative to the trigger's match start (may be negative)
    base: ByteCompareBase
    little_endian: bool
    exact: bool  # 'e' flag: the field must be exactly ``length`` bytes
    length: int
    comparisons: tuple[ByteComparison, ...]


Subsignature = BodySubsignature | PcreSubsignature | ByteCompareSubsignature


# Logical expressions ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubRef:
    """A reference to subsignature ``index``: true when it matched at least once."""

    index: int


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Count:
    """``expr=X``, ``expr=X,Y``, ``expr>X``, ``expr>X,Y``, ``expr<X``, ``expr<X,Y``.

    ``operator`` is one of '=', '>', '<'; ``value`` is X; ``distinct`` is Y
    (how many different subsignatures must have contributed), or None.
    """

    operand: Expression
    operator: str
    value: int
    distinct: int | None = None


Expression = SubRef | And | Or | Count


@dataclass(frozen=True, slots=True)
class LogicalSignature:
    name: str
    target_description: TargetDescription
    expression: Expression
    subsignatures: tuple[Subsignature, ...]
    source: str  # the whole line, for messages


# Everything a database line can become.
ParsedSignature = HashSignature | AllowListEntry | IgnoreEntry | BodySignature | LogicalSignature
