"""CVD/CLD containers: the 512-byte ``ClamAV-VDB:`` header and the tar behind it.

Strategy: the whole container is read into memory and unpacked there; member
names are looked up in a dict and never become paths, so a hostile archive
cannot write anywhere.  What is checked follows ClamAV 1.4.6 (the reference),
observed by feeding it altered copies of the real test containers:
- a .cvd's payload must be a gzip'd tar whose MD5 is the header's; a .cld
  (written locally by freshclam) may hold a plain tar and its MD5 is not
  checked;
- when the container has a ``.info`` member, its first line must repeat the
  header's version, signature count, functionality level and build time, and
  every database member must be listed there with its size and SHA-256;
- member names holding ``/`` are refused.
Not checked: the RSA digital signatures (of the header and of ``.info``), for
which clamkit has no key; and unlike the reference a container without
``.info`` is accepted, as clamkit's own bundled, unsigned container is.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

HEADER_SIZE = 512
MAGIC = b"ClamAV-VDB:"
# Unpacked containers are held in memory; the official main.cvd unpacks to a
# few hundred MB, so this leaves room while stopping a decompression bomb.
MAX_UNPACKED_SIZE = 2 * 1024**3
INFO_SUFFIX = ".info"

# The reference's closing "ERROR: ..." texts for each way a container fails.
BROKEN = "Broken or not a CVD file"
INTEGRITY = "Can't verify database integrity"
MALFORMED = "Malformed database"
BAD_FORMAT = "Bad format or broken data"


class CvdError(ValueError):
    """A container that cannot be used; ``summary`` is the reference's closing text."""

    def __init__(self, message: str, summary: str) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True, slots=True)
class CvdHeader:
    """The ``ClamAV-VDB:`` header fields.

    ``build_time`` is the text as stored (``22 Jun 2021 14-58 -0400``: the
    format has no room for ``:``); ``build_time_seconds`` is None in very old
    containers that lack it.
    """

    build_time: str
    version: int
    signatures: int
    functionality_level: int
    md5: str
    digital_signature: str
    builder: str
    build_time_seconds: int | None


@dataclass(frozen=True, slots=True)
class Container:
    """A verified container: its header and its members, name -> bytes, in tar order."""

    header: CvdHeader
    members: Mapping[str, bytes]


def _number(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise CvdError(f"Can't parse the {what}", BROKEN)
    return int(text)


def parse_header(data: bytes) -> CvdHeader:
    """The header at the start of ``data`` (the whole file or its first 512 bytes)."""
    if len(data) < HEADER_SIZE:
        raise CvdError("Can't read CVD header", BROKEN)
    raw = data[:HEADER_SIZE]
    if not raw.startswith(MAGIC):
        raise CvdError("Not a CVD file", BROKEN)
    text = raw.rstrip(b" \0").decode("ascii", errors="replace")
    fields = text.split(":")
    needed = ("build time", "version number", "number of signatures", "functionality level")
    needed += ("MD5 checksum", "digital signature", "builder name")
    if len(fields) < 1 + len(needed):
        raise CvdError(f"Can't parse the {needed[len(fields) - 1]}", BROKEN)
    seconds = _number(fields[8], "creation time") if len(fields) > 8 else None
    return CvdHeader(
        build_time=fields[1],
        version=_number(fields[2], "version number"),
        signatures=_number(fields[3], "number of signatures"),
        functionality_level=_number(fields[4], "functionality level"),
        md5=fields[5],
        digital_signature=fields[6],
        builder=fields[7],
        build_time_seconds=seconds,
    )


def _gunzip(payload: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        data = inflater.decompress(payload, MAX_UNPACKED_SIZE)
    except zlib.error as exc:
        raise CvdError(f"broken compressed data: {exc}", INTEGRITY) from None
    if inflater.unconsumed_tail:
        raise CvdError(f"unpacks to more than {MAX_UNPACKED_SIZE} bytes", INTEGRITY)
    if not inflater.eof:
        raise CvdError("truncated compressed data", INTEGRITY)
    return data


def _untar(data: bytes) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive:
                if "/" in member.name:
                    raise CvdError("Slash separators are not allowed in CVD", MALFORMED)
                if not member.isfile():
                    continue
                content = archive.extractfile(member)
                if content is None:
                    continue
                members[member.name] = content.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CvdError(f"broken tar archive: {exc}", INTEGRITY) from None
    return members


def _check_info(
    header: CvdHeader, members: Mapping[str, bytes], is_database: Callable[[str], bool]
) -> None:
    info_names = [name for name in members if name.lower().endswith(INFO_SUFFIX)]
    if not info_names:
        return
    lines = members[info_names[0]].decode("ascii", errors="replace").splitlines()
    try:
        info_header = parse_header(lines[0].encode().ljust(HEADER_SIZE) if lines else b"")
    except CvdError:
        raise CvdError("Corrupted CVD header", MALFORMED) from None
    compared = ("version", "signatures", "functionality_level", "build_time_seconds")
    if any(getattr(info_header, f) != getattr(header, f) for f in compared):
        raise CvdError("Corrupted CVD header", MALFORMED)
    listed: dict[str, tuple[str, str]] = {}
    for line in lines[1:]:
        fields = line.split(":")
        if len(fields) == 3:
            listed[fields[0]] = (fields[1], fields[2].lower())
    for name, content in members.items():
        if name in info_names or not is_database(name):
            continue
        if name not in listed:
            raise CvdError(f"File {name} not found in .info", MALFORMED)
        size, sha256 = listed[name]
        if size != str(len(content)) or sha256 != hashlib.sha256(content).hexdigest():
            raise CvdError(f"Invalid checksum for file {name}", MALFORMED)


def read_container(data: bytes, *, is_cld: bool, is_database: Callable[[str], bool]) -> Container:
    """Check and unpack a whole container; ``is_database`` tells which members
    are database files (those must be listed in ``.info``)."""
    header = parse_header(data)
    payload = data[HEADER_SIZE:]
    if not is_cld and hashlib.md5(payload).hexdigest() != header.md5.lower():
        raise CvdError("the payload's MD5 does not match the header", INTEGRITY)
    if not payload:
        raise CvdError("no payload after the header", BAD_FORMAT)
    if payload.startswith(b"\x1f\x8b"):
        payload = _gunzip(payload)
    elif not is_cld:
        raise CvdError("the payload is not gzip'd", INTEGRITY)
    members = _untar(payload)
    _check_info(header, members, is_database)
    return Container(header, members)
