"""clamdscan on a terminal (pexpect): FOUND and ERROR lines in colour, a live
progress line during a long scan, none during a short one; and the same run
piped holds no escape code at all.  The daemon is the in-process fake of
tests/test_clamdscan_cli.py, slowed down to make a scan long.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clamkit.cli.clamdscan_output import PROGRESS_DELAY
from tests.daemons import EICAR, EICAR_NAME, PROJECT_ROOT
from tests.test_clamdscan_cli import FakeClamd

pexpect = pytest.importorskip("pexpect")

OURS = [sys.executable, "-m", "clamkit.cli.clamdscan"]
ESCAPE = "\x1b["
SLOW_FILES = 6
# Each scan this long: the whole scan lasts well past PROGRESS_DELAY.
SCAN_DELAY = 2 * PROGRESS_DELAY / SLOW_FILES + 0.1


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    many = tmp_path / "many"
    many.mkdir()
    for number in range(SLOW_FILES):
        (many / f"f{number}").write_text(f"clean {number}\n")
    (tmp_path / "eicar.com").write_bytes(EICAR)
    return tmp_path


def _daemon(tree: Path, delay: float) -> Iterator[Path]:
    daemon = FakeClamd(tree / "fake.sock", delay=delay)
    config = tree / "clamd.conf"
    config.write_text(f"LocalSocket {daemon.path}\n")
    yield config
    daemon.close()


@pytest.fixture
def slow(tree: Path) -> Iterator[Path]:
    yield from _daemon(tree, SCAN_DELAY)


@pytest.fixture
def quick(tree: Path) -> Iterator[Path]:
    yield from _daemon(tree, 0.0)


ARGS = ("--stream", "many", "eicar.com", "missing")


def _on_terminal(config: Path, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        OURS[0], [*OURS[1:], "-c", str(config), *ARGS], env=env, cwd=str(cwd), timeout=60
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    return child.before.decode(errors="replace")


def test_long_scan_on_a_terminal_has_colours_and_a_progress_line(slow: Path, tree: Path) -> None:
    shown = _on_terminal(slow, tree)
    found = f"{tree}/eicar.com: {EICAR_NAME} FOUND"
    assert f"{ESCAPE}1;31m{found}" in shown
    assert f"{ESCAPE}31mERROR: Can't access file {tree}/missing" in shown
    assert "Scanning: " in shown and " infected" in shown
    # The progress line is removed at the end: the summary follows plain.
    assert "----------- SCAN SUMMARY -----------\r\nInfected files: 1\r\n" in shown


def test_short_scan_on_a_terminal_has_no_progress_line(quick: Path, tree: Path) -> None:
    shown = _on_terminal(quick, tree)
    assert "Scanning: " not in shown
    assert f"{ESCAPE}1;31m{tree}/eicar.com: {EICAR_NAME} FOUND" in shown


def test_piped_output_has_no_escape_codes(slow: Path, tree: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TERM": "xterm-256color"}
    result = subprocess.run(
        [*OURS, "-c", str(slow), *ARGS],
        cwd=tree,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert ESCAPE not in result.stdout.decode() and ESCAPE not in result.stderr.decode()
    assert result.stdout.decode().startswith(
        f"{tree}/many: OK\n{tree}/eicar.com: {EICAR_NAME} FOUND\n"
    )
