"""clamkit's clamdscan against ClamAV's, byte for byte.

Every invocation of the table runs with ClamAV's ``clamdscan`` and with
clamkit's, against ClamAV's ``clamd`` and against clamkit's (each daemon
started once for the module), in the same directory with the same standard
input; stdout, stderr and the exit code must be identical, masking only the
summary's Time and Date lines, version strings and the daemon's descriptor
numbers (``fd[N]``).  Invocations that need no daemon (an unreachable one)
run once.  Cases that move or copy files get a fresh quarantine before each
run, so both clients see the same state.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.daemons import (
    EICAR,
    PROJECT_ROOT,
    REFERENCE_CLAMD,
    RunningDaemon,
    start_clamkit_clamd,
    start_reference_clamd,
)

REFERENCE_CLAMDSCAN = Path("/usr/bin/clamdscan")
OURS = [sys.executable, "-m", "clamkit.cli.clamdscan"]
RUN_TIMEOUT = 60

pytestmark = pytest.mark.skipif(
    not (REFERENCE_CLAMDSCAN.exists() and REFERENCE_CLAMD.exists()),
    reason=f"reference {REFERENCE_CLAMDSCAN} or {REFERENCE_CLAMD} not installed "
    "(packages clamdscan, clamav-daemon)",
)

_MASKS = (
    (re.compile(r"^(Time|Start Date|End Date):.*$", re.M), r"\1: <masked>"),
    (re.compile(r"^(ClamAV|clamkit) \S+$", re.M), "<version>"),
    (re.compile(r"fd\[\d+\]"), "fd[N]"),
    # getopt names the program as it was started.
    (re.compile(r"^\S*clamdscan: ", re.M), "clamdscan: "),
)


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    # "null", "file" (EICAR as a regular file), "pipe" (EICAR piped), "closed"
    stdin: str = "null"
    config: str = "unix"  # "unix", "tcp", "dead" (no daemon listening)
    fresh_quarantine: bool = False
    unordered: bool = False  # the daemon reports in the order its threads finish


CASES = [
    Case("directory", ("tree",)),
    Case("files-and-missing", ("tree/clean.txt", "tree/missing", "tree/eicar.com")),
    Case("relative-unnormalised", ("./tree/../tree/clean.txt", "tree/sub/")),
    Case("no-summary", ("--no-summary", "tree")),
    Case("infected-only", ("-i", "tree/clean.txt", "tree/eicar.com")),
    Case("quiet", ("--quiet", "tree/clean.txt", "tree/eicar.com", "tree/missing")),
    Case("stdout", ("--stdout", "--no-summary", "tree/clean.txt", "tree/missing")),
    Case("verbose", ("-v", "tree")),
    Case("empty-file", ("tree/empty",)),
    Case("special-file", ("tree/special/fifo",)),
    Case("stream", ("--stream", "tree", "tree/missing", "tree/clean.txt")),
    Case("stream-special", ("--stream", "tree/special", "tree/link.com", "tree/empty")),
    Case("fdpass", ("--fdpass", "tree", "tree/clean.txt")),
    Case("fdpass-tcp", ("--fdpass", "--no-summary", "tree"), config="tcp"),
    Case("multiscan", ("-m", "tree", "tree/clean.txt"), unordered=True),
    Case("allmatch", ("-z", "tree", "tree/clean.txt", "tree/link.com")),
    Case("stream-multiscan", ("--stream", "-m", "tree"), unordered=True),
    Case("file-list", ("-f", "list.txt")),
    Case("file-list-and-paths", ("-f", "list.txt", "tree/clean.txt")),
    Case(
        "file-list-missing",
        (
            "-f",
            "no-such-list",
        ),
    ),
    Case("stdin-file", ("-",), stdin="file"),
    Case("stdin-pipe", ("--no-summary", "-"), stdin="pipe"),
    Case("stdin-stream", ("--stream", "-"), stdin="file"),
    Case("stdin-tcp", ("-",), stdin="file", config="tcp"),
    Case("stdin-closed", ("-",), stdin="closed"),
    Case("stdin-not-alone", ("tree/eicar.com", "-"), stdin="file"),
    Case("no-arguments-dev-null", ("--no-summary",)),
    Case("ping", ("--ping", "1")),
    Case("ping-attempts", ("-p", "3:1", "tree/clean.txt")),
    Case("wait", ("-w", "tree/clean.txt")),
    Case("reload", ("--reload",)),
    Case("version", ("-V",)),
    Case("copy", ("--copy=act/dest", "act/q"), fresh_quarantine=True),
    Case("move", ("--move=act/dest", "--stream", "act/q"), fresh_quarantine=True),
    Case("move-one", ("--no-summary", "--move", "act/dest", "act/q/a.com"), fresh_quarantine=True),
    Case("remove", ("--remove", "act/q/b.com"), fresh_quarantine=True),
    Case("move-no-directory", ("--move=act/nowhere", "tree/eicar.com")),
    Case("log", ("-l", "scan.log", "tree/eicar.com")),
    Case("log-unopenable", ("-l", "no/such/dir/scan.log", "tree/clean.txt")),
    Case("quiet-ping", ("--quiet", "-p", "1")),
    Case("copy-to-a-file", ("--copy=tree/clean.txt", "tree/eicar.com")),
    Case("unknown-option", ("--frobnicate",)),
    Case("missing-argument", ("-p",)),
    Case("empty-argument", ("--ping=",)),
    Case("bad-ping", ("-p", "1x")),
    Case("bad-ping-interval", ("-p", "1:2x")),
    Case("switch-value", ("--stream=no", "--infected=yes", "tree")),
    Case("dead-path", ("tree/clean.txt", "tree/eicar.com"), config="dead"),
    Case("dead-stdin", ("-",), stdin="file", config="dead"),
    Case("dead-ping", ("-p", "2:0"), config="dead"),
    Case("dead-version", ("--version",), config="dead"),
    Case("dead-reload", ("--reload",), config="dead"),
    Case("missing-config", ("-c", "no-such.conf", "tree")),
    Case("bad-config", ("-c", "bad.conf", "tree")),
]


def _tree(root: Path) -> None:
    tree = root / "tree"
    (tree / "sub" / "deep").mkdir(parents=True)
    (tree / "special").mkdir()
    (tree / "clean.txt").write_text("hello\n")
    (tree / "eicar.com").write_bytes(EICAR)
    (tree / "empty").write_bytes(b"")
    (tree / "sub" / "note.txt").write_text("nothing here\n")
    (tree / "sub" / "deep" / "eicar2.com").write_bytes(EICAR + b"\n")
    (tree / "link.com").symlink_to("eicar.com")
    os.mkfifo(tree / "special" / "fifo")
    (tree / "special" / "clean.txt").write_text("clean\n")
    (root / "list.txt").write_text("tree/clean.txt\ntree/eicar.com\n\ntree/missing\ntree/sub\n")
    (root / "bad.conf").write_text("Frobnicate yes\n")
    (root / "eicar.input").write_bytes(EICAR)


def _fresh_quarantine(root: Path) -> None:
    act = root / "act"
    shutil.rmtree(act, ignore_errors=True)
    (act / "q").mkdir(parents=True)
    (act / "dest").mkdir()
    for name in ("a.com", "b.com"):
        (act / "q" / name).write_bytes(EICAR)
    (act / "q" / "clean.txt").write_text("clean\n")
    # Already there: a move or copy must not overwrite it.
    (act / "dest" / "a.com").write_text("keep me\n")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clamdscan")
    _tree(root)
    _fresh_quarantine(root)
    (root / "dead.conf").write_text(f"LocalSocket {root / 'nobody-listens.sock'}\n")
    return root


def _daemon(
    tmp_path_factory: pytest.TempPathFactory, start: object, name: str
) -> Iterator[RunningDaemon]:
    daemon = start(tmp_path_factory.mktemp(name))  # type: ignore[operator]
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def reference_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    yield from _daemon(tmp_path_factory, start_reference_clamd, "refd")


@pytest.fixture(scope="module")
def clamkit_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    yield from _daemon(tmp_path_factory, start_clamkit_clamd, "kitd")


@dataclass(frozen=True)
class Outcome:
    stdout: str
    stderr: str
    status: int


def _mask(text: str, unordered: bool) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return "\n".join(sorted(text.splitlines())) if unordered else text


def _run(command: list[str], case: Case, root: Path, config: Path) -> Outcome:
    if case.fresh_quarantine:
        _fresh_quarantine(root)
    if "-l" in case.args:
        (root / "scan.log").unlink(missing_ok=True)
    has_config = "-c" in case.args
    argv = [*command, *([] if has_config else ["-c", str(config)]), *case.args]
    if case.stdin == "closed":
        argv = ["sh", "-c", 'exec "$@" <&-', "sh", *argv]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    if case.stdin == "pipe":
        result = subprocess.run(
            argv, cwd=root, env=env, input=EICAR, capture_output=True, timeout=RUN_TIMEOUT
        )
    else:
        source = root / "eicar.input" if case.stdin == "file" else Path(os.devnull)
        with source.open("rb") as stdin:
            result = subprocess.run(
                argv, cwd=root, env=env, stdin=stdin, capture_output=True, timeout=RUN_TIMEOUT
            )
    log = root / "scan.log"
    stdout = result.stdout.decode(errors="replace")
    if "-l" in case.args and log.exists():
        stdout += "\n[log]\n" + log.read_text(errors="replace")
    if case.fresh_quarantine:
        stdout += "\n[quarantine]\n" + "\n".join(
            f"{path.relative_to(root)}: {path.read_bytes()[:8]!r}"
            for path in sorted((root / "act").rglob("*"))
            if path.is_file()
        )
    return Outcome(
        _mask(stdout, case.unordered),
        _mask(result.stderr.decode(errors="replace"), case.unordered),
        result.returncode,
    )


def _config(root: Path, daemon: RunningDaemon | None, kind: str) -> Path:
    if daemon is None or kind == "dead":
        return root / "dead.conf"
    path = root / f"{daemon.pid}-{kind}.conf"
    if kind == "tcp":
        path.write_text(f"TCPSocket {daemon.tcp_port}\nTCPAddr 127.0.0.1\n")
    else:
        path.write_text(f"LocalSocket {daemon.unix_path}\n")
    return path


def _compare(case: Case, root: Path, daemon: RunningDaemon | None) -> None:
    config = _config(root, daemon, case.config)
    clients = ([str(REFERENCE_CLAMDSCAN)], OURS)
    if case.fresh_quarantine or "-l" in case.args:
        # Both change files: one after the other, each on a fresh state.
        theirs, ours = (_run(client, case, root, config) for client in clients)
    else:
        with ThreadPoolExecutor(len(clients)) as pool:
            theirs, ours = pool.map(lambda client: _run(client, case, root, config), clients)
    assert ours == theirs


@pytest.mark.parametrize("case", [c for c in CASES if c.config != "dead"], ids=lambda c: c.name)
def test_against_reference_clamd(
    case: Case, workspace: Path, reference_daemon: RunningDaemon
) -> None:
    _compare(case, workspace, reference_daemon)


@pytest.mark.parametrize("case", [c for c in CASES if c.config != "dead"], ids=lambda c: c.name)
def test_against_clamkit_clamd(case: Case, workspace: Path, clamkit_daemon: RunningDaemon) -> None:
    _compare(case, workspace, clamkit_daemon)


@pytest.mark.parametrize("case", [c for c in CASES if c.config == "dead"], ids=lambda c: c.name)
def test_without_a_daemon(case: Case, workspace: Path) -> None:
    _compare(case, workspace, None)
