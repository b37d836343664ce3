"""File type recognition: which ClamAV ``CL_TYPE_*`` a file is, and which targets apply.

Strategy: mirror what ClamAV 1.4 (functionality level 216) does with its
built-in file type table when no ``daily.ftm`` overrides it, in three steps,
all on the first :data:`HEAD_SIZE` bytes:

1. fixed magics at fixed offsets (:data:`_FIXED_MAGIC`); the first hit wins;
2. otherwise the text class of the head, after file(1)'s character classes:
   ASCII (bytes in ISO-8859/extended ranges count as ASCII, so UTF-8 text is
   "ASCII" too), UTF-16 (with a BOM, or without one when no even-aligned pair
   from offset 2 on is a control character), else binary data; binary data
   may still be a tar archive (header checksum);
3. for text and binary data, the "pattern" magics (:data:`_PATTERN_MAGIC`,
   regular expressions with offset windows) are searched in the head; a hit
   replaces the type when it ranks higher in :class:`FileType` order, which is
   ClamAV's own precedence (MAIL beats HTML beats PDF ...).  If nothing hits,
   UTF-16LE-looking HTML gives ``CL_TYPE_HTML_UTF16``.

Magics that mark an *embedded* object (SFX archives, NSIS, AutoIt, a PE
header after junk, ...) never decide a file's own type: ClamAV finds them
while scanning the whole file and scans the object as a child; that belongs
to the scanner.  Likewise a plain-ASCII file whose HTML or mail markers only
appear after the head is re-typed during its scan: :func:`refine_file_type`
reproduces that second look over the whole data.

Observed on the reference (and relied on by the tests): a bare ``MZ`` is
``CL_TYPE_MSEXE`` and PE-target signatures apply to it; ``CL_TYPE_IGNORED``
files (MP3, Ogg, SQLite ...) are not scanned at all, so no target applies.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from clamkit.executables import eof_offsets_resolve, parse_executable
from clamkit.signatures.model import Target

__all__ = [
    "HEAD_SIZE",
    "FileType",
    "detect_file_type",
    "refine_file_type",
    "relative_offsets_resolve",
    "target_types",
    "utf16le_as_ascii",
]

HEAD_SIZE = 1024
"""Bytes of a file that type recognition reads, as ClamAV does."""


class FileType(enum.Enum):
    """ClamAV's file types, declared in ClamAV's order.

    The order is meaningful: when several pattern magics match, the later
    member wins, exactly as ClamAV compares its enum values.
    """

    CL_TYPE_ANY = enum.auto()
    CL_TYPE_TEXT_ASCII = enum.auto()
    CL_TYPE_TEXT_UTF8 = enum.auto()
    CL_TYPE_TEXT_UTF16LE = enum.auto()
    CL_TYPE_TEXT_UTF16BE = enum.auto()
    CL_TYPE_BINARY_DATA = enum.auto()
    CL_TYPE_ERROR = enum.auto()
    CL_TYPE_MSEXE = enum.auto()
    CL_TYPE_ELF = enum.auto()
    CL_TYPE_MACHO = enum.auto()
    CL_TYPE_MACHO_UNIBIN = enum.auto()
    CL_TYPE_POSIX_TAR = enum.auto()
    CL_TYPE_OLD_TAR = enum.auto()
    CL_TYPE_CPIO_OLD = enum.auto()
    CL_TYPE_CPIO_ODC = enum.auto()
    CL_TYPE_CPIO_NEWC = enum.auto()
    CL_TYPE_CPIO_CRC = enum.auto()
    CL_TYPE_GZ = enum.auto()
    CL_TYPE_ZIP = enum.auto()
    CL_TYPE_BZ = enum.auto()
    CL_TYPE_RAR = enum.auto()
    CL_TYPE_ARJ = enum.auto()
    CL_TYPE_MSSZDD = enum.auto()
    CL_TYPE_MSOLE2 = enum.auto()
    CL_TYPE_MSCAB = enum.auto()
    CL_TYPE_MSCHM = enum.auto()
    CL_TYPE_SIS = enum.auto()
    CL_TYPE_SCRENC = enum.auto()
    CL_TYPE_GRAPHICS = enum.auto()
    CL_TYPE_GIF = enum.auto()
    CL_TYPE_PNG = enum.auto()
    CL_TYPE_JPEG = enum.auto()
    CL_TYPE_TIFF = enum.auto()
    CL_TYPE_RIFF = enum.auto()
    CL_TYPE_BINHEX = enum.auto()
    CL_TYPE_TNEF = enum.auto()
    CL_TYPE_CRYPTFF = enum.auto()
    CL_TYPE_PDF = enum.auto()
    CL_TYPE_UUENCODED = enum.auto()
    CL_TYPE_SCRIPT = enum.auto()
    CL_TYPE_HTML_UTF16 = enum.auto()
    CL_TYPE_RTF = enum.auto()
    CL_TYPE_7Z = enum.auto()
    CL_TYPE_SWF = enum.auto()
    CL_TYPE_JAVA = enum.auto()
    CL_TYPE_XAR = enum.auto()
    CL_TYPE_XZ = enum.auto()
    CL_TYPE_OOXML_WORD = enum.auto()
    CL_TYPE_OOXML_PPT = enum.auto()
    CL_TYPE_OOXML_XL = enum.auto()
    CL_TYPE_INTERNAL = enum.auto()
    CL_TYPE_HWP3 = enum.auto()
    CL_TYPE_OOXML_HWP = enum.auto()
    CL_TYPE_PS = enum.auto()
    CL_TYPE_EGG = enum.auto()
    CL_TYPE_ONENOTE = enum.auto()
    CL_TYPE_PYTHON_COMPILED = enum.auto()
    CL_TYPE_LHA_LZH = enum.auto()
    CL_TYPE_PART_ANY = enum.auto()
    CL_TYPE_PART_HFSPLUS = enum.auto()
    CL_TYPE_MBR = enum.auto()
    CL_TYPE_HTML = enum.auto()
    CL_TYPE_MAIL = enum.auto()
    CL_TYPE_SFX = enum.auto()
    CL_TYPE_ZIPSFX = enum.auto()
    CL_TYPE_RARSFX = enum.auto()
    CL_TYPE_7ZSFX = enum.auto()
    CL_TYPE_CABSFX = enum.auto()
    CL_TYPE_ARJSFX = enum.auto()
    CL_TYPE_EGGSFX = enum.auto()
    CL_TYPE_NULSFT = enum.auto()
    CL_TYPE_AUTOIT = enum.auto()
    CL_TYPE_ISHIELD_MSI = enum.auto()
    CL_TYPE_ISO9660 = enum.auto()
    CL_TYPE_DMG = enum.auto()
    CL_TYPE_GPT = enum.auto()
    CL_TYPE_APM = enum.auto()
    CL_TYPE_XDP = enum.auto()
    CL_TYPE_XML_WORD = enum.auto()
    CL_TYPE_XML_XL = enum.auto()
    CL_TYPE_XML_HWP = enum.auto()
    CL_TYPE_HWPOLE2 = enum.auto()
    CL_TYPE_MHTML = enum.auto()
    CL_TYPE_LNK = enum.auto()
    CL_TYPE_UDF = enum.auto()
    CL_TYPE_ALZ = enum.auto()
    CL_TYPE_OTHER = enum.auto()
    CL_TYPE_IGNORED = enum.auto()

    def outranks(self, other: FileType) -> bool:
        return self.value > other.value


T = FileType

# ---------------------------------------------------------------------------
# Step 1: fixed magics, in the order ClamAV tries them (its table newest-first).
# Order matters where a file can satisfy two entries, e.g. "[aliases]" is the
# tar exploit decoy rather than mIRC, and a tar header beats a leading "MZ".

# CPython and PyPy bytecode-cache version words (little-endian, then CR LF)
# that ClamAV knows by name; newer CPython is caught by a pattern magic.
# fmt: off
_PYC_VERSIONS = (
    256, 336, 3000, 3010, 3020, 3030, 3040, 3050, 3060, 3061, 3071, 3081, 3091,
    3101, 3103, 3111, 3131, 3141, 3151, 3160, 3170, 3180, 3190, 3200, 3210, 3220,
    3230, 3250, 3260, 3270, 3280, 3290, 3300, 3310, 3320, 3330, 3340, 3350, 3351,
    3360, 3361, 3370, 3371, 3372, 3373, 3375, 3376, 3377, 3378, 3379, 3390, 3391,
    3568, 5892, 11913, 20121, 50428, 50429, 50823, 50824, 60202, 60203, 60717,
    60718, 62011, 62012, 62021, 62041, 62051, 62061, 62062, 62071, 62081, 62091,
    62092, 62101, 62111, 62121, 62131, 62132, 62151, 62161, 62162, 62171, 62181,
    62191, 62201, 62211, 62212, 62218,
)
# fmt: on
_PYC_MAGIC: tuple[tuple[int, bytes, FileType], ...] = (
    *((0, v.to_bytes(2, "little") + b"\r\n", T.CL_TYPE_PYTHON_COMPILED) for v in _PYC_VERSIONS),
    (0, b"\x02\x09\x99\x00", T.CL_TYPE_PYTHON_COMPILED),  # Python 1.0
    (0, b"\x03\x09\x99\x00", T.CL_TYPE_PYTHON_COMPILED),  # Python 1.1 and 1.2
)

_FIXED_MAGIC: tuple[tuple[int, bytes, FileType], ...] = (
    (0, b"ALZ\x01", T.CL_TYPE_ALZ),
    *_PYC_MAGIC,
    (0, bytes.fromhex("e4525c7b8cd8a74daeb15378d02996d3"), T.CL_TYPE_ONENOTE),
    (0, b"ZWS", T.CL_TYPE_SWF),
    (0, b'{\n  "Magic":"CLAMJSONv0"', T.CL_TYPE_INTERNAL),
    (0, b"MM", T.CL_TYPE_TIFF),
    (0, b"II*\x00", T.CL_TYPE_TIFF),
    (0, b"\xff\xd8\xff", T.CL_TYPE_JPEG),
    (0, b"GIF", T.CL_TYPE_GIF),
    (0, b"\x89PNG", T.CL_TYPE_PNG),
    (0, b"EGGA", T.CL_TYPE_EGG),
    (0, b"CWS", T.CL_TYPE_SWF),
    (0, bytes.fromhex("4c0000000114020000000000c000000000000046"), T.CL_TYPE_LNK),
    (0, b"%!PS-Adobe-", T.CL_TYPE_PS),
    (0, b"{\\rt", T.CL_TYPE_RTF),
    (0, b"HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05", T.CL_TYPE_HWP3),
    (4, bytes.fromhex("d0cf11e0a1b11ae1"), T.CL_TYPE_HWPOLE2),
    (512, b"EFI PART", T.CL_TYPE_GPT),
    (0, b"\xfd7zXZ\x00", T.CL_TYPE_XZ),
    (0, b"xar!", T.CL_TYPE_XAR),
    (0, b"\x00\x00\x01\xba", T.CL_TYPE_BINARY_DATA),  # MPEG system stream
    (0, b"\x00\x00\x01\xb3", T.CL_TYPE_BINARY_DATA),  # MPEG video
    (0, bytes.fromhex("0000000c6a5020200d0a870a"), T.CL_TYPE_GRAPHICS),  # JPEG 2000
    (0, b"[aliases]", T.CL_TYPE_POSIX_TAR),  # CVE-2012-1419 decoy
    (0, b"MSCF\x00\x00\x00\x00", T.CL_TYPE_MSCAB),
    (0, b"FWS", T.CL_TYPE_SWF),
    (0, bytes.fromhex("d9d505f920a163d7"), T.CL_TYPE_IGNORED),  # SQLite journal
    (0, b"SQLite format 3\x00", T.CL_TYPE_IGNORED),
    (0, bytes.fromhex("377f0683002de218"), T.CL_TYPE_IGNORED),  # SQLite WAL
    (0, bytes.fromhex("377f0682002de218"), T.CL_TYPE_IGNORED),  # SQLite WAL
    (0, b"SYMC\x01\x00", T.CL_TYPE_IGNORED),  # Symantec DAT
    (0, b"%PDF-", T.CL_TYPE_PDF),
    (0, b"\xc7q", T.CL_TYPE_CPIO_OLD),
    (0, b"q\xc7", T.CL_TYPE_CPIO_OLD),
    (0, b"070707", T.CL_TYPE_CPIO_ODC),
    (0, b"070702", T.CL_TYPE_CPIO_CRC),
    (0, b"070701", T.CL_TYPE_CPIO_NEWC),
    (0, b"Received-SPF: ", T.CL_TYPE_MAIL),
    (0, b"7z\xbc\xaf'\x1c", T.CL_TYPE_7Z),
    (0, b"\xfe\xed\xfa\xcf", T.CL_TYPE_MACHO),
    (0, b"\xfe\xed\xfa\xce", T.CL_TYPE_MACHO),
    (0, b"\xcf\xfa\xed\xfe", T.CL_TYPE_MACHO),
    (0, b"\xce\xfa\xed\xfe", T.CL_TYPE_MACHO),
    (0, b"[aliases]", T.CL_TYPE_SCRIPT),  # mIRC ini, shadowed by the decoy
    (257, b"ustar", T.CL_TYPE_POSIX_TAR),
    (0, b"SIP-HIT (SIP/H", T.CL_TYPE_IGNORED),
    (0, b"\xff\xfb\x90", T.CL_TYPE_IGNORED),  # MP3
    (0, bytes.fromhex("d0cf11e0a1b11ae1"), T.CL_TYPE_MSOLE2),
    (0, bytes.fromhex("b6b9acaefeffffff"), T.CL_TYPE_CRYPTFF),
    (0, b"\x7fELF", T.CL_TYPE_ELF),
    (0, b'x\x9f>"', T.CL_TYPE_TNEF),
    (0, b"v:\r\nReceived: ", T.CL_TYPE_MAIL),
    (0, b"v:\nReceived: ", T.CL_TYPE_MAIL),
    (0, b"begin ", T.CL_TYPE_UUENCODED),
    (0, b"`\xea", T.CL_TYPE_ARJ),
    (0, b"X-UIDL: ", T.CL_TYPE_MAIL),
    (0, b"X-Symantec-", T.CL_TYPE_MAIL),
    (0, b"X-Sieve: ", T.CL_TYPE_MAIL),
    (0, b"X-Real-To: ", T.CL_TYPE_MAIL),
    (0, b"X-Original-To: ", T.CL_TYPE_MAIL),
    (0, b"X-Envelope-From: ", T.CL_TYPE_MAIL),
    (0, b"X-EVS", T.CL_TYPE_MAIL),
    (0, b"X-Apparently-To: ", T.CL_TYPE_MAIL),
    (0, b"To: ", T.CL_TYPE_MAIL),
    (0, b"Subject: ", T.CL_TYPE_MAIL),
    (0, b"SZDD", T.CL_TYPE_MSSZDD),
    (0, b"Return-path: ", T.CL_TYPE_MAIL),
    (0, b"Return-Path: ", T.CL_TYPE_MAIL),
    (0, b"Received: ", T.CL_TYPE_MAIL),
    (0, b"Rar!", T.CL_TYPE_RAR),
    (0, b"RIFX", T.CL_TYPE_RIFF),
    (0, b"RIFF", T.CL_TYPE_RIFF),
    (0, b"PK00PK\x03\x04", T.CL_TYPE_ZIP),
    (0, b"PK\x03\x04", T.CL_TYPE_ZIP),
    (0, b"OggS", T.CL_TYPE_IGNORED),
    (0, b"Message-Id: ", T.CL_TYPE_MAIL),
    (0, b"Message-ID: ", T.CL_TYPE_MAIL),
    (0, b"MZ", T.CL_TYPE_MSEXE),
    (0, b"ITSF", T.CL_TYPE_MSCHM),
    (0, b"ID3", T.CL_TYPE_IGNORED),  # MP3
    (0, b"Hi. This is the qmail-send", T.CL_TYPE_MAIL),
    (0, b"From: ", T.CL_TYPE_MAIL),
    (0, b"From ", T.CL_TYPE_MAIL),
    (0, b"For: ", T.CL_TYPE_MAIL),
    (0, b"Envelope-to: ", T.CL_TYPE_MAIL),
    (0, b"Delivery-date: ", T.CL_TYPE_MAIL),
    (0, b"Delivered-To: ", T.CL_TYPE_MAIL),
    (0, b"Date: ", T.CL_TYPE_MAIL),
    (0, b"BZh", T.CL_TYPE_BZ),
    (0, b"BM", T.CL_TYPE_GRAPHICS),
    (0, b">From ", T.CL_TYPE_MAIL),
    (0, b".RMF", T.CL_TYPE_IGNORED),  # RealMedia
    (0, b"(This file must be converted with BinHex 4.0)", T.CL_TYPE_BINHEX),
    (0, b"#@~^", T.CL_TYPE_SCRENC),
    (0, b"\x1f\x8b", T.CL_TYPE_GZ),
)

# ---------------------------------------------------------------------------
# Step 3: pattern magics.  ``start`` and ``window`` give where a match may
# begin (ClamAV's ``n`` / ``n,m`` offsets); ``None`` means anywhere.


@dataclass(frozen=True, slots=True)
class _PatternMagic:
    pattern: re.Pattern[bytes]
    file_type: FileType
    start: int | None = None
    window: int = 0
    from_end: bool = False  # ``start`` counts back from the end of the file
    # For ClamAV's ``*`` gaps: a second pattern that must follow anywhere after
    # the first; searching it separately keeps the search linear.
    then: re.Pattern[bytes] | None = None


def _pm(
    regex: bytes,
    file_type: FileType,
    start: int | None = None,
    window: int = 0,
    *,
    from_end: bool = False,
    then: bytes | None = None,
) -> _PatternMagic:
    return _PatternMagic(
        re.compile(regex, re.DOTALL),
        file_type,
        start,
        window,
        from_end,
        None if then is None else re.compile(then, re.DOTALL),
    )


def _ci(word: bytes) -> bytes:
    """A regex for ``word`` where letters match either case (ClamAV's ``(4d|6d)``)."""
    return b"".join(
        b"[" + bytes([c]).upper() + bytes([c]).lower() + b"]"
        if chr(c).isalpha()
        else re.escape(bytes([c]))
        for c in word
    )


def _ci_first(word: bytes) -> bytes:
    """Only the first letter of ``word`` in either case."""
    return _ci(word[:1]) + re.escape(word[1:])


_MIME = b"\n" + _ci(b"MIME-V") + b"ersion: "
_CTYPE = b"\n" + _ci_first(b"Content-") + _ci_first(b"Type: ")
_XML10 = re.escape(b'<?xml version="1.0"')

_HTML_TAGS = (
    b"<HEAD>", b"<HTML>", b"<Head>", b"<Html>", b"<head>", b"<html>",
    b"<IFRAME", b"<iframe", b"<IMG", b"<Img", b"<img", b"<OBJECT", b"<Object",
    b"<object", b"<SCRIPT", b"<Script", b"<script", b"<TABLE", b"<table",
)  # fmt: skip

_HTML_ANYWHERE = (
    _pm(b"|".join(re.escape(t) for t in _HTML_TAGS), T.CL_TYPE_HTML),
    _pm(b"<[aA] ", T.CL_TYPE_HTML, then=b"[hH][rR](?:EF|ef)"),
)

_MAIL_PATTERNS: tuple[_PatternMagic, ...] = (
    _pm(b"\n[Ff]rom: .{0,1024}?" + _MIME, T.CL_TYPE_MAIL, 0, 1024),
    _pm(b"\n[Ff]rom: .{0,2048}?" + _CTYPE, T.CL_TYPE_MAIL, 0, 1024),
    _pm(_MIME + b".{0,2048}?" + _CTYPE, T.CL_TYPE_MAIL, 0, 1024),
    _pm(b"\n[Mm]essage-[Ii]d: .{0,1024}?" + _CTYPE, T.CL_TYPE_MAIL, 0, 1024),
    _pm(b"\n[Rr]eceived: .{0,2048}?" + _CTYPE, T.CL_TYPE_MAIL, 0, 2048),
    _pm(b"Delivered-To:.{0,256}?Received:", T.CL_TYPE_MAIL, 0, 1024),
)

_PATTERN_MAGIC: tuple[_PatternMagic, ...] = (
    *_HTML_ANYWHERE,
    _pm(re.escape(b"<%@ LANGUAGE ="), T.CL_TYPE_HTML, 0),
    *_MAIL_PATTERNS,
    _pm(_MIME[1:] + b".{0,1024}?" + _CTYPE, T.CL_TYPE_MHTML, 0),
    _pm(_MIME + b".{0,1024}?" + _CTYPE, T.CL_TYPE_MHTML),
    _pm(b"%PDF-..|%pdf-..", T.CL_TYPE_PDF),
    _pm(b"/RGB\nID\n\xff{24}", T.CL_TYPE_IGNORED, 0, 128),  # PDF image
    _pm(b"\x00BEA01", T.CL_TYPE_UDF, 0, 32768),
    _pm(b"\x19\x04\x00\x10", T.CL_TYPE_SIS, 8, 12),
    _pm(b"\xca\xfe\xba\xbe\x00\x00\x00[\x00-\x1f]", T.CL_TYPE_MACHO_UNIBIN, 0),
    _pm(b"\xca\xfe\xba\xbe\x00\x00\x00[\x20-\x3f]", T.CL_TYPE_JAVA, 0),
    _pm(b"koly", T.CL_TYPE_DMG, 512, from_end=True),
    _pm(_XML10 + b".{0,1024}?<(?:.:)?wordDocument", T.CL_TYPE_XML_WORD, 0),
    _pm(_XML10 + b'.{0,1024}?progid="Word\\.Document"\\?>', T.CL_TYPE_XML_WORD, 0),
    _pm(_XML10 + b".{0,1024}?<(?:.:)?Workbook", T.CL_TYPE_XML_XL, 0),
    _pm(b"\xef\xbb\xbf" + _XML10 + b".*?<HWPML", T.CL_TYPE_XML_HWP, 0),
    _pm(b"ER.{510}PM\x00\x00", T.CL_TYPE_APM, 0),
    _pm(b"\x55\xaa", T.CL_TYPE_MBR, 510),
    _pm(re.escape(b"<xdp:xdp"), T.CL_TYPE_XDP),
    _pm(b".\r\r\n", T.CL_TYPE_PYTHON_COMPILED, 0),
    _pm(b"-(?:lh[0-7dx]|lz[s45]|pm0)-", T.CL_TYPE_LHA_LZH, 2),
)


def _pattern_hits(magic: _PatternMagic, data: bytes, size: int) -> bool:
    if magic.start is None:
        found = magic.pattern.search(data)
        if found is None or magic.then is None:
            return found is not None
        return magic.then.search(data, found.end()) is not None
    first = size - magic.start if magic.from_end else magic.start
    if first < 0:
        return False
    # The leftmost match from ``first`` on starts in the window, or none does;
    # one search in C instead of a match attempt per position.
    found = magic.pattern.search(data, first)
    return found is not None and found.start() <= first + magic.window


def _best_pattern_type(
    magics: tuple[_PatternMagic, ...], data: bytes, size: int, current: FileType
) -> FileType:
    best = current
    for magic in magics:
        if magic.file_type.outranks(best) and _pattern_hits(magic, data, size):
            best = magic.file_type
    return best


# ---------------------------------------------------------------------------
# Step 2: text classes, after file(1)'s table.  Control characters other
# than BEL BS HT LF FF CR ESC, and DEL, are "never text"; everything from
# 0x80 up is (ISO-8859 or extended) text.

_NOT_TEXT = frozenset([*range(0, 7), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])


def _looks_utf16(head: bytes) -> FileType | None:
    if len(head) < 2:
        return None
    if head.startswith(b"\xff\xfe"):
        big_endian, bom = False, True
    elif head.startswith(b"\xfe\xff"):
        big_endian, bom = True, True
    else:
        big_endian, bom = True, False
    bad = 0
    # ClamAV starts at offset 2 even without a BOM.
    for i in range(2, len(head) - 1, 2):
        hi, lo = (head[i], head[i + 1]) if big_endian else (head[i + 1], head[i])
        unit = hi << 8 | lo
        if unit == 0xFFFE:
            return None
        if unit < 0x80 and unit in _NOT_TEXT:
            if not bom:
                return None
            bad += 1
    if bom and bad >= len(head) // 2:
        return None
    return T.CL_TYPE_TEXT_UTF16BE if big_endian else T.CL_TYPE_TEXT_UTF16LE


def _text_type(head: bytes) -> FileType:
    if not any(b in _NOT_TEXT for b in head):
        return T.CL_TYPE_TEXT_ASCII
    # UTF-8 is never reached here: any byte that stops ASCII also stops UTF-8.
    return _looks_utf16(head) or T.CL_TYPE_BINARY_DATA


def _tar_type(head: bytes) -> FileType | None:
    """A tar header whose checksum adds up: POSIX with the ustar magic, else old."""
    if len(head) < 512:
        return None
    field = head[148:156].split(b"\x00", 1)[0].strip(b" ")
    if not field or any(c not in b"01234567" for c in field):
        return None
    unsigned = sum(head[:148]) + 8 * 0x20 + sum(head[156:512])
    if int(field, 8) != unsigned:
        return None
    return T.CL_TYPE_POSIX_TAR if head[257:262] == b"ustar" else T.CL_TYPE_OLD_TAR


def utf16le_as_ascii(data: bytes) -> bytes:
    """UTF-16LE text narrowed as ClamAV does, each unit to ``(high << 4) + low``.

    That keeps little-endian ASCII intact and garbles everything else; it is
    how UTF-16 HTML is both recognised and normalised.
    """
    units = len(data) // 2
    low, high = data[0 : 2 * units : 2], data[1 : 2 * units : 2]
    if not high.strip(b"\0"):
        return low
    return bytes((a + (b << 4)) & 0xFF for a, b in zip(low, high, strict=True))


def detect_file_type(head: bytes, size: int | None = None) -> FileType:
    """The type ClamAV gives a file starting with ``head``.

    Only the first :data:`HEAD_SIZE` bytes are looked at; pass more and the
    rest is ignored.  ``size`` is the whole file's size (for magics counted
    from the end of the file); it defaults to ``len(head)``.
    """
    head = head[:HEAD_SIZE]
    if size is None:
        size = len(head)
    for offset, magic, file_type in _FIXED_MAGIC:
        if head.startswith(magic, offset):
            return file_type
    file_type = _text_type(head)
    if file_type is T.CL_TYPE_BINARY_DATA:
        file_type = _tar_type(head) or file_type
        if file_type is not T.CL_TYPE_BINARY_DATA:
            return file_type
    found = _best_pattern_type(_PATTERN_MAGIC, head, size, file_type)
    if found is not file_type:
        return found
    folded = utf16le_as_ascii(head)
    if any(_pattern_hits(magic, folded, len(folded)) for magic in _HTML_ANYWHERE):
        return T.CL_TYPE_HTML_UTF16
    return file_type


def refine_file_type(file_type: FileType, data: bytes) -> FileType:
    """The type an ASCII text file takes once its whole content has been seen.

    ClamAV re-types plain ASCII text as HTML or mail when HTML tags or mail
    headers turn up anywhere in it (not only in the head); every other type
    is final.  ``data`` is the whole file.
    """
    if file_type is not T.CL_TYPE_TEXT_ASCII:
        return file_type
    return _best_pattern_type((*_HTML_ANYWHERE, *_MAIL_PATTERNS), data, len(data), file_type)


# ---------------------------------------------------------------------------
# Which signature targets see a file of each type.

_TARGETS_BY_TYPE: dict[FileType, Target] = {
    T.CL_TYPE_MSEXE: Target.PE,
    T.CL_TYPE_MSOLE2: Target.OLE2,
    T.CL_TYPE_HTML: Target.HTML,
    T.CL_TYPE_MAIL: Target.MAIL,
    T.CL_TYPE_GRAPHICS: Target.GRAPHICS,
    T.CL_TYPE_GIF: Target.GRAPHICS,
    T.CL_TYPE_PNG: Target.GRAPHICS,
    T.CL_TYPE_JPEG: Target.GRAPHICS,
    T.CL_TYPE_TIFF: Target.GRAPHICS,
    T.CL_TYPE_ELF: Target.ELF,
    # Text of every encoding is normalised and then seen by target 7.
    T.CL_TYPE_TEXT_ASCII: Target.TEXT,
    T.CL_TYPE_TEXT_UTF8: Target.TEXT,
    T.CL_TYPE_TEXT_UTF16LE: Target.TEXT,
    T.CL_TYPE_TEXT_UTF16BE: Target.TEXT,
    T.CL_TYPE_MACHO: Target.MACHO,
    T.CL_TYPE_MACHO_UNIBIN: Target.MACHO,
    T.CL_TYPE_PDF: Target.PDF,
    T.CL_TYPE_SWF: Target.FLASH,
    T.CL_TYPE_JAVA: Target.JAVA,
}


def target_types(file_type: FileType) -> frozenset[Target]:
    """Signature targets that apply to a file of ``file_type``.

    Target 0 applies to everything ClamAV scans; ``CL_TYPE_IGNORED`` files are
    not scanned, so nothing applies to them.
    """
    if file_type is T.CL_TYPE_IGNORED:
        return frozenset()
    specific = _TARGETS_BY_TYPE.get(file_type)
    return frozenset({Target.ANY} if specific is None else {Target.ANY, specific})


# ---------------------------------------------------------------------------
# Executable headers: ClamAV places EOF-n, EP and section offsets with the
# results of its executable parser, for every signature scanned in a file of
# an executable type (target 0 included).  When the header does not parse,
# none of those offsets resolves; absolute offsets and ``*`` still do.


def relative_offsets_resolve(file_type: FileType, data: bytes) -> bool:
    """Whether EOF-n, EP and section offsets can be placed in ``data`` (the whole file).

    True for every type ClamAV parses no executable header for; for PE and
    ELF files the headers must parse (a bare ``MZ`` does not): see
    ``clamkit.executables``.
    """
    return eof_offsets_resolve(file_type, parse_executable(file_type, data))
