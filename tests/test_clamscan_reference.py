"""clamscan side by side with ClamAV 1.4.6's: same command lines, same files,
same databases; stdout, stderr and the exit code compared line by line.

Only what must differ is masked: the engine version, the times and dates.
The files are smaller than ClamAV's 4 KiB counting block, so "Data scanned"
(which depends on each engine's passes and caches) is 0.00 MB on both sides
and is compared too, except in the one case that measures "Data read".
The reference is run as ``clamscan`` (argv[0]) so getopt's messages match.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MASKED_PREFIXES = ("Engine version:", "Time:", "Start Date:", "End Date:")


@dataclass(frozen=True)
class Case:
    """One invocation: arguments, where it runs (relative to the tree), its stdin."""

    argv: tuple[str, ...]
    cwd: str = "."
    stdin: bytes = b""
    mask_data_scanned: bool = False


@dataclass(frozen=True)
class Outcome:
    code: int
    out: list[str]
    err: list[str]


def _mask(text: str, case: Case) -> list[str]:
    lines = []
    for line in text.splitlines():
        if line.startswith(MASKED_PREFIXES):
            line = line.split(":")[0] + ": <masked>"
        elif case.mask_data_scanned and line.startswith("Data scanned:"):
            line = "Data scanned: <masked>"
        elif case.mask_data_scanned and line.startswith("Data read:"):
            line = line.split(" (ratio")[0]
        lines.append(line)
    return lines


def _run(command: list[str], executable: str, case: Case, tree: Path) -> Outcome:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), TZ="UTC")
    completed = subprocess.run(
        command + list(case.argv),
        executable=executable,
        cwd=tree / case.cwd,
        input=case.stdin,
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    out = completed.stdout.decode("utf-8", "replace")
    err = completed.stderr.decode("utf-8", "replace")
    return Outcome(completed.returncode, _mask(out, case), _mask(err, case))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, testfiles: Path, shared_sigs: Path) -> Path:
    """Databases and files, all small; paths in the cases are relative to this."""
    root = tmp_path_factory.mktemp("clamscan-reference")
    source = PROJECT_ROOT / "sigs" / "source"
    db = root / "db"
    db.mkdir()
    (db / "test.hdb").write_text(
        (source / "daily.hdb").read_text() + (source / "daily.hsb").read_text()
    )
    (db / "test.ndb").write_text("Test.Body.One:0:*:58354f2150\nTest.Body.Two:0:*:4549434152\n")
    pua = root / "pua"
    pua.mkdir()
    (pua / "test.hdb").write_text((source / "daily.hdb").read_text())
    # A PUA database: read only with --detect-pua; it lists clean.txt.
    (pua / "test.hdu").write_text("b1946ac92492d2347c6235b4d2611184:6:PUA.Test.Clean\n")
    (root / "empty-db").mkdir()
    (root / "bad.hdb").write_text("not a signature\n")
    versioned = root / "versioned"
    versioned.mkdir()
    (versioned / "daily.cvd").write_bytes((shared_sigs.parent / "cvd" / "test-6.cvd").read_bytes())

    files = root / "files"
    (files / "dir" / "sub").mkdir(parents=True)
    (files / "eicar.com").write_bytes(EICAR)
    (files / "clean.txt").write_text("hello\n")
    (files / "padded.com").write_bytes(EICAR + bytes(5000))
    # A name that is not UTF-8 is printed byte for byte.
    (files / "dir" / os.fsdecode(b"caf\xe9.txt")).write_bytes(EICAR)
    (files / "empty.txt").touch()
    (files / "clam.exe").write_bytes((testfiles / "clam.exe").read_bytes())
    (files / "dir" / "clean.txt").write_text("clean\n")
    (files / "dir" / "empty").touch()
    (files / "dir" / "sub" / "eicar.com").write_bytes(EICAR)
    (files / "dir" / "link.txt").symlink_to("../clean.txt")
    (files / "dir" / "dirlink").symlink_to("sub")
    os.mkfifo(files / "dir" / "fifo")
    (files / "fifo").symlink_to("dir/fifo")
    (files / "dangling").symlink_to("nowhere")
    (files / "clean-link.txt").symlink_to("clean.txt")
    (files / "dlink").symlink_to("dir")
    level = files / "deep"
    for depth in range(17):
        level.mkdir()
        (level / "eicar.com").write_bytes(EICAR)
        level = level / f"d{depth + 1}"
    sizes = files / "sizes"
    sizes.mkdir()
    for size in (1, 4095, 4096, 8191, 300_000, 1_048_577):
        (sizes / f"f{size}").write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    return root


DB = "../db"
CASES = {
    "files and errors": Case(
        (
            "-d",
            DB,
            "clean.txt",
            "eicar.com",
            "empty.txt",
            "missing",
            "dir",
            "dir/",
            "clean.txt/",
            "fifo",
            "dir/fifo",
            "dangling",
            "clean-link.txt",
            "dlink",
            "clam.exe",
        ),
        cwd="files",
    ),
    "recursive": Case(("-d", DB, "-r", "dir", "dlink//"), cwd="files"),
    "recursion depth": Case(("-d", DB, "-r", "deep"), cwd="files"),
    "infected only": Case(("-d", DB, "-r", "-i", "dir", "missing", "empty.txt"), cwd="files"),
    "no summary": Case(("-d", DB, "--no-summary", "-r", "dir"), cwd="files"),
    "stdout": Case(("-d", DB, "--stdout", "missing", "dir/fifo", "clean.txt"), cwd="files"),
    "allmatch": Case(("-d", DB, "-z", "eicar.com", "clam.exe", "clean.txt"), cwd="files"),
    "stdin": Case(("-d", DB, "-"), cwd="files", stdin=EICAR),
    "stdin twice": Case(
        ("-d", DB, "--no-summary", "-", "-", "clean.txt"), cwd="files", stdin=EICAR
    ),
    "empty stdin": Case(("-d", DB, "-"), cwd="files"),
    "working directory": Case(
        (
            "-d",
            "../../db",
        ),
        cwd="files/dir",
    ),
    "switch values": Case(
        ("-d", DB, "--recursive=yes", "--no-summary=no", "--infected=0", "dir"), cwd="files"
    ),
    "option prefixes": Case(("--data", DB, "--recur", "--no-sum", "-ri", "dir"), cwd="files"),
    "options after paths": Case(("dir", "-r", f"-d{DB}", "--no-summary"), cwd="files"),
    "pua off": Case(("-d", "../pua", "clean.txt", "eicar.com"), cwd="files"),
    "pua on": Case(("-d", "../pua", "--detect-pua", "clean.txt", "eicar.com"), cwd="files"),
    "size limits": Case(
        ("-d", DB, "--no-summary", "--max-filesize=5067", "padded.com", "eicar.com"), cwd="files"
    ),
    "size limit reached": Case(
        ("-d", DB, "--no-summary", "--max-filesize=5068", "--max-scansize=5M", "padded.com"),
        cwd="files",
    ),
    "scan size limit": Case(
        ("-d", DB, "--no-summary", "--max-scansize=1k", "padded.com"), cwd="files"
    ),
    "no size limit": Case(
        ("-d", DB, "--no-summary", "--max-filesize=0", "padded.com"), cwd="files"
    ),
    "bad size": Case(("--max-filesize=1T", "files")),
    "empty size": Case(("--max-scansize=", "files")),
    "data read": Case(("-d", DB, "sizes"), cwd="files", mask_data_scanned=True),
    "missing database": Case(("-d", "nothing.hdb", "files/clean.txt")),
    "empty database directory": Case(("-d", "empty-db", "--stdout", "files/clean.txt")),
    "unknown long option": Case(("--bogus", "files")),
    "unknown short option": Case(("-ix", "files")),
    "short option with =": Case(("-r=yes", "files")),
    "missing argument": Case(("-d",)),
    "missing long argument": Case(("files", "--database")),
    "empty argument": Case(("--database=", "files")),
    "bad switch value": Case(("--recursive=maybe", "files")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_output_as_the_reference(name: str, tree: Path, reference_clamscan: str) -> None:
    case = CASES[name]
    ours = _run([sys.executable, "-m", "clamkit.cli.clamscan"], sys.executable, case, tree)
    theirs = _run(["clamscan"], reference_clamscan, case, tree)
    assert ours == theirs


def test_database_errors_end_like_the_reference(tree: Path, reference_clamscan: str) -> None:
    """A malformed line: same summary, exit code and closing ``ERROR:`` line."""
    case = Case(("-d", "bad.hdb", "files/clean.txt"))
    ours = _run([sys.executable, "-m", "clamkit.cli.clamscan"], sys.executable, case, tree)
    theirs = _run(["clamscan"], reference_clamscan, case, tree)
    assert (ours.code, ours.out, ours.err[-1]) == (theirs.code, theirs.out, theirs.err[-1])


def test_version_shows_the_same_database_version(tree: Path, reference_clamscan: str) -> None:
    case = Case(("-V", "-d", "versioned"))
    ours = _run([sys.executable, "-m", "clamkit.cli.clamscan"], sys.executable, case, tree)
    theirs = _run(["clamscan"], reference_clamscan, case, tree)
    assert theirs.out[0].startswith("ClamAV ")
    assert ours.out[0].startswith("clamkit ")
    assert ours.out[0].partition("/")[2] == theirs.out[0].partition("/")[2]
