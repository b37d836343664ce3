"""The fuzz targets in CI: seeds and past crashes always, atheris for a few seconds when installed.

Crashes found and not yet fixed by the owning module's engineer live in
``crashes/KIND-NAME/`` and are strict xfails here: once fixed the test
flips to XPASS (a failure), and the file moves to ``regressions/``, which
are seeds every run replays.  The atheris runs go past the open crashes
(``--past-open-crashes``) and fail on any other.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz import targets

HERE = Path(__file__).resolve().parent
CRASHES = HERE / "crashes"
# Seconds per atheris run in CI; `-max_total_time=N` by hand for longer runs.
CI_SECONDS = 5
# The CI runs start from a fixed seed, so a commit's run is the same wherever
# it runs (a crash it finds is found again locally); runs by hand are random.
CI_SEED = 20251125
CASES = [("protocol", "")]
CASES += [("container", name) for name in targets.container_names()]
CASES += [("signature", name) for name in targets.signature_names()]


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}-{n}".strip("-") for k, n in CASES])
def test_seeds_and_regressions_run_cleanly(kind: str, name: str) -> None:
    run = targets.target(kind, name)
    count = 0
    for seed in targets.seeds(kind, name):
        run(seed)
        run(seed[: len(seed) // 2])
        count += 1
    assert kind == "container" or count > 0


def _crash_cases() -> list:
    cases = []
    for directory in sorted(CRASHES.iterdir()) if CRASHES.is_dir() else []:
        for path in sorted(directory.iterdir()):
            crashes = targets.OPEN_CRASHES.get(directory.name, (("unassigned", "?"),))
            reason = "open crash: " + "; ".join(f"{e} escapes {o}" for o, e in crashes)
            mark = pytest.mark.xfail(strict=True, reason=reason)
            cases.append(pytest.param(directory.name, path, marks=mark, id=path.name))
    return cases


@pytest.mark.parametrize(("case", "path"), _crash_cases())
def test_open_crash_is_fixed(case: str, path: Path) -> None:
    kind, _, name = case.partition("-")
    try:
        targets.target(kind, name)(path.read_bytes())
    except Exception as error:
        # Still open, and still the crash reported (so --past-open-crashes passes it).
        assert targets.is_open_crash(error)
        raise


@pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris not installed (pip install atheris): coverage-guided fuzzing skipped",
)
@pytest.mark.parametrize("kind", ["protocol", "container", "signature"])
def test_atheris_finds_nothing_new(kind: str, tmp_path: Path) -> None:
    command = [sys.executable, str(HERE / f"fuzz_{kind}.py")]
    if kind != "protocol":
        command += ["all", targets.PAST_OPEN_CRASHES]
    command += [
        f"-max_total_time={CI_SECONDS}",
        f"-seed={CI_SEED}",
        f"-artifact_prefix={tmp_path}/",
        "-timeout=20",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=CI_SECONDS + 120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done" in result.stderr
