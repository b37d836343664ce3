"""Packaging: the bundled database matches its source, the wheel ships it,
an installed wheel finds it, and CI runs exactly the README's test command."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from clamkit.database import cvd
from clamkit.defaults import bundled_database_dir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SIGS = PROJECT_ROOT / "sigs"
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# pip's words when it cannot fetch the build backend (no network, no index).
OFFLINE_MARKERS = (
    "No matching distribution found",
    "Could not find a version that satisfies",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
)


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sigs_build", SIGS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_container_is_built_from_its_source() -> None:
    assert (SIGS / "daily.cld").read_bytes() == _build_script().build()


def test_container_members_are_the_source_files() -> None:
    data = (SIGS / "daily.cld").read_bytes()
    container = cvd.read_container(data, is_cld=True, is_database=lambda name: True)
    sources = {path.name: path.read_bytes() for path in (SIGS / "source").iterdir()}
    assert dict(container.members) == sources
    assert container.header.signatures == 2
    assert data.startswith(b"ClamAV-VDB:")


def test_build_check_reports_a_stale_container(tmp_path: Path) -> None:
    build = _build_script()
    monkeypatched = tmp_path / "daily.cld"
    monkeypatched.write_bytes(b"stale")
    build.CONTAINER = monkeypatched
    assert build.main(["--check"]) == 1
    assert build.main([]) == 0
    assert build.main(["--check"]) == 0


def test_bundled_database_dir_in_a_checkout() -> None:
    assert bundled_database_dir() == SIGS


# ---------------------------------------------------------------------------
# The wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(PROJECT_ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if completed.returncode != 0:
        output = completed.stdout + completed.stderr
        if any(marker in output for marker in OFFLINE_MARKERS):
            pytest.skip("pip cannot fetch the build backend (hatchling): offline")
        pytest.fail(f"pip wheel failed:\n{output}")
    (built,) = out.glob("clamkit-*.whl")
    return built


def test_wheel_ships_the_bundled_database(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert archive.read("clamkit/sigs/daily.cld") == (SIGS / "daily.cld").read_bytes()
        for source in (SIGS / "source").iterdir():
            assert archive.read(f"clamkit/sigs/source/{source.name}") == source.read_bytes()
        entry_points = next(name for name in names if name.endswith("entry_points.txt"))
        assert "clamscan = clamkit.cli.clamscan:main" in archive.read(entry_points).decode()
    assert "clamkit/cli/clamscan.py" in names
    assert "clamkit/sigs/build.py" not in names


def test_installed_wheel_detects_eicar_with_its_bundled_database(
    wheel: Path, tmp_path: Path
) -> None:
    # Installed into a directory of its own; the dependencies come from the
    # running interpreter (its path is in the script's first line), so
    # nothing is downloaded and the checkout is not on the path.
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    (tmp_path / "eicar.com").write_bytes(EICAR)
    completed = subprocess.run(
        [str(target / "bin" / "clamscan"), "--no-summary", "eicar.com"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(target)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        1,
        "eicar.com: Win.Test.EICAR_HDB-1 FOUND\n",
        "",
    )


# ---------------------------------------------------------------------------
# README and CI


def _quick_start_commands() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)\n```$", section, flags=re.DOTALL | re.MULTILINE)


def test_quick_start_has_exactly_two_one_line_commands() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert all(command.startswith("{ python3 -m venv .venv ||") for command in commands)
    assert "clamd --foreground" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    script = (PROJECT_ROOT / ".ci" / "run").read_text()
    function = re.search(r"^quick_start_command\(\) \{\n.*?^\}\n", script, re.DOTALL | re.M)
    assert function is not None
    completed = subprocess.run(
        ["bash", "-c", function.group(0) + "quick_start_command 2"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout == _quick_start_commands()[1] + "\n"
