"""Which forms of a file the scanner matches, and with which signature targets."""

from __future__ import annotations

from clamkit.engine import matching
from clamkit.engine.filetypes import HEAD_SIZE, FileType, detect_file_type
from clamkit.engine.options import ScanOptions
from clamkit.signatures.model import Target

HTML = frozenset({Target.ANY, Target.HTML})
TEXT = frozenset({Target.ANY, Target.TEXT})
SCRIPT = HTML | TEXT


def views(data: bytes, **limits: int) -> list[tuple[bytes, frozenset[Target]]]:
    options = ScanOptions(**limits)
    file_type = detect_file_type(data, len(data))
    return [(bytes(view), targets) for view, targets in matching._views(data, file_type, options)]


def test_html_is_seen_normalised_as_text_and_as_scripts() -> None:
    page = b"<html><body>Hi  <script>var A = 1;</script></body>"
    assert views(page) == [
        (b"<html><body>hi <script>vara=1;</script></body>", HTML),
        (b" hi ", HTML),
        (b"<script>var n000=1;</script>", SCRIPT),
    ]


def test_utf16_html_is_seen_raw_then_narrowed() -> None:
    page = "<html><body>Hi</body>".encode("utf-16-le")
    assert views(page) == [
        (page, frozenset({Target.ANY})),
        (b"<html><body>hi</body>", HTML),
        (b" hi ", HTML),
    ]


def test_text_turning_out_to_be_html() -> None:
    # Typed text from its head; the script after it makes it HTML.
    page = b"x" * HEAD_SIZE + b"\n<script>var a=1;</script>\n"
    assert detect_file_type(page) is FileType.CL_TYPE_TEXT_ASCII
    assert views(page) == [
        (page, HTML),
        (b"x" * HEAD_SIZE + b" <script>vara=1;</script>", HTML),
        (b"x" * HEAD_SIZE + b" ", HTML),
        (b"<script>var n000=1;</script>", SCRIPT),
    ]


def test_html_size_limits() -> None:
    page = b"<html><body>" + b"x " * 20
    assert [targets for _, targets in views(page, max_htmlnotags=len(page) - 1)] == [HTML]
    assert views(page, max_htmlnormalize=len(page) - 1) == []


def test_text_size_limit() -> None:
    text = b"Plain  TEXT\n"
    assert views(text) == [(text, frozenset({Target.ANY})), (b"plain text ", TEXT)]
    assert views(text, max_scriptnormalize=len(text) - 1) == [(text, frozenset({Target.ANY}))]


def test_other_types_are_seen_raw() -> None:
    exe = b"MZ" + b"\0" * 100
    assert detect_file_type(exe) is FileType.CL_TYPE_MSEXE
    assert views(exe) == [(exe, frozenset({Target.ANY, Target.PE}))]
