"""Mail, mbox, uuencoded, BinHex, TNEF, HTML data: URIs and script-encoded files as containers.

Each format's ``members()`` on files built here and on the Debian corpus,
end to end through the engine, and (where the reference is installed) the
generated files compared with ClamAV's verdicts in one clamscan call.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import struct
from pathlib import Path

import pytest
from containers_parity import assert_same_verdicts, verdict_pairs
from containers_support import (
    PAYLOAD,
    PAYLOAD_NAME,
    TESTSIG_NAME,
    TestExtraction,
    clamav_testsig_engine,
    corpus_file,
    member_data,
    members_of,
    scan_names,
)
from damage import CORRUPT_INPUT, mutations

from clamkit.containers import binhex, html, mail, screnc, tnef, uuencode
from clamkit.containers.base import ContainerError, ContainerFormat, Member
from clamkit.containers.transfer import decode_base64, decode_uuencoded_lines
from clamkit.database.loader import load_database
from clamkit.engine import compile_engine

HEADERS = b"From: a@example.com\nTo: b@example.com\nSubject: test\n"


def uuencoded(data: bytes, name: str = "payload.bin") -> bytes:
    lines = b"".join(binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45))
    return b"begin 644 " + name.encode() + b"\n" + lines + b"`\nend\n"


def quoted_printable(data: bytes) -> bytes:
    """Every byte escaped (quopri leaves CR bare), in soft-broken lines."""
    escaped = "".join(f"={byte:02X}" for byte in data).encode()
    return b"=\n".join(escaped[i : i + 72] for i in range(0, len(escaped), 72))


def multipart(*parts: tuple[bytes, bytes]) -> bytes:
    out = HEADERS + b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="XX"\n\npre\n'
    for headers, body in parts:
        out += b"--XX\n" + headers + b"\n\n" + body + b"\n"
    return out + b"--XX--\n"


def attachment(body: bytes, encoding: str = "base64") -> tuple[bytes, bytes]:
    headers = b"Content-Type: application/octet-stream; name=p.bin\nContent-Transfer-Encoding: "
    return headers + encoding.encode(), body


def stored_by_lines(data: bytes) -> bytes:
    """What the reference keeps of an unencoded binary part."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if not lines[-1]:
        lines.pop()
    return b"".join(line.replace(b"\0", b"") + b"\n" for line in lines)


# -- decoders -----------------------------------------------------------------


def test_base64_skips_garbage_and_decodes_a_partial_quantum() -> None:
    encoded = base64.b64encode(PAYLOAD[:100]).rstrip(b"=")
    noisy = b"!".join(encoded[i : i + 7] for i in range(0, len(encoded), 7))
    assert decode_base64(noisy) == PAYLOAD[:100]


def test_uuencode_stops_at_a_zero_length_line() -> None:
    lines = [*uuencoded(PAYLOAD).split(b"\n")[1:-2], b"e"]
    assert decode_uuencoded_lines(lines) == PAYLOAD


# -- mail ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["clam.mail", "clam.exe.mbox.base64", "clam.exe.mbox.uu"])
def test_corpus_mail_holds_clam_exe(name: str) -> None:
    assert corpus_file("clam.exe") in member_data(members_of(mail.FORMAT, corpus_file(name)))


def test_base64_quoted_printable_and_uuencode_parts() -> None:
    message = multipart(
        attachment(base64.encodebytes(PAYLOAD)),
        attachment(quoted_printable(PAYLOAD), "quoted-printable"),
        attachment(uuencoded(PAYLOAD), "x-uuencode"),
    )
    found = member_data(members_of(mail.FORMAT, message))
    # Quoted-printable is decoded line by line: the last line ends in LF too.
    assert found == [PAYLOAD, PAYLOAD + b"\n", PAYLOAD]


def test_unencoded_parts_are_kept_as_lines_without_nul() -> None:
    found = member_data(members_of(mail.FORMAT, multipart(attachment(PAYLOAD, "binary"))))
    assert found == [stored_by_lines(PAYLOAD)]


def test_nested_message_is_a_member_of_its_own() -> None:
    inner = HEADERS + b"Content-Type: application/octet-stream; name=in.bin\n"
    inner += b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(PAYLOAD)
    message = multipart((b"Content-Type: message/rfc822", inner))
    items = members_of(mail.FORMAT, message)
    assert [(m.name, bytes(m.data)) for m in items if isinstance(m, Member)] == [
        ("textportion", inner)
    ]
    inner_items = members_of(mail.FORMAT, inner)
    assert [(m.name, bytes(m.data)) for m in inner_items if isinstance(m, Member)] == [
        ("in.bin", PAYLOAD)
    ]
    # One recursion level per nested message, as on the reference.
    assert scan_names(message, max_recursion=3) == (PAYLOAD_NAME,)
    assert scan_names(message, max_recursion=2) == ()


def test_mbox_messages_are_split_on_from_lines() -> None:
    first = b"From a Thu Jul 31 13:51:21 2008\n" + HEADERS + b"\nhello\n\n"
    second = b"From a Thu Jul 31 13:51:22 2008\n" + HEADERS
    second += b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(PAYLOAD)
    assert mail.messages(first + second) == [first[:-2], second]
    assert PAYLOAD in member_data(members_of(mail.FORMAT, first + second))


def test_uuencode_and_binhex_inside_a_text_part() -> None:
    text = b"see below\n" + uuencoded(PAYLOAD) + b"\n" + corpus_file("clam.exe.binhex")
    found = member_data(members_of(mail.FORMAT, HEADERS + b"\n" + text))
    assert PAYLOAD in found
    assert corpus_file("clam.exe") in found


def test_multipart_nesting_deeper_than_the_limit_is_not_followed() -> None:
    body = b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
    body += base64.encodebytes(PAYLOAD)
    for level in range(mail.MAX_NESTING + 50):
        boundary = b"L%d" % level
        body = b"Content-Type: multipart/mixed; boundary=" + boundary + b"\n\n--"
        body += boundary + b"\n" + body + b"\n--" + boundary + b"--\n"
    assert members_of(mail.FORMAT, HEADERS + body) == []
    assert scan_names(HEADERS + body) == ()


def test_missing_boundary_yields_nothing() -> None:
    message = HEADERS + b"MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--XX\n\n"
    assert members_of(mail.FORMAT, message + base64.encodebytes(PAYLOAD)) == []


def test_member_budget_cuts_a_part() -> None:
    message = multipart(attachment(base64.encodebytes(PAYLOAD)))
    (member,) = members_of(mail.FORMAT, message, TestExtraction(budget=10))
    assert isinstance(member, Member)
    assert (bytes(member.data), member.truncated, member.declared_size) == (
        PAYLOAD[:10],
        True,
        len(PAYLOAD),
    )


def test_mail_end_to_end_and_switch() -> None:
    message = multipart(attachment(base64.encodebytes(PAYLOAD)))
    assert scan_names(message) == (PAYLOAD_NAME,)
    assert scan_names(message, scan_mail=False) == ()


# -- uuencoded files, BinHex, TNEF, HTML -----------------------------------------


def test_uuencoded_file() -> None:
    assert member_data(members_of(uuencode.FORMAT, uuencoded(PAYLOAD))) == [PAYLOAD]
    assert scan_names(uuencoded(PAYLOAD)) == (PAYLOAD_NAME,)
    # No switch governs them on the reference.
    assert scan_names(uuencoded(PAYLOAD), scan_mail=False, scan_archive=False) == (PAYLOAD_NAME,)


def test_binhex_corpus_and_run_length_cap() -> None:
    found = members_of(binhex.FORMAT, corpus_file("clam.exe.binhex"))
    assert member_data(found)[0] == corpus_file("clam.exe")
    # 0x90 marks a run: "a" then 255 more... stopped at the cap.
    assert binhex._expand_runs(b"a\x90\xff" * 1000, 300) == b"a" * 300
    assert binhex._expand_runs(b"x\x90\x00y", 10) == b"x\x90y"


def test_binhex_without_data_is_corrupt() -> None:
    with pytest.raises(ContainerError):
        members_of(binhex.FORMAT, b"(This file must be converted with BinHex 4.0)\n:!!:\n")


BINHEX_ALPHABET = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr"


def run_length(data: bytes) -> bytes:
    """BinHex run-length coding: a literal 0x90 is 0x90 0x00, runs of 4 to 255 are X 0x90 n."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        byte = data[pos]
        run = 1
        while pos + run < len(data) and data[pos + run] == byte and run < 255:
            run += 1
        literal = b"\x90\x00" if byte == 0x90 else bytes([byte])
        if run >= 4:
            out += literal + bytes([0x90, run])
        else:
            out += literal * run
        pos += run
    return bytes(out)


def binhex_file(name: bytes, data: bytes, resource: bytes = b"") -> bytes:
    """A BinHex 4.0 file (with CRCs and run-length coding)."""
    header = (
        bytes([len(name)]) + name + b"\0TEXTttxt\0\0" + struct.pack(">II", len(data), len(resource))
    )

    def crc(part: bytes) -> bytes:
        return struct.pack(">H", binascii.crc_hqx(part + b"\0\0", 0))

    packed = run_length(header + crc(header) + data + crc(data) + resource + crc(resource))
    padding = -len(packed) % 3
    number = int.from_bytes(packed + b"\0" * padding, "big")
    digits = len(packed) * 4 // 3 + (1 if padding else 0)
    shift = 6 * ((len(packed) + padding) // 3 * 4 - 1)
    text = bytes(BINHEX_ALPHABET[number >> (shift - 6 * i) & 63] for i in range(digits))
    lines = b"\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return b"(This file must be converted with BinHex 4.0)\n:" + lines + b":\n"


def test_binhex_generated_forks() -> None:
    data = b"\x90" + PAYLOAD + b"\0" * 300
    items = members_of(binhex.FORMAT, binhex_file(b"a.bin", data, b"fork"))
    assert [(m.name, bytes(m.data)) for m in items if isinstance(m, Member)] == [
        ("a.bin", data),
        ("a.bin.rsrc", b"fork"),
    ]


def tnef_stream(*attachments: tuple[str, bytes]) -> bytes:
    out = struct.pack("<IH", 0x223E9F78, 1)

    def attribute(tag: int, kind: int, value: bytes) -> bytes:
        checksum = sum(value) & 0xFFFF
        return (
            struct.pack("<BII", 2, kind << 16 | tag, len(value))
            + value
            + struct.pack("<H", checksum)
        )

    for title, data in attachments:
        out += attribute(0x8010, 1, title.encode() + b"\0") + attribute(0x800F, 6, data)
    return out


def test_tnef_attachments() -> None:
    items = members_of(tnef.FORMAT, tnef_stream(("a.bin", PAYLOAD), ("b.txt", b"hello")))
    assert [(m.name, bytes(m.data)) for m in items if isinstance(m, Member)] == [
        ("a.bin", PAYLOAD),
        ("b.txt", b"hello"),
    ]
    assert member_data(members_of(tnef.FORMAT, corpus_file("clam.tnef"))) == [
        corpus_file("clam.exe")
    ]


def test_tnef_truncated_attribute() -> None:
    with pytest.raises(ContainerError):
        members_of(tnef.FORMAT, tnef_stream(("a.bin", PAYLOAD))[:-100])


def test_html_data_uris_become_the_reference_mails() -> None:
    page = b"<html><img src=\"data:text/plain,hello%20world\"><a href='data:x/y;base64,SGk='>"
    assert member_data(members_of(html.FORMAT, page)) == [
        b"From html-normalise\nContent-type: text/plain\n\nhello world",
        b"From html-normalise\nContent-type: x/y;base64\nContent-transfer-encoding: base64\n\nSGk=",
    ]
    link = b'<html><a href="data:application/octet-stream;base64,'
    link += base64.b64encode(PAYLOAD) + b'">x</a></html>'
    assert scan_names(link) == (PAYLOAD_NAME,)
    assert scan_names(link, scan_html=False) == ()


@pytest.mark.parametrize(
    "name",
    [
        "clam.mail",
        "clam.exe.mbox.base64",
        "clam.exe.mbox.uu",
        "clam.exe.binhex",
        "clam.tnef",
        "clam.exe.html",
    ],
)
def test_corpus_end_to_end(name: str) -> None:
    assert scan_names(corpus_file(name), clamav_testsig_engine()) == (TESTSIG_NAME,)


# -- script-encoded files ---------------------------------------------------------


def script_encoded(text: bytes) -> bytes:
    """``text`` as Microsoft's Script Encoder writes it (LF as "@&"; no checksum kept)."""
    inverse = [dict(zip(plain, screnc._CIPHER, strict=True)) for plain in screnc._PLAIN]
    out = bytearray()
    for position, char in enumerate(text):
        if char == 0x0A:
            out += b"@&"
        else:
            out.append(inverse[screnc._PATTERN[position % 64]].get(char, char))
    length = base64.b64encode(struct.pack("<I", len(out)))[:6]
    return b"#@~^" + length + b"==" + bytes(out) + b"AAAAAA==^#~@"


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        # Each case was read back from the reference's own decoding.
        (b"#@~^CAAAAA==AAA@&AAAAAAAAA==^#~@", b"wEB\nEBE"),
        (b"#@~^BwAAAA==AAA\xe9AAAAAAAAA==^#~@", b"wEB\xe9AwEBAAAAA==^#~@"),
        (b"#@~^BwAAAA==AAA\nAAAAAAAAA==^#~@", b"wEBwEBEAAAAA==^#~@"),
        (b"#@~^CAAAAA==AAA@xAAAAAAAAA==^#~@", b"wEB\xffEBE"),
        (b"#@~^CAAAAA==AAA<>AAAAAAAAA==^#~@", b"wEB<>BEB"),
        (b"#@~^CgAAAA==" + b"A" * 40 + b"AAAAAA==^#~@", b"wEBwEBEBBE" + b"A" * 24 + b"==^#~@"),
    ],
)
def test_script_decoding_as_the_reference(encoded: bytes, decoded: bytes) -> None:
    assert screnc.decode_script(encoded, 1000) == b"<script>" + decoded + b"</script>"


def test_script_encoded_round_trip_and_cap() -> None:
    text = b'var x = "clamkit";\nWScript.Echo(x);'
    assert screnc.decode_script(script_encoded(text), 1000) == b"<script>" + text + b"</script>"
    (member,) = members_of(screnc.FORMAT, script_encoded(text), TestExtraction(budget=10))
    assert isinstance(member, Member)
    assert (bytes(member.data), member.truncated) == (b"<script>va", True)


MARKER = b"clamkit_screnc_marker"


def test_script_encoded_parity(reference_clamscan: str, tmp_path: Path) -> None:
    text = b"var " + MARKER + b' = "found";\nWScript.Echo(' + MARKER + b");"
    files = {"marker.jse": script_encoded(text), "plain.txt": text}
    # Target 0 sees the decoded text, target 3 (HTML) its normalised form.
    for target in (0, 3):
        database = tmp_path / f"marker{target}.ndb"
        database.write_text(f"Clamkit.Screnc.Target{target}:{target}:*:{MARKER.hex()}\n")
        engine = compile_engine(load_database([database]))
        for switches, options in (((), {}), (("--scan-html=no",), {"scan_html": False})):
            ours, reference = verdict_pairs(
                reference_clamscan, tmp_path, files, engine, switches, database, **options
            )
            assert ours == reference
            assert ours["marker.jse"] == f"Clamkit.Screnc.Target{target}.UNOFFICIAL"


# -- damaged input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt", [mail.FORMAT, binhex.FORMAT, uuencode.FORMAT, tnef.FORMAT, html.FORMAT, screnc.FORMAT]
)
def test_damaged_encodings_fail_cleanly(fmt: ContainerFormat) -> None:
    exe = PAYLOAD
    seed = {
        mail.FORMAT: multipart(
            attachment(base64.encodebytes(exe)), (b"Content-Type: text/plain", uuencoded(exe))
        ),
        binhex.FORMAT: binhex_file(b"a.bin", exe, b"fork"),
        uuencode.FORMAT: uuencoded(exe),
        tnef.FORMAT: tnef_stream(("a.bin", exe), ("b.txt", b"hello")),
        html.FORMAT: b'<html><a href="data:x/y;base64,' + base64.b64encode(exe) + b'">x</a>',
        screnc.FORMAT: script_encoded(b'var x = "clamkit";\nWScript.Echo(x);'),
    }[fmt]
    for damaged in mutations(seed, 300):
        with contextlib.suppress(*CORRUPT_INPUT):
            members_of(fmt, damaged, TestExtraction(budget=1 << 20))


# -- parity with the reference on generated files ------------------------------------


def html_data_uri_files(exe: bytes) -> dict[str, bytes]:
    """Where the reference finds data: URIs in HTML, and where it does not."""
    encoded = base64.b64encode(exe)
    uri = b"data:application/octet-stream;base64," + encoded
    return {
        "object_data.html": b'<html><object data="' + uri + b'"></object></html>',
        "any_attribute.html": b"<html><p foo='" + uri + b"'>x</p></html>",
        "unquoted.html": b"<html><a href=" + uri + b">x</a></html>",
        "entity.html": b'<html><a href="&#x64;ata&colon;' + uri[5:] + b'">x</a></html>',
        "upper_case.html": b'<html><a href="DATA:' + uri[5:] + b'">x</a></html>',
        "leading_blank.html": b'<html><a href=" ' + uri + b'">x</a></html>',
        "in_comment.html": b'<html><!-- <a href="' + uri + b'"> --></html>',
        "in_script.html": b'<html><script>var s = "<a href=\\"' + uri + b'\\">";</script></html>',
        "css_url.html": b'<html><div style="background:url(' + uri + b')">x</div></html>',
        "utf16.html": b"\xff\xfe"
        + (b'<html><a href="' + uri + b'">x</a></html>').decode().encode("utf-16-le"),
    }


def generated_files(exe: bytes) -> dict[str, bytes]:
    b64 = base64.encodebytes(exe)
    text = (b"Content-Type: text/plain\nContent-Transfer-Encoding: base64", b64)
    inner = HEADERS + b"Content-Type: application/octet-stream\n"
    inner += b"Content-Transfer-Encoding: base64\n\n" + b64
    return {
        "single_b64.eml": HEADERS + b"Content-Transfer-Encoding: base64\n\n" + b64,
        "mp_b64.eml": multipart(attachment(b64)),
        "mp_text_b64.eml": multipart(text),
        "mp_qp.eml": multipart(attachment(quoted_printable(exe), "quoted-printable")),
        "single_qp.eml": HEADERS
        + b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: quoted-printable\n\n"
        + quoted_printable(exe),
        "mp_binary.eml": multipart(attachment(exe, "binary")),
        "mp_text_uu.eml": multipart((b"Content-Type: text/plain", b"hi\n" + uuencoded(exe))),
        "nested.eml": multipart((b"Content-Type: message/rfc822", inner)),
        "noboundary.eml": HEADERS + b"MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n"
        b"--XX\n\n" + b64,
        "two.mbox": b"From a Thu Jul 31 13:51:21 2008\n" + HEADERS + b"\nhello\n\n"
        b"From a Thu Jul 31 13:51:22 2008\n" + inner,
        "page.mht": b'MIME-Version: 1.0\nContent-Type: multipart/related; boundary="XX"\n\n'
        b"--XX\nContent-Type: text/html\n\n<html>hi</html>\n--XX\n"
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + b64
        + b"--XX--\n",
        "crlf.eml": multipart(attachment(b64)).replace(b"\n", b"\r\n"),
        "folded.eml": HEADERS + b"Content-Type: multipart/mixed;\n\tboundary=XX\n\n--XX\n"
        b"Content-Type: application/octet-stream;\n name*=utf-8''cl%61m.exe\n"
        b"Content-Transfer-Encoding: BASE64\n\n" + b64 + b"\n--XX--\n",
        "alternative.eml": multipart(
            (
                b"Content-Type: multipart/alternative; boundary=YY",
                b"--YY\nContent-Type: text/plain\n\nhello\n--YY\n"
                + b"\n\n".join(attachment(b64))
                + b"\n--YY--",
            )
        ),
        "noisy_base64.eml": HEADERS
        + b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + b64.replace(b"A", b"A ").rstrip(b"=\n"),
        "from_line_in_body.eml": multipart(
            (b"Content-Type: text/plain", b"hello\n\nFrom me to you\n"), attachment(b64)
        ),
        "from_line_in_body.mbox": b"From a Thu Jul 31 13:51:21 2008\n"
        + multipart((b"Content-Type: text/plain", b"hello\n\nFrom me to you\n"), attachment(b64)),
        **html_data_uri_files(exe),
        "uu_in_8bit_text.eml": multipart(
            (b"Content-Type: text/plain\nContent-Transfer-Encoding: 8bit", b"hi\n" + uuencoded(exe))
        ),
        "uu_in_base64_text.eml": multipart(
            (text[0], base64.encodebytes(b"hi\n" + uuencoded(exe))),
        ),
        "uu_in_qp_text.eml": multipart(
            (
                b"Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable",
                binascii.b2a_qp(b"hi\n" + uuencoded(exe)),
            )
        ),
        "file.uu": uuencoded(exe),
        # In plain text the reference decodes neither (the file is not typed uuencoded).
        "text_uu.txt": b"Hello,\nthe file follows.\n\n" + uuencoded(exe),
        "text_qp.txt": b"Hello,\n" + quoted_printable(exe),
        "file.hqx": binhex_file(b"clam.exe", exe),
        "resource.hqx": binhex_file(b"x.bin", b"hello", exe),
        "file.tnef": tnef_stream(("clam.exe", exe)),
        "two.tnef": tnef_stream(("a.txt", b"hello"), ("clam.exe", exe)),
        "no_checksum.tnef": tnef_stream(("clam.exe", exe))[:-2],
        "cut_data.tnef": tnef_stream(("clam.exe", exe))[:-10],
        "link.html": b'<html><a href="data:application/octet-stream;base64,'
        + base64.b64encode(exe)
        + b'">x</a></html>',
        # Text whose only tag comes after the first kilobyte is HTML all the same.
        "late.html": b"hello world\n" * 200
        + b'<a href="data:application/octet-stream;base64,'
        + base64.b64encode(exe)
        + b'">x</a>\n',
    }


def test_nested_message_parity(reference_clamscan: str, tmp_path: Path) -> None:
    exe = corpus_file("clam.exe")
    message = HEADERS + b"Content-Type: application/octet-stream\n"
    message += b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(exe)
    files = {}
    for level in range(1, 4):
        message = multipart((b"Content-Type: message/rfc822", message)).replace(
            b"XX", b"L%d" % level
        )
        files[f"nested{level}.eml"] = message
    # A nested message is typed like any file: without a mail header first, it is text.
    odd = b"X-Foo: bar\nContent-Type: application/octet-stream\n"
    odd += b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(exe)
    files["not_a_mail_inside.eml"] = multipart((b"Content-Type: message/rfc822", odd))
    ours, reference = verdict_pairs(
        reference_clamscan,
        tmp_path,
        files,
        clamav_testsig_engine(),
        ("--max-recursion=4", "--alert-exceeds-max=yes"),
        max_recursion=4,
        alert_exceeds_max=True,
    )
    assert ours == reference


@pytest.mark.parametrize("off", [None, "scan_mail", "scan_html", "scan_archive"])
def test_parity_with_reference(reference_clamscan: str, tmp_path: Path, off: str | None) -> None:
    files = generated_files(corpus_file("clam.exe"))
    assert_same_verdicts(reference_clamscan, tmp_path, files, clamav_testsig_engine(), off)
