"""clamscan's scanning options side by side with ClamAV 1.4.6's clamscan.

Each case runs the reference (a subprocess, as ``clamscan`` so getopt's
messages match) and clamkit's command in-process (fast: no interpreter
start-up), in the same directory of a small tree, and compares stdout,
stderr, the exit code and, where a case says so, the log file and what
--move/--copy/--remove left in the tree.  Only what must differ is masked:
the engine version, times and dates.  Cases that act on files rebuild the
files they act on before each side runs.
"""

from __future__ import annotations

import base64
import gzip
import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from clamkit.cli import clamscan as cli
from tests.test_clamscan_reference import EICAR, MASKED_PREFIXES
from tests.test_containers_disks import mbr

DB = "../db"


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    cwd: str = "files"
    stdin: bytes = b""
    # Files (relative to cwd) to compare after the run, and directories to list.
    log: str | None = None
    listed: tuple[str, ...] = ()
    # Files to (re)create with EICAR before each side runs.
    infected: tuple[str, ...] = ()
    # Take every name x.com may have in act/q (x.com, x.com.001 to .999).
    full_quarantine: bool = False


@dataclass(frozen=True)
class Outcome:
    code: int
    out: list[str]
    err: list[str]
    log: list[str] = field(default_factory=list)
    listing: dict[str, list[str]] = field(default_factory=dict)


def _mask(text: str) -> list[str]:
    return [
        line.split(":")[0] + ": <masked>" if line.startswith(MASKED_PREFIXES) else line
        for line in text.splitlines()
    ]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clamscan-options")
    (root / "db").mkdir()
    (root / "db" / "test.ndb").write_text("Test.Body:0:*:4549434152\n")
    # One matching a member's name (in its container's own bytes), one its content.
    (root / "db" / "order.ndb").write_text(
        f"Container.Name:0:*:{b'membername'.hex()}\nMember.Body:0:*:{b'memberbody'.hex()}\n"
    )
    # A PCRE with its trigger, and one with a 20-byte window (the ``e`` flag).
    (root / "db" / "pcre.ldb").write_text(
        "Pcre.Test;Engine:81-255,Target:0;0&1;48454c4c4f;0/HELLOworld/\n"
        "Pcre.Window;Engine:81-255,Target:0;0&1;48454c4c4f;100,20:0/HELLOworld/e\n"
    )
    files = root / "files"
    for directory in ("t/d/sub", "t/e", "deep/a/b/c", "act", "rx"):
        (files / directory).mkdir(parents=True)
    for name in ("t/a.com", "t/d/b.com", "t/d/sub/s.com", "t/e/x.com"):
        (files / name).write_bytes(EICAR)
    (files / "t/d/c.txt").write_text("clean\n")
    (files / "t/empty").touch()
    (files / "t/al").symlink_to("a.com")
    (files / "t/dl").symlink_to("d")
    (files / "t/d/fl").symlink_to("../a.com")
    (files / "t/d/el").symlink_to("../e")
    for name in ("a1.com", "ab.com", "d.com", "x_y.com", "w.com"):
        (files / "rx" / name).write_bytes(EICAR)
    for level in ("deep", "deep/a", "deep/a/b", "deep/a/b/c"):
        (files / level / "e.com").write_bytes(EICAR)
    (files / "clean.txt").write_text("hello\n")
    (files / "order").mkdir()
    with zipfile.ZipFile(files / "order" / "o.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("membername", b"xx memberbody yy" * 10)
    with tarfile.open(files / "order" / "o.tar", "w") as archive:
        entry = tarfile.TarInfo("membername")
        entry.size = len(b"xx memberbody yy")
        archive.addfile(entry, io.BytesIO(b"xx memberbody yy"))
    tar = (files / "order" / "o.tar").read_bytes()
    (files / "order" / "o.tar.gz").write_bytes(gzip.compress(tar))
    (files / "pcre").mkdir()
    pcre_subject = b"A" * 100 + b"HELLOworld" + b"B" * 90  # 200 bytes
    (files / "pcre" / "f").write_bytes(pcre_subject)
    # Deflated: only the 200-byte member holds the subject, in a 5 KB file.
    with zipfile.ZipFile(files / "pcre" / "z.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("in", pcre_subject)
        archive.writestr("pad", b"C" * 5000)
    containers = files / "containers"
    containers.mkdir()
    with zipfile.ZipFile(containers / "two.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("clean.txt", "clean\n")
        archive.writestr("eicar.com", EICAR)
    (containers / "encrypted.zip").write_bytes(_encrypted_zip())
    disks = files / "disks"
    disks.mkdir()
    (disks / "overlap.img").write_bytes(mbr([(0x83, 4, 2), (0x07, 5, 2)], 10))
    (disks / "three.img").write_bytes(mbr([(0x83, 2, 2), (0x83, 4, 2), (0x83, 6, 2)], 10))
    attachment = base64.encodebytes(EICAR).decode()
    (containers / "mail.eml").write_text(
        "From: a@example.com\nTo: b@example.com\nSubject: hi\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\n'
        "hello\n--b\nContent-Type: application/octet-stream\n"
        "Content-Transfer-Encoding: base64\n\n"
        f"{attachment}--b--\n"
    )
    (files / "list.txt").write_text("t/a.com\n\nclean.txt\nt/d\n  t/a.com\nnope\n-\nt/e/x.com")
    return root


def _encrypted_zip() -> bytes:
    """A zip whose first member says it is encrypted (flag bit 0), then EICAR, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("secret.txt", "secret\n")
        archive.writestr("eicar.com", EICAR)
    data = bytearray(buffer.getvalue())
    struct.pack_into("<H", data, 6, 1)
    struct.pack_into("<H", data, data.index(b"PK\x01\x02") + 8, 1)
    return bytes(data)


def _prepare(case: Case, tree: Path) -> Path:
    cwd = tree / case.cwd
    act = tree / "files" / "act"
    shutil.rmtree(act)
    for directory in ("act/q", "act/src/sub"):
        (tree / "files" / directory).mkdir(parents=True)
    (act / "q" / "x.com").write_text("taken\n")
    if case.full_quarantine:
        for number in range(1, 1000):
            (act / "q" / f"x.com.{number:03d}").touch()
    (act / "link.com").symlink_to("src/y.com")
    for name in case.infected:
        (cwd / name).write_bytes(EICAR)
    if case.log:
        (cwd / case.log).unlink(missing_ok=True)
    return cwd


def _after(case: Case, cwd: Path, code: int, out: str, err: str) -> Outcome:
    log = _mask((cwd / case.log).read_text()) if case.log else []
    listing = {name: sorted(os.listdir(cwd / name)) for name in case.listed}
    return Outcome(code, _mask(out), _mask(err), log, listing)


def _reference(case: Case, tree: Path, executable: str) -> Outcome:
    cwd = _prepare(case, tree)
    completed = subprocess.run(
        ["clamscan", *case.argv],
        executable=executable,
        cwd=cwd,
        input=case.stdin,
        capture_output=True,
        env=dict(os.environ, TZ="UTC"),
        check=False,
        timeout=60,
    )
    out, err = (
        stream.decode("utf-8", "replace") for stream in (completed.stdout, completed.stderr)
    )
    return _after(case, cwd, completed.returncode, out, err)


Ours = Callable[[Case, Path], Outcome]


@pytest.fixture
def ours(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Ours:
    def run(case: Case, tree: Path) -> Outcome:
        cwd = _prepare(case, tree)
        monkeypatch.chdir(cwd)
        monkeypatch.setenv("TZ", "UTC")
        monkeypatch.setattr(sys, "argv", ["clamscan"])
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(case.stdin)))
        capsys.readouterr()
        code = cli.run(list(case.argv))
        captured = capsys.readouterr()
        return _after(case, cwd, code, captured.out, captured.err)

    return run


CASES = {
    # File selection.
    "exclude and include": Case(
        ("-d", DB, "-r", "--exclude-dir=sub", "--exclude=c\\.txt$", "--exclude-dir=^t/e$", "t"),
    ),
    "exclude matches real paths": Case(
        ("-d", DB, "--no-summary", "--exclude=/t/a\\.com$", "t/al", "t/a.com", "t/d/b.com"),
    ),
    # The reference's POSIX dialect: classes, \< \>, "\d" and "\w" as letters.
    "posix classes": Case(
        ("-d", DB, "--exclude=[[:digit:]]\\.com$", "--exclude=\\w\\.com$", "rx"),
    ),
    "word boundaries": Case(("-d", DB, "--exclude=\\<b", "--exclude=y\\>", "rx")),
    "escapes are letters": Case(("-d", DB, "--exclude=[\\d]\\.", "--exclude=x_y\\b", "rx")),
    "include only": Case(("-d", DB, "-r", "--include=b\\.com", "--include=empty", "t")),
    "include-dir": Case(("-d", DB, "-r", "--include-dir=^t", "--include-dir=d/$", "t/", "deep")),
    "excluded argument directory": Case(("-d", DB, "--exclude-dir=^t$", "t", "clean.txt")),
    "bad regex matches nothing": Case(("-d", DB, "--no-summary", "--exclude=(", "t/a.com")),
    "follow always": Case(
        ("-d", DB, "-r", "--follow-dir-symlinks=2", "--follow-file-symlinks=2", "t")
    ),
    "follow never": Case(
        ("-d", DB, "--follow-dir-symlinks=0", "--follow-file-symlinks=0", "t/al", "t/dl")
    ),
    "follow level out of range": Case(("-d", DB, "--follow-file-symlinks=3", "t")),
    "directory depth": Case(("-d", DB, "-r", "--max-dir-recursion=2", "deep")),
    "no directory depth": Case(("-d", DB, "-r", "--max-dir-recursion=0", "deep")),
    "depth wraps at 2**32": Case(("-d", DB, "-r", "--max-dir-recursion=4294967297", "deep")),
    "cross-fs": Case(
        ("-d", DB, "--no-summary", "-r", "--cross-fs=no", "--max-dir-recursion=3", "/dev")
    ),
    "file list": Case(("-d", DB, "-f", "list.txt", "clean.txt"), stdin=EICAR),
    "file list missing": Case(("-d", DB, "--file-list=nothing.txt")),
    # Output.
    "quiet": Case(("-d", DB, "--quiet", "t/a.com", "clean.txt", "missing", "t/empty")),
    "suppress ok and bell": Case(
        ("-d", DB, "-o", "--bell", "t/a.com", "clean.txt", "t/empty", "missing")
    ),
    "log": Case(
        ("-d", DB, "-l", "scan.log", "-r", "--exclude=x", "t", "clean.txt", "missing"),
        log="scan.log",
    ),
    "quiet log": Case(("-d", DB, "--quiet", "--log=scan.log", "t/a.com", "nope"), log="scan.log"),
    "verbose": Case(("-d", DB, "-v", "-r", "--exclude=x\\.com", "t", "clean.txt", "missing")),
    "verbose infected only, logged": Case(
        ("-d", DB, "-v", "-i", "-l", "scan.log", "t/a.com", "clean.txt"), log="scan.log"
    ),
    "verbose quiet": Case(("-d", DB, "-v", "--quiet", "t/a.com", "clean.txt")),
    "log not opened": Case(("-d", DB, "--log=nowhere/scan.log", "t/a.com")),
    # Engine limits and switches.
    "limits": Case(
        (
            "-d",
            DB,
            "--no-summary",
            "--max-files=3",
            "--max-recursion=4",
            "--max-scantime=1000",
            "--max-embeddedpe=1M",
            "--max-htmlnormalize=2m",
            "--max-htmlnotags=3K",
            "--max-scriptnormalize=4k",
            "--scan-pe=no",
            "--scan-archive=yes",
            "--alert-encrypted",
            "--heuristic-alerts=no",
            "t/a.com",
        ),
    ),
    "containers": Case(("-d", DB, "--no-summary", "containers")),
    "no archives, no mail": Case(
        ("-d", DB, "--no-summary", "--scan-archive=no", "--scan-mail=no", "containers")
    ),
    "member limit": Case(("-d", DB, "--no-summary", "--max-files=1", "containers/two.zip")),
    "member limit alert": Case(
        ("-d", DB, "--no-summary", "--max-files=1", "--alert-exceeds-max", "containers/two.zip")
    ),
    "recursion limit alert": Case(
        ("-d", DB, "--no-summary", "--max-recursion=1", "--alert-exceeds-max", "containers")
    ),
    "scan size limit alert": Case(
        ("-d", DB, "--no-summary", "--max-scansize=10", "--alert-exceeds-max=yes", "containers")
    ),
    "encrypted archive": Case(
        ("-d", DB, "--no-summary", "--alert-encrypted-archive", "containers/encrypted.zip")
    ),
    "encrypted, both kinds": Case(
        ("-d", DB, "--no-summary", "--alert-encrypted", "-z", "containers/encrypted.zip")
    ),
    "encrypted documents only": Case(
        ("-d", DB, "--no-summary", "--alert-encrypted-doc", "containers/encrypted.zip")
    ),
    "heuristic precedence": Case(
        (
            "-d",
            DB,
            "--no-summary",
            "--alert-encrypted",
            "--heuristic-scan-precedence",
            "containers/encrypted.zip",
        )
    ),
    "heuristics off": Case(
        (
            "-d",
            DB,
            "--no-summary",
            "--alert-encrypted",
            "--heuristic-alerts=no",
            "-z",
            "containers/encrypted.zip",
        )
    ),
    "partition intersection": Case(
        ("-d", DB, "--no-summary", "--alert-partition-intersection", "disks")
    ),
    "partition limit": Case(
        ("-d", DB, "--no-summary", "--max-partitions=2", "--alert-exceeds-max", "disks")
    ),
    "file size past 2 GiB": Case(("-d", DB, "--no-summary", "--max-filesize=3G", "t/a.com")),
    # A container's members are matched before its own bytes: the member's name wins.
    "members before the container": Case(
        ("-d", DB, "--no-summary", "order/o.zip", "order/o.tar", "order/o.tar.gz")
    ),
    # PCREMaxFileSize applies to each layer's size: the member's, not the zip's.
    **{
        f"pcre size limit {limit}": Case(
            ("-d", DB, "--no-summary", "-z", f"--pcre-max-filesize={limit}", "pcre/f", "pcre/z.zip")
        )
        for limit in ("199", "200", "1000", "1K", "0")
    },
    "pcre size limit refused": Case(("--pcre-max-filesize=1x", "t")),
    # --move, --copy, --remove.
    "move": Case(
        ("-d", DB, "--move=act/q", "act/x.com", "act/src/../src/y.com", "clean.txt"),
        infected=("act/x.com", "act/src/y.com"),
        listed=("act", "act/q", "act/src"),
    ),
    "move through a link": Case(
        ("-d", DB, "--no-summary", "--move", "act/q", "act/link.com"),
        infected=("act/src/y.com",),
        listed=("act", "act/q", "act/src"),
    ),
    "copy wins over remove": Case(
        ("-d", DB, "--copy=act/q", "--remove", "-i", "act/x.com", "act/src/sub/z.com"),
        infected=("act/x.com", "act/src/sub/z.com"),
        listed=("act", "act/q", "act/src/sub"),
    ),
    "remove": Case(
        ("-d", DB, "--no-summary", "--remove", "act/x.com", "act/link.com"),
        infected=("act/x.com", "act/src/y.com"),
        listed=("act", "act/src"),
    ),
    "move into a full quarantine": Case(
        ("-d", DB, "--move=act/q", "act/x.com", "act/x.com"),
        infected=("act/x.com",),
        full_quarantine=True,
    ),
    "copy into a full quarantine": Case(
        ("-d", DB, "--copy=act/q", "--move=act/q", "act/x.com"),
        infected=("act/x.com",),
        full_quarantine=True,
    ),
    "move to a missing directory": Case(("-d", DB, "--move=act/none", "t/a.com")),
    "copy to a file": Case(("-d", DB, "--copy=clean.txt", "t/a.com")),
    # Values the reference refuses.
    "number with a unit": Case(("--max-files=5K", "t")),
    "empty number": Case(("--max-recursion=", "t")),
    "negative number": Case(("--max-dir-recursion=-1", "t")),
    "hex size": Case(("--max-embeddedpe=0x10", "t")),
    "bad switch": Case(("--scan-pe=maybe", "t")),
    "bad level": Case(("--follow-dir-symlinks=x", "t")),
    "level without value": Case(("t", "--follow-dir-symlinks")),
    "empty regex": Case(("--exclude=", "t")),
    "ambiguous prefix": Case(("--he", "t")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_as_the_reference(name: str, tree: Path, reference_clamscan: str, ours: Ours) -> None:
    case = CASES[name]
    theirs = _reference(case, tree, reference_clamscan)
    assert ours(case, tree) == theirs
