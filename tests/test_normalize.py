"""Unit tests for the text and HTML views that typed signatures see."""

from __future__ import annotations

from clamkit.engine.normalize import (
    MAX_HTML_NOTAGS,
    html_views,
    normalize_html,
    normalize_text,
)


def test_text_lowercases_and_folds_whitespace() -> None:
    raw = b"Hello   WORLD\t\tMarker  x\r\n\r\n  Line2 \x0b\x0c end\xe9\xc9 A\x00B\n"
    assert normalize_text(raw) == b"hello world marker x line2 end ab "


def test_text_drops_bytes_without_breaking_space_runs() -> None:
    assert normalize_text(b"a \x80 \x7f b\n") == b"a \x7f b "
    assert normalize_text(b"  \t lead") == b" lead"
    assert normalize_text(bytes(range(256))) == b" " + bytes(range(0x21, 0x41)) + bytes(
        range(0x61, 0x7B)
    ) + bytes(range(0x5B, 0x80))


def test_text_limit() -> None:
    assert normalize_text(b"ABCDEF", limit=3) == b"abc"


def test_html_tags_attributes_and_text() -> None:
    raw = (
        b"<!DOCTYPE html>\n<HTML>\n  <HEAD><TITLE>Hi  There</TITLE></HEAD>\n"
        b"<!-- a comment -->\n<Body BGCOLOR=\"#FFF\" onLoad='Foo()'>Some   TEXT"
        b"&amp;&lt;&#65;&#x42;&nbsp;x&copy;y\r\n\ttab "
        b'<a href="HTTP://Example.COM/A?B=C">Link</a>\n<p>end</P >\n'
        b"<style>  P { Color: RED }</style>\n</body></html>\n"
    )
    views = html_views(raw)
    assert views.normalized == (
        b'<html><head><title>hi there</title></head><body bgcolor="#fff" onload="foo()">'
        b"some text&<ab\xa0x\xa9y tab "
        b'<a href="http://example.com/a?b=c">link</a><p>end</p>'
        b"<style>p{color:red}</style></body></html>"
    )
    assert views.text == b" hi there some text x y tab HTTP://Example.COM/A?B=C link end "


def test_html_references_and_stray_angles() -> None:
    raw = b"<p>a&euro;b&#8364;c&bogus;d&amp e</p> 3 < 4 > 5 <img src=x.gif>"
    assert normalize_html(raw) == b"<p>a&#x20ac;b&#x20ac;c&bogus;d&amp e</p>3 <4>5 <img src=x.gif>"
    assert html_views(raw).text == b" a b c d e 3 5 "


def test_html_script_whitespace_is_removed() -> None:
    raw = b"x\n<script>var  X = 1;\n</script>"
    assert normalize_html(raw) == b"x <script>varx=1;</script>"
    assert html_views(raw).text == b"x "


def test_html_unterminated_constructs_end_at_eof() -> None:
    assert normalize_html(b"<html><!-- open comment") == b"<html>"
    assert normalize_html(b"<a href='x") == b'<a href="x">'
    assert normalize_html(b"<script>A B") == b"<script>ab"


def test_html_limits() -> None:
    assert normalize_html(b"<b>ABCDEF</b>", limit=5) == b"<b>ab"
    assert len(html_views(b"x " * MAX_HTML_NOTAGS).text) == MAX_HTML_NOTAGS
