"""Unit tests for the JavaScript normaliser.

Each expected output is what ClamAV 1.4.6 wrote to its ``javascript`` file
for ``<html><script>`` followed by the same source.
"""

from __future__ import annotations

import pytest

from clamkit.engine.jsnorm import JsNormalizer, js_unescape


def normalise(*slices: bytes) -> bytes:
    normalizer = JsNormalizer()
    for piece in slices:
        normalizer.feed(piece)
    return normalizer.finish()


CASES = [
    pytest.param(
        b"var a = 1, b = [1,2], c; a.b = c; d = a + b;",
        b"<script>var n000=1,n001=[1,2],n002;n000.b=n002;d=n000+n001;</script>",
        id="declared-names-renamed-members-and-globals-kept",
    ),
    pytest.param(
        b"function foo(a, b) { var c = a; function bar(d) { return c + d + foo; } } "
        b"foo(1,2); bar(c);",
        b"<script>function n000(n001,n002){var n003=n001;function n004(n005)"
        b"{return n003+n005+n000;}}foo(1,2);bar(c);</script>",
        id="function-scopes",
    ),
    pytest.param(
        b"var var1 = 1; var var1 = 2; var1;",
        b"<script>var n001=1;var n001=2;n001;</script>",
        id="redeclaration-takes-a-new-number",
    ),
    pytest.param(
        b"x = 'it\\'s' + \"a\\x41\\u00e9\\0\\n\" + 'b'; y = 'c' + z + 'd';",
        b'<script>x="it\'saa\xc3\xa9\x01 b";y="c"+z+"d";</script>',
        id="strings-decoded-and-joined",
    ),
    pytest.param(
        b"n = 007 + 12.50 + 1.5e3 + 1e5 + 0x1F + 99999999999 + 2147483648 + 1.2.3 + .5;",
        b"<script>n=7+12.5+1500+1 e5+0 x1f+1215752191+-2147483648+1.2.3+.5;</script>",
        id="numbers-as-atoi-and-percent-g",
    ),
    pytest.param(
        b"a // line comment\nb /* block\ncomment */ c; <!-- d --> e",
        b"<script>a line comment b c;<!--d--></script>",
        id="comments-and-a-name-left-open",
    ),
    pytest.param(
        b"if (x == 1) { return null; } else { VAR Q = new Foo(); this.q = typeof Q; }",
        b"<script>if(x==1){return null;}else{var q=new foo();this.q=typeof q;}</script>",
        id="keywords-are-case-sensitive-output-is-lower-case",
    ),
    pytest.param(
        b"$x _y \\u0041bc \\x; a\xe9b",
        b"<script>$x _y \\0041bc  x;a</script>",
        id="odd-names-and-high-bytes",
    ),
    pytest.param(
        b'a("unterminated',
        b'<script>a("unterminated")</script>',
        id="open-string-and-parenthesis-closed",
    ),
    pytest.param(b"f((g(1", b"<script>f((g()))</script>", id="number-left-open-is-lost"),
    pytest.param(b"</script>", b"<script></script>", id="no-second-end-tag"),
    pytest.param(
        b"eval('var e1 = 2; e1 + e2;'); s = unescape('%u0041%42%00%zz') + unescape(t);",
        b'<script>var n000=2;n000+e2;s="ab\x01%zz"+unescape(t);</script>',
        id="eval-and-unescape",
    ),
    pytest.param(b"dF('%3Dcwk%3Dqpb2')", b"<script>;aui;on</script>", id="df-decoder"),
    pytest.param(
        b"eval(function(p,a,c,k,e,r){e=String;return p}"
        b"('0 1 2 3(\\'x\\')',4,4,'alpha|beta|gamma|doc'.split('|'),0,{}))",
        b"<script>eval(function(n000,n001,n002,n003,n004,n005){n004=string;return n000}"
        b'(alpha beta gamma doc("x")))</script>',
        id="packer",
    ),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_normalised_script(source: bytes, expected: bytes) -> None:
    assert normalise(source) == expected


def test_tokens_continue_across_slices() -> None:
    assert normalise(b'a = "x', b'y" + "z";') == b'<script>a="xyz";</script>'
    assert normalise(b"var fo", b"o = 1;") == b"<script>var n000=1;</script>"


def test_separated_script_and_end_tag_rule() -> None:
    normalizer = JsNormalizer()
    normalizer.feed(b"a</script>")
    assert normalizer.finish(separated=True) == b"<script>a</script>"


def test_unescape() -> None:
    assert js_unescape(b"%41%u00e9%u0000%4%zz%") == b"A\xc3\xa9\x01%4%zz%"
