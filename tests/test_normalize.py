"""Unit tests for the text and HTML views that typed signatures see.

Every expected HTML view below was read from the files ClamAV 1.4.6 leaves
with ``--leave-temps`` for the same input.
"""

from __future__ import annotations

import pytest

from clamkit.engine.normalize import html_views, normalize_text


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


HTML_CASES = [
    pytest.param(
        b"<html>\n <HEAD><TITLE>Hi  There</TITLE></HEAD>\n"
        b"<Body BGCOLOR=\"#FFF\" onLoad='Foo()'>Some   TEXT</body>",
        b'<html><head><title>hi there</title></head><body bgcolor="#fff" onload="foo()">'
        b"some text</body>",
        b" hi there some text ",
        id="tags-attributes-text",
    ),
    pytest.param(
        b"<html><body>\nhttp://x.ro/exp\n..\n<?php\n..\nposix_getuid()\n",
        b"<html><body>http://x.ro/exp .. <?php .. posix_getuid()",
        b" http://x.ro/exp .. ",
        id="unclosed-tag-runs-to-the-end",
    ),
    pytest.param(
        b"<html><!-- c -- > d --> e <!x> f < !y>g",
        b"<html>d --> e f g",
        b" d --> e f g",
        id="comments-end-at-the-first-gt",
    ),
    pytest.param(
        b"<html><p  x = 1  y='2 3'  z=\"4\n5\"  w>t</p >",
        b'<html><p x=1 y="2 3" z="4 5" w>t</p>',
        b" t ",
        id="attribute-spacing-and-quotes",
    ),
    pytest.param(
        b'<html><p a="x   \n  y"b=c d=e"f g=\'h"i\' j=k>l',
        b'<html><p a="x y"b=c d=e"f g="h"i" j=k>l',
        b" l",
        id="space-inside-quotes-ends-the-quoting",
    ),
    pytest.param(
        b'<html><a href="<%=a(" b")%>?c=<%=d%>">',
        b'<html><a href="<%=a(" b")%>?c=<%=d%>">',
        b' <%=a( ?c= ">',
        id="closing-quote-and-gt-inside-a-value",
    ),
    pytest.param(
        b'<html><meta content="ie=6" />\n..\n<tt</tt></tr>',
        b'<html><meta content="ie=6" />.. <tt</tt></tr>',
        b" .. ",
        id="every-non-space-is-part-of-a-name",
    ),
    pytest.param(
        b'<html><p a="1\rb"><p a="2\tb"><p a="x>y">z',
        b'<html><p a="1b"><p a="2\tb"><p a="x>y">z',
        b" z",
        id="cr-dropped-tab-kept-in-values",
    ),
    pytest.param(
        b"<html>a &amp b &amp; c &#65x d &#x41; e &AMP; f &#0; g &#128; h &#1114112; "
        b"i &nbsp; j &euro; k &#x1F600; l &Lt;",
        b"<html>a &amp b & c Ax d a e &amp; f \x00 g \x80 h  i \xa0 j &#x20ac; k &#xf600; "
        b"l &#x226a;",
        b" a b c x d e f g h i j k l ",
        id="character-references",
    ),
    pytest.param(
        b"<html>&#99999; &#x; &#65 &#4294967361; &Aacute; &#0x41; &lt",
        b"<html>&#x869f; \x00 A A \xc1 a <",
        b" ",
        id="numeric-overflow-and-unfinished-references",
    ),
    pytest.param(
        b"<html>a\x00b\x01c\x7fd\xe9E\rF\r\nG\x0bH\x0cI",
        b"<html>ab\x01c\x7fd\xe9ef g h i",
        b" ab c\x7fd\x00ef g h i",
        id="nul-dropped-controls-and-cr",
    ),
    pytest.param(
        b"<html>\xe3\x80\x82 \xa1C \xa1X \xc3\xa9\xc3\xa9x",
        b"<html>. .\x00 \xa1x \xc3\xa9\xc3\xa9x",
        b" ..\x00\x00x \xc3\xa9\xa9\x00x",
        id="bytes-above-0x7f-in-groups-of-three",
    ),
    pytest.param(
        b'<html><a href=X>y</a><A HREF = "Z&lt;">w</a><img src=Q alt=R><area href=T>'
        b'<a href="a b c">',
        b'<html><a href=x>y</a><a href="z<">w</a><img src=q alt=r><area href=t><a href="a b c">',
        b" X y Z< w Q ",
        id="links-in-the-text-view",
    ),
    pytest.param(
        b'<html><img src="data:image/png;base64,AAAA" alt=x>y<img src=data:,a&amp;b c>d',
        b'<html><img src="data"alt=x>y<img src=data&c>d',
        b" y d",
        id="data-uris",
    ),
    pytest.param(
        b"<html><style>a {b: 'c'}</style>d<style>e</style\n>f",
        b'<html><style>a{b:"c"}</style>d<style>e</style>f',
        b" d >f",
        id="style-is-raw-text",
    ),
]


@pytest.mark.parametrize(("raw", "normalized", "text"), HTML_CASES)
def test_html_views(raw: bytes, normalized: bytes, text: bytes) -> None:
    views = html_views(raw)
    assert views.normalized == normalized
    assert views.text == text
    assert views.javascript is None


SCRIPT_CASES = [
    pytest.param(
        b'<html><script>var a = "x  Y";\nb <c\n</script>z',
        b'<html><script>vara="xy";b<c</script>z',
        b" z",
        b'<script>var n000="x  y";b<c</script>',
        id="only-a-closing-tag-ends-a-script",
    ),
    pytest.param(
        b"<html><script>a('b</script> q\";\n</script>z",
        b'<html><script>a("b</script>q"; </script>z',
        b' q"; z',
        b'<script>a("b</script> ")</script>',
        id="script-ends-inside-a-string",
    ),
    pytest.param(
        b"<html><script>a</SCRIPT >b</script>c",
        b"<html><script>a</script>b</script>c",
        b" >b c",
        b"<script>a</script</script>",
        id="space-before-gt-of-the-end-tag",
    ),
    pytest.param(
        b"<html><script>a<!-- b 'c' --> d</script>e",
        b'<html><script>a<!--b"c"-->d</script>e',
        b" e",
        b'<script>a<!--b"c"-->d</script>',
        id="comments-inside-scripts-are-kept",
    ),
    pytest.param(
        b"<html><style>x y</script>z w</style>q r",
        b"<html><style>xy</script>z w</style>q r",
        b" z w q r",
        None,
        id="end-script-tag-ends-a-style",
    ),
    pytest.param(
        b"<html><script>x y</style>z w</script>q r",
        b"<html><script>xy</style>zw</script>q r",
        b" q r",
        b"<script>x y</style>z w</script>",
        id="end-style-tag-does-not-end-a-script",
    ),
    pytest.param(
        b"<html><script>f(1)</script>x<script>var q='\\x41'",
        b'<html><script>f(1)</script>x<script>varq="\\x41"',
        b" x ",
        b'<script>f(1)</script>\n<script>var n000="a"</script>',
        id="one-line-per-script-last-one-open",
    ),
]


@pytest.mark.parametrize(("raw", "normalized", "text", "javascript"), SCRIPT_CASES)
def test_html_script_views(
    raw: bytes, normalized: bytes, text: bytes, javascript: bytes | None
) -> None:
    views = html_views(raw)
    assert (views.normalized, views.text, views.javascript) == (normalized, text, javascript)


def test_a_chunk_starting_with_whitespace_skips_it_whatever_the_state() -> None:
    # The reference reads 8191 bytes at a time; here the next one is a space,
    # so the second read starts with the spaces inside the quoted value.
    raw = b'<html><p a="' + b"x" * (8191 - 12) + b'   y">z'
    assert html_views(raw).normalized.endswith(b'xxy">z')
    assert html_views(raw.replace(b"   y", b"y   y")).normalized.endswith(b'xxy y">z')


def test_reads_skip_nuls_and_end_after_a_whitespace() -> None:
    raw = b"<html>" + b"\0" * 5000 + b"a" * 8190 + b" b"
    views = html_views(raw)
    assert views.normalized == b"<html>" + b"a" * 8190 + b" b"
    script = b"<html><script>" + b"s" * 8177 + b"  var q = 1</script>x"
    assert html_views(script).javascript == b"<script>" + b"s" * 8177 + b" var n000=1</script>"


def test_a_pending_entity_at_the_end_is_decoded() -> None:
    assert html_views(b"<html>a&amp").normalized == b"<html>a&"
    assert html_views(b"<html>a&zz").normalized == b"<html>a&zz"
