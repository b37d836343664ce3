"""CVD/CLD containers: the real test containers, and every way a container is refused."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from clamkit.database import cvd
from clamkit.database.cvd import CvdError, CvdHeader, parse_header, read_container

CVD_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "cvd"
DATABASE_SUFFIXES = (".hdb", ".ndb", ".ldb", ".fp", ".cfg")


def is_database(name: str) -> bool:
    return name.endswith(DATABASE_SUFFIXES)


@pytest.fixture(scope="module")
def real_cvd() -> bytes:
    path = CVD_DIR / "test-3.cvd"
    if not path.is_file():
        pytest.skip(f"shared CVD files not found in {CVD_DIR}")
    return path.read_bytes()


def unpacked(data: bytes) -> list[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data[512:]))) as archive:
        return [(m.name, archive.extractfile(m).read()) for m in archive]  # type: ignore[union-attr]


def tar(members: list[tuple[str, bytes]], kind: bytes = tarfile.REGTYPE) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size, info.type = len(content), kind
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def header(*fields: str) -> bytes:
    return ":".join(("ClamAV-VDB", *fields)).encode().ljust(512, b" ")


HEADER_FIELDS = ("01 Jan 2025 00-00 +0000", "7", "1", "81", "X", "X", "tester", "1735689600")


def info_for(members: list[tuple[str, bytes]], fields: tuple[str, ...] = HEADER_FIELDS) -> bytes:
    lines = [":".join(("ClamAV-VDB", *fields[:4], "X", "X", *fields[6:]))]
    lines += [f"{n}:{len(c)}:{hashlib.sha256(c).hexdigest()}" for n, c in members]
    return ("\n".join(lines) + "\n").encode()


def cld(members: list[tuple[str, bytes]], with_info: bool = True) -> bytes:
    if with_info:
        members = [("test.info", info_for(members)), *members]
    return header(*HEADER_FIELDS) + tar(members)


HDB = ("test.hdb", b"44d88612fea8a8f36de82e1278abb02f:68:Eicar\n")


def test_real_header_fields() -> None:
    path = CVD_DIR / "test-1.cvd"
    if not path.is_file():
        pytest.skip(f"shared CVD files not found in {CVD_DIR}")
    assert parse_header(path.read_bytes()) == CvdHeader(
        build_time="22 Jun 2021 14-58 -0400",
        version=1,
        signatures=0,
        functionality_level=81,
        md5="a4ab60ae1c1c4e8f787459102dcfd90b",
        digital_signature=(
            "ttQeKzTSL5iF5/IWsA8weveL64WDVkhgfbm/ABaW3xAWalVKcAp65Q/cWmhkhKFfHSLIXNfCzTLbhf"
            "TeISKpfWAheL7NZk+t6nQ8NEFBBst6CQcoFTwwyVLwwTSN38VYLW/vZFYphnkBcCotyo++NYU5VQ9J"
            "UA6dFQXxaU00b6c"
        ),
        builder="micasnyd",
        build_time_seconds=1624388302,
    )


@pytest.mark.parametrize("number", range(1, 7))
def test_every_real_container_reads(number: int) -> None:
    path = CVD_DIR / f"test-{number}.cvd"
    if not path.is_file():
        pytest.skip(f"shared CVD files not found in {CVD_DIR}")
    data = path.read_bytes()
    container = read_container(data, is_cld=False, is_database=is_database)
    assert container.header.version == number
    assert dict(container.members) == dict(unpacked(data))
    assert "COPYING" in container.members


def test_cld_may_hold_a_plain_tar_and_its_md5_is_not_checked(real_cvd: bytes) -> None:
    plain = real_cvd[:512] + gzip.decompress(real_cvd[512:])
    container = read_container(plain, is_cld=True, is_database=is_database)
    assert container.members["test.hdb"].startswith(b"44d88612fea8a8f36de82e1278abb02f:68:")
    with pytest.raises(CvdError) as refused:
        read_container(plain, is_cld=False, is_database=is_database)
    assert refused.value.summary == cvd.INTEGRITY


def flipped(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1 :]


@pytest.mark.parametrize(
    ("mangle", "is_cld", "message", "summary"),
    [
        (lambda d: flipped(d, len(d) - 20), False, "MD5", cvd.INTEGRITY),
        (lambda d: flipped(d, len(d) - 20), True, "compressed data", cvd.INTEGRITY),
        (lambda d: d[:3000], False, "MD5", cvd.INTEGRITY),
        (lambda d: d[:3000], True, "truncated compressed data", cvd.INTEGRITY),
        (lambda d: d[:400], False, "Can't read CVD header", cvd.BROKEN),
        (lambda d: d[:512], False, "MD5", cvd.INTEGRITY),
        (lambda d: d[:512], True, "no payload", cvd.BAD_FORMAT),
        (lambda d: b"ClamAV-VDX" + d[10:], False, "Not a CVD file", cvd.BROKEN),
        # version 3 -> 4 keeps the MD5 right but no longer matches .info
        (lambda d: d.replace(b":3:11:81:", b":4:11:81:", 1), False, "Corrupted", cvd.MALFORMED),
        (lambda d: d.replace(b":1624408809", b":1624408808", 1), False, "Corrupted", cvd.MALFORMED),
        (lambda d: d.replace(b":3:11:81:", b":x:11:81:", 1), False, "version", cvd.BROKEN),
    ],
)
def test_broken_containers_are_refused(
    real_cvd: bytes, mangle, is_cld: bool, message: str, summary: str
) -> None:
    with pytest.raises(CvdError, match=message) as refused:
        read_container(mangle(real_cvd), is_cld=is_cld, is_database=is_database)
    assert refused.value.summary == summary


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (HEADER_FIELDS[:4], "MD5 checksum"),
        (HEADER_FIELDS[:6], "builder name"),
        (HEADER_FIELDS[:1], "version number"),
    ],
)
def test_short_headers(fields: tuple[str, ...], message: str) -> None:
    with pytest.raises(CvdError, match=message):
        parse_header(header(*fields))


def test_header_without_build_seconds() -> None:
    assert parse_header(header(*HEADER_FIELDS[:7])).build_time_seconds is None


def test_member_checksums_are_checked_against_info() -> None:
    good = cld([HDB])
    assert read_container(good, is_cld=True, is_database=is_database).members["test.hdb"] == HDB[1]
    tampered = good.replace(b":68:Eicar", b":68:Eicax")
    with pytest.raises(CvdError, match=r"Invalid checksum for file test\.hdb") as refused:
        read_container(tampered, is_cld=True, is_database=is_database)
    assert refused.value.summary == cvd.MALFORMED


def test_database_members_must_be_listed_in_info() -> None:
    members = [HDB]
    data = header(*HEADER_FIELDS) + tar(
        [("test.info", info_for(members)), *members, ("extra.ndb", b"x\n"), ("notes.txt", b"")]
    )
    with pytest.raises(CvdError, match=r"File extra\.ndb not found in \.info"):
        read_container(data, is_cld=True, is_database=is_database)


def test_other_members_need_not_be_listed_and_info_may_come_last() -> None:
    members = [HDB]
    data = header(*HEADER_FIELDS) + tar(
        [*members, ("notes.txt", b"hi"), ("a.info", info_for(members))]
    )
    container = read_container(data, is_cld=True, is_database=is_database)
    assert list(container.members) == ["test.hdb", "notes.txt", "a.info"]


def test_container_without_info_is_accepted() -> None:
    # The reference wants a signed .info; clamkit cannot check signatures and
    # ships an unsigned container of its own.
    container = read_container(cld([HDB], with_info=False), is_cld=True, is_database=is_database)
    assert container.members == {"test.hdb": HDB[1]}


def test_member_names_with_slashes_are_refused() -> None:
    data = cld([("sub/test.hdb", HDB[1])], with_info=False)
    with pytest.raises(CvdError, match="Slash separators") as refused:
        read_container(data, is_cld=True, is_database=is_database)
    assert refused.value.summary == cvd.MALFORMED


def test_links_and_directories_are_not_members() -> None:
    data = header(*HEADER_FIELDS) + tar([("evil.hdb", b"")], kind=tarfile.SYMTYPE)
    assert read_container(data, is_cld=True, is_database=is_database).members == {}


def test_decompression_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    payload = gzip.compress(tar([("big.hdb", b"\0" * 100_000)]))
    data = header(*HEADER_FIELDS[:4], hashlib.md5(payload).hexdigest(), *HEADER_FIELDS[5:])
    monkeypatch.setattr(cvd, "MAX_UNPACKED_SIZE", 50_000)
    with pytest.raises(CvdError, match="unpacks to more than 50000 bytes"):
        read_container(data + payload, is_cld=False, is_database=is_database)


def test_garbage_tar_is_an_integrity_error() -> None:
    with pytest.raises(CvdError, match="broken tar") as refused:
        read_container(header(*HEADER_FIELDS) + b"x" * 1000, is_cld=True, is_database=is_database)
    assert refused.value.summary == cvd.INTEGRITY
