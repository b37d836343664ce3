"""Stress run of clamkit's clamd: the hardening scenarios at full scale, with figures.

Strategy: the scenarios are the functions the CI tests run small
(tests/test_hardening_*.py); here each runs at the issue's scale against a
fresh daemon with the two-signature test database, and the atheris
harnesses run for a set time each.  Figures go to stdout as a table and to
``bench/results/stress.json``.

Usage: ``python3 bench/stress.py [--seconds N] [--fuzz-seconds N]
[--stream-size BYTES] [--output PATH]``
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.daemons import EICAR, write_test_database  # noqa: E402
from tests.test_hardening_harness import clamkit_daemon  # noqa: E402
from tests.test_hardening_hygiene import connection_rounds  # noqa: E402
from tests.test_hardening_lifecycle import (  # noqa: E402
    SLOW_SIGNATURE,
    UNCAPPED_LOG,
    reload_under_load,
    shutdown_in_flight,
)
from tests.test_hardening_load import (  # noqa: E402
    concurrent_streams,
    hold_connections,
    ping_latency,
)

RESULTS = PROJECT_ROOT / "bench" / "results" / "stress.json"
FUZZ = PROJECT_ROOT / "tests" / "fuzz"


def _in_daemon(run: Callable[..., dict], extra: str = "", slow: bool = False) -> Callable:
    """Run a scenario against a fresh daemon in a directory of its own."""

    def scenario(**scale: object) -> dict:
        work = Path(tempfile.mkdtemp(prefix="clamkit-stress-"))
        try:
            database = write_test_database(work / "db")
            if slow:
                (database / "slow.ldb").write_text(SLOW_SIGNATURE)
            with clamkit_daemon(work, extra, database) as daemon:
                return run(daemon, **scale)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    return scenario


def _hygiene(daemon: object, rounds: int) -> dict:
    scanned = Path(tempfile.mkdtemp(prefix="clamkit-stress-")) / "eicar.com"
    scanned.write_bytes(EICAR)
    try:
        return connection_rounds(daemon, scanned, rounds)  # type: ignore[arg-type]
    finally:
        shutil.rmtree(scanned.parent, ignore_errors=True)


def _fuzz(kind: str, seconds: int) -> dict:
    """One atheris harness over all its formats; executions and what it stopped on."""
    command = [sys.executable, str(FUZZ / f"fuzz_{kind}.py")]
    if kind != "protocol":
        # Past the crashes already reported, so the run looks for new ones.
        command += ["all", "--past-open-crashes"]
    artifacts = Path(tempfile.mkdtemp(prefix="clamkit-fuzz-"))
    command += [f"-max_total_time={seconds}", f"-artifact_prefix={artifacts}/"]
    result = subprocess.run(command, capture_output=True, text=True, errors="replace")
    output = result.stdout + result.stderr
    runs = re.findall(r"#(\d+)", output)
    crash = None
    if result.returncode != 0:
        error = re.search(r"Uncaught Python exception: ===\n(.*)", output)
        crash = error.group(1) if error else f"exit status {result.returncode}"
    return {
        "harness": kind,
        "seconds": seconds,
        "executions": int(runs[-1]) if runs else 0,
        "crash": crash,
        "artifacts": str(artifacts) if crash else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="length of the load phases")
    parser.add_argument("--fuzz-seconds", type=int, default=120, help="per atheris harness")
    parser.add_argument("--stream-size", type=int, default=16 << 20, help="StreamMaxLength")
    parser.add_argument("--only", default="", help="run the scenarios whose name has this")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    size = args.stream_size
    plan: list[tuple[str, Callable[[], dict]]] = [
        (
            "held connections",
            lambda: _in_daemon(hold_connections)(held=500, scanners=16, seconds=args.seconds),
        ),
        (
            "idle and slow clients",
            lambda: _in_daemon(ping_latency)(idle=200, slow=50, seconds=args.seconds),
        ),
        (
            "concurrent streams",
            lambda: _in_daemon(concurrent_streams, f"StreamMaxLength {size}")(
                streams=64, size=size
            ),
        ),
        (
            "reloads under load",
            lambda: _in_daemon(reload_under_load, UNCAPPED_LOG)(reloads=20, clients=16),
        ),
        ("shutdown in flight", lambda: _in_daemon(shutdown_in_flight, slow=True)(scans=16)),
        ("connection hygiene", lambda: _in_daemon(_hygiene)(rounds=1000)),
    ]
    plan += [
        (f"fuzz {kind}", lambda kind=kind: _fuzz(kind, args.fuzz_seconds))
        for kind in ("protocol", "container", "signature")
    ]
    figures = json.loads(args.output.read_text()) if args.only and args.output.exists() else {}
    for name, run in plan:
        if args.only not in name:
            continue
        started = time.monotonic()
        figures[name] = run()
        figures[name]["wall_seconds"] = round(time.monotonic() - started, 1)
        print(f"{name:24} {json.dumps(figures[name], default=str)}", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
