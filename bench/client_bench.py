"""Client start-up benchmark: ``clamdscan --ping 1``, clamkit's against ClamAV's.

Strategy: one clamd (clamkit's, started by the test harness in
tests/daemons.py with its two-signature database) answers both clients, so
what is measured is each client's start-up, configuration reading, one
connection and one PING.  With hyperfine installed it does the timing
(warm-up runs, then ``--runs``); otherwise a loop times each run with
``time.perf_counter`` after the same warm-up.  Results go to stdout as a
table and to ``bench/results/client.json``.

Usage: ``python3 bench/client_bench.py [--runs N] [--output PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.daemons import start_clamkit_clamd  # noqa: E402

REFERENCE = "/usr/bin/clamdscan"
RESULTS = PROJECT_ROOT / "bench" / "results" / "client.json"
WARMUP_RUNS = 3


def _commands(config: Path) -> dict[str, list[str]]:
    commands = {"clamkit": [sys.executable, "-m", "clamkit.cli.clamdscan"]}
    if Path(REFERENCE).exists():
        commands["reference"] = [REFERENCE]
    return {name: [*argv, "-c", str(config), "--ping", "1"] for name, argv in commands.items()}


def _with_hyperfine(commands: dict[str, list[str]], runs: int, workdir: Path) -> dict[str, dict]:
    export = workdir / "hyperfine.json"
    subprocess.run(
        [
            "hyperfine",
            "--warmup",
            str(WARMUP_RUNS),
            "--runs",
            str(runs),
            "--export-json",
            str(export),
            *[shlex.join(argv) for argv in commands.values()],
        ],
        check=True,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
    )
    results = json.loads(export.read_text())["results"]
    return {
        name: {
            "mean_ms": result["mean"] * 1000,
            "median_ms": result["median"] * 1000,
            "min_ms": result["min"] * 1000,
            "runs": len(result["times"]),
        }
        for name, result in zip(commands, results, strict=True)
    }


def _with_loop(commands: dict[str, list[str]], runs: int) -> dict[str, dict]:
    results = {}
    for name, argv in commands.items():
        times = []
        for number in range(WARMUP_RUNS + runs):
            started = time.perf_counter()
            subprocess.run(argv, check=True, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
            if number >= WARMUP_RUNS:
                times.append(time.perf_counter() - started)
        results[name] = {
            "mean_ms": statistics.mean(times) * 1000,
            "median_ms": statistics.median(times) * 1000,
            "min_ms": min(times) * 1000,
            "runs": runs,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--output", type=Path, default=RESULTS)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="client-bench") as scratch:
        workdir = Path(scratch)
        daemon = start_clamkit_clamd(workdir)
        try:
            config = workdir / "client.conf"
            config.write_text(f"LocalSocket {daemon.unix_path}\n")
            commands = _commands(config)
            tool = "hyperfine" if shutil.which("hyperfine") else "loop"
            if tool == "hyperfine":
                results = _with_hyperfine(commands, options.runs, workdir)
            else:
                results = _with_loop(commands, options.runs)
        finally:
            daemon.stop()
    report = {
        "benchmark": "clamdscan --ping 1 (start-up, one connection, one PING)",
        "timed_with": tool,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": results,
    }
    print(f"{'client':<10} {'mean ms':>9} {'median ms':>10} {'min ms':>8}")
    for name, result in results.items():
        print(
            f"{name:<10} {result['mean_ms']:>9.1f} {result['median_ms']:>10.1f}"
            f" {result['min_ms']:>8.1f}"
        )
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
