"""ar, zstd and bare LZMA (``.lzma``) files: formats clamkit reads and the reference does not.

Each format's ``members()`` on files built here, bombs stopped at the
member budget, damage kept to what the scanner takes for a corrupt
container, and the verdicts next to the reference's where they differ on
purpose: the reference finds a PE image stored in an ar archive (as an
embedded image) and nothing else in these formats.
"""

from __future__ import annotations

import contextlib
import lzma
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from backports import zstd
from containers_parity import verdict_pairs
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
    tar_bytes,
)
from damage import CORRUPT_INPUT, mutations

from clamkit.containers import ar
from clamkit.containers.base import ContainerFormat, Member
from clamkit.containers.rawstreams import LZMA_ALONE_FORMAT, ZSTD_FORMAT
from clamkit.engine.filetypes import FileType

BINARY = FileType.CL_TYPE_BINARY_DATA

MiB = 1 << 20


def ar_member(name: bytes, data: bytes) -> bytes:
    header = b"%-16s%-12d%-6d%-6d%-8o%-10d`\n" % (name, 0, 0, 0, 0o644, len(data))
    return header + data + b"\n" * (len(data) % 2)


def ar_bytes(*members: bytes) -> bytes:
    return ar.MAGIC + b"".join(members)


def lzma_alone(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_ALONE)


# -- ar ---------------------------------------------------------------------------------


def test_ar_members_with_gnu_and_bsd_names() -> None:
    archive = ar_bytes(
        ar_member(b"/", b"symbol table"),
        ar_member(b"//", b"a_member_name_longer_than_16.o/\n"),
        ar_member(b"/0", PAYLOAD),
        ar_member(b"#1/12", b"bsd-name.bin" + b"odd"),
        ar_member(b"short.o/", b"abc"),
    )
    items = members_of(ar.FORMAT, archive)
    assert [item.name for item in items] == [
        "a_member_name_longer_than_16.o",
        "bsd-name.bin",
        "short.o",
    ]
    assert member_data(items) == [PAYLOAD, b"odd", b"abc"]
    assert scan_names(archive) == (PAYLOAD_NAME,)
    assert scan_names(archive, scan_archive=False) == ()


def test_deb_layers_are_read() -> None:
    # A .deb is an ar archive of tar.xz members.
    data = tar_bytes([("./usr/bin/tool", PAYLOAD)])
    deb = ar_bytes(
        ar_member(b"debian-binary", b"2.0\n"),
        ar_member(b"control.tar.xz", lzma.compress(tar_bytes([("./control", b"Package: x\n")]))),
        ar_member(b"data.tar.xz", lzma.compress(data)),
    )
    assert scan_names(deb) == (PAYLOAD_NAME,)


def test_ar_cut_short_and_bad_headers() -> None:
    archive = ar_bytes(ar_member(b"a", PAYLOAD), ar_member(b"b", b"second"))
    cut = members_of(ar.FORMAT, archive[: len(ar.MAGIC) + 60 + 100])
    assert member_data(cut) == [PAYLOAD[:100]]
    with pytest.raises(CORRUPT_INPUT):
        members_of(ar.FORMAT, ar.MAGIC + b"x" * 60)
    budgeted = members_of(ar.FORMAT, archive, TestExtraction(budget=10))
    first = budgeted[0]
    assert isinstance(first, Member) and first.truncated and first.declared_size == len(PAYLOAD)


# -- zstd and bare LZMA ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "compress"),
    [(ZSTD_FORMAT, zstd.compress), (LZMA_ALONE_FORMAT, lzma_alone)],
    ids=["zstd", "lzma"],
)
def test_stream_is_one_member(fmt: ContainerFormat, compress: Callable[[bytes], bytes]) -> None:
    data = compress(PAYLOAD)
    assert fmt.recognise(BINARY, data)
    assert member_data(members_of(fmt, data)) == [PAYLOAD]
    assert scan_names(data) == (PAYLOAD_NAME,)
    assert scan_names(data, scan_archive=False) == ()


def test_concatenated_zstd_frames_are_one_member() -> None:
    data = zstd.compress(b"hello ") + zstd.compress(PAYLOAD)
    assert member_data(members_of(ZSTD_FORMAT, data)) == [b"hello " + PAYLOAD]


def test_lzma_header_is_checked() -> None:
    good = lzma_alone(PAYLOAD)
    assert LZMA_ALONE_FORMAT.recognise(BINARY, good)
    odd_dictionary = good[:1] + (3 << 20).to_bytes(4, "little") + good[5:]
    assert LZMA_ALONE_FORMAT.recognise(BINARY, odd_dictionary)
    for bad in (
        good[:1] + (5 << 20).to_bytes(4, "little") + good[5:],  # not 2^n or 3 * 2^(n-1)
        b"\xe1" + good[1:],  # properties out of range
        good[:5] + (1 << 40).to_bytes(8, "little") + good[13:],  # implausible size
        good[:12],
    ):
        assert not LZMA_ALONE_FORMAT.recognise(BINARY, bad)


@pytest.mark.parametrize(
    ("fmt", "compress"),
    [(ZSTD_FORMAT, zstd.compress), (LZMA_ALONE_FORMAT, lzma_alone)],
    ids=["zstd", "lzma"],
)
def test_bombs_stop_at_the_budget(fmt: ContainerFormat, compress: Callable[[bytes], bytes]) -> None:
    bomb = compress(bytes(16 * MiB))
    (member,) = members_of(fmt, bomb, TestExtraction(budget=MiB))
    assert isinstance(member, Member) and member.truncated and len(member.data) == MiB


@pytest.mark.parametrize(
    ("fmt", "seed"),
    [
        (ZSTD_FORMAT, zstd.compress(PAYLOAD * 4)),
        (LZMA_ALONE_FORMAT, lzma_alone(PAYLOAD * 4)),
        (ar.FORMAT, ar_bytes(ar_member(b"a", PAYLOAD), ar_member(b"//", b"x/\n"))),
    ],
    ids=["zstd", "lzma", "ar"],
)
def test_damage_is_a_corrupt_container(fmt: ContainerFormat, seed: bytes) -> None:
    for damaged in mutations(seed, 200):
        with contextlib.suppress(CORRUPT_INPUT):
            members_of(fmt, damaged, TestExtraction(budget=MiB))


# -- against the reference ---------------------------------------------------------------


def test_verdicts_next_to_the_reference(reference_clamscan: str, tmp_path: Path) -> None:
    exe = corpus_file("clam.exe")
    engine = clamav_testsig_engine()
    files = {
        "clam.a": ar_bytes(ar_member(b"clam.exe/", exe)),
        "clam.exe.zst": zstd.compress(exe),
        "clam.exe.lzma": lzma_alone(exe),
        "zst-in.a": ar_bytes(ar_member(b"clam.exe.zst/", zstd.compress(exe))),
    }
    ours, reference = verdict_pairs(reference_clamscan, tmp_path, files, engine)
    assert ours == dict.fromkeys(files, TESTSIG_NAME)
    # The reference finds the stored executable as an embedded image, and nothing else.
    assert reference == {**dict.fromkeys(files, "OK"), "clam.a": TESTSIG_NAME}


def test_zstd_command_line_output_is_read(tmp_path: Path) -> None:
    zstd_command = subprocess.run(["which", "zstd"], capture_output=True, text=True).stdout.strip()
    if not zstd_command:
        pytest.skip("the zstd command is not installed")
    source = tmp_path / "payload"
    source.write_bytes(PAYLOAD)
    subprocess.run([zstd_command, "-q", "--check", str(source)], check=True)
    assert scan_names((tmp_path / "payload.zst").read_bytes()) == (PAYLOAD_NAME,)
