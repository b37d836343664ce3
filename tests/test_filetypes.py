"""Unit tests for file type recognition on bytes built here."""

from __future__ import annotations

import io
import struct
import tarfile

import pytest
from pebuild import PE_HEADERS

from clamkit.engine.filetypes import (
    HEAD_SIZE,
    FileType,
    detect_file_type,
    refine_file_type,
    relative_offsets_resolve,
    target_types,
    utf16le_as_ascii,
)
from clamkit.signatures.model import Target

T = FileType


def _pe(valid: bool = True) -> bytes:
    lfanew = 0x80
    mz = bytearray(b"MZ" + b"\0" * (lfanew - 2))
    struct.pack_into("<I", mz, 0x3C, lfanew)
    return bytes(mz) + (b"PE\0\0" if valid else b"XX\0\0") + b"\0" * 64


def _tar(posix: bool) -> bytes:
    buf = io.BytesIO()
    fmt = tarfile.USTAR_FORMAT if posix else tarfile.GNU_FORMAT
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as archive:
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"hello"))
    data = bytearray(buf.getvalue())
    if not posix:  # a v7 header: no magic, checksum recomputed
        data[257:265] = b"\0" * 8
        data[148:156] = b" " * 8
        data[148:156] = b"%06o\0 " % sum(data[:512])
    return bytes(data)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (_pe(), T.CL_TYPE_MSEXE),
        (_pe(valid=False), T.CL_TYPE_MSEXE),  # the reference types a bare MZ as PE too
        (b"\x7fELF\x02\x01\x01" + b"\0" * 40, T.CL_TYPE_ELF),
        (b"\xcf\xfa\xed\xfe" + b"\0" * 28, T.CL_TYPE_MACHO),
        (b"\xfe\xed\xfa\xce" + b"\0" * 28, T.CL_TYPE_MACHO),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + b"\0" * 40, T.CL_TYPE_MACHO_UNIBIN),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\0" * 40, T.CL_TYPE_JAVA),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x44" + b"\0" * 40, T.CL_TYPE_BINARY_DATA),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500, T.CL_TYPE_MSOLE2),
        (b"%PDF-1.4\n", T.CL_TYPE_PDF),
        (b"junk line\n%PDF-1.7\n", T.CL_TYPE_PDF),
        (b"FWS\x09", T.CL_TYPE_SWF),
        (b"CWS\x09", T.CL_TYPE_SWF),
        (b"ZWS\x0d", T.CL_TYPE_SWF),
        (b"GIF89a", T.CL_TYPE_GIF),
        (b"\x89PNG\r\n\x1a\n", T.CL_TYPE_PNG),
        (b"\xff\xd8\xff\xe0", T.CL_TYPE_JPEG),
        (b"II*\0", T.CL_TYPE_TIFF),
        (b"BM\0\0", T.CL_TYPE_GRAPHICS),
        (b"PK\x03\x04", T.CL_TYPE_ZIP),
        (b"Rar!\x1a\x07\x00", T.CL_TYPE_RAR),
        (b"\x1f\x8b\x08", T.CL_TYPE_GZ),
        (b"BZh9", T.CL_TYPE_BZ),
        (b"\xfd7zXZ\x00", T.CL_TYPE_XZ),
        (b"7z\xbc\xaf\x27\x1c", T.CL_TYPE_7Z),
        (b"\x60\xea\0\0", T.CL_TYPE_ARJ),
        (b"MSCF\0\0\0\0", T.CL_TYPE_MSCAB),
        (b"ITSF", T.CL_TYPE_MSCHM),
        (b"070701", T.CL_TYPE_CPIO_NEWC),
        (b"070707", T.CL_TYPE_CPIO_ODC),
        (b"\xc7\x71", T.CL_TYPE_CPIO_OLD),
        (b"{\\rtf1", T.CL_TYPE_RTF),
        (b"[aliases]\n", T.CL_TYPE_POSIX_TAR),
        (_tar(posix=True), T.CL_TYPE_POSIX_TAR),
        (_tar(posix=False), T.CL_TYPE_OLD_TAR),
        (b"ID3\x03", T.CL_TYPE_IGNORED),
        (b"\x00\x00\x01\xb3", T.CL_TYPE_BINARY_DATA),
        (b"\x55\x0d\x0d\x0a" + b"\0" * 12, T.CL_TYPE_PYTHON_COMPILED),
        (b"\x33\x0d\x0d\x0a", T.CL_TYPE_PYTHON_COMPILED),
        (b"\0\0-lh5-", T.CL_TYPE_LHA_LZH),
        (b"\0" * 510 + b"\x55\xaa", T.CL_TYPE_MBR),
    ],
)
def test_magic(head: bytes, expected: FileType) -> None:
    assert detect_file_type(head) is expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"plain text\n", T.CL_TYPE_TEXT_ASCII),
        ("caf\u00e9 na\u00efve\n".encode(), T.CL_TYPE_TEXT_ASCII),  # UTF-8 counts as ASCII
        (b"caf\xe9\n", T.CL_TYPE_TEXT_ASCII),
        (b"\xff\xfe" + "hello".encode("utf-16-le"), T.CL_TYPE_TEXT_UTF16LE),
        (b"\xfe\xff" + "hello".encode("utf-16-be"), T.CL_TYPE_TEXT_UTF16BE),
        (b"\x00\x00\x00\x00data", T.CL_TYPE_BINARY_DATA),
        # no BOM: text with a stray control byte still passes the UTF-16 test
        (b"ab\x01cdef\n", T.CL_TYPE_TEXT_UTF16BE),
        (b"\x7fEL truncated", T.CL_TYPE_TEXT_UTF16BE),
        (b"a" * HEAD_SIZE + b"\0\1\0\2", T.CL_TYPE_TEXT_ASCII),  # beyond the head
        (b"a" * (HEAD_SIZE - 4) + b"\0\1\0\2", T.CL_TYPE_BINARY_DATA),
        (b"", T.CL_TYPE_TEXT_ASCII),
    ],
)
def test_text_classes(head: bytes, expected: FileType) -> None:
    assert detect_file_type(head) is expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"<html><body>x</body></html>", T.CL_TYPE_HTML),
        (b"some text <A  HREF='x'>", T.CL_TYPE_HTML),
        (b"\0\0\0\0<script>", T.CL_TYPE_HTML),
        (b"text only <b>bold</b>", T.CL_TYPE_TEXT_ASCII),
        (b"<html>%PDF-1.4", T.CL_TYPE_HTML),  # HTML outranks PDF
        (b"<html>\nFrom: a\nContent-Type: t\n", T.CL_TYPE_MAIL),  # mail outranks HTML
        (b"From: a@b\n\nbody", T.CL_TYPE_MAIL),
        (b"Received: from x\n", T.CL_TYPE_MAIL),
        (b"X-Foo: bar\nFrom: a@b\nContent-Type: text/plain\n", T.CL_TYPE_MAIL),
        (b"X: y\nMIME-Version: 1.0\nContent-Type: t\n", T.CL_TYPE_MHTML),
        (b'<?xml version="1.0"?>\n<w:wordDocument>', T.CL_TYPE_XML_WORD),
        ("<html><body>".encode("utf-16-le"), T.CL_TYPE_HTML_UTF16),
        (b"MZ<html>", T.CL_TYPE_MSEXE),  # fixed magics are never overridden
    ],
)
def test_pattern_magic(head: bytes, expected: FileType) -> None:
    assert detect_file_type(head) is expected


def test_embedded_objects_do_not_type_the_file() -> None:
    assert detect_file_type(b"\0\0\0\0" + b"x" * 100 + b"PK\x03\x04") is T.CL_TYPE_BINARY_DATA
    assert detect_file_type(b"\0\0\0\0MZ" + b"\0" * 100 + b"PE\0\0") is T.CL_TYPE_BINARY_DATA


def test_end_relative_magic_needs_the_size() -> None:
    data = b"\0" * 100 + b"koly" + b"\0" * 508
    assert detect_file_type(data) is T.CL_TYPE_DMG
    assert detect_file_type(data, size=len(data) + 1) is T.CL_TYPE_BINARY_DATA


def test_only_the_head_is_read() -> None:
    late = b"a" * HEAD_SIZE + b"<html>"
    assert detect_file_type(late) is T.CL_TYPE_TEXT_ASCII
    assert refine_file_type(T.CL_TYPE_TEXT_ASCII, late) is T.CL_TYPE_HTML


def test_refine_only_retypes_ascii_text() -> None:
    late_mail = b"x" * 2000 + b"\nFrom: a\nContent-Type: t\n"
    assert refine_file_type(T.CL_TYPE_TEXT_ASCII, late_mail) is T.CL_TYPE_TEXT_ASCII
    assert (
        refine_file_type(T.CL_TYPE_TEXT_ASCII, b"x\nFrom: a\nContent-Type: t\n") is T.CL_TYPE_MAIL
    )
    assert (
        refine_file_type(T.CL_TYPE_BINARY_DATA, b"\0" * 2000 + b"<html>") is T.CL_TYPE_BINARY_DATA
    )
    assert refine_file_type(T.CL_TYPE_TEXT_ASCII, b"nothing here") is T.CL_TYPE_TEXT_ASCII


@pytest.mark.parametrize(
    ("file_type", "targets"),
    [
        (T.CL_TYPE_MSEXE, {Target.ANY, Target.PE}),
        (T.CL_TYPE_MSOLE2, {Target.ANY, Target.OLE2}),
        (T.CL_TYPE_HTML, {Target.ANY, Target.HTML}),
        (T.CL_TYPE_MAIL, {Target.ANY, Target.MAIL}),
        (T.CL_TYPE_PNG, {Target.ANY, Target.GRAPHICS}),
        (T.CL_TYPE_GRAPHICS, {Target.ANY, Target.GRAPHICS}),
        (T.CL_TYPE_ELF, {Target.ANY, Target.ELF}),
        (T.CL_TYPE_TEXT_ASCII, {Target.ANY, Target.TEXT}),
        (T.CL_TYPE_TEXT_UTF16LE, {Target.ANY, Target.TEXT}),
        (T.CL_TYPE_MACHO_UNIBIN, {Target.ANY, Target.MACHO}),
        (T.CL_TYPE_PDF, {Target.ANY, Target.PDF}),
        (T.CL_TYPE_SWF, {Target.ANY, Target.FLASH}),
        (T.CL_TYPE_JAVA, {Target.ANY, Target.JAVA}),
        (T.CL_TYPE_ZIP, {Target.ANY}),
        (T.CL_TYPE_BINARY_DATA, {Target.ANY}),
        (T.CL_TYPE_HTML_UTF16, {Target.ANY}),
        (T.CL_TYPE_IGNORED, set()),
    ],
)
def test_target_types(file_type: FileType, targets: set[Target]) -> None:
    assert target_types(file_type) == targets


def test_container_names_are_clamav_names() -> None:
    # Logical signatures name containers by these strings.
    for name in ("CL_TYPE_ZIP", "CL_TYPE_RAR", "CL_TYPE_MSOLE2", "CL_TYPE_7Z", "CL_TYPE_ANY"):
        assert FileType[name].name == name


def test_link_tag_needs_href_anywhere_after() -> None:
    assert refine_file_type(T.CL_TYPE_TEXT_ASCII, b"<a " * 100_000) is T.CL_TYPE_TEXT_ASCII
    assert refine_file_type(T.CL_TYPE_TEXT_ASCII, b"<a " + b"x" * 5000 + b"HrEF") is T.CL_TYPE_HTML


def test_utf16le_as_ascii() -> None:
    assert utf16le_as_ascii("<html>".encode("utf-16-le") + b"x") == b"<html>"
    assert utf16le_as_ascii(b"\xff\xfeA\x01") == bytes([0xDF, 0x51])


@pytest.mark.parametrize(
    ("image", "resolves"), [p[1:] for p in PE_HEADERS], ids=[p[0] for p in PE_HEADERS]
)
def test_relative_offsets_need_a_parsable_pe_header(image: bytes, resolves: bool) -> None:
    file_type = detect_file_type(image, len(image))
    assert file_type is T.CL_TYPE_MSEXE
    assert relative_offsets_resolve(file_type, image) is resolves


def test_relative_offsets_resolve_outside_executables() -> None:
    assert relative_offsets_resolve(T.CL_TYPE_BINARY_DATA, b"MZ")
    assert relative_offsets_resolve(T.CL_TYPE_TEXT_ASCII, b"")
