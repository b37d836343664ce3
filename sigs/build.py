"""Build clamkit's bundled database container, ``sigs/daily.cld``, from ``sigs/source/``.

Strategy: ClamAV reports names from plain database files with an
``.UNOFFICIAL`` suffix but names from a .cvd/.cld container as they are, so the
default signatures ship as a container to keep their official names
(``Win.Test.EICAR_HDB-1``).  The container is a 512-byte ``ClamAV-VDB:``
header (build time, version, signature count, functionality level, MD5 of the
payload, digital signature, builder, build time in seconds) followed by an
uncompressed tar of the source files, as a local .cld is.  Every field of the
header and of the tar entries is fixed, so the same source always gives the
same bytes and ``--check`` can prove the shipped file matches its source.

Usage: ``python3 sigs/build.py`` rewrites the container;
``python3 sigs/build.py --check`` exits 1 when it is stale.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "source"
CONTAINER = HERE / "daily.cld"

# Bump VERSION and BUILD_TIME together whenever the source changes; they
# are what `clamscan -V` shows after the engine version.
VERSION = 1
BUILD_TIME = 1763942400  # 2025-11-24 00:00:00 UTC
# The lowest engine level that understands SHA-256 hash signatures.
FUNCTIONALITY_LEVEL = 73
BUILDER = "clamkit"
# A .cld is not signed; ClamAV's own unsigned headers carry "X" here.
UNSIGNED = "X"
HEADER_SIZE = 512
SIGNATURE_SUFFIXES = (".hdb", ".hsb")


def source_files(source_dir: Path = SOURCE_DIR) -> list[Path]:
    """The database files that go into the container, in a stable order."""
    return sorted(p for p in source_dir.iterdir() if p.suffix in SIGNATURE_SUFFIXES)


def _signature_count(files: list[Path]) -> int:
    return sum(
        1
        for path in files
        for line in path.read_text(encoding="ascii").splitlines()
        if line.strip() and not line.startswith("#")
    )


def _tar(files: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(path.name)
            info.size = len(data)
            info.mtime = BUILD_TIME
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build(source_dir: Path = SOURCE_DIR) -> bytes:
    """The container's bytes for the files in ``source_dir``."""
    files = source_files(source_dir)
    payload = _tar(files)
    stamp = time.strftime("%d %b %Y %H-%M +0000", time.gmtime(BUILD_TIME))
    fields = [
        "ClamAV-VDB",
        stamp,
        str(VERSION),
        str(_signature_count(files)),
        str(FUNCTIONALITY_LEVEL),
        hashlib.md5(payload).hexdigest(),
        UNSIGNED,
        BUILDER,
        str(BUILD_TIME),
    ]
    header = ":".join(fields).encode("ascii")
    return header.ljust(HEADER_SIZE, b" ") + payload


def main(argv: list[str]) -> int:
    expected = build()
    if argv == ["--check"]:
        if not CONTAINER.is_file() or CONTAINER.read_bytes() != expected:
            print(f"{CONTAINER} is stale: run python3 {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: build.py [--check]", file=sys.stderr)
        return 2
    CONTAINER.write_bytes(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
